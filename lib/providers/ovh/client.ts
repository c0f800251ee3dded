/**
 * HTTP exchanges with the OVHcloud API through the relay's Transport.
 *
 * - Every call but `GET /auth/time` is signed (signing.ts) with the server's
 *   time: the offset to the local clock is read once from `/auth/time`,
 *   cached, and read again when OVH answers "Query out of time" (the
 *   rejected request is then sent once more with the corrected timestamp).
 * - The IP block is percent-encoded in the path (`%2F`) and the URL is
 *   signed exactly as sent.
 * - Each call is sent once; 429, 5xx and transport failures surface as
 *   `RetryableCall` so the provider's `withRetries` loop (which re-reads the
 *   entry before writing again) decides. After a 429 nothing is sent until
 *   its Retry-After has passed.
 * - Every 2xx body is validated (zod); anything else is an error naming what
 *   was wrong. Keys, secret and signature never reach a log or an error.
 */
import { z } from 'zod';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, parseJsonBody, schemaProblem, sendRequest, timeLeft } from '../http-json.ts';
import { OVH_CREATE_TOKEN_PAGES, type OvhEndpoint, type OvhSecrets } from './config.ts';
import { type OvhAccessRule, type OvhErrorBody, explainOvhError, parseOvhError } from './errors.ts';
import { encodePathParam, ovhSignedHeaders } from './signing.ts';

export const OVH_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Pause after a 429 that came without Retry-After. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 60_000;

/** The state of one provider operation. */
export type OvhOp = ApiOp;

export const MITIGATION_STATES = ['creationPending', 'ok', 'removalPending'] as const;
export type MitigationState = (typeof MITIGATION_STATES)[number];

/** `ip.MitigationIp` (ovhcloud-cli api-schemas/ip.json). */
export const mitigationEntrySchema = z.looseObject({
  ipOnMitigation: z.string(),
  permanent: z.boolean(),
  auto: z.boolean(),
  state: z.enum(MITIGATION_STATES),
});
export interface MitigationEntry {
  ipOnMitigation: string;
  permanent: boolean;
  auto: boolean;
  state: MitigationState;
}

const RULES = {
  listIps: { method: 'GET', path: '/ip' },
  getIp: { method: 'GET', path: '/ip/*' },
  getEntry: { method: 'GET', path: '/ip/*/mitigation/*' },
  create: { method: 'POST', path: '/ip/*/mitigation' },
  remove: { method: 'DELETE', path: '/ip/*/mitigation/*' },
} as const satisfies Record<string, OvhAccessRule>;

export interface OvhClientOptions extends ApiClientOptions {
  integrationId: string;
  endpoint: OvhEndpoint;
  /** API base including `/1.0`, https. */
  baseUrl: string;
  secrets: OvhSecrets;
}

interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  /** Encoded path below the base, e.g. `/ip/192.0.2.0%2F24/mitigation`. */
  path: string;
  body?: string;
  rule: OvhAccessRule;
}

interface Answer {
  status: number;
  json: unknown;
  queryId: string | undefined;
  retryAfter: string | undefined;
}

export class OvhClient {
  readonly #o: OvhClientOptions;
  /** Server time minus local time, seconds; undefined until read. */
  #offsetSeconds: number | undefined;
  #rateLimitedUntil = 0;

  constructor(options: OvhClientOptions) {
    this.#o = options;
  }

  get label(): string {
    return `ovh ${this.#o.integrationId}`;
  }

  /** The cached server-time offset, seconds (tests, status). */
  get timeOffsetSeconds(): number | undefined {
    return this.#offsetSeconds;
  }

  /** `GET /ip`: the account's IP blocks. */
  async listBlocks(op: OvhOp): Promise<string[]> {
    const answer = await this.#expect2xx(op, { method: 'GET', path: '/ip', rule: RULES.listIps });
    return this.#validate(z.array(z.string()), answer, 'GET /ip', 'a list of IP blocks');
  }

  /** `GET /ip/{block}`: true when the block belongs to the account. */
  async blockExists(op: OvhOp, block: string): Promise<boolean> {
    const call: Call = { method: 'GET', path: `/ip/${encodePathParam(block)}`, rule: RULES.getIp };
    const answer = await this.#send(op, call);
    if (answer.status === 404) return false;
    this.#throwUnlessOk(call, answer);
    this.#validate(z.looseObject({ ip: z.string() }), answer, `GET /ip/${block}`, 'an ip.Ip object');
    return true;
  }

  /** `GET /ip/{block}/mitigation/{ip}`: the entry, or undefined when there is none (404). */
  async getEntry(op: OvhOp, block: string, ip: string): Promise<MitigationEntry | undefined> {
    const call: Call = { method: 'GET', path: entryPath(block, ip), rule: RULES.getEntry };
    const answer = await this.#send(op, call);
    if (answer.status === 404) return undefined;
    this.#throwUnlessOk(call, answer);
    return this.#entry(answer, `GET /ip/${block}/mitigation/${ip}`, ip);
  }

