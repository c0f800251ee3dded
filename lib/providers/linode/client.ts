/**
 * HTTP exchanges with the Linode API v4 (`https://api.linode.com/v4`)
 * through the relay's Transport.
 *
 * - `Authorization: Bearer <personal access token>`; the token never reaches
 *   a log or an error message.
 * - Every 2xx body is validated (zod); an error body is Linode's
 *   `{errors:[{reason, field}]}`, turned into a message naming the fix.
 * - Reads run inside `withRetries` (429, 5xx and broken connections are tried
 *   again within the operation's budget, never sooner than Retry-After).
 *   After a 429 nothing is sent until the Retry-After has passed.
 * - Writes are guarded: every PUT of a rule set is sent right after a read
 *   of the rules that shows the fingerprint the caller expects, and the
 *   read+PUT pair is what is retried. A PUT whose answer was lost is
 *   recognised on the next read (the rules already equal what was sent), so
 *   nothing is written twice and nobody else's change is overwritten.
 */
import type { z } from 'zod';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, bearerJsonHeaders, parseJsonBody, schemaProblem, sendRequest, timeLeft } from '../http-json.ts';
import { describeLinodeErrors, explainLinodeError, parseLinodeErrors } from './errors.ts';
import {
  type LinodeEntity,
  type LinodeFirewall,
  type LinodeRules,
  type LinodeRulesBody,
  devicesPageSchema,
  firewallSchema,
  rulesSchema,
  sameRules,
  toFirewall,
  toRules,
} from './model.ts';

export const LINODE_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Devices read per page when a firewall answer has no `entities`. */
const DEVICES_PAGE_SIZE = 100;
/** After a 429 without Retry-After: Linode's limits are per minute. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;

/** The state of one provider operation. */
export type LinodeOp = ApiOp;

export interface LinodeClientOptions extends ApiClientOptions {
  integrationId: string;
  /** API base, https, no trailing slash (…/v4). */
  baseUrl: string;
  token: string;
}

/** What a guarded PUT found or did. */
export type GuardedPut =
  /** The PUT was sent and accepted; `rules` is Linode's answer. */
  | { outcome: 'written'; rules: LinodeRules }
  /** The rules already were what the caller wanted (an earlier PUT whose answer was lost, or nothing to do). */
  | { outcome: 'already'; rules: LinodeRules }
  /** The fingerprint is not the expected one: someone else changed the rules. Nothing was sent. */
  | { outcome: 'changed'; rules: LinodeRules };

export class LinodeClient {
  readonly #o: LinodeClientOptions;
  #heldUntil = 0;

  constructor(options: LinodeClientOptions) {
    if (!/^https:\/\/[^/]+/.test(options.baseUrl)) {
      throw new ProviderError(`linode ${options.integrationId}: the Linode API base must be an https URL`, { retryable: false });
    }
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  get label(): string {
    return `linode ${this.#o.integrationId}`;
  }

  /** `GET /networking/firewalls/{id}`: label, status, entities. */
  getFirewall(op: LinodeOp, id: number): Promise<LinodeFirewall> {
    return this.#retried(op, () => this.#once(op, 'GET', `/networking/firewalls/${id}`, id, undefined, firewallSchema, 'a Firewall object')).then(toFirewall);
  }

  /** `GET /networking/firewalls/{id}/devices`, every page: what the firewall is attached to. */
  async listDevices(op: LinodeOp, id: number): Promise<LinodeEntity[]> {
    const entities: LinodeEntity[] = [];
    for (let page = 1; ; page += 1) {
      const path = `/networking/firewalls/${id}/devices?page=${page}&page_size=${DEVICES_PAGE_SIZE}`;
      const answer = await this.#retried(op, () => this.#once(op, 'GET', path, id, undefined, devicesPageSchema, 'a page of firewall devices'));
      entities.push(...answer.data.map((device) => ({ id: device.entity.id, type: device.entity.type, label: device.entity.label })));
      if (answer.page >= answer.pages || answer.data.length === 0) return entities;
    }
  }

  /** `GET /networking/firewalls/{id}/rules`. */
  getRules(op: LinodeOp, id: number): Promise<LinodeRules> {
    return this.#retried(op, () => this.#readRules(op, id));
  }

  /**
   * `PUT /networking/firewalls/{id}/rules` with `body`, only while the rules
   * as read just before (or as `first` shows) are still what the caller
   * expects (`unchanged`: the fingerprint it recorded, or the rules it left).
   * The read+write pair is retried within the operation's budget.
   */
  putRulesIf(op: LinodeOp, id: number, unchanged: (current: LinodeRules) => boolean, body: LinodeRulesBody, first?: LinodeRules): Promise<GuardedPut> {
    let reading = first;
    return this.#retried(op, async (): Promise<GuardedPut> => {
      const current = reading ?? (await this.#readRules(op, id));
      reading = undefined;
      if (sameRules(current, body)) return { outcome: 'already', rules: current };
      if (!unchanged(current)) return { outcome: 'changed', rules: current };
      const written = await this.#once(op, 'PUT', `/networking/firewalls/${id}/rules`, id, body, rulesSchema, 'a firewall rule set');
      return { outcome: 'written', rules: toRules(written) };
    });
  }

