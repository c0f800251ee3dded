/**
 * HTTP exchanges with the Compute Engine API v1 through the relay's
 * Transport, for the firewall rules of one project.
 *
 * - `Authorization: Bearer` with a service-account token (./auth.ts); a 401
 *   drops the token and the request is sent once more with a new one.
 * - Reads (GET) are retried (withRetries) on 429, 5xx and transport
 *   failures. A write (POST/PATCH/DELETE) is retried only on 429 (refused,
 *   so not applied); after any other unclear outcome it is not repeated: the
 *   provider reads the rules again on its next call.
 * - Every write returns an Operation (`PENDING → RUNNING → DONE`), polled
 *   with `GET /projects/{p}/global/operations/{name}` every pollInterval
 *   for at most waitFor. No write is sent while an operation this client
 *   started is not DONE: the next call first waits for it (Google answers
 *   400 resourceNotReady to a write on a resource with a running operation).
 * - Every 2xx body is validated (zod); errors are parsed from Google's
 *   standard JSON error and turned into messages naming the fix.
 */
import { z } from 'zod';
import type { HttpResponse } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryDetails, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, bearerJsonHeaders, parseJsonBody, sendRequest, timeLeft } from '../http-json.ts';
import type { ServiceAccountTokenSource } from './auth.ts';
import {
  GcpAuthError,
  GcpPermissionError,
  GcpRequestError,
  GcpResourceNotReadyError,
  type GoogleErrorBody,
  explainForbidden,
  parseGoogleError,
  sanitize,
} from './errors.ts';
import { type Firewall, type FirewallInsert, firewallSchema } from './model.ts';

export const GCP_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The state of one provider operation. */
export type GcpOp = ApiOp;

const operationSchema = z.looseObject({
  name: z.string().min(1),
  status: z.enum(['PENDING', 'RUNNING', 'DONE']),
  operationType: z.string().optional(),
  targetLink: z.string().optional(),
  httpErrorStatusCode: z.number().int().optional(),
  httpErrorMessage: z.string().optional(),
  error: z
    .looseObject({
      errors: z.array(z.looseObject({ code: z.string().optional(), message: z.string().optional() })).optional(),
    })
    .optional(),
});
export type Operation = z.output<typeof operationSchema>;

/** A write could not be sent: an earlier operation is still running. Not a failure: look again later. */
export class GcpOperationPendingError extends ProviderError {
  constructor(message: string, retryAfterMs: number) {
    super(message, { retryable: true, retryAfterMs });
    this.name = 'GcpOperationPendingError';
  }
}

export interface GcpComputeClientOptions extends ApiClientOptions {
  integrationId: string;
  baseUrl: string;
  project: string;
  tokens: ServiceAccountTokenSource;
  pollIntervalMs: number;
  waitForMs: number;
}

export interface WriteResult {
  /** The operation is DONE (without error). */
  done: boolean;
  operation: Operation;
}

export class GcpComputeClient {
  readonly #o: GcpComputeClientOptions;
  /** Operations this client started that were not yet seen DONE. */
  readonly #pending = new Map<string, { target: string }>();

  constructor(options: GcpComputeClientOptions) {
    this.#o = options;
  }

  get label(): string {
    return `gcp-firewall ${this.#o.integrationId}`;
  }

  get project(): string {
    return this.#o.project;
  }

  /** The rule, or undefined when there is none by that name. */
  async getFirewall(op: GcpOp, name: string): Promise<Firewall | undefined> {
    const path = `/projects/${this.#o.project}/global/firewalls/${name}`;
    const json = await this.#read(op, path, true);
    if (json === undefined) return undefined;
    const parsed = firewallSchema.safeParse(json);
    if (!parsed.success || parsed.data.name !== name) {
      const issue = parsed.success ? 'name' : `${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`;
      throw new ProviderError(`${this.label}: GET ${path} answered 200 but not with the firewall rule (${issue}); the relay must reach compute.googleapis.com directly`, {
        retryable: false,
      });
    }
    return parsed.data;
  }

