/**
 * HTTP exchanges with the DigitalOcean API v2 (`https://api.digitalocean.com`)
 * through the relay's Transport. Only three calls are ever made:
 *
 * - `GET /v2/firewalls/{id}` (scope `firewall:read`), retried (withRetries)
 *   on 429, 5xx and broken connections within the operation's budget;
 * - `POST /v2/firewalls/{id}/rules` and `DELETE /v2/firewalls/{id}/rules`
 *   (scope `firewall:update`) with `{"inbound_rules":[…]}` only — never
 *   `outbound_rules`, never `PUT /v2/firewalls/{id}` (a whole-firewall
 *   replace resets what it does not carry, and a GET shows only the droplets
 *   and tags the token may see). A write refused with 429 was not applied
 *   and is tried again after the wait; after an unclear outcome (5xx, a
 *   broken connection) it is not repeated blindly: the error is retryable
 *   and the provider reads the firewall again first.
 *
 * `Authorization: Bearer <token>`; the token never reaches a log or an error.
 * Every 2xx body is validated (zod). After a 429, or an answer saying
 * `ratelimit-remaining: 0`, nothing is sent until `ratelimit-reset` (or a
 * Retry-After) has passed.
 */
import type { HttpResponse } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryDetails, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, bearerJsonHeaders, parseJsonBody, sendRequest, timeLeft } from '../http-json.ts';
import {
  DigitalOceanAuthError,
  DigitalOceanNotFoundError,
  DigitalOceanRejectedError,
  DigitalOceanScopeError,
  DigitalOceanUnexpectedAnswerError,
  DigitalOceanWriteUnclearError,
  describeDoError,
  parseDoError,
} from './errors.ts';
import { type DoFirewall, type DoRule, parseFirewall, toWire } from './model.ts';

export const DIGITALOCEAN_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** When a 429 says nothing about when to come back. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
const MAX_RATE_LIMIT_WAIT_MS = 3_600_000;

/** The state of one provider operation. */
export type DoOp = ApiOp;

export interface DigitalOceanClientOptions extends ApiClientOptions {
  integrationId: string;
  baseUrl: string;
  apiToken: string;
}

type Method = 'GET' | 'POST' | 'DELETE';

export class DigitalOceanClient {
  readonly #o: DigitalOceanClientOptions;
  #heldUntil = 0;

