/**
 * HTTP exchanges with the Vultr API v2 (`https://api.vultr.com/v2`) through
 * the relay's Transport.
 *
 * - `Authorization: Bearer <API key>`; the key never reaches a log or an
 *   error message.
 * - Reads (GET) run inside `withRetries`: 429, 5xx and broken connections
 *   are tried again within the operation's budget, honouring Retry-After
 *   (Vultr sends one with its 429).
 * - Writes (PATCH, POST, DELETE) are repeated only after a 429 (Vultr
 *   refused the request, nothing was done). After any other unclear outcome
 *   (5xx, a timeout) the write is not repeated blindly: the error is
 *   retryable and the provider reads the state again on its next call, so a
 *   write that did land is never sent twice.
 * - Requests are paced to at most 25 per second (Vultr answers 429 above
 *   30 per second per source address).
 * - Lists follow the cursor (`per_page`, `cursor`, `meta.links.next`) to
 *   the last page.
 * - Every 2xx body is validated (zod); anything else is an error naming
 *   what was wrong and the fix.
 */
import type { z } from 'zod';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, bearerJsonHeaders, parseJsonBody, schemaProblem, sendRequest, timeLeft } from '../http-json.ts';
import { type VultrCallContext, explainVultrError, parseVultrError } from './errors.ts';
import {
  type VultrGroup,
  type VultrInstance,
  type VultrRule,
  type VultrRuleSpec,
  groupEnvelopeSchema,
  groupListSchema,
  instanceEnvelopeSchema,
  ruleEnvelopeSchema,
  ruleListSchema,
  toGroup,
  toRule,
} from './model.ts';

export const VULTR_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;
/** The largest page the API serves. */
export const VULTR_PAGE_SIZE = 500;
/** A list longer than this many pages is refused (a cursor that never ends). */
const MAX_PAGES = 100;
/** Vultr answers 429 above 30 requests per second per source address; the client keeps under it. */
export const VULTR_REQUESTS_PER_SECOND = 25;

/** The state of one provider operation. */
export type VultrOp = ApiOp;

export interface VultrClientOptions extends ApiClientOptions {
  /** Prefix of messages, e.g. `vultr web`. */
  label: string;
  baseUrl: string;
  apiKey: string;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Call<T> {
  method: Method;
  path: string;
  body?: unknown;
  /** Schema of the body; absent for 204 answers. */
  schema?: z.ZodType<T>;
  /** What the body should be, for errors. */
  what: string;
  context: VultrCallContext;
  /** 404 is an answer, not an error (a rule already gone). */
  notFoundOk?: boolean;
}

export class VultrClient {
  readonly #o: VultrClientOptions;
  /** When the requests of the last second were sent (client-side pacing). */
  #sent: number[] = [];

  constructor(options: VultrClientOptions) {
    if (!/^https:\/\/[^/]+/.test(options.baseUrl)) {
      throw new ProviderError(`${options.label}: the Vultr API base must be an https URL`, { retryable: false });
    }
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  get label(): string {
    return this.#o.label;
  }

  async getInstance(op: VultrOp, id: string): Promise<VultrInstance> {
    const body = await this.#read(op, {
      method: 'GET',
      path: `/instances/${encodeURIComponent(id)}`,
      schema: instanceEnvelopeSchema,
      what: 'an instance object',
      context: { subject: `instance ${id}`, option: 'options.instances' },
    });
    return this.#checkInstance(body.instance, id, 'GET');
  }

