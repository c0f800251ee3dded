/**
 * One HTTP conversation with pfSense-pkg-API (v1): authentication, request
 * encoding, envelope validation and the mapping of answers to errors. The
 * provider (./provider.ts) decides what to ask; this file decides how.
 *
 * ## Authentication (System > API > Authentication Mode on the firewall)
 *
 * | options.auth | firewall mode | every request carries                         |
 * | ------------ | ------------- | --------------------------------------------- |
 * | basic        | Local Database| `Authorization: Basic base64(user:password)`  |
 * | jwt          | JWT           | `Authorization: Bearer <jwt>`                 |
 * | token        | API Token     | `Authorization: <client-id> <client-token>`   |
 *
 * JWT: the token comes from `POST /api/v1/access_token` with Basic
 * credentials (`data.token`), is cached, and is renewed a minute before its
 * `exp` (./jwt.ts). A 401 to a cached token (revoked, firewall
 * clock jumped, key rotated) renews it once and repeats the request once; a
 * 401 to a freshly issued token, or to the token request itself, stops.
 *
 * ## Login protection
 *
 * pfSense's login protection (sshguard) counts failed API logins and blocks
 * the client address. Every authentication or authorization failure
 * therefore throws {@link PfSenseV1AuthError} (never retryable) at once; the
 * provider makes no further request in that batch, and the message names
 * the setting to fix.
 *
 * ## Requests
 *
 * Bodies are JSON with `Content-Type: application/json` (the package parses
 * a JSON body for every method, DELETE included). GETs carry their filter in
 * the query string and no Content-Type, which the package reads as form data
 * and so takes from the query. Every answer must be the v1 envelope
 * (./envelope.ts); anything else is reported with the likely
 * cause (package not installed, wrong URL, redirect). A `Retry-After` on an
 * error answer (the package sends none itself; a proxy before it may) is
 * carried on the error as `retryAfterMs`; the provider honours it for the
 * whole firewall (./gate.ts).
 */
import packageJson from '../../../../package.json' with { type: 'json' };
import { classifyTransportFailure } from '../../../transport/errors.ts';
import type { HttpRequest, HttpResponse, TlsOptions, Transport } from '../../../transport/types.ts';
import { ProviderError } from '../../errors.ts';
import { parseRetryAfter } from '../../../util/retry-after.ts';
import { V1_RETURN, v1AccessTokenSchema, v1EnvelopeSchema, type V1Envelope } from './envelope.ts';
import { PfSenseV1ApiError, PfSenseV1AuthError, PfSenseV1ConfigError, PfSenseV1ResponseError } from './errors.ts';
import { isJwtShaped, jwtRenewAt } from './jwt.ts';
import type { ProviderContext } from '../../types.ts';

export const PFSENSE_V1_USER_AGENT = `flowtriq-relay/${packageJson.version}`;

/**
 * Largest answer accepted. A GET of the alias, and every write (the package
 * echoes the whole alias back), carries every entry plus an auto-generated
 * detail string of about 45 bytes each: 32 MiB is several hundred thousand
 * entries, beyond pf's default table limit. (Through the AWS device relay,
 * its own 4 MiB limit applies first.)
 */
export const PFSENSE_V1_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Longest device message copied into an error: the text is untrusted. */
const MESSAGE_CHARS = 200;

export type PfSenseV1AuthMode = 'basic' | 'jwt' | 'token';

/** The resolved secrets (never logged, never in a message). */
export interface PfSenseV1Secrets {
  username?: string;
  password?: string;
  clientId?: string;
  clientToken?: string;
}

export interface PfSenseV1ClientOptions {
  /** Integration id, for messages and logs. */
  id: string;
  /** Scheme, host and port of the webConfigurator. */
  origin: string;
  auth: PfSenseV1AuthMode;
  secrets: PfSenseV1Secrets;
  transport: Transport;
  tls: TlsOptions;
  timeoutMs: number;
  /** Relay clock for JWT renewal. */
  now: () => number;
  /** Config path of the integration for fix messages, e.g. `integrations[2]`. */
  where: string;
}

