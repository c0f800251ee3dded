/**
 * DigitalOcean API error answers and what each means for the relay.
 *
 * Body (digitalocean/openapi `shared/models/error.yml`):
 * `{"id":"not_found","message":"The resource you were accessing could not be found.","request_id":"…"}`.
 *
 * - 401 `{"id":"Unauthorized","message":"Unable to authenticate you"}`: the
 *   token is wrong, expired or revoked.
 * - 403 (`"You are not authorized to perform this operation"`, seen in
 *   answers quoted by API users; UNVERIFIED `id`): the token lacks the
 *   scope — `firewall:read` for a GET, `firewall:update` for a rule write.
 * - 404 `not_found`: no such firewall for this token's team.
 * - 400/422: DigitalOcean refused the rules sent.
 * - 429 `too_many_requests` "API rate limit exceeded.": 250 requests per
 *   minute / 5,000 per hour per token; `ratelimit-reset` (epoch seconds)
 *   says when the window frees up.
 * - 5xx: DigitalOcean failed; worth another try.
 */
import { z } from 'zod';
import { ProviderError } from '../errors.ts';

export interface DoErrorBody {
  id: string;
  message: string;
  requestId?: string;
}

const errorSchema = z.looseObject({
  id: z.string(),
  message: z.string().optional().catch(undefined),
  request_id: z.string().optional().catch(undefined),
});

/** DigitalOcean's error object, or undefined when the body is not one. */
export function parseDoError(json: unknown): DoErrorBody | undefined {
  const parsed = errorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const out: DoErrorBody = { id: sanitize(parsed.data.id).slice(0, 60), message: sanitize(parsed.data.message ?? '') };
  if (parsed.data.request_id !== undefined) out.requestId = sanitize(parsed.data.request_id).slice(0, 60);
  return out;
}

/** `403 Forbidden "…" (request_id …)` for messages. */
export function describeDoError(status: number, error: DoErrorBody | undefined): string {
  if (error === undefined) return String(status);
  const message = error.message ? ` "${error.message}"` : '';
  const request = error.requestId ? ` (request_id ${error.requestId})` : '';
  return `${status} ${error.id}${message}${request}`;
}

/** The token was refused (401). Nothing the relay can retry. */
export class DigitalOceanAuthError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false, status: 401 });
  }
}

/** The token lacks the scope a call needs (403). */
export class DigitalOceanScopeError extends ProviderError {
  readonly scope: string;
  constructor(message: string, scope: string) {
    super(message, { retryable: false, status: 403 });
    this.scope = scope;
  }
}

/** The firewall does not exist for this token (404). */
export class DigitalOceanNotFoundError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false, status: 404 });
  }
}

/** DigitalOcean refused what the relay sent (400/422): a rule, a limit. */
export class DigitalOceanRejectedError extends ProviderError {
  constructor(message: string, status: number) {
    super(message, { retryable: false, status });
  }
}

/** An answer that is not DigitalOcean's (a proxy, a captive portal) or not the shape the spec gives. */
export class DigitalOceanUnexpectedAnswerError extends ProviderError {
  constructor(message: string, status: number) {
    super(message, { retryable: false, status });
  }
}

/**
 * A write whose outcome is unknown (5xx, a broken connection) or that was
 * refused for now (429): retryable, and the relay reads the firewall again
 * before any further change.
 */
export class DigitalOceanWriteUnclearError extends ProviderError {
  constructor(message: string, options: { status?: number; retryAfterMs?: number; cause?: unknown }) {
    super(message, { retryable: true, ...options });
  }
}

/** The lockdown would break one of DigitalOcean's limits (50 rules per firewall). */
export class DigitalOceanLimitError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** The stored snapshot or activation is not this provider's. */
export class DigitalOceanStoredStateError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** Device text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
