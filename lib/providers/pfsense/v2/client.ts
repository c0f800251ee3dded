/**
 * One HTTP exchange with pfSense-pkg-RESTAPI (v2), through the relay's
 * Transport: authentication, the envelope, and the failures no caller can
 * fix by itself.
 *
 * - Every request is JSON (`Content-Type: application/json`; the package
 *   reads control parameters from the JSON body for JSON requests).
 * - 2xx with the package's envelope → the envelope. 2xx without it → a
 *   non-retryable ProviderError (the URL does not reach the package).
 * - 401 / 403 → the client **stops**: a non-retryable ProviderError naming
 *   the fix, and every later call fails the same way without a request
 *   until `authCooldownMs` passed (default 30 min). pfSense login protection
 *   blocks a client after about three failed logins in 30 minutes; one
 *   attempt per cooldown can never get the relay locked out. Exception: a
 *   Bearer token rejected with 401 is renewed once (a restarted firewall or
 *   a changed JWT key invalidates tokens) before stopping.
 * - Other non-2xx → PfSenseV2ApiError for the caller to interpret.
 * - Transport failures → ProviderError: timeouts and connection errors
 *   retryable; TLS verification, invalid request, refused by the device
 *   relay, oversized response not.
 */
import packageJson from '../../../../package.json' with { type: 'json' };
import type { Logger } from '../../../log/types.ts';
import { classifyTransportFailure } from '../../../transport/errors.ts';
import type { HttpResponse, TlsOptions, Transport } from '../../../transport/types.ts';
import { ProviderError } from '../../errors.ts';
import type { PfSenseV2Credentials } from './auth.ts';
import { type PfSenseEnvelope, parseEnvelope, readToken } from './envelope.ts';
import { PfSenseV2ApiError } from './errors.ts';
import { parseRetryAfter } from '../../../util/retry-after.ts';

/** The state of one provider operation (add, remove, list, health). */
export interface PfSenseV2Op {
  signal: AbortSignal;
  logger: Logger;
  /** Epoch ms by which the operation must have finished. */
  deadline: number;
}

export interface PfSenseV2ClientOptions {
  integrationId: string;
  /** `https://10.0.0.1` — scheme, host and port only. */
  origin: string;
  credentials: PfSenseV2Credentials;
  transport: Transport;
  /** Only used for https:// origins. */
  tls: TlsOptions | undefined;
  /** Longest one request may take (`options.timeout`). */
  timeoutMs: number;
  now: () => number;
  /** How long to stay stopped after an authentication failure. */
  authCooldownMs: number;
}

export interface PfSenseV2CallOptions {
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  maxResponseBytes?: number;
}