/** One API call. */
export interface V1Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under the origin, e.g. `/api/v1/firewall/alias`. */
  path: string;
  /** GET filters (sent as the query string). */
  query?: Record<string, string>;
  /** JSON body. */
  body?: Record<string, unknown>;
  /** Non-zero `return` ids the caller handles itself: answered, not thrown. */
  accept?: readonly number[];
}

/** The validated answer to a call. */
export interface V1Answer {
  status: number;
  envelope: V1Envelope;
}

type Credential = 'basic' | 'jwt-request' | 'jwt' | 'token';

interface CachedJwt {
  header: string;
  renewAt: number;
}

/** Speaks pfSense-pkg-API v1 for one integration. Not safe for concurrent use: the provider serialises calls. */
export class PfSenseV1Client {
  readonly #options: PfSenseV1ClientOptions;
  readonly #basicHeader: string | undefined;
  readonly #tokenHeader: string | undefined;
  #jwt: CachedJwt | undefined;

  /** @throws PfSenseV1ConfigError when the secrets the auth mode needs are missing or unusable. */
  constructor(options: PfSenseV1ClientOptions) {
    this.#options = options;
    const { auth, secrets, where } = options;
    if (auth === 'token') {
      const { clientId, clientToken } = secrets;
      if (!clientId || !clientToken) {
        throw new PfSenseV1ConfigError(`${where}.secrets: auth "token" needs clientId and clientToken`);
      }
      for (const [name, value] of [
        ['clientId', clientId],
        ['clientToken', clientToken],
      ] as const) {
        if (!/^[\x21-\x7e]{1,512}$/.test(value)) {
          throw new PfSenseV1ConfigError(
            `${where}.secrets.${name}: must be printable ASCII without spaces, as System > API shows it`,
          );
        }
      }
      this.#tokenHeader = `${clientId} ${clientToken}`;
    } else {
      const { username, password } = secrets;
      if (!username || !password) {
        throw new PfSenseV1ConfigError(`${where}.secrets: auth "${auth}" needs username and password`);
      }
      if (username.includes(':') || /[\u0000-\u001f\u007f]/.test(username)) {
        throw new PfSenseV1ConfigError(`${where}.secrets.username: must not contain ":" or control characters`);
      }
      this.#basicHeader = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
    }
  }

