/**
 * The `webhook` integration: POSTs signed JSON block/unblock events to any
 * HTTP(S) URL, for receivers the relay has no adapter for.
 *
 * Request:
 *
 * ```http
 * POST <url>
 * Content-Type: application/json
 * User-Agent: flowtriq-relay/<version>
 * X-Relay-Timestamp: <unix seconds>
 * X-Relay-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
 *
 * {"type":"block.add","integration":"siem","sentAt":"2030-01-01T00:00:00.000Z",
 *  "entries":[{"ip":"203.0.113.7","expiresAt":"2030-01-01T01:00:00.000Z","incidents":["…"]}]}
 * ```
 *
 * `type` is `block.add`, `block.remove` or `relay.test` (health check, no
 * entries). Every attempt is signed afresh: a retry carries a new timestamp
 * and `sentAt`, so it stays inside the receiver's replay window.
 *
 * Delivery: any 2xx accepts the whole batch. Network errors, timeouts, 408,
 * 429 and 5xx are retried with exponential backoff and jitter (Retry-After
 * honoured up to a cap) until `maxAttempts`; then a retryable ProviderError.
 * Redirects and other 4xx fail at once with a non-retryable ProviderError
 * (the URL, secret or receiver needs fixing). Messages name the URL's origin
 * only: webhook URLs often carry a token in their path.
 */
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { z } from 'zod';
import packageJson from '../../../package.json' with { type: 'json' };
import type { webhookIntegrationSchema } from '../../config/schema.ts';
import { RelayError, describeError } from '../../errors.ts';
import { signRelay } from '../../signature/relay.ts';
import { classifyTransportFailure } from '../../transport/errors.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../transport/types.ts';
import { ProviderError } from '../errors.ts';
import type { BlockEntry, BlocklistProvider, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import { sleep } from '../../util/sleep.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';

export type WebhookIntegrationConfig = z.infer<typeof webhookIntegrationSchema>;

/** The `type` field of a webhook event. */
export type WebhookEventType = 'block.add' | 'block.remove' | 'relay.test';

/** The JSON body the receiver gets. */
export interface WebhookPayload {
  type: WebhookEventType;
  integration: string;
  /** ISO time of this attempt. */
  sentAt: string;
  entries: Array<{ ip: string; expiresAt: string; incidents: string[] }>;
}

/** What the provider needs besides its config. Delays are injectable so tests run fast. */
export interface WebhookProviderDeps {
  transport: Transport;
  /** The resolved HMAC key (never logged). */
  signingSecret: string;
  /** Config path of the integration for messages, e.g. `integrations[2]`. */
  configPath?: string;
  /** Reads `options.caFile`; defaults to readFileSync(path, 'utf8'). */
  readFile?: (path: string) => string;
  /** First retry delay before jitter (default 500 ms); doubles per attempt. */
  baseDelayMs?: number;
  /** Cap on the backoff delay (default 30 s). */
  maxDelayMs?: number;
  /** Cap on a Retry-After wait (default 60 s). */
  maxRetryAfterMs?: number;
  /** Clock (epoch ms) and jitter source, for tests. */
  now?: () => number;
  random?: () => number;
}

/** The CA bundle named by `options.caFile` cannot be used. Raised at construction (startup). */
export class CaFileError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ca_file_invalid', message, options);
  }
}

/** `User-Agent` of every webhook request. */
export const WEBHOOK_USER_AGENT = `flowtriq-relay/${packageJson.version}`;
/** The webhook reads at most this much of a response (only a snippet is used). */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const SNIPPET_CHARS = 200;

interface AttemptFailure {
  retryable: boolean;
  description: string;
  status?: number;
  retryAfterMs?: number;
  cause?: unknown;
}

