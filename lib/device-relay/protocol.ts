/**
 * The device relay's wire format: a worker invokes the relay Lambda (inside
 * the customer's VPC) with one HTTP request to make on its behalf and gets
 * back the response, or a precise error. Bodies travel base64-encoded.
 * Refusals and transport failures are answers, not Lambda errors, so the
 * worker can tell "the relay refused" from "the relay is broken".
 */
import { z } from 'zod';

export const DEVICE_RELAY_PROTOCOL = 1;

/** Largest response body the relay returns (Lambda's response payload limit is 6 MB, base64 adds a third). */
export const DEVICE_RELAY_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Longest one forwarded request may take. */
export const DEVICE_RELAY_MAX_TIMEOUT_MS = 60_000;

export const relayRequestSchema = z
  .object({
    v: z.literal(DEVICE_RELAY_PROTOCOL),
    integration: z.string().min(1).max(63),
    request: z
      .object({
        method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
        url: z.string().min(1).max(8192),
        headers: z.record(z.string(), z.string()).default({}),
        bodyBase64: z.string().optional(),
        timeoutMs: z.number().int().positive(),
        maxResponseBytes: z.number().int().positive().optional(),
      })
      .strict(),
  })
  .strict();
export type RelayRequest = z.infer<typeof relayRequestSchema>;

export const RELAY_ERROR_CODES = [
  'invalid_request',
  'forbidden_target',
  'redirect_refused',
  'timeout',
  'connection',
  'tls',
  'response_too_large',
] as const;
export type RelayErrorCode = (typeof RELAY_ERROR_CODES)[number];

export const relayResponseSchema = z.discriminatedUnion('ok', [
  z.object({
    v: z.literal(DEVICE_RELAY_PROTOCOL),
    ok: z.literal(true),
    response: z.object({
      status: z.number().int().min(100).max(599),
      headers: z.record(z.string(), z.string()),
      bodyBase64: z.string(),
    }),
  }),
  z.object({
    v: z.literal(DEVICE_RELAY_PROTOCOL),
    ok: z.literal(false),
    error: z.object({ code: z.enum(RELAY_ERROR_CODES), message: z.string() }),
  }),
]);
export type RelayResponse = z.infer<typeof relayResponseSchema>;