  constructor(options: DigitalOceanClientOptions) {
    if (!/^https:\/\/[^/]+/.test(options.baseUrl)) {
      throw new ProviderError(`digitalocean ${options.integrationId}: the API base must be an https URL`, { retryable: false });
    }
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  get label(): string {
    return `digitalocean ${this.#o.integrationId}`;
  }

  /** Epoch ms until which nothing is sent (rate limit); 0 when free. */
  get heldUntil(): number {
    return this.#heldUntil;
  }

  /** `GET /v2/firewalls/{id}`, retried within the operation's budget. */
  getFirewall(op: DoOp, firewallId: string): Promise<DoFirewall> {
    const path = `/v2/firewalls/${encodeURIComponent(firewallId)}`;
    return withRetries(async () => {
      const response = await this.#exchange(op, 'GET', path, undefined);
      return this.#firewallOf(path, firewallId, response);
    }, retryOptions(op, this.#o, this.label));
  }

  /** `POST /v2/firewalls/{id}/rules` with these inbound rules. */
  addInboundRules(op: DoOp, firewallId: string, rules: readonly DoRule[]): Promise<void> {
    return this.#writeRules(op, 'POST', firewallId, rules);
  }

  /** `DELETE /v2/firewalls/{id}/rules` with these inbound rules (matched by value). */
  removeInboundRules(op: DoOp, firewallId: string, rules: readonly DoRule[]): Promise<void> {
    return this.#writeRules(op, 'DELETE', firewallId, rules);
  }

  async #writeRules(op: DoOp, method: 'POST' | 'DELETE', firewallId: string, rules: readonly DoRule[]): Promise<void> {
    if (rules.length === 0) return;
    const path = `/v2/firewalls/${encodeURIComponent(firewallId)}/rules`;
    const body = JSON.stringify({ inbound_rules: rules.map(toWire) });
    await withRetries(async () => {
      try {
        const response = await this.#exchange(op, method, path, body);
        if (response.status !== 204 && response.status !== 200) {
          throw new DigitalOceanUnexpectedAnswerError(`${this.label}: ${method} ${path} answered ${response.status}, not 204 No Content`, response.status);
        }
      } catch (error) {
        // Only a 429 (or the client's own hold) is known not to have been applied: anything else is not repeated blindly.
        if (error instanceof RetryableCall && error.status !== 429) {
          throw new DigitalOceanWriteUnclearError(`${this.label}: ${method} ${path}: ${error.message}; the relay reads the firewall again before any further change`, retryDetails(error));
        }
        throw error;
      }
    }, retryOptions(op, this.#o, this.label));
  }

  async #exchange(op: DoOp, method: Method, path: string, body: string | undefined): Promise<HttpResponse> {
    op.signal.throwIfAborted();
    const now = this.#o.now();
    if (now < this.#heldUntil) {
      throw new RetryableCall(`DigitalOcean's rate limit is used up; nothing is sent for ${Math.ceil((this.#heldUntil - now) / 1000)} more s`, {
        status: 429,
        retryAfterMs: this.#heldUntil - now,
      });
    }
    const target = `${method} ${path}`;
    const remaining = timeLeft(op, now, this.label, target);
    const headers = bearerJsonHeaders(this.#o.apiToken, DIGITALOCEAN_USER_AGENT, body);
    const url = `${this.#o.baseUrl}${path}`;
    const response = await sendRequest(op, this.#o, { method, url, headers, body, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.label, target });
    op.logger.debug('digitalocean request', {
      integration: this.#o.integrationId,
      method,
      path,
      status: response.status,
      rateLimitRemaining: response.headers['ratelimit-remaining'],
    });
    this.#noteRateLimit(response);
    if (response.status >= 200 && response.status < 300) return response;
    this.#fail(method, path, response);
  }

  /** Remembers a spent rate limit so nothing is sent before it resets. */
  #noteRateLimit(response: HttpResponse): void {
    const now = this.#o.now();
    const reset = readReset(response.headers['ratelimit-reset'], now);
    if (response.status === 429) {
      const retryAfter = parseRetryAfter(response.headers['retry-after'], now);
      const wait = Math.min(MAX_RATE_LIMIT_WAIT_MS, Math.max(1_000, retryAfter ?? reset ?? DEFAULT_RATE_LIMIT_WAIT_MS));
      this.#heldUntil = now + wait;
    } else if (response.headers['ratelimit-remaining']?.trim() === '0' && reset !== undefined) {
      this.#heldUntil = now + Math.min(MAX_RATE_LIMIT_WAIT_MS, reset);
    }
  }

  #fail(method: Method, path: string, response: HttpResponse): never {
    const { status } = response;
    const error = parseDoError(parseJsonBody(response.body));
    const said = describeDoError(status, error);
    const target = `${method} ${path}`;
    const scope = method === 'GET' ? 'firewall:read' : 'firewall:update';
    if (status === 401) {
      throw new DigitalOceanAuthError(
        `${this.label}: ${target} answered ${said}: DigitalOcean rejected secrets.apiToken (wrong, expired or revoked). ` +
          'Create a personal access token (control panel → API → Tokens → Generate New Token) with custom scopes firewall:read and firewall:update and put it in the configured secret.',
      );
    }
    if (status === 403) {
      throw new DigitalOceanScopeError(
        `${this.label}: ${target} answered ${said}: the token lacks the scope ${scope}. ` +
          'Regenerate it with custom scopes firewall:read and firewall:update (control panel → API → Tokens), or use a token of the team that owns the firewall.',
        scope,
      );
    }
    if (status === 404) {
      throw new DigitalOceanNotFoundError(
        `${this.label}: ${target} answered ${said}: no such firewall for this token. Check options.firewalls (the ID shown in the firewall's page URL or by \`doctl compute firewall list\`) and that the token belongs to the team that owns it.`,
      );
    }
    if (status === 429) {
      const wait = Math.max(0, this.#heldUntil - this.#o.now());
      throw new RetryableCall(
        `${target} answered ${said}: DigitalOcean's rate limit (250 requests per minute, 5,000 per hour per token, shared with every other tool using it) is used up; nothing is sent for ${Math.ceil(wait / 1000)} s`,
        { status, retryAfterMs: wait },
      );
    }
    if (status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      throw new RetryableCall(`${target} answered ${said}: DigitalOcean failed; the relay tries again`, {
        status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    if (status === 400 || status === 422) {
      throw new DigitalOceanRejectedError(
        `${this.label}: ${target} answered ${said}: DigitalOcean refused the rules; check options.management and options.keep (ports 1–65535 or a range, sources as addresses or CIDRs, at most 1,000 sources per rule, 50 rules per firewall)`,
        status,
      );
    }
    throw new DigitalOceanUnexpectedAnswerError(`${this.label}: ${target} answered ${said}: unexpected answer from DigitalOcean`, status);
  }

  #firewallOf(path: string, firewallId: string, response: HttpResponse): DoFirewall {
    const json = parseJsonBody(response.body);
    const parsed = json === undefined ? { ok: false as const, problem: 'the body is not JSON' } : parseFirewall(json);
    if (!parsed.ok) {
      throw new DigitalOceanUnexpectedAnswerError(
        `${this.label}: GET ${path} answered ${response.status} but not with DigitalOcean's firewall object (${parsed.problem}); ` +
          'the relay must reach api.digitalocean.com directly (no proxy or captive portal rewriting answers)',
        response.status,
      );
    }
    if (parsed.firewall.id.toLowerCase() !== firewallId.toLowerCase()) {
      throw new DigitalOceanUnexpectedAnswerError(`${this.label}: GET ${path} answered for firewall ${parsed.firewall.id.slice(0, 40)}, not ${firewallId}`, response.status);
    }
    return parsed.firewall;
  }
}

/** `ratelimit-reset` (epoch seconds) as ms from now; undefined when absent or unreadable. */
function readReset(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined || !/^\d{1,12}$/.test(value.trim())) return undefined;
  return Math.max(0, Number(value.trim()) * 1000 - nowMs);
}
