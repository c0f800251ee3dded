/**
 * Client for the one Flowtriq REST API call the relay needs: the source IPs
 * of an incident (`GET {baseUrl}/incidents/{uuid}`), for webhooks that carry
 * none.
 *
 * - Auth: `Authorization: Bearer <deploy token>`. The token never appears in
 *   an error message (server-provided text is scrubbed of it too).
 * - Envelope: `{ ok: true, … }` or `{ ok: false, error: { code, message } }`,
 *   validated leniently (unknown fields pass). The incident may sit at the
 *   top level, under `incident`, or under `data`. `top_src_ips` and
 *   `attacker_ips` are undocumented on this endpoint: when absent the result
 *   has no candidates and `present: false`; that is not an error.
 * - Errors: 401/403 → {@link FlowtriqApiAuthError}; 404 →
 *   {@link FlowtriqApiNotFoundError}; 429 → {@link FlowtriqApiRateLimitedError}
 *   (and later calls fail fast until Retry-After has passed); no answer in
 *   `timeoutMs` → {@link FlowtriqApiTimeoutError}; anything else →
 *   {@link FlowtriqApiError} with `retryable` set (true for 408, 5xx and
 *   network failures).
 * - Client-side limit: a token bucket of `requestsPerMinute` (default 1,000,
 *   Flowtriq's documented per-token limit). When empty the call fails at once
 *   with a rate-limited error instead of queueing: callers already retry.
 * - Cache: results are kept per uuid for `cacheTtlMs` (default 30 s; short
 *   because `attack_update` may bring new sources), and concurrent calls for
 *   the same uuid share one request. Failures are not cached.
 */
import { z } from 'zod';
import { describeError } from '../errors.ts';
import { extractSourcesFrom } from '../ip/extract.ts';
import type { HttpResponse } from '../transport/types.ts';
import {
  FlowtriqApiAuthError,
  FlowtriqApiConfigError,
  FlowtriqApiError,
  FlowtriqApiNotFoundError,
  FlowtriqApiRateLimitedError,
  FlowtriqApiTimeoutError,
} from './errors.ts';
import { TokenBucket } from './token-bucket.ts';
import type { FlowtriqApiClientOptions, GetIncidentSourcesOptions, IncidentSources } from './types.ts';

const DEFAULT_CACHE_TTL_MS = 30_000;
const DEFAULT_CACHE_MAX_ENTRIES = 1_000;
const DEFAULT_REQUESTS_PER_MINUTE = 1_000;
const DEFAULT_RETRY_AFTER_MS = 5_000;
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
const MAX_UUID_LENGTH = 128;
const MAX_SERVER_TEXT = 200;

/** `{ ok, error }`; everything else passes through. `error` may be an object or a bare string. */
const envelopeSchema = z.looseObject({
  ok: z.boolean().optional(),
  error: z
    .union([
      z.looseObject({ code: z.unknown().optional(), message: z.unknown().optional() }),
      z.string(),
    ])
    .optional(),
});
type Envelope = z.infer<typeof envelopeSchema>;

interface CacheEntry {
  expiresAt: number;
  value: IncidentSources;
}