  async insertFirewall(op: GcpOp, body: FirewallInsert): Promise<WriteResult> {
    return this.#write(op, 'POST', `/projects/${this.#o.project}/global/firewalls`, body, body.name);
  }

  /** JSON merge patch: only the fields given change. */
  async patchFirewall(op: GcpOp, name: string, patch: Record<string, unknown>): Promise<WriteResult> {
    return this.#write(op, 'PATCH', `/projects/${this.#o.project}/global/firewalls/${name}`, patch, name);
  }

  async deleteFirewall(op: GcpOp, name: string): Promise<WriteResult> {
    return this.#write(op, 'DELETE', `/projects/${this.#o.project}/global/firewalls/${name}`, undefined, name);
  }

  /**
   * Waits for the operations this client started to be DONE, polling every
   * pollInterval for at most waitFor. True when none is left running.
   */
  async settle(op: GcpOp): Promise<boolean> {
    const until = Math.min(this.#o.now() + this.#o.waitForMs, op.deadline);
    for (const [name] of [...this.#pending]) {
      for (;;) {
        const operation = await this.#getOperation(op, name);
        if (operation.status === 'DONE') {
          this.#pending.delete(name);
          if (operation.error?.errors?.length) {
            op.logger.warn('gcp-firewall: an earlier operation failed', { integration: this.#o.integrationId, operation: name, error: describeOperationError(operation) });
          }
          break;
        }
        if (this.#o.now() + this.#o.pollIntervalMs > until) return false;
        await this.#o.sleep(this.#o.pollIntervalMs, op.signal);
      }
    }
    return true;
  }

  /** Operations not seen DONE yet (names). */
  get pending(): string[] {
    return [...this.#pending.keys()];
  }

  async #write(op: GcpOp, method: 'POST' | 'PATCH' | 'DELETE', path: string, body: unknown, target: string): Promise<WriteResult> {
    if (!(await this.settle(op))) {
      throw new GcpOperationPendingError(
        `${this.label}: an earlier change (operation ${this.pending.join(', ')}) is still running; the relay waits for it before ${method} ${target}`,
        this.#o.pollIntervalMs,
      );
    }
    const json = await withRetries(
      async () => {
        try {
          return await this.#exchange(op, method, path, body, false);
        } catch (error) {
          // Only a 429 is surely not applied; anything else unclear is not repeated blindly.
          if (error instanceof RetryableCall && error.status !== 429) {
            throw new ProviderError(`${this.label}: ${error.message}; the relay reads the rules again before any further change`, { retryable: true, ...retryDetails(error) });
          }
          throw error;
        }
      },
      retryOptions(op, this.#o, this.label),
    );
    const operation = this.#parseOperation(json, `${method} ${path}`);
    this.#pending.set(operation.name, { target });
    op.logger.info('gcp-firewall: change sent', { integration: this.#o.integrationId, method, rule: target, operation: operation.name });
    const until = Math.min(this.#o.now() + this.#o.waitForMs, op.deadline);
    let current = operation;
    while (current.status !== 'DONE' && this.#o.now() + this.#o.pollIntervalMs <= until) {
      await this.#o.sleep(this.#o.pollIntervalMs, op.signal);
      current = await this.#getOperation(op, current.name);
    }
    if (current.status !== 'DONE') return { done: false, operation: current };
    this.#pending.delete(current.name);
    if (current.error?.errors?.length) {
      throw new GcpRequestError(`${this.label}: ${method} ${target} failed: ${describeOperationError(current)}`, current.error.errors[0]?.code ?? '', current.httpErrorStatusCode);
    }
    return { done: true, operation: current };
  }

  async #getOperation(op: GcpOp, name: string): Promise<Operation> {
    const path = `/projects/${this.#o.project}/global/operations/${name}`;
    const json = await this.#read(op, path, false);
    return this.#parseOperation(json, `GET ${path}`);
  }

  #parseOperation(json: unknown, target: string): Operation {
    const parsed = operationSchema.safeParse(json);
    if (!parsed.success) {
      throw new ProviderError(`${this.label}: ${target} answered 200 but not with an Operation (${parsed.error.issues[0]?.path.join('.') || 'body'}); the relay must reach compute.googleapis.com directly`, {
        retryable: false,
      });
    }
    return parsed.data;
  }

  async #read(op: GcpOp, path: string, notFoundIsUndefined: boolean): Promise<unknown> {
    return withRetries(() => this.#exchange(op, 'GET', path, undefined, notFoundIsUndefined), retryOptions(op, this.#o, this.label));
  }

  async #exchange(op: GcpOp, method: string, path: string, body: unknown, notFoundIsUndefined: boolean): Promise<unknown> {
    let response = await this.#send(op, method, path, body, await this.#o.tokens.token(op));
    if (response.status === 401) {
      // Revoked or expired early: one new token, one more try.
      this.#o.tokens.invalidate();
      op.logger.info('gcp-firewall: access token refused; asking for a new one', { integration: this.#o.integrationId });
      response = await this.#send(op, method, path, body, await this.#o.tokens.token(op));
    }
    const json = parseJsonBody(response.body);
    const target = `${method} ${path}`;
    const { status } = response;
    if (status >= 200 && status < 300) return json;
    const error = json === undefined ? undefined : parseGoogleError(json);
    if (status === 404 && notFoundIsUndefined) return undefined;
    const said = describe(error);
    if (status === 401) {
      this.#o.tokens.invalidate();
      throw new GcpAuthError(
        `${this.label}: ${target} answered 401${said} with a new access token: Google does not accept the service account's tokens; check that the key is not disabled and the account exists, then update secrets.serviceAccountKey`,
        401,
      );
    }
    if (status === 403 && error?.reason !== 'rateLimitExceeded' && error?.reason !== 'userRateLimitExceeded') {
      throw new GcpPermissionError(`${this.label}: ${explainForbidden(target, error)}`);
    }
    if (status === 429 || status === 403 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      throw new RetryableCall(`${target} answered ${status}${said}`, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    if (status === 400 && error?.reason === 'resourceNotReady') {
      throw new GcpResourceNotReadyError(`${this.label}: ${target} answered 400 resourceNotReady: another change to the rule is still running (started outside this relay process); the relay tries again`, this.#o.pollIntervalMs);
    }
    if (status === 404) {
      throw new GcpRequestError(
        `${this.label}: ${target} answered 404${said}: check options.project (${this.#o.project}) and options.network, and that the Compute Engine API is enabled on the project`,
        error?.reason ?? 'notFound',
        404,
      );
    }
    throw new GcpRequestError(`${this.label}: ${target} answered ${status}${said}`, error?.reason ?? '', status);
  }

  async #send(op: GcpOp, method: string, path: string, body: unknown, token: string): Promise<HttpResponse> {
    op.signal.throwIfAborted();
    const target = `${method} ${path}`;
    const remaining = timeLeft(op, this.#o.now(), this.label, target);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = bearerJsonHeaders(token, GCP_USER_AGENT, payload);
    const url = `${this.#o.baseUrl}${path}`;
    return sendRequest(op, this.#o, { method, url, headers, body: payload, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.label, target });
  }
}

function describe(error: GoogleErrorBody | undefined): string {
  if (error === undefined) return '';
  return ` ${error.reason || error.status || 'error'}${error.message ? ` (${error.message})` : ''}`;
}

export function describeOperationError(operation: Operation): string {
  const errors = operation.error?.errors ?? [];
  const text = errors.map((entry) => `${entry.code ?? 'ERROR'}${entry.message ? `: ${sanitize(entry.message)}` : ''}`).join('; ');
  return operation.httpErrorStatusCode !== undefined ? `${operation.httpErrorStatusCode} ${text}` : text;
}
