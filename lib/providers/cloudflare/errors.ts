/**
 * Cloudflare v4 API error answers and what each means for the relay.
 *
 * Every answer is the v4 envelope `{success, errors:[{code, message,
 * documentation_url?, source?}], messages, result}` (cloudflare/api-schemas
 * `api-response-common-failure`). `success` is checked as well as the HTTP
 * status: a 200 with `success:false` is a failure.
 *
 * Codes the relay tells apart (seen in Cloudflare's answers quoted by
 * cloudflare/terraform-provider-cloudflare and other clients):
 * - 10000 "Authentication error" (403): the token lacks the permission the
 *   call needs, or is not scoped to this account/zone.
 * - 9109 "Unauthorized to access requested resource" (403): same.
 * - 1000 "Invalid API Token", 6003/6111 "Invalid request headers" /
 *   "Invalid format for Authorization header", 9103/9106: the token itself
 *   is wrong, expired or revoked.
 * - 7003 "Could not route to …, perhaps your object identifier is invalid?"
 *   and 404: an ID in the configuration is wrong.
 * - 971 / 10429 "Please wait and consider throttling your request speed"
 *   (429): the token's rate limit (1,200 requests per 5 minutes) is spent;
 *   Cloudflare then refuses every call for the next 5 minutes.
 */
import { z } from 'zod';

export interface CloudflareApiError {
  code: number | undefined;
  message: string;
}

const messageSchema = z.looseObject({
  code: z.number().optional().catch(undefined),
  message: z.string().optional().catch(undefined),
});

/** The v4 envelope, loosely: `result` is validated by each call's own schema. */
export const envelopeSchema = z.looseObject({
  success: z.boolean(),
  errors: z.array(messageSchema).optional().catch(undefined),
  messages: z.array(z.unknown()).optional().catch(undefined),
  result: z.unknown().optional(),
});
export type Envelope = z.output<typeof envelopeSchema>;

/** `errors[]` of an envelope-shaped body (anything else gives []). */
export function parseCloudflareErrors(json: unknown): CloudflareApiError[] {
  const parsed = z.looseObject({ errors: z.array(messageSchema) }).safeParse(json);
  if (!parsed.success) return [];
  return parsed.data.errors.slice(0, 5).map((error) => ({ code: error.code, message: sanitize(error.message ?? '') }));
}

/** `1000 "Invalid API Token"; 6111 "…"` for messages. */
export function describeErrors(errors: CloudflareApiError[]): string {
  if (errors.length === 0) return '';
  return errors.map((error) => [error.code, error.message ? `"${error.message}"` : ''].filter((part) => part !== undefined && part !== '').join(' ')).join('; ');
}

const PERMISSION_CODES = new Set([10000, 9109]);
const TOKEN_CODES = new Set([1000, 6003, 6111, 9103, 9106]);
const NOT_FOUND_CODES = new Set([7000, 7003]);
const RATE_LIMIT_CODES = new Set([971, 10429]);

export interface CloudflareErrorContext {
  /** The token permission the call needs, e.g. `IP Prefixes: BGP On Demand Write (dashboard: Account → IP Prefixes: BGP On Demand → Edit)`. */
  permission: string;
  /** Which resource the token must be scoped to, e.g. `account 023e…` or `zone 023e…`. */
  resource: string;
  /** The options to check when an ID is wrong, e.g. `options.accountId, options.prefixes[].prefixId`. */
  ids: string;
}

/** The dashboard page where API tokens are created and edited. */
export const TOKENS_PAGE = 'https://dash.cloudflare.com/profile/api-tokens';

/** What a Cloudflare failure means: the fix, and whether trying again can help. */
export function explainCloudflareError(status: number, errors: CloudflareApiError[], context: CloudflareErrorContext): { retryable: boolean; explanation: string } {
  const codes = new Set(errors.map((error) => error.code));
  const has = (set: Set<number>) => [...codes].some((code) => code !== undefined && set.has(code));
  if (status === 429 || has(RATE_LIMIT_CODES)) {
    return { retryable: true, explanation: 'Cloudflare is rate-limiting this API token (1,200 requests per 5 minutes) and refuses every call for 5 minutes; the relay waits and tries again' };
  }
  if (status >= 500) return { retryable: true, explanation: 'Cloudflare failed; the relay tries again' };
  if (status === 404) {
    return { retryable: false, explanation: `Cloudflare does not know this object: check ${context.ids}` };
  }
  if (status === 401 || has(TOKEN_CODES)) {
    return {
      retryable: false,
      explanation: `Cloudflare does not accept the API token (wrong, expired, revoked, or not an API token): create one at ${TOKENS_PAGE} with "${context.permission}" for ${context.resource} and put it in secrets.apiToken (the token itself, without "Bearer")`,
    };
  }
  if (status === 403 || has(PERMISSION_CODES)) {
    return {
      retryable: false,
      explanation: `the API token lacks the permission "${context.permission}" for ${context.resource}: edit the token at ${TOKENS_PAGE}, add that permission and include ${context.resource} in its resources`,
    };
  }
  if (has(NOT_FOUND_CODES)) {
    return { retryable: false, explanation: `Cloudflare does not know this object: check ${context.ids}` };
  }
  return { retryable: false, explanation: 'Cloudflare refused the request' };
}

/** API text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