function copySources(value: IncidentSources): IncidentSources {
  return { ...value, candidates: value.candidates.map((candidate) => ({ ...candidate })) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fetches incident sources from the Flowtriq REST API; see the module comment. */
export class FlowtriqApiClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #options: FlowtriqApiClientOptions;
  readonly #now: () => number;
  readonly #cacheTtlMs: number;
  readonly #cacheMaxEntries: number;
  readonly #bucket: TokenBucket;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<IncidentSources>>();
  #pausedUntil = 0;

  constructor(options: FlowtriqApiClientOptions) {
    if (typeof options.token !== 'string' || options.token.trim() === '') {
      throw new FlowtriqApiConfigError('the Flowtriq API token is empty; set flowtriq.apiToken to the deploy token');
    }
    if (/[\s\u0000-\u001f\u007f]/.test(options.token)) {
      throw new FlowtriqApiConfigError(
        'the Flowtriq API token contains whitespace or control characters; paste the 64-character deploy token only',
      );
    }
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new FlowtriqApiConfigError(`flowtriq.baseUrl ${JSON.stringify(options.baseUrl)} is not a URL`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new FlowtriqApiConfigError('flowtriq.baseUrl must be an https:// URL');
    }
    if (!(options.timeoutMs > 0) || !Number.isFinite(options.timeoutMs)) {
      throw new FlowtriqApiConfigError('flowtriq.timeout must be a positive duration');
    }
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cacheTtlMs = Math.max(0, options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS);
    this.#cacheMaxEntries = Math.max(1, options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES);
    this.#bucket = new TokenBucket({
      capacity: options.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE,
      intervalMs: 60_000,
      now: this.#now,
    });
  }

  /**
   * The source IPs Flowtriq reports for an incident. Served from the cache
   * when fresh; concurrent calls for one uuid share a request.
   * @throws {FlowtriqApiError} or one of its subclasses.
   */
  async getIncidentSources(uuid: string, options: GetIncidentSourcesOptions = {}): Promise<IncidentSources> {
    this.#checkUuid(uuid);
    if (!options.bypassCache) {
      const cached = this.#cache.get(uuid);
      if (cached && cached.expiresAt > this.#now()) return copySources(cached.value);
    }
    let pending = this.#inflight.get(uuid);
    if (!pending) {
      const started = this.#fetchSources(uuid);
      pending = started.then(
        (value) => {
          if (this.#inflight.get(uuid) === pending) {
            this.#inflight.delete(uuid);
            this.#remember(uuid, value);
          }
          return value;
        },
        (error: unknown) => {
          if (this.#inflight.get(uuid) === pending) this.#inflight.delete(uuid);
          throw error;
        },
      );
      this.#inflight.set(uuid, pending);
    }
    return copySources(await pending);
  }

  /** Forgets the cached sources of one incident (and detaches any request in flight from the cache). */
  invalidate(uuid: string): void {
    this.#cache.delete(uuid);
    this.#inflight.delete(uuid);
  }

  #checkUuid(uuid: string): void {
    if (typeof uuid !== 'string' || uuid === '' || uuid.length > MAX_UUID_LENGTH) {
      throw new FlowtriqApiError(`incident uuid must be 1–${MAX_UUID_LENGTH} characters`, { retryable: false });
    }
    // "." and ".." survive encodeURIComponent and would be resolved as path segments.
    if (/^\.+$/.test(uuid)) {
      throw new FlowtriqApiError('incident uuid must not consist of dots only', { retryable: false });
    }
  }

  #remember(uuid: string, value: IncidentSources): void {
    if (this.#cacheTtlMs === 0) return;
    const now = this.#now();
    this.#cache.delete(uuid);
    this.#cache.set(uuid, { expiresAt: now + this.#cacheTtlMs, value });
    if (this.#cache.size <= this.#cacheMaxEntries) return;
    for (const [key, entry] of this.#cache) {
      if (entry.expiresAt <= now) this.#cache.delete(key);
    }
    // Still too many: drop the oldest insertions.
    for (const key of this.#cache.keys()) {
      if (this.#cache.size <= this.#cacheMaxEntries) break;
      this.#cache.delete(key);
    }
  }

  /** Removes the token and control characters from server-provided text, and bounds its length. */
  #scrub(text: string): string {
    const clean = text.split(this.#token).join('[redacted]').replace(/[\u0000-\u001f\u007f]+/g, ' ');
    return clean.length > MAX_SERVER_TEXT ? `${clean.slice(0, MAX_SERVER_TEXT)}…` : clean;
  }

  async #fetchSources(uuid: string): Promise<IncidentSources> {
    const now = this.#now();
    if (now < this.#pausedUntil) {
      const retryAfterMs = this.#pausedUntil - now;
      throw new FlowtriqApiRateLimitedError(
        `Flowtriq API asked the relay to slow down; next request allowed in ${retryAfterMs} ms`,
        { retryAfterMs },
      );
    }
    const token = this.#bucket.take();
    if (!token.ok) {
      throw new FlowtriqApiRateLimitedError(
        `client-side limit of ${this.#bucket.capacity} requests/minute reached; ` +
          `next request allowed in ${token.retryAfterMs} ms`,
        { retryAfterMs: token.retryAfterMs },
      );
    }
    const response = await this.#send(`${this.#baseUrl}/incidents/${encodeURIComponent(uuid)}`);
    return this.#interpret(uuid, response);
  }

  async #send(url: string): Promise<HttpResponse> {
    const { timeoutMs, transport } = this.#options;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new FlowtriqApiTimeoutError(timeoutMs));
      }, timeoutMs);
    });
    try {
      const request = transport.request({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json' },
        timeoutMs,
        maxResponseBytes: this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        signal: controller.signal,
        ...(this.#options.tls ? { tls: this.#options.tls } : {}),
      });
      return await Promise.race([request, deadline]);
    } catch (error) {
      if (error instanceof FlowtriqApiError) throw error;
      // Duck-typed so any Transport works: lib/transport/errors.ts codes, or DOMException names from fetch.
      const code = (error as { code?: unknown } | null)?.code;
      const name = (error as { name?: unknown } | null)?.name;
      if (controller.signal.aborted || code === 'transport_timeout' || name === 'TimeoutError') {
        throw new FlowtriqApiTimeoutError(timeoutMs, { cause: error });
      }
      // A rejected certificate or an oversized answer will not change by retrying.
      const permanent = code === 'tls_verification' || code === 'response_too_large';
      throw new FlowtriqApiError(`request to the Flowtriq API failed: ${this.#scrub(describeError(error))}`, {
        retryable: !permanent,
        cause: error,
      });
    } finally {
      clearTimeout(timer);
      // A transport that ignores timeouts must not leave an unhandled rejection behind.
      deadline.catch(() => undefined);
    }
  }

  #parseBody(body: Uint8Array): { json: unknown; envelope?: Envelope } {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8').decode(body));
    } catch {
      return { json: undefined };
    }
    const parsed = envelopeSchema.safeParse(json);
    return parsed.success ? { json, envelope: parsed.data } : { json };
  }

  #apiError(envelope: Envelope | undefined): { apiCode?: string; detail: string } {
    const error = envelope?.error;
    if (error === undefined) return { detail: '' };
    if (typeof error === 'string') return { detail: `: ${this.#scrub(error)}` };
    const apiCode = typeof error.code === 'string' ? this.#scrub(error.code) : undefined;
    const message = typeof error.message === 'string' ? this.#scrub(error.message) : undefined;
    const detail = [apiCode, message].filter((part) => part !== undefined).join(': ');
    return { ...(apiCode !== undefined ? { apiCode } : {}), detail: detail ? `: ${detail}` : '' };
  }

  #retryAfterMs(header: string | undefined): number {
    const fallback = this.#options.defaultRetryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
    if (header === undefined) return fallback;
    const text = header.trim();
    let ms: number;
    if (/^\d+$/.test(text)) ms = Number(text) * 1000;
    else {
      const at = Date.parse(text);
      if (Number.isNaN(at)) return fallback;
      ms = at - this.#now();
    }
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
  }

  #interpret(uuid: string, response: HttpResponse): IncidentSources {
    const { status } = response;
    const { json, envelope } = this.#parseBody(response.body);
    const { apiCode, detail } = this.#apiError(envelope);
    const codeOption = apiCode !== undefined ? { apiCode } : {};

    if (status === 401 || status === 403) {
      throw new FlowtriqApiAuthError(
        `Flowtriq API refused the token (HTTP ${status})${detail}; check flowtriq.apiToken`,
        { status, ...codeOption },
      );
    }
    if (status === 404) {
      throw new FlowtriqApiNotFoundError(
        `Flowtriq API has no incident ${JSON.stringify(uuid)} (HTTP 404)${detail}`,
        codeOption,
      );
    }
    if (status === 429) {
      const retryAfterMs = this.#retryAfterMs(response.headers['retry-after']);
      this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + retryAfterMs);
      throw new FlowtriqApiRateLimitedError(
        `Flowtriq API rate limit reached (HTTP 429)${detail}; retry in ${retryAfterMs} ms`,
        { retryAfterMs, status, ...codeOption },
      );
    }
    if (status < 200 || status > 299) {
      const retryable = status === 408 || status >= 500;
      const hint =
        status >= 300 && status < 400
          ? '; the API redirected: set flowtriq.baseUrl to the final URL'
          : '';
      throw new FlowtriqApiError(`Flowtriq API answered HTTP ${status}${detail}${hint}`, {
        retryable,
        status,
        ...codeOption,
      });
    }
    if (!isRecord(json) || !envelope) {
      throw new FlowtriqApiError(
        `Flowtriq API answered HTTP ${status} with a body that is not a JSON object; check flowtriq.baseUrl`,
        { retryable: false, status },
      );
    }
    if (envelope.ok === false) {
      throw new FlowtriqApiError(`Flowtriq API reported an error${detail || ' without details'}`, {
        retryable: false,
        status,
        ...codeOption,
      });
    }

    const data = json.data;
    const sources = extractSourcesFrom([json.incident, data, isRecord(data) ? data.incident : undefined, json]);
    return { uuid, ...sources, fetchedAt: this.#now() };
  }
}
