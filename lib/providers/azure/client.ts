/**
 * HTTP exchanges with Entra ID and Azure Resource Manager through the
 * relay's Transport.
 *
 * - Sign-in: client credentials, `POST {login}/{tenant}/oauth2/v2.0/token`
 *   (`grant_type=client_credentials`, `client_id`, `client_secret`,
 *   `scope=https://management.azure.com/.default`) → `{access_token,
 *   expires_in}`. The token is kept until 5 minutes before it expires (half
 *   its life when shorter). An ARM 401 drops it and signs in again, once per
 *   call; a second 401 is an error. The secret and the token never reach a
 *   log or an error message.
 * - ARM: `Authorization: Bearer`, `?api-version=2024-05-01`; every 2xx body
 *   is validated (zod); errors are CloudError, explained with the fix. 429
 *   and 5xx (and AnotherOperationInProgress) are tried again within the
 *   operation's budget, honouring Retry-After (withRetries); 412 is thrown
 *   as AzurePreconditionFailedError for the caller to re-read.
 * - Long-running operations: PUT answers with `Azure-AsyncOperation`, DELETE
 *   with `Location` (and usually `Azure-AsyncOperation` too). The relay
 *   follows Azure-AsyncOperation when given (ARM's guidance), else Location,
 *   waiting Retry-After (or options.pollInterval) between looks, and only
 *   ever sends the token to the ARM origin: a status URL elsewhere is an
 *   error.
 */
import { z } from 'zod';
import type { HttpResponse } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, bearerJsonHeaders, parseJsonBody, sendRequest, timeLeft } from '../http-json.ts';
import { ARM_SCOPE, NETWORK_API_VERSION } from './config.ts';
import {
  type ArmErrorContext,
  AzureApiError,
  AzureAuthError,
  AzureOperationFailedError,
  AzurePreconditionFailedError,
  explainArmError,
  explainTokenError,
  parseCloudError,
  parseTokenError,
  sanitize,
} from './errors.ts';
import {
  type NetworkSecurityGroup,
  type RuleBody,
  type SecurityRule,
  asyncOperationSchema,
  networkSecurityGroupSchema,
  securityRuleSchema,
} from './model.ts';

export const AZURE_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Renew the token this long before it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;

/** The state of one provider operation (its deadline includes the waits). */
export type AzureOp = ApiOp;

export interface AzureClientOptions extends ApiClientOptions {
  label: string;
  armBase: string;
  loginBase: string;
  subscriptionId: string;
  resourceGroup: string;
  nsg: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  pollIntervalMs: number;
}

/** Where to look for the outcome of a long-running operation. */
export interface OperationHandle {
  kind: 'async' | 'location';
  url: string;
  retryAfterMs?: number;
  /** What it was, for messages: e.g. `PUT rule flowtriq-relay-x-deny-all`. */
  what: string;
}

export interface WriteResult<T> {
  value: T;
  /** Present while Azure is still applying the write. */
  operation?: OperationHandle;
}

const tokenSchema = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]),
  token_type: z.string().optional(),
});

interface Exchange {
  status: number;
  headers: Record<string, string>;
  json: unknown;
}

export class AzureArmClient {
  readonly #o: AzureClientOptions;
  #token: { value: string; renewAt: number } | undefined;
  /** Sign-ins made (tests and health). */
  signIns = 0;

  constructor(options: AzureClientOptions) {
    for (const base of [options.armBase, options.loginBase]) {
      if (!/^https:\/\/[^/]+$/.test(base)) {
        throw new ProviderError(`${options.label}: ${base} must be an https origin without a path`, { retryable: false });
      }
    }
    this.#o = options;
  }

  get label(): string {
    return this.#o.label;
  }

  get #context(): ArmErrorContext {
    return { subscriptionId: this.#o.subscriptionId, resourceGroup: this.#o.resourceGroup, nsg: this.#o.nsg };
  }