  /** `POST /ip/{block}/mitigation {"ipOnMitigation":ip}`: the new entry, or 'conflict' when OVH says one exists. */
  async createEntry(op: OvhOp, block: string, ip: string): Promise<MitigationEntry | 'conflict'> {
    const call: Call = { method: 'POST', path: `/ip/${encodePathParam(block)}/mitigation`, body: JSON.stringify({ ipOnMitigation: ip }), rule: RULES.create };
    const answer = await this.#send(op, call);
    if (answer.status === 409) return 'conflict';
    if (answer.status === 404) throw this.#blockNotFound(block, answer);
    this.#throwUnlessOk(call, answer);
    return this.#entry(answer, `POST /ip/${block}/mitigation`, ip);
  }

  /** `DELETE /ip/{block}/mitigation/{ip}`: the entry (removalPending), or 'absent' when there is none (404). */
  async deleteEntry(op: OvhOp, block: string, ip: string): Promise<MitigationEntry | 'absent'> {
    const call: Call = { method: 'DELETE', path: entryPath(block, ip), rule: RULES.remove };
    const answer = await this.#send(op, call);
    if (answer.status === 404) return 'absent';
    this.#throwUnlessOk(call, answer);
    if (answer.json === undefined) return { ipOnMitigation: ip, permanent: true, auto: false, state: 'removalPending' };
    return this.#entry(answer, `DELETE /ip/${block}/mitigation/${ip}`, ip);
  }

  /** The error for a block the account does not own. */
  blockNotFoundError(block: string): ProviderError {
    return new ProviderError(
      `${this.label}: IP block ${block} is not in this OVH account (GET /ip/${block} answered 404): check options.ips[].ipBlock against GET /ip ` +
        `(or Bare Metal Cloud → Network → IP), and that the consumer key belongs to the account owning the block on ${this.#o.endpoint}`,
      { retryable: false, status: 404 },
    );
  }

