/**
 * What the providers' HTTP-JSON API clients share: one request through the
 * relay's Transport within the operation's time budget, transport failures
 * sorted into "worth another try" (RetryableCall, for withRetries) and "stop"
 * (ProviderError), and the reading of a JSON answer.
 *
 * Each client keeps what is its own: authentication, rate-limit holds, the
 * API's error envelope and the messages naming the fix.
 */
import type { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import type { Logger } from '../log/types.ts';
import { classifyTransportFailure } from '../transport/errors.ts';
import type { HttpResponse, TlsOptions, Transport } from '../transport/types.ts';
import { type RetryClock, RetryableCall } from './api-retry.ts';
import { ProviderError } from './errors.ts';

/** The User-Agent of the relay's API calls. */
export const RELAY_USER_AGENT = `flowtriq-relay/${packageJson.version}`;

/** The state of one provider operation. */
export interface ApiOp {
  signal: AbortSignal;
  logger: Logger;
  /** Epoch ms by which the operation must have finished. */
  deadline: number;
}

/**
 * What is left of the operation's budget at `now` for `target` (`GET /path`),
 * or the retryable ProviderError saying it ran out (`label: …`).
 */
export function timeLeft(op: { deadline: number }, now: number, label: string, target: string): number {
  const remaining = op.deadline - now;
  if (remaining <= 0) {
    throw new ProviderError(`${label}: the operation ran out of time before ${target}; it will be retried`, { retryable: true });
  }
  return remaining;
}

/** The client's side of every request. */
export interface ApiClientSettings {
  transport: Transport;
  /** Per-request timeout; the operation's remaining budget caps it. */
  timeoutMs: number;
}

/** What every API client's options carry: its transport, per-request timeout and clock. */
export interface ApiClientOptions extends ApiClientSettings, RetryClock {}

export interface ApiRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
  tls?: TlsOptions | undefined;
  maxResponseBytes: number;
  /** What is left of the operation's budget (timeLeft). */
  remaining: number;
  /** Prefix of messages, e.g. `digitalocean do1`. */
  label: string;
  /** What is being sent, for messages, e.g. `GET /v2/firewalls/…`. */
  target: string;
  /** What a transport failure worth another try becomes (default: a RetryableCall). */
  retryable?: (message: string, cause: unknown) => Error;
}

/**
 * Sends one request. An abort rethrows the signal's reason; a transport
 * failure worth another try is thrown as `retryable` (a RetryableCall naming
 * `target`), any other as a non-retryable ProviderError.
 */
export async function sendRequest(op: { signal: AbortSignal }, client: ApiClientSettings, request: ApiRequest): Promise<HttpResponse> {
  const { body, tls } = request;
  try {
    return await client.transport.request({
      method: request.method,
      url: request.url,
      headers: request.headers,
      timeoutMs: Math.max(1, Math.min(client.timeoutMs, request.remaining)),
      maxResponseBytes: request.maxResponseBytes,
      signal: op.signal,
      ...(tls ? { tls } : {}),
      ...(body !== undefined ? { body } : {}),
    });
  } catch (error) {
    if (op.signal.aborted) throw op.signal.reason;
    const { retryable, description } = classifyTransportFailure(error);
    const message = `${request.target}: ${description}`;
    if (retryable) throw request.retryable ? request.retryable(message, error) : new RetryableCall(message, { cause: error });
    throw new ProviderError(`${request.label}: ${message}`, { retryable: false, cause: error });
  }
}

/** `Accept`, `Authorization: Bearer` and `User-Agent`, plus the JSON `Content-Type` when there is a body. */
export function bearerJsonHeaders(token: string, userAgent: string, body: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    Authorization: `Bearer ${token}`,
    'User-Agent': userAgent,
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return headers;
}

/** The body as JSON; undefined when it is empty or not JSON. */
export function parseJsonBody(body: Uint8Array): unknown {
  if (body.byteLength === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The first problem zod found, for messages: `path.to.field: message` (or just the message at the top). */
export function schemaProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue?.message ?? 'invalid'}`;
}