  async #readRules(op: LinodeOp, id: number): Promise<LinodeRules> {
    return toRules(await this.#once(op, 'GET', `/networking/firewalls/${id}/rules`, id, undefined, rulesSchema, 'a firewall rule set'));
  }

  #retried<T>(op: LinodeOp, call: () => Promise<T>): Promise<T> {
    return withRetries(call, retryOptions(op, this.#o, this.label));
  }

  async #once<S extends z.ZodType>(op: LinodeOp, method: 'GET' | 'PUT', path: string, firewallId: number, body: unknown, schema: S, what: string): Promise<z.output<S>> {
    op.signal.throwIfAborted();
    const now = this.#o.now();
    if (now < this.#heldUntil) {
      // Linode asked for a pause; a request now would only be refused again.
      throw new RetryableCall(`Linode rate limit: nothing is sent for ${Math.ceil((this.#heldUntil - now) / 1000)} more s`, {
        status: 429,
        retryAfterMs: this.#heldUntil - now,
      });
    }
    const target = `${method} ${path}`;
    const remaining = timeLeft(op, now, this.label, target);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = bearerJsonHeaders(this.#o.token, LINODE_USER_AGENT, text);
    const url = `${this.#o.baseUrl}${path}`;
    const response = await sendRequest(op, this.#o, { method, url, headers, body: text, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.label, target });
    op.logger.debug('linode request', { integration: this.#o.integrationId, method, path, status: response.status });
    const json = parseJsonBody(response.body);
    if (response.status >= 200 && response.status < 300) {
      const parsed = schema.safeParse(json);
      if (parsed.success) return parsed.data;
      throw new ProviderError(
        `${this.label}: ${method} ${path} answered ${response.status} but not with ${what} (${json === undefined ? 'the body is not JSON' : schemaProblem(parsed.error)}); ` +
          'the relay must reach api.linode.com directly (no proxy or captive portal rewriting answers)',
        { retryable: false, status: response.status },
      );
    }
    const errors = parseLinodeErrors(json);
    const { retryable, explanation } = explainLinodeError(response.status, errors, { firewallId, acceptedScopes: response.headers['x-accepted-oauth-scopes'] });
    const said = describeLinodeErrors(errors);
    const message = `${method} ${path} answered ${response.status}${said ? ` ${said}` : ''}: ${explanation}`;
    if (!retryable) throw new ProviderError(`${this.label}: ${message}`, { retryable: false, status: response.status });
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
    if (response.status === 429) {
      const wait = retryAfterMs ?? resetWait(response.headers['x-ratelimit-reset'], this.#o.now()) ?? DEFAULT_RATE_LIMIT_WAIT_MS;
      this.#heldUntil = this.#o.now() + wait;
      op.logger.warn('linode: rate limited; nothing is sent until Linode\'s Retry-After has passed', { integration: this.#o.integrationId, waitMs: wait });
      throw new RetryableCall(message, { status: 429, retryAfterMs: wait });
    }
    throw new RetryableCall(message, { status: response.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }
}

/** `X-RateLimit-Reset` (epoch seconds) as a wait from now. */
function resetWait(value: string | undefined, now: number): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Math.max(0, Number(value.trim()) * 1000 - now);
}