  #blockNotFound(block: string, answer: Answer): ProviderError {
    const error = parseOvhError(answer.json);
    const base = this.blockNotFoundError(block);
    return new ProviderError(`${base.message}${error?.message ? ` (OVH: ${error.message})` : ''}`, { retryable: false, status: 404 });
  }

  /** Reads `/auth/time` (unsigned) and caches the offset. Retried within the operation's budget. */
  async syncTime(op: OvhOp): Promise<number> {
    const serverSeconds = await withRetries(
      async () => {
        const answer = await this.#raw(op, { method: 'GET', path: '/auth/time', rule: RULES.getIp }, {});
        if (answer.status < 200 || answer.status >= 300) {
          if (answer.status === 429 || answer.status >= 500) throw new RetryableCall(`GET /auth/time answered ${answer.status}`, { status: answer.status });
          throw new ProviderError(`${this.label}: GET /auth/time answered ${answer.status}; check options.endpoint`, { retryable: false, status: answer.status });
        }
        const parsed = z.number().int().positive().safeParse(answer.json);
        if (!parsed.success) {
          throw new ProviderError(`${this.label}: GET /auth/time did not answer a Unix time (a bare integer); the relay must reach the OVH API directly`, {
            retryable: false,
            status: answer.status,
          });
        }
        return parsed.data;
      },
      retryOptions(op, this.#o, this.label),
    );
    this.#offsetSeconds = serverSeconds - Math.floor(this.#o.now() / 1000);
    op.logger.debug('ovh server time read', { integration: this.#o.integrationId, offsetSeconds: this.#offsetSeconds });
    return this.#offsetSeconds;
  }

  /** One signed exchange; on "Query out of time" the offset is read again and the request sent once more. */
  async #send(op: OvhOp, call: Call): Promise<Answer> {
    if (this.#offsetSeconds === undefined) await this.syncTime(op);
    let answer = await this.#signed(op, call);
    if (isTimeError(answer)) {
      op.logger.warn('ovh: request timestamp refused; reading the server time again', { integration: this.#o.integrationId, queryId: answer.queryId });
      await this.syncTime(op);
      answer = await this.#signed(op, call);
    }
    if (answer.status === 429 || answer.status >= 500 || isTimeError(answer)) {
      const error = parseOvhError(answer.json);
      const retryAfterMs = parseRetryAfter(answer.retryAfter, this.#o.now());
      if (answer.status === 429) this.#rateLimitedUntil = this.#o.now() + (retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS);
      const { explanation } = explainOvhError(answer.status, error, this.#context(call));
      throw new RetryableCall(`${call.method} ${call.path} answered ${answer.status}${describe(error)}: ${explanation}${queryIdText(answer)}`, {
        status: answer.status,
        ...(answer.status === 429 ? { retryAfterMs: retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS } : retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    return answer;
  }

  async #signed(op: OvhOp, call: Call): Promise<Answer> {
    const now = this.#o.now();
    if (now < this.#rateLimitedUntil) {
      // Nothing is sent while OVH's Retry-After runs; withRetries waits it out.
      throw new RetryableCall(`OVH rate limit: nothing is sent for ${Math.ceil((this.#rateLimitedUntil - now) / 1000)} more s`, {
        status: 429,
        retryAfterMs: this.#rateLimitedUntil - now,
      });
    }
    const url = `${this.#o.baseUrl}${call.path}`;
    const timestamp = Math.floor(now / 1000) + (this.#offsetSeconds ?? 0);
    const headers = ovhSignedHeaders({
      applicationKey: this.#o.secrets.applicationKey,
      applicationSecret: this.#o.secrets.applicationSecret,
      consumerKey: this.#o.secrets.consumerKey,
      method: call.method,
      url,
      body: call.body ?? '',
      timestamp,
    });
    return this.#raw(op, call, headers);
  }

  async #raw(op: OvhOp, call: Call, auth: Record<string, string>): Promise<Answer> {
    op.signal.throwIfAborted();
    const target = `${call.method} ${call.path}`;
    const remaining = timeLeft(op, this.#o.now(), this.label, target);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': OVH_USER_AGENT, ...auth };
    if (call.body !== undefined) headers['Content-Type'] = 'application/json;charset=utf-8';
    const url = `${this.#o.baseUrl}${call.path}`;
    const response = await sendRequest(op, this.#o, { method: call.method, url, headers, body: call.body, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.label, target });
    const queryId = response.headers['x-ovh-queryid'];
    op.logger.debug('ovh request', { integration: this.#o.integrationId, method: call.method, path: call.path, status: response.status, queryId });
    return { status: response.status, json: parseJsonBody(response.body), queryId, retryAfter: response.headers['retry-after'] };
  }

  #context(call: Call) {
    return { rule: call.rule, createTokenPage: OVH_CREATE_TOKEN_PAGES[this.#o.endpoint], endpoint: this.#o.endpoint };
  }

  async #expect2xx(op: OvhOp, call: Call): Promise<Answer> {
    const answer = await this.#send(op, call);
    this.#throwUnlessOk(call, answer);
    return answer;
  }

  #throwUnlessOk(call: Call, answer: Answer): void {
    if (answer.status >= 200 && answer.status < 300) return;
    const error = parseOvhError(answer.json);
    const { retryable, explanation } = explainOvhError(answer.status, error, this.#context(call));
    throw new ProviderError(`${this.label}: ${call.method} ${call.path} answered ${answer.status}${describe(error)}: ${explanation}${queryIdText(answer)}`, {
      retryable,
      status: answer.status,
    });
  }

  #validate<T>(schema: z.ZodType<T>, answer: Answer, target: string, what: string): T {
    const parsed = schema.safeParse(answer.json);
    if (parsed.success) return parsed.data;
    throw new ProviderError(
      `${this.label}: ${target} answered ${answer.status} but not with ${what} (${answer.json === undefined ? 'the body is not JSON' : schemaProblem(parsed.error)}); ` +
        'the relay must reach the OVH API directly (no proxy or captive portal rewriting answers)',
      { retryable: false, status: answer.status },
    );
  }

  #entry(answer: Answer, target: string, ip: string): MitigationEntry {
    const entry = this.#validate(mitigationEntrySchema, answer, target, "OVH's ip.MitigationIp object");
    if (entry.ipOnMitigation !== ip) {
      throw new ProviderError(`${this.label}: ${target} answered for ${entry.ipOnMitigation}, not ${ip}`, { retryable: false, status: answer.status });
    }
    return { ipOnMitigation: entry.ipOnMitigation, permanent: entry.permanent, auto: entry.auto, state: entry.state };
  }
}

function entryPath(block: string, ip: string): string {
  return `/ip/${encodePathParam(block)}/mitigation/${encodePathParam(ip)}`;
}

function isTimeError(answer: Answer): boolean {
  if (answer.status !== 400 && answer.status !== 401) return false;
  const error = parseOvhError(answer.json);
  return error?.code === 'QUERY_TIME_OUT' || /out of time/i.test(error?.message ?? '');
}

function describe(error: OvhErrorBody | undefined): string {
  if (!error) return '';
  const parts = [error.code, error.message ? `"${error.message}"` : ''].filter(Boolean);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}

function queryIdText(answer: Answer): string {
  return answer.queryId ? ` (X-Ovh-QueryID ${answer.queryId.slice(0, 80)})` : '';
}