/** A blocklist target that POSTs signed JSON events to a URL. */
export class WebhookProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = 'webhook';
  readonly id: string;
  readonly maxBatch = 500;

  readonly #url: string;
  readonly #origin: string;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #ca: string | undefined;
  readonly #transport: Transport;
  readonly #secret: string;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(config: WebhookIntegrationConfig, deps: WebhookProviderDeps) {
    this.id = config.id;
    this.#url = config.options.url;
    this.#origin = new URL(config.options.url).origin;
    this.#timeoutMs = config.options.timeout;
    this.#maxAttempts = config.options.maxAttempts;
    this.#transport = deps.transport;
    this.#secret = deps.signingSecret;
    this.#baseDelayMs = deps.baseDelayMs ?? 500;
    this.#maxDelayMs = deps.maxDelayMs ?? 30_000;
    this.#maxRetryAfterMs = deps.maxRetryAfterMs ?? 60_000;
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
    const caFile = config.options.caFile;
    // A CA bundle only means something for https://; plain http (loopback testing) ignores it.
    this.#ca =
      caFile !== undefined && this.#url.startsWith('https://')
        ? readCaFile(caFile, `${deps.configPath ?? `integrations[id=${config.id}]`}.options.caFile`, deps.readFile)
        : undefined;
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#sendAll('block.add', entries, ctx);
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#sendAll('block.remove', entries, ctx);
  }

  /** Sends one `relay.test` event (single attempt); healthy on 2xx. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    try {
      const status = await this.#deliver('relay.test', [], ctx, 1);
      return { ok: true, detail: `POST ${this.#origin} answered ${status}` };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof ProviderError ? error.message : describeError(error) };
    }
  }

  /**
   * Splits into POSTs of at most maxBatch. If a later POST fails after
   * earlier ones succeeded, the entries from the failed POST on are reported
   * failed individually; if the first fails, the ProviderError is thrown.
   */
  async #sendAll(type: WebhookEventType, entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const results: EntryResult[] = [];
    for (let start = 0; start < entries.length; start += this.maxBatch) {
      const chunk = entries.slice(start, start + this.maxBatch);
      try {
        await this.#deliver(type, chunk, ctx, this.#maxAttempts);
      } catch (error) {
        if (start === 0 || !(error instanceof ProviderError)) throw error;
        for (const entry of entries.slice(start)) results.push({ ip: entry.ip, ok: false, error: error.message });
        return results;
      }
      for (const entry of chunk) results.push({ ip: entry.ip, ok: true });
    }
    return results;
  }

  /** POSTs one event with retries; resolves to the 2xx status. */
  async #deliver(
    type: WebhookEventType,
    entries: BlockEntry[],
    ctx: ProviderContext,
    maxAttempts: number,
  ): Promise<number> {
    const payloadEntries = entries.map((entry) => ({
      ip: entry.ip,
      expiresAt: new Date(entry.expiresAt).toISOString(),
      incidents: entry.incidents,
    }));
    for (let attempt = 1; ; attempt += 1) {
      ctx.signal.throwIfAborted();
      const failure = await this.#attempt(type, payloadEntries, ctx);
      if (typeof failure === 'number') {
        ctx.logger.debug('webhook delivered', { integration: this.id, type, count: entries.length, status: failure, attempt });
        return failure;
      }
      const options = { status: failure.status, cause: failure.cause };
      if (!failure.retryable) {
        throw new ProviderError(`webhook ${this.id}: ${failure.description}`, { ...options, retryable: false });
      }
      if (attempt >= maxAttempts) {
        throw new ProviderError(
          `webhook ${this.id}: gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}; last: ${failure.description}`,
          { ...options, retryable: true },
        );
      }
      const delayMs = failure.retryAfterMs ?? this.#backoffMs(attempt);
      ctx.logger.warn('webhook attempt failed; retrying', {
        integration: this.id,
        type,
        attempt,
        maxAttempts,
        delayMs,
        error: failure.description,
      });
      await sleep(delayMs, ctx.signal);
    }
  }

  /** One signed POST. Returns the status on 2xx, else what went wrong. */
  async #attempt(
    type: WebhookEventType,
    entries: WebhookPayload['entries'],
    ctx: ProviderContext,
  ): Promise<number | AttemptFailure> {
    const nowMs = this.#now();
    const timestamp = Math.floor(nowMs / 1000);
    const payload: WebhookPayload = { type, integration: this.id, sentAt: new Date(nowMs).toISOString(), entries };
    const body = JSON.stringify(payload);
    const request: HttpRequest = {
      method: 'POST',
      url: this.#url,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': WEBHOOK_USER_AGENT,
        'X-Relay-Timestamp': String(timestamp),
        'X-Relay-Signature': signRelay(this.#secret, timestamp, body),
      },
      body,
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      signal: ctx.signal,
    };
    if (this.#ca !== undefined) request.tls = { ca: this.#ca };

    let response: HttpResponse;
    try {
      response = await this.#transport.request(request);
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return classifyError(error);
    }
    if (response.status >= 200 && response.status < 300) return response.status;
    return this.#classifyStatus(response);
  }

  #classifyStatus(response: HttpResponse): AttemptFailure {
    const { status } = response;
    const label = `${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''}`;
    if (status >= 300 && status < 400) {
      return {
        retryable: false,
        status,
        description: `POST ${this.#origin} answered ${label}; webhook URLs must not redirect (redirects are not followed)`,
      };
    }
    const snippet = bodySnippet(response.body);
    const description = `POST ${this.#origin} answered ${label}${snippet ? `: ${snippet}` : ''}`;
    if (status === 408 || status === 429 || status >= 500) {
      const failure: AttemptFailure = { retryable: true, status, description };
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#now());
      if (retryAfterMs !== undefined) failure.retryAfterMs = Math.min(retryAfterMs, this.#maxRetryAfterMs);
      return failure;
    }
    return { retryable: false, status, description };
  }

  /** Exponential with "equal jitter": between half and all of base·2^(attempt-1), capped. */
  #backoffMs(attempt: number): number {
    const ceiling = Math.min(this.#baseDelayMs * 2 ** Math.min(attempt - 1, 20), this.#maxDelayMs);
    return Math.round(ceiling / 2 + this.#random() * (ceiling / 2));
  }
}

function classifyError(error: unknown): AttemptFailure {
  const { retryable, description } = classifyTransportFailure(error);
  return { retryable, description, cause: error };
}

function bodySnippet(body: Uint8Array): string {
  if (body.byteLength === 0) return '';
  const text = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, SNIPPET_CHARS * 4)).toString('utf8');
  // Control characters would break log lines; the receiver's text is untrusted.
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS)}…` : flat;
}

function readCaFile(path: string, where: string, readFile?: (path: string) => string): string {
  let pem: string;
  try {
    pem = readFile ? readFile(path) : readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new CaFileError(`${where}: cannot read ${path}${typeof code === 'string' ? ` (${code})` : ''}`, {
      cause: error,
    });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CaFileError(`${where}: ${path} contains no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
  return pem;
}

export { parseRetryAfter } from '../../util/retry-after.ts';
