/**
 * HTTP exchanges with the AbuseIPDB API v2 through the relay's Transport.
 *
 * - The key goes in the `Key` header (never the `key=` query parameter, which
 *   ends up in logs), with `Accept: application/json` so errors come as JSON.
 * - Nothing is retried here: every report costs quota and a report cannot be
 *   taken back, so the provider decides per address what an answer means.
 *   Each call returns what happened as a value: saved, the per-address
 *   15-minute cooldown, the endpoint's daily quota used up, a plain rate
 *   limit (Retry-After), a refused parameter, or a failure worth trying later.
 * - 401/403 throw {@link AbuseipdbAuthError} (names secrets.apiKey, never the key).
 * - Every 2xx body is validated (zod).
 */
import packageJson from '../../../package.json' with { type: 'json' };
import type { Logger } from '../../log/types.ts';
import { classifyTransportFailure } from '../../transport/errors.ts';
import type { HttpResponse, Transport } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { ProviderError } from '../errors.ts';
import { AbuseipdbAuthError, type AbuseipdbErrorItem, isCooldownError, parseAbuseipdbErrors } from './errors.ts';
import { type BulkAnswer, bulkAnswerSchema, checkAnswerSchema, multipartCsv, reportAnswerSchema } from './model.ts';

export const ABUSEIPDB_USER_AGENT = `flowtriq-relay/${packageJson.version}`;
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Used when a 429 gives no Retry-After. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 60_000;

export type AbuseipdbEndpoint = 'report' | 'bulk-report' | 'check';

/** What the X-RateLimit-* headers said. */
export interface QuotaHeaders {
  limit?: number;
  remaining?: number;
  /** Epoch ms the daily quota resets. */
  resetAt?: number;
}

export type CallOutcome<T> =
  | { kind: 'ok'; value: T; quota: QuotaHeaders }
  /** This key reported the address in the last 15 minutes. */
  | { kind: 'cooldown'; detail: string }
  /** The endpoint's daily quota is used up until `resetAt`. */
  | { kind: 'quota'; resetAt: number; limit?: number; detail: string }
  /** A plain rate limit: try again after `retryAfterMs`. */
  | { kind: 'rate-limited'; retryAfterMs: number; detail: string }
  /** A parameter was refused (4xx other than 401/403/429): retrying the same request cannot help. */
  | { kind: 'rejected'; status: number; items: AbuseipdbErrorItem[]; detail: string }
  /** 5xx, a broken connection, an unreadable answer: worth trying later. */
  | { kind: 'failed'; message: string; retryAfterMs?: number };

export interface AbuseipdbOp {
  signal: AbortSignal;
  logger: Logger;
}

export interface AbuseipdbClientOptions {
  label: string;
  baseUrl: string;
  apiKey: string;
  transport: Transport;
  timeoutMs: number;
  now: () => number;
}

export class AbuseipdbClient {
  readonly #o: AbuseipdbClientOptions;
  #boundaries = 0;

  constructor(options: AbuseipdbClientOptions) {
    this.#o = options;
  }