  get #nsgPath(): string {
    const o = this.#o;
    return `/subscriptions/${encodeURIComponent(o.subscriptionId)}/resourceGroups/${encodeURIComponent(o.resourceGroup)}/providers/Microsoft.Network/networkSecurityGroups/${encodeURIComponent(o.nsg)}`;
  }

  #rulePath(name: string): string {
    return `${this.#nsgPath}/securityRules/${encodeURIComponent(name)}`;
  }

  /** `GET …/networkSecurityGroups/{nsg}`: the NSG with its rules. */
  async getNsg(op: AzureOp): Promise<NetworkSecurityGroup> {
    const answer = await this.#call(op, 'GET', this.#nsgPath, undefined, undefined);
    return this.#parse(answer, networkSecurityGroupSchema, 'GET the NSG', 'a network security group');
  }

  /** `GET …/securityRules/{name}`; undefined when the rule does not exist. */
  async getRule(op: AzureOp, name: string): Promise<SecurityRule | undefined> {
    try {
      const answer = await this.#call(op, 'GET', this.#rulePath(name), undefined, undefined);
      return this.#parse(answer, securityRuleSchema, `GET rule ${name}`, 'a security rule');
    } catch (error) {
      if (error instanceof AzureApiError && error.status === 404 && error.azureCode !== 'ResourceNotFound' && error.azureCode !== 'ResourceGroupNotFound') return undefined;
      throw error;
    }
  }

  /** `PUT …/securityRules/{name}` (create or replace), with If-Match when `ifMatch` is given. */
  async putRule(op: AzureOp, name: string, body: RuleBody, ifMatch: string | undefined): Promise<WriteResult<SecurityRule>> {
    const what = `PUT rule ${name}`;
    const answer = await this.#call(op, 'PUT', this.#rulePath(name), { properties: body }, ifMatch);
    const rule = this.#parse(answer, securityRuleSchema, what, 'a security rule');
    const state = rule.properties.provisioningState;
    if (state === undefined || state === 'Succeeded') return { value: rule };
    const operation = this.#handle(answer, what);
    if (!operation) {
      throw new ProviderError(`${this.label}: ${what} answered ${answer.status} with provisioningState ${sanitize(state)} but no Azure-AsyncOperation header to follow`, { retryable: true });
    }
    return { value: rule, operation };
  }

  /** `DELETE …/securityRules/{name}` with If-Match. `value` is false when the rule was already gone (204). */
  async deleteRule(op: AzureOp, name: string, ifMatch: string | undefined): Promise<WriteResult<boolean>> {
    const what = `DELETE rule ${name}`;
    const answer = await this.#call(op, 'DELETE', this.#rulePath(name), undefined, ifMatch);
    if (answer.status === 204) return { value: false };
    if (answer.status === 200) return { value: true };
    const operation = this.#handle(answer, what);
    if (!operation) throw new ProviderError(`${this.label}: ${what} answered ${answer.status} without Azure-AsyncOperation or Location to follow`, { retryable: true });
    return { value: true, operation };
  }

  /**
   * Follows a long-running operation until it ends or `until` would pass.
   * 'done' when it succeeded, 'pending' when still running at `until`;
   * throws AzureOperationFailedError when it failed or was canceled.
   */
  async settle(op: AzureOp, operation: OperationHandle, until: number): Promise<'done' | 'pending'> {
    let retryAfterMs = operation.retryAfterMs;
    for (;;) {
      const wait = retryAfterMs ?? this.#o.pollIntervalMs;
      if (this.#o.now() + wait > Math.min(until, op.deadline)) return 'pending';
      await this.#o.sleep(wait, op.signal);
      const answer = await this.#call(op, 'GET', operation.url, undefined, undefined, true);
      retryAfterMs = parseRetryAfter(answer.headers['retry-after'], this.#o.now());
      if (operation.kind === 'location') {
        if (answer.status === 202) continue;
        return 'done';
      }
      const parsed = asyncOperationSchema.safeParse(answer.json);
      if (!parsed.success) {
        throw new ProviderError(`${this.label}: the status of ${operation.what} is not an Azure async-operation body ({status, error?}); the relay must reach ${this.#o.armBase} directly`, {
          retryable: false,
        });
      }
      const status = parsed.data.status;
      if (status === 'Succeeded') return 'done';
      if (status === 'Failed' || status === 'Canceled') {
        const code = sanitize(parsed.data.error?.code ?? status);
        const message = sanitize(parsed.data.error?.message ?? '');
        throw new AzureOperationFailedError(`${this.label}: ${operation.what} ended ${status}${code !== status ? ` ${code}` : ''}${message ? ` (${message})` : ''}`, code);
      }
      // InProgress, or a resource-specific non-terminal state: look again.
    }
  }

  /** ARM: follow Azure-AsyncOperation when present, Location otherwise. */
  #handle(answer: Exchange, what: string): OperationHandle | undefined {
    const asyncUrl = answer.headers['azure-asyncoperation'];
    const location = answer.headers['location'];
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], this.#o.now());
    const pick = asyncUrl !== undefined ? { kind: 'async' as const, url: asyncUrl } : location !== undefined ? { kind: 'location' as const, url: location } : undefined;
    if (!pick) return undefined;
    if (!pick.url.startsWith(`${this.#o.armBase}/`)) {
      throw new ProviderError(`${this.label}: ${what}: Azure pointed to a status URL outside ${this.#o.armBase}; the relay does not send its token there`, { retryable: false });
    }
    return { ...pick, what, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }

  #parse<T>(answer: Exchange, schema: z.ZodType<T>, what: string, expected: string): T {
    const parsed = schema.safeParse(answer.json);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new ProviderError(
      `${this.label}: ${what} answered ${answer.status} but not with ${expected} (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}); ` +
        `the relay must reach ${this.#o.armBase} directly (no proxy rewriting answers)`,
      { retryable: false, status: answer.status },
    );
  }

  /** One ARM call (path below the ARM origin, or a whole status URL), retried within the operation's budget. */
  #call(op: AzureOp, method: 'GET' | 'PUT' | 'DELETE', pathOrUrl: string, body: unknown, ifMatch: string | undefined, absolute = false): Promise<Exchange> {
    return withRetries(() => this.#once(op, method, pathOrUrl, body, ifMatch, absolute), retryOptions(op, this.#o, this.label));
  }

  async #once(op: AzureOp, method: string, pathOrUrl: string, body: unknown, ifMatch: string | undefined, absolute: boolean): Promise<Exchange> {
    const url = absolute ? pathOrUrl : `${this.#o.armBase}${pathOrUrl}?api-version=${NETWORK_API_VERSION}`;
    const target = `${method} ${absolute ? 'operation status' : pathOrUrl.split('/').slice(-2).join('/')}`;
    let renewed = false;
    for (;;) {
      const fresh = this.#token === undefined || this.#o.now() >= this.#token.renewAt;
      const token = await this.#accessToken(op);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = bearerJsonHeaders(token, AZURE_USER_AGENT, payload);
      if (ifMatch !== undefined) headers['If-Match'] = ifMatch;
      const response = await this.#send(op, method, url, headers, payload, target);
      op.logger.debug('azure request', { label: this.label, method, target, status: response.status, requestId: response.headers['x-ms-request-id'] });
      const json = parseJsonBody(response.body);
      if (response.status >= 200 && response.status < 300) return { status: response.status, headers: response.headers, json };
      const error = parseCloudError(json);
      if (response.status === 401) {
        this.#token = undefined;
        if (!renewed && !fresh) {
          renewed = true;
          continue;
        }
        throw new AzureAuthError(
          `${this.label}: ${target} answered 401${error ? ` ${error.code}` : ''} with a fresh token: Azure Resource Manager does not accept the application's token; check options.tenantId (the subscription's directory) and options.clientId`,
          401,
        );
      }
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      if (response.status === 412) {
        throw new AzurePreconditionFailedError(`${this.label}: ${target} answered 412 PreconditionFailed: the NSG changed since the relay read it`);
      }
      const { retryable, explanation } = explainArmError(response.status, error, this.#context);
      const message = `${target} answered ${response.status}${error ? ` ${error.code}` : ''}: ${explanation}`;
      if (retryable) {
        const wait = retryAfterMs ?? (error?.code === 'AnotherOperationInProgress' ? this.#o.pollIntervalMs : undefined);
        throw new RetryableCall(message, { status: response.status, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
      }
      throw new AzureApiError(`${this.label}: ${message}`, { status: response.status, code: error?.code ?? String(response.status), retryable: false });
    }
  }

  async #send(op: AzureOp, method: string, url: string, headers: Record<string, string>, payload: string | undefined, target: string): Promise<HttpResponse> {
    op.signal.throwIfAborted();
    const remaining = timeLeft(op, this.#o.now(), this.label, target);
    return sendRequest(op, this.#o, { method, url, headers, body: payload, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.label, target });
  }

  async #accessToken(op: AzureOp): Promise<string> {
    if (this.#token !== undefined && this.#o.now() < this.#token.renewAt) return this.#token.value;
    this.#token = undefined;
    const o = this.#o;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: o.clientId, client_secret: o.clientSecret, scope: ARM_SCOPE }).toString();
    const url = `${o.loginBase}/${encodeURIComponent(o.tenantId)}/oauth2/v2.0/token`;
    const target = 'POST the Entra ID token endpoint';
    const response = await this.#send(
      op,
      'POST',
      url,
      { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': AZURE_USER_AGENT },
      form,
      target,
    );
    this.signIns += 1;
    const json = parseJsonBody(response.body);
    if (response.status === 200) {
      const parsed = tokenSchema.safeParse(json);
      if (!parsed.success) {
        throw new ProviderError(`${this.label}: the Entra ID token endpoint answered 200 without {access_token, expires_in}; the relay must reach ${o.loginBase} directly`, {
          retryable: false,
          status: 200,
        });
      }
      const lifeMs = parsed.data.expires_in * 1000;
      const now = o.now();
      this.#token = { value: parsed.data.access_token, renewAt: now + (lifeMs > 2 * TOKEN_MARGIN_MS ? lifeMs - TOKEN_MARGIN_MS : lifeMs / 2) };
      return parsed.data.access_token;
    }
    if (response.status === 429 || response.status >= 500) {
      throw new RetryableCall(`${target} answered ${response.status}`, {
        status: response.status,
        ...(() => {
          const wait = parseRetryAfter(response.headers['retry-after'], o.now());
          return wait !== undefined ? { retryAfterMs: wait } : {};
        })(),
      });
    }
    throw new AzureAuthError(`${this.label}: ${target} answered ${response.status} ${explainTokenError(response.status, parseTokenError(json))}`, response.status);
  }
}