  /** `PATCH /instances/{id}` with `{"firewall_group_id": …}` and nothing else (`""` leaves every group: UNVERIFIED). */
  async setInstanceGroup(op: VultrOp, id: string, groupId: string): Promise<VultrInstance> {
    const body = await this.#write(op, {
      method: 'PATCH',
      path: `/instances/${encodeURIComponent(id)}`,
      body: { firewall_group_id: groupId },
      schema: instanceEnvelopeSchema,
      what: 'an instance object',
      context: { subject: `instance ${id}`, option: 'options.instances' },
    });
    return this.#checkInstance(body!.instance, id, 'PATCH');
  }

  async getGroup(op: VultrOp, id: string, option?: string): Promise<VultrGroup> {
    const body = await this.#read(op, {
      method: 'GET',
      path: `/firewalls/${encodeURIComponent(id)}`,
      schema: groupEnvelopeSchema,
      what: 'a firewall group object',
      context: { subject: `firewall group ${id}`, ...(option ? { option } : {}) },
    });
    return toGroup(body.firewall_group);
  }

  async listGroups(op: VultrOp): Promise<VultrGroup[]> {
    const groups: VultrGroup[] = [];
    await this.#paginate(op, '/firewalls', groupListSchema, 'a list of firewall groups', { subject: 'the firewall groups' }, (page) => {
      groups.push(...page.firewall_groups.map(toGroup));
      return page.meta?.links?.next ?? '';
    });
    return groups;
  }

  /** `POST /firewalls` (201). */
  async createGroup(op: VultrOp, description: string): Promise<VultrGroup> {
    const body = await this.#write(op, {
      method: 'POST',
      path: '/firewalls',
      body: { description },
      schema: groupEnvelopeSchema,
      what: 'a firewall group object',
      context: { subject: 'a new firewall group' },
    });
    return toGroup(body!.firewall_group);
  }

  async listRules(op: VultrOp, groupId: string): Promise<VultrRule[]> {
    const rules: VultrRule[] = [];
    await this.#paginate(
      op,
      `/firewalls/${encodeURIComponent(groupId)}/rules`,
      ruleListSchema,
      'a list of firewall rules',
      { subject: `firewall group ${groupId}` },
      (page) => {
        rules.push(...page.firewall_rules.map(toRule));
        return page.meta?.links?.next ?? '';
      },
    );
    return rules;
  }

  /** `POST /firewalls/{id}/rules` (201). */
  async createRule(op: VultrOp, groupId: string, spec: VultrRuleSpec): Promise<VultrRule> {
    const body = await this.#write(op, {
      method: 'POST',
      path: `/firewalls/${encodeURIComponent(groupId)}/rules`,
      body: spec,
      schema: ruleEnvelopeSchema,
      what: 'a firewall rule object',
      context: { subject: `a rule in firewall group ${groupId}` },
    });
    return toRule(body!.firewall_rule);
  }

  /** `DELETE /firewalls/{id}/rules/{rule}` (204); a rule already gone is fine. */
  async deleteRule(op: VultrOp, groupId: string, ruleId: number): Promise<void> {
    await this.#write(op, {
      method: 'DELETE',
      path: `/firewalls/${encodeURIComponent(groupId)}/rules/${ruleId}`,
      what: 'an empty answer',
      context: { subject: `rule ${ruleId} of firewall group ${groupId}` },
      notFoundOk: true,
    });
  }

  #checkInstance(instance: { id: string; label: string; firewall_group_id: string }, id: string, method: Method): VultrInstance {
    if (instance.id.toLowerCase() !== id) {
      throw new ProviderError(`${this.#o.label}: ${method} /instances/${id} answered for instance ${instance.id.slice(0, 64)}`, { retryable: false });
    }
    return { id, label: instance.label, firewall_group_id: instance.firewall_group_id.toLowerCase() };
  }

  async #paginate<T>(
    op: VultrOp,
    path: string,
    schema: z.ZodType<T>,
    what: string,
    context: VultrCallContext,
    take: (page: T) => string,
  ): Promise<void> {
    const seen = new Set<string>();
    let cursor = '';
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = `?per_page=${VULTR_PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const body = await this.#read<T>(op, { method: 'GET', path: `${path}${query}`, schema, what, context });
      const next = take(body);
      if (next === '') return;
      if (seen.has(next)) {
        throw new ProviderError(`${this.#o.label}: GET ${path} returned the same page cursor twice; the list could not be read to its end`, { retryable: true });
      }
      seen.add(next);
      cursor = next;
    }
    throw new ProviderError(`${this.#o.label}: GET ${path} has more than ${MAX_PAGES} pages; the list could not be read to its end`, { retryable: false });
  }

  #read<T>(op: VultrOp, call: Call<T>): Promise<T> {
    return withRetries(async () => (await this.#once(op, call, true)) as T, retryOptions(op, this.#o, this.#o.label));
  }

  /** A write: repeated only after a 429 (refused, nothing done); see #unclear for the rest. */
  #write<T>(op: VultrOp, call: Call<T>): Promise<T | undefined> {
    return withRetries(() => this.#once(op, call, false), retryOptions(op, this.#o, this.#o.label));
  }

  /**
   * One request. A 429 is always thrown as RetryableCall (tried again after
   * Retry-After). Other retryable failures are RetryableCall for reads
   * (`retryAll`) and a retryable ProviderError for writes (not repeated).
   */
  async #once<T>(op: VultrOp, call: Call<T>, retryAll: boolean): Promise<T | undefined> {
    op.signal.throwIfAborted();
    await this.#pace(op);
    const target = `${call.method} ${call.path}`;
    const remaining = timeLeft(op, this.#o.now(), this.#o.label, target);
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const headers = bearerJsonHeaders(this.#o.apiKey, VULTR_USER_AGENT, body);
    const response = await sendRequest(op, this.#o, {
      method: call.method,
      url: `${this.#o.baseUrl}${call.path}`,
      headers,
      body,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      remaining,
      label: this.#o.label,
      target,
      retryable: (message, cause) => this.#unclear(retryAll, message, { cause }),
    });
    op.logger.debug('vultr request', { label: this.#o.label, method: call.method, path: call.path.replace(/\?.*$/, ''), status: response.status });
    const { status } = response;
    const json = parseJsonBody(response.body);
    if (status >= 200 && status < 300) {
      if (call.schema === undefined) return undefined;
      const parsed = call.schema.safeParse(json);
      if (parsed.success) return parsed.data;
      throw new ProviderError(
        `${this.#o.label}: ${call.method} ${call.path} answered ${status} but not with ${call.what} (${json === undefined ? 'the body is not JSON' : schemaProblem(parsed.error)}); ` +
          'the relay must reach api.vultr.com directly (no proxy rewriting answers)',
        { retryable: false, status },
      );
    }
    if (status === 404 && call.notFoundOk) return undefined;
    const said = parseVultrError(json);
    const { retryable, explanation } = explainVultrError(status, call.context);
    const message = `${call.method} ${call.path.replace(/\?.*$/, '')} answered ${status}${said ? ` "${said}"` : ''}: ${explanation}`;
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      op.logger.warn('vultr: rate limited', { label: this.#o.label, retryAfterMs });
      throw new RetryableCall(message, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    if (retryable) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      throw this.#unclear(retryAll, message, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    throw new ProviderError(`${this.#o.label}: ${message}`, { retryable: false, status });
  }

  /** Keeps under Vultr's per-second limit: waits until the oldest request of the last second has left the window. */
  async #pace(op: VultrOp): Promise<void> {
    const now = this.#o.now();
    this.#sent = this.#sent.filter((at) => at > now - 1000);
    if (this.#sent.length >= VULTR_REQUESTS_PER_SECOND) {
      await this.#o.sleep(this.#sent[0]! + 1000 - now, op.signal);
      const later = this.#o.now();
      this.#sent = this.#sent.filter((at) => at > later - 1000);
    }
    this.#sent.push(this.#o.now());
  }

  /** A failure after which the outcome of a write is unknown: retried for reads, reported for writes. */
  #unclear(retryAll: boolean, message: string, options: { status?: number; retryAfterMs?: number; cause?: unknown }): Error {
    if (retryAll) return new RetryableCall(message, options);
    return new ProviderError(`${this.#o.label}: ${message}; the relay reads the state again before any further change`, {
      retryable: true,
      ...(options.status !== undefined ? { status: options.status } : {}),
      ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}),
      cause: options.cause,
    });
  }
}
