/**
 * HTTP exchanges with the Cloudflare v4 API through the relay's Transport.
 *
 * - `Authorization: Bearer <API token>`; the token never reaches a log or an
 *   error message.
 * - Every answer is the v4 envelope: a call succeeds only with a 2xx status
 *   AND `success: true`, and its `result` must pass the call's zod schema;
 *   anything else is an error naming what was wrong and the fix (the token
 *   permission to add, the ID to check).
 * - Each call runs inside `withRetries` (5xx, 429 and broken connections are
 *   tried again within the operation's budget). After a 429 Cloudflare
 *   refuses every call for 5 minutes: the client sends nothing until the
 *   Retry-After (or those 5 minutes) has passed, and the retryable error
 *   carries the wait so the reconciler schedules no sooner.
 */
import type { z } from 'zod';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, bearerJsonHeaders, parseJsonBody, schemaProblem, sendRequest, timeLeft } from '../http-json.ts';
import { type CloudflareErrorContext, describeErrors, envelopeSchema, explainCloudflareError, parseCloudflareErrors } from './errors.ts';

export const CLOUDFLARE_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Cloudflare blocks every call for 5 minutes after a 429 (developers.cloudflare.com/fundamentals/api/reference/limits/). */
export const RATE_LIMIT_BLOCK_MS = 5 * 60_000;

/** The state of one provider operation. */
export type CloudflareOp = ApiOp;

export interface CloudflareClientOptions extends ApiClientOptions {
  /** Prefix of messages, e.g. `cloudflare-under-attack cf1`. */
  label: string;
  /** API base, https, no trailing slash. */
  baseUrl: string;
  apiToken: string;
  /** Permission, resource and IDs named in errors. */
  context: CloudflareErrorContext;
}

export interface CloudflareCall<T> {
  method: 'GET' | 'PATCH';
  /** Path below the base, e.g. `/zones/{id}/settings/security_level`. */
  path: string;
  body?: unknown;
  /** Schema of `result`. */
  result: z.ZodType<T>;
  /** What `result` should be, for errors: e.g. `a BGP prefix object`. */
  what: string;
}

export class CloudflareClient {
  readonly #o: CloudflareClientOptions;
  #blockedUntil = 0;

  constructor(options: CloudflareClientOptions) {
    if (!/^https:\/\/[^/]+/.test(options.baseUrl)) {
      throw new ProviderError(`${options.label}: the Cloudflare API base must be an https URL`, { retryable: false });
    }
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  get label(): string {
    return this.#o.label;
  }

  /** Epoch ms until which nothing is sent (after a 429); 0 when not blocked. */
  get blockedUntil(): number {
    return this.#blockedUntil;
  }

  /** One call, retried within the operation's budget; the validated `result`. */
  call<T>(op: CloudflareOp, call: CloudflareCall<T>): Promise<T> {
    return withRetries(() => this.#once(op, call), retryOptions(op, this.#o, this.#o.label));
  }

  async #once<T>(op: CloudflareOp, call: CloudflareCall<T>): Promise<T> {
    op.signal.throwIfAborted();
    const now = this.#o.now();
    if (now < this.#blockedUntil) {
      // Cloudflare refuses everything during its 5-minute block; a request now would only extend the wait.
      throw new RetryableCall(`Cloudflare rate limit: nothing is sent for ${Math.ceil((this.#blockedUntil - now) / 1000)} more s`, {
        status: 429,
        retryAfterMs: this.#blockedUntil - now,
      });
    }
    const target = `${call.method} ${call.path}`;
    const remaining = timeLeft(op, now, this.#o.label, target);
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const headers = bearerJsonHeaders(this.#o.apiToken, CLOUDFLARE_USER_AGENT, body);
    const url = `${this.#o.baseUrl}${call.path}`;
    const response = await sendRequest(op, this.#o, { method: call.method, url, headers, body, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.#o.label, target });
    const rayId = response.headers['cf-ray'];
    op.logger.debug('cloudflare request', { label: this.#o.label, method: call.method, path: call.path, status: response.status, rayId });
    const json = parseJsonBody(response.body);
    const envelope = envelopeSchema.safeParse(json);
    const ok = response.status >= 200 && response.status < 300;
    if (ok && envelope.success && envelope.data.success) {
      const parsed = call.result.safeParse(envelope.data.result);
      if (parsed.success) return parsed.data;
      throw new ProviderError(
        `${this.#o.label}: ${call.method} ${call.path} answered ${response.status} but its result is not ${call.what} (${schemaProblem(parsed.error)}); ` +
          'the relay must reach api.cloudflare.com directly (no proxy rewriting answers)',
        { retryable: false, status: response.status },
      );
    }
    if (ok && !envelope.success) {
      throw new ProviderError(
        `${this.#o.label}: ${call.method} ${call.path} answered ${response.status} without Cloudflare's v4 envelope ({success, errors, result}); ` +
          'the relay must reach api.cloudflare.com directly (no proxy or captive portal answering instead)',
        { retryable: false, status: response.status },
      );
    }
    const errors = parseCloudflareErrors(json);
    const { retryable, explanation } = explainCloudflareError(response.status, errors, this.#o.context);
    const what = describeErrors(errors);
    const statusText = ok ? `${response.status} with success:false` : String(response.status);
    const ray = rayId ? ` (cf-ray ${rayId.slice(0, 40)})` : '';
    const message = `${call.method} ${call.path} answered ${statusText}${what ? ` ${what}` : ''}: ${explanation}${ray}`;
    if (retryable) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      if (response.status === 429 || errors.some((error) => error.code === 971 || error.code === 10429)) {
        const wait = Math.max(retryAfterMs ?? 0, RATE_LIMIT_BLOCK_MS);
        this.#blockedUntil = this.#o.now() + wait;
        op.logger.warn('cloudflare: rate limited; nothing is sent until the block ends', { label: this.#o.label, waitMs: wait });
        throw new RetryableCall(message, { status: 429, retryAfterMs: wait });
      }
      throw new RetryableCall(message, { status: response.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    throw new ProviderError(`${this.#o.label}: ${message}`, { retryable: false, status: response.status });
  }
}