export const PFSENSE_USER_AGENT = `flowtriq-relay/${packageJson.version}`;
const JWT_PATH = '/api/v2/auth/jwt';
/** Alias reads can be large: 10,000 addresses are ~250 kB; allow far more. */
const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export class PfSenseV2Client {
  readonly #o: PfSenseV2ClientOptions;
  #stopped: { message: string; status: number; until: number } | undefined;

  constructor(options: PfSenseV2ClientOptions) {
    this.#o = options;
  }

  /** Message prefix naming the integration. */
  get label(): string {
    return `pfsense ${this.#o.integrationId}`;
  }

  /**
   * Sends one request (plus, for JWT auth, the login it needs).
   * @throws ProviderError for authentication, authorization, transport and non-package answers.
   * @throws PfSenseV2ApiError for any other non-2xx answer.
   */
  async call(op: PfSenseV2Op, method: string, path: string, options: PfSenseV2CallOptions = {}): Promise<PfSenseEnvelope> {
    this.#throwIfStopped();
    let headers = this.#o.credentials.headers();
    let fresh = false;
    if (headers === undefined) {
      headers = await this.#login(op);
      fresh = true;
    }
    let response = await this.#send(op, method, path, headers, options);
    if (response.status === 401 && this.#o.credentials.mode === 'jwt' && !fresh) {
      op.logger.info('pfsense: JWT rejected; logging in again', { integration: this.#o.integrationId });
      this.#o.credentials.dropToken();
      headers = await this.#login(op);
      response = await this.#send(op, method, path, headers, options);
    }
    return this.#interpret(method, path, response);
  }

  /** `POST /api/v2/auth/jwt` with BasicAuth; returns the Bearer headers. */
  async #login(op: PfSenseV2Op): Promise<Record<string, string>> {
    const response = await this.#send(op, 'POST', JWT_PATH, { Authorization: this.#o.credentials.basicHeader() }, { body: {} });
    const envelope = this.#interpret('POST', JWT_PATH, response);
    const token = readToken(envelope.data);
    if (token === undefined) {
      throw new ProviderError(`${this.label}: POST ${JWT_PATH} answered ${response.status} without a usable token in data.token`, {
        retryable: false,
        status: response.status,
      });
    }
    return this.#o.credentials.storeToken(token);
  }

  async #send(
    op: PfSenseV2Op,
    method: string,
    path: string,
    auth: Record<string, string>,
    options: PfSenseV2CallOptions,
  ): Promise<HttpResponse> {
    op.signal.throwIfAborted();
    const remaining = op.deadline - this.#o.now();
    if (remaining <= 0) {
      throw new ProviderError(`${this.label}: the operation ran out of time before ${method} ${path}; it will be retried`, { retryable: true });
    }
    const query = options.query === undefined ? '' : `?${new URLSearchParams(options.query).toString()}`;
    const url = `${this.#o.origin}${path}${query}`;
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': PFSENSE_USER_AGENT,
      ...auth,
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const request = {
      method,
      url,
      headers,
      timeoutMs: Math.max(1, Math.min(this.#o.timeoutMs, remaining)),
      maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      signal: op.signal,
      ...(body === undefined ? {} : { body }),
      ...(this.#o.tls !== undefined && this.#o.origin.startsWith('https://') ? { tls: this.#o.tls } : {}),
    };
    try {
      const response = await this.#o.transport.request(request);
      op.logger.debug('pfsense request', { integration: this.#o.integrationId, method, path, status: response.status });
      return response;
    } catch (error) {
      if (op.signal.aborted) throw op.signal.reason;
      throw this.#transportFailure(method, path, error);
    }
  }

  #interpret(method: string, path: string, response: HttpResponse): PfSenseEnvelope {
    const { status } = response;
    const envelope = parseEnvelope(response.body);
    const target = `${method} ${path}`;
    if (status === 401 || status === 403) this.#stop(method, path, status, envelope);
    if (status >= 200 && status < 300) {
      if (envelope === undefined) {
        throw new ProviderError(
          `${this.label}: ${target} answered ${status} but not with pfSense-pkg-RESTAPI's JSON envelope; check that options.url is the pfSense webConfigurator and the v2 package is installed`,
          { retryable: false, status },
        );
      }
      return envelope;
    }
    if (envelope === undefined && status === 404) {
      throw new ProviderError(
        `${this.label}: ${target} answered 404 without the package's JSON envelope: pfSense-pkg-RESTAPI (v2, >= 2.1) does not seem to be installed at ${this.#o.origin}; install it, or set apiVersion: v1 for pfSense-pkg-API`,
        { retryable: false, status },
      );
    }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
    throw new PfSenseV2ApiError(target, status, envelope?.responseId ?? '', sanitize(envelope?.message ?? ''), retryAfterMs);
  }

  /** Records the stop and throws the ProviderError that says how to fix it. */
  #stop(method: string, path: string, status: number, envelope: PfSenseEnvelope | undefined): never {
    const cooldownMin = Math.round(this.#o.authCooldownMs / 60_000);
    const after =
      `The relay sent no further request: pfSense login protection blocks clients after repeated failures. ` +
      `It tries once more in ${cooldownMin} min, or at once after a restart.`;
    const id = envelope?.responseId ? ` ${envelope.responseId}` : '';
    let message: string;
    if (status === 403) {
      const privilege = `api-v2-${path.replace(/^\/api\/v2\//, '').split('/').join('-')}-${method.toLowerCase()}`;
      message =
        `${this.label}: ${method} ${path} answered 403${id}: the relay's pfSense user lacks the privilege "${privilege}" ` +
        `(or has "User - Config: Deny Config Write"). Grant the api-v2-firewall-alias(es), api-v2-firewall-apply` +
        `${this.#o.credentials.mode === 'jwt' ? ', api-v2-auth-jwt' : ''} and api-v2-diagnostics-table privileges under System > User Manager. ${after}`;
    } else if (path === JWT_PATH) {
      message =
        `${this.label}: POST ${JWT_PATH} answered 401${id}: pfSense refused to issue a JWT. Check secrets.username and secrets.password ` +
        `(a local pfSense user; LDAP/RADIUS users cannot log in to the REST API). ${after}`;
    } else if (this.#o.credentials.mode === 'jwt') {
      message =
        `${this.label}: ${method} ${path} answered 401${id} to a freshly issued JWT: enable JWTAuth under System > REST API > Settings > ` +
        `Authentication Methods (the package enables only BasicAuth by default). ${after}`;
    } else if (this.#o.credentials.mode === 'apiKey') {
      message =
        `${this.label}: ${method} ${path} answered 401${id}: the API key was not accepted. Check secrets.apiKey and that KeyAuth is enabled ` +
        `under System > REST API > Settings > Authentication Methods (the package enables only BasicAuth by default). ${after}`;
    } else {
      message =
        `${this.label}: ${method} ${path} answered 401${id}: pfSense rejected the username/password. Check secrets.username and ` +
        `secrets.password (a local pfSense user) and that BasicAuth is enabled under System > REST API > Settings > Authentication Methods. ${after}`;
    }
    this.#stopped = { message, status, until: this.#o.now() + this.#o.authCooldownMs };
    throw new ProviderError(message, { retryable: false, status });
  }

  #throwIfStopped(): void {
    const stopped = this.#stopped;
    if (stopped === undefined) return;
    if (this.#o.now() >= stopped.until) {
      this.#stopped = undefined;
      return;
    }
    throw new ProviderError(stopped.message, { retryable: false, status: stopped.status });
  }

  #transportFailure(method: string, path: string, error: unknown): ProviderError {
    const { retryable, description } = classifyTransportFailure(error);
    return new ProviderError(`${this.label}: ${method} ${path}: ${description}`, { retryable, cause: error });
  }
}

/** Device text for our messages: one line, bounded. */
function sanitize(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
