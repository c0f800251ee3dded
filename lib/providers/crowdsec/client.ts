/**
 * HTTP exchanges with a CrowdSec Local API (LAPI) through the relay's
 * Transport, as a *machine* (JWT).
 *
 * - Login: `POST /v1/watchers/login {machine_id, password}` → `{token,
 *   expire}`. The token is kept and renewed before `expire` (minus a
 *   margin), and once more when any call answers 401 (the LAPI was
 *   restarted: its JWT secret is random per start unless CS_LAPI_SECRET is
 *   set). Concurrent calls share one login. The password never reaches a
 *   log or an error message.
 * - Every request carries `User-Agent: flowtriq-relay/<version>`: the LAPI
 *   refuses a login whose User-Agent does not split into exactly two parts
 *   at "/".
 * - Reads and deletes are idempotent and retried (withRetries) on 429,
 *   retryable 5xx and broken connections. POST /v1/alerts is sent once: an
 *   unclear outcome is a retryable error, and the provider looks before it
 *   pushes again (the block comes back `resumed`).
 * - The only way to DELETE /v1/decisions with a filter is
 *   {@link CrowdsecClient.expireRelayDecisions}, which requires the relay's
 *   scenario, origin and an address; a DELETE on /v1/decisions without them
 *   is refused here, before anything is sent (no filter = every decision on
 *   the LAPI).
 */
import type { z } from 'zod';
import packageJson from '../../../package.json' with { type: 'json' };
import type { HttpResponse, TlsOptions } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryDetails, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, parseJsonBody, schemaProblem, sendRequest, timeLeft } from '../http-json.ts';
import {
  CrowdsecFilterUnsupportedError,
  CrowdsecForbiddenError,
  CrowdsecLoginError,
  CrowdsecRejectedError,
  CrowdsecResponseError,
  explainLoginFailure,
  isValidation500,
  sanitize,
  unsupportedFilterKey,
} from './errors.ts';
import {
  type AlertDecision,
  addAlertsResponseSchema,
  deleteDecisionsResponseSchema,
  errorBodySchema,
  getAlertsResponseSchema,
  loginResponseSchema,
} from './model.ts';

/** name/version, exactly one "/" (the LAPI splits it to record the machine's version). */
export const CROWDSEC_USER_AGENT = `flowtriq-relay/${packageJson.version.replaceAll('/', '-')}`;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** The LAPI's JWT lives 1 h; renew this long before `expire`. */
export const TOKEN_RENEW_MARGIN_MS = 5 * 60_000;
/** When `expire` is missing or unreadable: assume this lifetime. */
const FALLBACK_TOKEN_LIFETIME_MS = 30 * 60_000;

/** The state of one provider operation. */
export type CrowdsecOp = ApiOp;

export interface CrowdsecClientOptions extends ApiClientOptions {
  /** Prefix of messages, e.g. `crowdsec cs1`. */
  label: string;
  /** Scheme, host and port; no trailing slash. */
  baseUrl: string;
  machineId: string;
  password: string;
  /** https only. */
  tls?: TlsOptions;
}

/** What {@link CrowdsecClient.expireRelayDecisions} deletes: the relay's decisions for one address. */
export interface RelayDecisionFilter {
  scenario: string;
  origin: string;
  ip: string;
}

interface Token {
  value: string;
  /** Epoch ms after which it is renewed. */
  renewAt: number;
}

type Auth = 'none' | 'jwt';

interface Call<T> {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: [string, string][];
  body?: unknown;
  auth: Auth;
  schema: z.ZodType<T>;
  what: string;
}

export class CrowdsecClient {
  readonly #o: CrowdsecClientOptions;
  #token: Token | undefined;
  #login: Promise<Token> | undefined;
  /** Logins done (tests and status). */
  loginCount = 0;

