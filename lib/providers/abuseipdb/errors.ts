/**
 * AbuseIPDB's error answers and what each means for the relay.
 *
 * Body (JSON:API style): `{"errors":[{"detail":"…","status":429,
 * "source":{"parameter":"ip"}}]}`; `status` is sometimes a string.
 *
 * - 401: the key is missing, wrong or revoked (an APIv1 key does not work).
 * - 403: the key may not do this (UNVERIFIED wording; treated like 401).
 * - 422: a parameter was refused (`source.parameter` names it).
 * - 429: three different things, told apart here:
 *   - the same address was reported by this key in the last 15 minutes
 *     ("You can only report the same IP address (`…`) once in 15
 *     minutes.", source parameter `ip`): that address only, nothing to retry;
 *   - the endpoint's daily quota is used up (`X-RateLimit-Remaining: 0`):
 *     nothing more until `X-RateLimit-Reset`;
 *   - a plain rate limit: try again after `Retry-After`.
 */
import { z } from 'zod';
import { ProviderError } from '../errors.ts';

const errorSchema = z.looseObject({
  errors: z
    .array(
      z.looseObject({
        detail: z.string().optional().catch(undefined),
        status: z.union([z.number(), z.string()]).optional().catch(undefined),
        source: z.looseObject({ parameter: z.string().optional().catch(undefined) }).optional().catch(undefined),
      }),
    )
    .min(1),
});

export interface AbuseipdbErrorItem {
  detail: string;
  /** The parameter the API refused, when it says. */
  parameter?: string;
}

/** AbuseIPDB's error list, or undefined when the body is not one. */
export function parseAbuseipdbErrors(json: unknown): AbuseipdbErrorItem[] | undefined {
  const parsed = errorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return parsed.data.errors.map((item) => ({
    detail: sanitize(item.detail ?? ''),
    ...(item.source?.parameter !== undefined ? { parameter: sanitize(item.source.parameter) } : {}),
  }));
}

/** "You can only report the same IP address (`…`) once in 15 minutes." */
export function isCooldownError(items: AbuseipdbErrorItem[] | undefined): boolean {
  return (items ?? []).some((item) => /once in 15 minutes/i.test(item.detail) || /same ip address/i.test(item.detail));
}

/** The key was refused (401/403): nothing works until it is fixed. */
export class AbuseipdbAuthError extends ProviderError {
  constructor(label: string, status: number, detail: string) {
    super(
      `${label}: AbuseIPDB answered ${status}${detail ? ` (${detail})` : ''}: secrets.apiKey was refused. ` +
        'Use an API v2 key of the reporting account (abuseipdb.com → User Account → API → Create Key; the APIv1 key does not work); ' +
        'the relay sends it in the Key header',
      { retryable: false, status },
    );
    this.name = 'AbuseipdbAuthError';
  }
}

/** A configured value was refused (422 on `categories`): every report would fail the same way. */
export class AbuseipdbConfigRejectedError extends ProviderError {
  constructor(label: string, detail: string) {
    super(`${label}: AbuseIPDB refused options.categories (422: ${detail}); use category ids from https://www.abuseipdb.com/categories, e.g. [4]`, {
      retryable: false,
      status: 422,
    });
    this.name = 'AbuseipdbConfigRejectedError';
  }
}

/** An answer that is not AbuseIPDB's (proxy, captive portal) or not in its documented shape. */
export class AbuseipdbUnexpectedAnswerError extends ProviderError {
  constructor(label: string, target: string, status: number, problem: string) {
    super(
      `${label}: ${target} answered ${status} but not as AbuseIPDB documents (${problem}); the relay must reach https://api.abuseipdb.com directly`,
      { retryable: status >= 500, status },
    );
    this.name = 'AbuseipdbUnexpectedAnswerError';
  }
}

/** API text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