  /**
   * Makes sure the next call carries valid credentials: in JWT mode fetches
   * a token when none is cached or the cached one is due for renewal; in the
   * other modes does nothing (credentials travel with each request).
   */
  async authenticate(ctx: ProviderContext): Promise<void> {
    if (this.#options.auth === 'jwt') await this.#authorization(ctx);
  }

  /**
   * Makes one call (two in JWT mode when a cached token is refused and
   * renewed, plus the token request itself when one is due).
   * @returns the envelope when `return` is 0 or listed in `call.accept`.
   * @throws PfSenseV1AuthError on 401/403 (never retryable).
   * @throws PfSenseV1ApiError for other non-zero `return` ids.
   * @throws PfSenseV1ResponseError when the answer is not an envelope.
   * @throws ProviderError for transport failures (retryable for timeouts and connection errors).
   */
  async call(call: V1Call, ctx: ProviderContext): Promise<V1Answer> {
    const credential: Credential = this.#options.auth === 'jwt' ? 'jwt' : this.#options.auth;
    const first = await this.#authorization(ctx);
    const response = await this.#send(call, first.header, ctx);
    if (this.#options.auth === 'jwt' && response.status === 401 && !first.fresh) {
      ctx.logger.info('pfsense: cached JWT refused; requesting a new one', { integration: this.#options.id });
      this.#jwt = undefined;
      const renewed = await this.#authorization(ctx);
      return this.#interpret(call, await this.#send(call, renewed.header, ctx), credential);
    }
    return this.#interpret(call, response, credential);
  }

  /** The Authorization header for the next request; `fresh` when a token was just issued. */
  async #authorization(ctx: ProviderContext): Promise<{ header: string; fresh: boolean }> {
    if (this.#options.auth === 'basic') return { header: this.#basicHeader!, fresh: false };
    if (this.#options.auth === 'token') return { header: this.#tokenHeader!, fresh: false };
    const cached = this.#jwt;
    if (cached !== undefined && this.#options.now() < cached.renewAt) return { header: cached.header, fresh: false };
    this.#jwt = undefined;
    const jwt = await this.#requestJwt(ctx);
    this.#jwt = jwt;
    return { header: jwt.header, fresh: true };
  }

  async #requestJwt(ctx: ProviderContext): Promise<CachedJwt> {
    const call: V1Call = { method: 'POST', path: '/api/v1/access_token', body: {} };
    const answer = this.#interpret(call, await this.#send(call, this.#basicHeader!, ctx), 'jwt-request');
    const parsed = v1AccessTokenSchema.safeParse(answer.envelope.data);
    if (!parsed.success || !isJwtShaped(parsed.data.token)) {
      throw new PfSenseV1ResponseError(
        `pfsense ${this.#options.id}: POST /api/v1/access_token answered without a JWT in data.token; ` +
          'set System > API > Authentication Mode to JWT, or set options.auth to match the firewall',
        { retryable: false, status: answer.status },
      );
    }
    const receivedAt = this.#options.now();
    ctx.logger.debug('pfsense: JWT issued', { integration: this.#options.id });
    return { header: `Bearer ${parsed.data.token}`, renewAt: jwtRenewAt(parsed.data.token, receivedAt) };
  }

  async #send(call: V1Call, authorization: string, ctx: ProviderContext): Promise<HttpResponse> {
    ctx.signal.throwIfAborted();
    const { origin, timeoutMs, tls, transport } = this.#options;
    const query = call.query === undefined ? '' : `?${new URLSearchParams(call.query).toString()}`;
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
      'User-Agent': PFSENSE_V1_USER_AGENT,
    };
    const request: HttpRequest = {
      method: call.method,
      url: `${origin}${call.path}${query}`,
      headers,
      timeoutMs,
      maxResponseBytes: PFSENSE_V1_MAX_RESPONSE_BYTES,
      signal: ctx.signal,
    };
    if (call.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      request.body = JSON.stringify(call.body);
    }
    if (origin.startsWith('https:')) request.tls = tls;
    const started = Date.now();
    try {
      const response = await transport.request(request);
      ctx.logger.debug('pfsense request', {
        integration: this.#options.id,
        method: call.method,
        path: call.path,
        status: response.status,
        ms: Date.now() - started,
      });
      return response;
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      throw this.#transportFailure(call, error);
    }
  }

  #transportFailure(call: V1Call, error: unknown): ProviderError {
    const { kind, retryable, description } = classifyTransportFailure(error);
    const fix = kind === 'tls' ? "; set options.tls.pinSha256 (or caFile) to the firewall's certificate" : '';
    return new ProviderError(`pfsense ${this.#options.id}: ${call.method} ${call.path}: ${description}${fix}`, { retryable, cause: error });
  }

  #interpret(call: V1Call, response: HttpResponse, credential: Credential): V1Answer {
    const { status } = response;
    const where = `pfsense ${this.#options.id}: ${call.method} ${call.path}`;
    // Retry-After (the package itself never sends one; a proxy in front of it may) travels with the error.
    const retryAfterMs = status >= 400 ? parseRetryAfter(response.headers['retry-after'], this.#options.now()) : undefined;
    const wait = retryAfterMs === undefined ? {} : { retryAfterMs };
    if (status >= 300 && status < 400) {
      throw new PfSenseV1ResponseError(
        `${where} answered ${status} (a redirect, not followed); set options.url to the webConfigurator's ` +
          'exact https:// origin including its port',
        { retryable: false, status },
      );
    }
    const envelope = parseEnvelope(response.body);
    if (envelope === undefined) {
      if (status === 401) throw new PfSenseV1AuthError(this.#authFailedMessage(where, credential), { status });
      if (status === 403) throw new PfSenseV1AuthError(this.#forbiddenMessage(where, undefined), { status });
      if (status >= 500 || status === 408 || status === 429) {
        throw new PfSenseV1ResponseError(`${where} answered ${status} without an API envelope`, { retryable: true, status, ...wait });
      }
      if (status === 404) {
        throw new PfSenseV1ResponseError(
          `${where} answered 404: no pfSense-pkg-API here; install the v1 package, or set options.apiVersion: v2 ` +
            'for pfSense-pkg-RESTAPI',
          { retryable: false, status },
        );
      }
      throw new PfSenseV1ResponseError(
        `${where} answered ${status} with a body that is not a pfSense-pkg-API envelope; check options.url`,
        { retryable: false, status },
      );
    }
    const returnCode = envelope.return;
    if (status === 401 || returnCode === V1_RETURN.authenticationFailed) {
      throw new PfSenseV1AuthError(this.#authFailedMessage(where, credential), { status, returnCode });
    }
    if (returnCode === V1_RETURN.ok && status >= 200 && status < 300) return { status, envelope };
    if (call.accept?.includes(returnCode)) return { status, envelope };
    if (
      status === 403 ||
      returnCode === V1_RETURN.authorizationFailed ||
      returnCode === V1_RETURN.actionNotAllowed ||
      returnCode === V1_RETURN.authModeNotJwtOrToken
    ) {
      throw new PfSenseV1AuthError(this.#forbiddenMessage(where, returnCode), { status, returnCode });
    }
    const detail = `${where} answered ${status} return ${returnCode}: ${deviceMessage(envelope.message)}`;
    if (status >= 500 || status === 408 || status === 429 || returnCode === V1_RETURN.serverError) {
      throw new PfSenseV1ApiError(detail, { retryable: true, status, returnCode, ...wait });
    }
    throw new PfSenseV1ApiError(detail, { retryable: false, status, returnCode, ...wait });
  }

  #authFailedMessage(where: string, credential: Credential): string {
    const path = `${this.#options.where}.secrets`;
    const stop =
      'stopped after this one failed login (pfSense login protection blocks clients that keep failing)';
    switch (credential) {
      case 'basic':
        return (
          `${where}: authentication failed (401); check ${path}.username and ${path}.password, and that ` +
          `System > API > Authentication Mode is "Local Database" (options.auth: basic); ${stop}`
        );
      case 'jwt-request':
        return (
          `${where}: the token request was refused (401); check ${path}.username and ${path}.password ` +
          `(the JWT endpoint always takes the local username/password); ${stop}`
        );
      case 'jwt':
        return (
          `${where}: a freshly issued JWT was refused (401); check that System > API > Authentication Mode ` +
          `is "JWT" (options.auth: jwt); ${stop}`
        );
      case 'token':
        return (
          `${where}: authentication failed (401); check ${path}.clientId and ${path}.clientToken (not revoked ` +
          `under System > API) and that System > API > Authentication Mode is "API Token"; ${stop}`
        );
    }
  }

  #forbiddenMessage(where: string, returnCode: number | undefined): string {
    if (returnCode === V1_RETURN.authModeNotJwtOrToken) {
      return (
        `${where}: the firewall issues tokens only in JWT or API Token mode (return 9); set System > API > ` +
        'Authentication Mode to JWT, or set options.auth to basic'
      );
    }
    if (returnCode === V1_RETURN.authorizationFailed || returnCode === V1_RETURN.actionNotAllowed) {
      return (
        `${where}: the relay's user lacks a privilege (403 return ${returnCode}); grant it "WebCfg - Firewall: ` +
        'Alias: Edit" and "WebCfg - Firewall: Aliases" (or page-all) and make sure the API is not read-only'
      );
    }
    return (
      `${where}: refused (403); if login protection blocked the relay's address after failed logins, fix the ` +
      'credentials, then remove the address from the sshguard table (Diagnostics > Tables) or wait for the block to expire'
    );
  }
}

function parseEnvelope(body: Uint8Array): V1Envelope | undefined {
  if (body.byteLength === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = v1EnvelopeSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** The device's message, flattened and shortened: it is untrusted text bound for logs. */
function deviceMessage(message: string | undefined): string {
  if (message === undefined || message === '') return '(no message)';
  const flat = message.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > MESSAGE_CHARS ? `${flat.slice(0, MESSAGE_CHARS)}…` : flat;
}