  constructor(options: CrowdsecClientOptions) {
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  get label(): string {
    return this.#o.label;
  }

  /** `POST /v1/alerts` with one alert (sent once); the ids the LAPI gives the alerts. */
  async pushAlert(op: CrowdsecOp, alert: Record<string, unknown>): Promise<string[]> {
    try {
      const ids = await this.#withJwt(op, { method: 'POST', path: '/v1/alerts', body: [alert], auth: 'jwt', schema: addAlertsResponseSchema, what: 'a list of alert ids' });
      return ids.map(String);
    } catch (error) {
      if (!(error instanceof RetryableCall)) throw error;
      throw new ProviderError(`${this.label}: POST /v1/alerts: ${error.message}; the relay looks for its decisions before pushing again`, { retryable: true, ...retryDetails(error) });
    }
  }

  /**
   * The decisions of every alert with the given scenario that still has an
   * active decision (`GET /v1/alerts?scenario=…&has_active_decision=true&limit=0`;
   * limit 0 = all). Expired decisions are included (negative `duration`):
   * the caller filters.
   */
  async alertDecisions(op: CrowdsecOp, scenario: string, limit = 0): Promise<AlertDecision[]> {
    const alerts = await this.#retried(op, {
      method: 'GET',
      path: '/v1/alerts',
      query: [
        ['scenario', scenario],
        ['has_active_decision', 'true'],
        ['limit', String(limit)],
      ],
      auth: 'jwt',
      schema: getAlertsResponseSchema,
      what: 'a list of alerts',
    });
    return (alerts ?? []).flatMap((alert) => alert.decisions ?? []);
  }

  /**
   * Expires the relay's decisions for one address: `DELETE /v1/decisions?
   * scenario=…&origin=…&ip=…&type=ban&scopes=Ip`. Throws
   * CrowdsecFilterUnsupportedError when the LAPI does not know one of those
   * filter keys. Returns how many decisions it expired.
   */
  async expireRelayDecisions(op: CrowdsecOp, filter: RelayDecisionFilter): Promise<number> {
    for (const key of ['scenario', 'origin', 'ip'] as const) {
      const value = filter[key];
      if (typeof value !== 'string' || value.trim() === '') {
        // Never reached from the provider; a guard against a future edit turning this into "delete everything".
        throw new Error(`${this.label}: refusing DELETE /v1/decisions without ${key}`);
      }
    }
    const result = await this.#retried(op, {
      method: 'DELETE',
      path: '/v1/decisions',
      query: [
        ['scenario', filter.scenario],
        ['origin', filter.origin],
        ['ip', filter.ip],
        ['type', 'ban'],
        ['scopes', 'Ip'],
      ],
      auth: 'jwt',
      schema: deleteDecisionsResponseSchema,
      what: '{"nbDeleted": …}',
    });
    return Number(result.nbDeleted);
  }

  /** `DELETE /v1/decisions/{id}`: only for an id the relay read as its own. */
  async expireDecisionById(op: CrowdsecOp, id: number): Promise<number> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`${this.label}: refusing DELETE /v1/decisions/${String(id)}`);
    const result = await this.#retried(op, {
      method: 'DELETE',
      path: `/v1/decisions/${id}`,
      auth: 'jwt',
      schema: deleteDecisionsResponseSchema,
      what: '{"nbDeleted": …}',
    });
    return Number(result.nbDeleted);
  }

  /** Logs in now if no valid token is held (health check). */
  async ensureLogin(op: CrowdsecOp): Promise<void> {
    await this.#currentToken(op);
  }

  #retried<T>(op: CrowdsecOp, call: Call<T>): Promise<T> {
    return withRetries(() => this.#withJwt(op, call), retryOptions(op, this.#o, this.label));
  }

  /** One call with a valid token; on 401 the token is renewed once and the call repeated. */
  async #withJwt<T>(op: CrowdsecOp, call: Call<T>): Promise<T> {
    const token = await this.#currentToken(op);
    const first = await this.#exchange(op, call, token.value);
    if (first.status !== 401) return this.#interpret(call, first);
    // The LAPI restarted (new JWT secret) or the token expired early: log in again, once.
    op.logger.info('crowdsec: token refused; logging in again', { label: this.label });
    if (this.#token === token) this.#token = undefined;
    const renewed = await this.#currentToken(op);
    const second = await this.#exchange(op, call, renewed.value);
    return this.#interpret(call, second);
  }

  async #currentToken(op: CrowdsecOp): Promise<Token> {
    const held = this.#token;
    if (held && this.#o.now() < held.renewAt) return held;
    if (!this.#login) {
      this.#login = this.#doLogin(op).finally(() => {
        this.#login = undefined;
      });
    }
    return this.#login;
  }

  async #doLogin(op: CrowdsecOp): Promise<Token> {
    const call: Call<z.output<typeof loginResponseSchema>> = {
      method: 'POST',
      path: '/v1/watchers/login',
      body: { machine_id: this.#o.machineId, password: this.#o.password },
      auth: 'none',
      schema: loginResponseSchema,
      what: 'a login answer ({token, expire})',
    };
    const answer = await withRetries(
      async () => {
        const response = await this.#exchange(op, call, undefined);
        if (response.status === 401 || response.status === 403) {
          const said = errorMessage(response);
          throw new CrowdsecLoginError(
            `${this.label}: POST /v1/watchers/login answered ${response.status}${said ? ` "${said}"` : ''}: ${explainLoginFailure(said, this.#o.machineId)}`,
          );
        }
        return this.#interpret(call, response);
      },
      retryOptions(op, this.#o, this.label),
    );
    this.loginCount += 1;
    const now = this.#o.now();
    const expire = answer.expire === undefined ? Number.NaN : Date.parse(answer.expire);
    const expiresAt = Number.isFinite(expire) && expire > now ? expire : now + FALLBACK_TOKEN_LIFETIME_MS;
    const lifetime = expiresAt - now;
    const token: Token = { value: answer.token, renewAt: expiresAt - Math.min(TOKEN_RENEW_MARGIN_MS, Math.floor(lifetime / 2)) };
    this.#token = token;
    op.logger.debug('crowdsec: logged in', { label: this.label, machineId: this.#o.machineId, expiresAt: new Date(expiresAt).toISOString() });
    return token;
  }

  async #exchange<T>(op: CrowdsecOp, call: Call<T>, token: string | undefined): Promise<HttpResponse> {
    op.signal.throwIfAborted();
    if (call.method === 'DELETE' && call.path === '/v1/decisions') {
      const keys = new Set((call.query ?? []).filter(([, value]) => value !== '').map(([key]) => key));
      if (!keys.has('scenario') || !keys.has('origin') || !keys.has('ip')) {
        throw new Error(`${this.label}: refusing DELETE /v1/decisions without scenario, origin and ip (it would delete every decision on the LAPI)`);
      }
    }
    const target = `${call.method} ${call.path}`;
    const remaining = timeLeft(op, this.#o.now(), this.label, target);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': CROWDSEC_USER_AGENT };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const search = call.query && call.query.length > 0 ? `?${new URLSearchParams(call.query).toString()}` : '';
    const url = `${this.#o.baseUrl}${call.path}${search}`;
    const response = await sendRequest(op, this.#o, { method: call.method, url, headers, body, tls: this.#o.tls, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.label, target });
    op.logger.debug('crowdsec request', { label: this.label, method: call.method, path: call.path, status: response.status });
    return response;
  }

  #interpret<T>(call: Call<T>, response: HttpResponse): T {
    const { status } = response;
    const target = `${call.method} ${call.path}`;
    if (status >= 200 && status < 300) {
      const json = parseJsonBody(response.body);
      const parsed = call.schema.safeParse(json);
      if (parsed.success) return parsed.data;
      throw new CrowdsecResponseError(
        `${this.label}: ${target} answered ${status} but not with ${call.what} (${json !== undefined ? schemaProblem(parsed.error) : 'the body is not JSON'}); ` +
          'check options.url: it must be the CrowdSec Local API itself (api.server.listen_uri), not a proxy or another service',
        status,
      );
    }
    const said = errorMessage(response);
    const quoted = said ? ` "${said}"` : '';
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      throw new RetryableCall(`${target} answered ${status}${quoted}`, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    if (call.method === 'DELETE' && call.path === '/v1/decisions' && (status === 400 || status === 500)) {
      const key = unsupportedFilterKey(said);
      if (key !== undefined) {
        throw new CrowdsecFilterUnsupportedError(`${this.label}: ${target} answered ${status}${quoted}: this LAPI version cannot filter decisions by "${key}"`, key, status);
      }
    }
    if (status === 401) {
      throw new CrowdsecForbiddenError(
        `${this.label}: ${target} answered 401${quoted} right after a fresh login: the LAPI does not accept the machine's token; check that options.url points at the LAPI the machine was created on`,
        status,
      );
    }
    if (status === 403) {
      throw new CrowdsecForbiddenError(
        `${this.label}: ${target} answered 403${quoted}: only a machine may ${call.method === 'GET' ? 'read alerts' : 'push alerts or delete decisions'}; use a machine (cscli machines add), not a bouncer API key`,
        status,
      );
    }
    if (status === 500 && !isValidation500(said)) {
      // A real server failure (the database was busy, …): worth another try.
      throw new RetryableCall(`${target} answered 500${quoted}`, { status });
    }
    if (status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      if (status !== 500) throw new RetryableCall(`${target} answered ${status}${quoted}`, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    throw new CrowdsecRejectedError(
      `${this.label}: ${target} answered ${status}${quoted}: the LAPI rejected the request${status === 500 ? ' (CrowdSec 1.4.x reports invalid input as 500)' : ''}; retrying cannot help`,
      status,
    );
  }
}

/** The `message` of an error body, sanitised; '' when there is none. */
function errorMessage(response: HttpResponse): string {
  const json = parseJsonBody(response.body);
  if (json === undefined) return '';
  const parsed = errorBodySchema.safeParse(json);
  return parsed.success && parsed.data.message ? sanitize(parsed.data.message) : '';
}