  /** `POST /report` (form): one address. */
  async report(op: AbuseipdbOp, report: { ip: string; categories: readonly number[]; comment: string; timestamp?: string }) {
    const form = new URLSearchParams({ ip: report.ip, categories: report.categories.join(','), comment: report.comment });
    if (report.timestamp !== undefined) form.set('timestamp', report.timestamp);
    return this.#exchange(op, 'POST', 'report', '/report', { body: form.toString(), contentType: 'application/x-www-form-urlencoded' }, (json) => {
      const parsed = reportAnswerSchema.safeParse(json);
      return parsed.success ? { ok: true as const, value: parsed.data.data } : { ok: false as const, problem: 'no data.ipAddress' };
    });
  }

  /** `POST /bulk-report` (multipart, field `csv`). */
  async bulkReport(op: AbuseipdbOp, csv: string): Promise<CallOutcome<BulkAnswer>> {
    this.#boundaries += 1;
    const { body, contentType } = multipartCsv(csv, `flowtriq-relay-${this.#o.now().toString(36)}-${this.#boundaries}`);
    return this.#exchange(op, 'POST', 'bulk-report', '/bulk-report', { body, contentType }, (json) => {
      const parsed = bulkAnswerSchema.safeParse(json);
      return parsed.success ? { ok: true as const, value: parsed.data.data } : { ok: false as const, problem: 'no data.savedReports/invalidReports' };
    });
  }

  /** `GET /check?ipAddress=…` (costs one of the daily check quota). */
  async check(op: AbuseipdbOp, ip: string) {
    const query = new URLSearchParams({ ipAddress: ip, maxAgeInDays: '1' });
    return this.#exchange(op, 'GET', 'check', `/check?${query.toString()}`, undefined, (json) => {
      const parsed = checkAnswerSchema.safeParse(json);
      return parsed.success ? { ok: true as const, value: parsed.data.data } : { ok: false as const, problem: 'no data.ipAddress' };
    });
  }

  async #exchange<T>(
    op: AbuseipdbOp,
    method: 'GET' | 'POST',
    endpoint: AbuseipdbEndpoint,
    path: string,
    payload: { body: string; contentType: string } | undefined,
    parse: (json: unknown) => { ok: true; value: T } | { ok: false; problem: string },
  ): Promise<CallOutcome<T>> {
    op.signal.throwIfAborted();
    const target = `${method} /${endpoint}`;
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Key: this.#o.apiKey,
      'User-Agent': ABUSEIPDB_USER_AGENT,
    };
    if (payload !== undefined) headers['Content-Type'] = payload.contentType;
    let response: HttpResponse;
    try {
      response = await this.#o.transport.request({
        method,
        url: `${this.#o.baseUrl}${path}`,
        headers,
        timeoutMs: this.#o.timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
        signal: op.signal,
        ...(payload !== undefined ? { body: payload.body } : {}),
      });
    } catch (error) {
      if (op.signal.aborted) throw op.signal.reason;
      const { retryable, description } = classifyTransportFailure(error);
      if (!retryable) throw new ProviderError(`${this.#o.label}: ${target}: ${description}`, { retryable: false, cause: error });
      return { kind: 'failed', message: `${target}: ${description}` };
    }
    op.logger.debug('abuseipdb request', { integration: this.#o.label, method, endpoint, status: response.status });
    return this.#interpret(target, response, parse);
  }

  #interpret<T>(
    target: string,
    response: HttpResponse,
    parse: (json: unknown) => { ok: true; value: T } | { ok: false; problem: string },
  ): CallOutcome<T> {
    const { status } = response;
    const quota = readQuota(response.headers);
    const json = parseJson(response.body);
    if (status >= 200 && status < 300) {
      const parsed = json === undefined ? { ok: false as const, problem: 'the body is not JSON' } : parse(json);
      if (!parsed.ok) {
        return {
          kind: 'failed',
          message: `${target} answered ${status} but not as AbuseIPDB documents (${parsed.problem}); the relay must reach https://api.abuseipdb.com directly`,
        };
      }
      return { kind: 'ok', value: parsed.value, quota };
    }
    const items = json === undefined ? undefined : parseAbuseipdbErrors(json);
    const detail = (items ?? []).map((item) => item.detail).filter(Boolean).join('; ');
    if (status === 401 || status === 403) throw new AbuseipdbAuthError(this.#o.label, status, detail);
    if (status === 429) {
      if (isCooldownError(items)) return { kind: 'cooldown', detail };
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      if (quota.remaining === 0) {
        const resetAt = quota.resetAt ?? (retryAfterMs !== undefined ? this.#o.now() + retryAfterMs : nextUtcMidnight(this.#o.now()));
        return { kind: 'quota', resetAt, ...(quota.limit !== undefined ? { limit: quota.limit } : {}), detail };
      }
      return { kind: 'rate-limited', retryAfterMs: retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS, detail };
    }
    if (status >= 500 || status === 408) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      return {
        kind: 'failed',
        message: `${target} answered ${status}${detail ? ` (${detail})` : ''}: AbuseIPDB failed; tried again later`,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    }
    return { kind: 'rejected', status, items: items ?? [], detail: detail || `HTTP ${status}` };
  }
}

/** X-RateLimit-Limit / -Remaining / -Reset (epoch seconds). */
export function readQuota(headers: Record<string, string>): QuotaHeaders {
  const quota: QuotaHeaders = {};
  const limit = wholeNumber(headers['x-ratelimit-limit']);
  const remaining = wholeNumber(headers['x-ratelimit-remaining']);
  const reset = wholeNumber(headers['x-ratelimit-reset']);
  if (limit !== undefined) quota.limit = limit;
  if (remaining !== undefined) quota.remaining = remaining;
  if (reset !== undefined) quota.resetAt = reset * 1000;
  return quota;
}

function wholeNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value.trim());
}

/** AbuseIPDB's daily quotas reset at midnight UTC (UNVERIFIED; X-RateLimit-Reset is used when given). */
export function nextUtcMidnight(now: number): number {
  const day = new Date(now);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
}

function parseJson(body: Uint8Array): unknown {
  if (body.byteLength === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
