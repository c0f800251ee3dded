/**
 * OAuth 2.0 for a service account (Google's "two-legged" JWT bearer flow):
 *
 * 1. A JWT signed RS256 with the key file's private key:
 *    header `{alg: RS256, typ: JWT, kid: private_key_id}`, claims
 *    `{iss: client_email, scope, aud: token_uri, iat, exp = iat + 3600}`.
 * 2. `POST token_uri` form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`
 *    → `{access_token, expires_in, token_type: "Bearer"}`.
 *
 * The token is kept until one minute before it expires; the client asks for
 * a new one once when the API answers 401 (revoked, clock skew). The private
 * key is held as a KeyObject and never leaves this module.
 */
import { type KeyObject, createPrivateKey, sign } from 'node:crypto';
import { z } from 'zod';
import { classifyTransportFailure } from '../../transport/errors.ts';
import type { HttpResponse } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiClientOptions, parseJsonBody, timeLeft } from '../http-json.ts';
import { GCP_COMPUTE_SCOPE, type ServiceAccountKey } from './config.ts';
import { GcpAuthError, parseOAuthError } from './errors.ts';
import type { GcpOp } from './client.ts';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google accepts assertions valid for at most one hour. */
const ASSERTION_LIFETIME_S = 3600;
/** A token is renewed this long before Google says it expires. */
const RENEW_MARGIN_MS = 60_000;

const tokenSchema = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.number().int().positive(),
  token_type: z.string().refine((value) => value.toLowerCase() === 'bearer', 'must be Bearer').optional(),
});

export interface TokenSourceOptions extends ApiClientOptions {
  label: string;
  key: ServiceAccountKey;
  scope?: string;
}

export class ServiceAccountTokenSource {
  readonly #o: TokenSourceOptions;
  readonly #privateKey: KeyObject;
  #token: { value: string; renewAt: number } | undefined;

  constructor(options: TokenSourceOptions) {
    this.#o = options;
    this.#privateKey = createPrivateKey(options.key.privateKey);
  }

  /** A valid access token: the cached one, or a new one. */
  async token(op: GcpOp): Promise<string> {
    if (this.#token !== undefined && this.#o.now() < this.#token.renewAt) return this.#token.value;
    this.#token = undefined;
    const token = await withRetries(() => this.#request(op), retryOptions(op, this.#o, `${this.#o.label}: token`));
    this.#token = token;
    return token.value;
  }

  /** Forgets the cached token (the API answered 401 with it). */
  invalidate(): void {
    this.#token = undefined;
  }

  /** The signed assertion (exported for tests through the class only). */
  assertion(nowMs: number): string {
    const iat = Math.floor(nowMs / 1000);
    const header = { alg: 'RS256', typ: 'JWT', kid: this.#o.key.privateKeyId };
    const claims = { iss: this.#o.key.clientEmail, scope: this.#o.scope ?? GCP_COMPUTE_SCOPE, aud: this.#o.key.tokenUri, iat, exp: iat + ASSERTION_LIFETIME_S };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('RSA-SHA256', Buffer.from(input, 'utf8'), this.#privateKey);
    return `${input}.${signature.toString('base64url')}`;
  }

  async #request(op: GcpOp): Promise<{ value: string; renewAt: number }> {
    op.signal.throwIfAborted();
    const remaining = timeLeft(op, this.#o.now(), this.#o.label, 'the token request');
    const body = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion: this.assertion(this.#o.now()) }).toString();
    let response: HttpResponse;
    try {
      response = await this.#o.transport.request({
        method: 'POST',
        url: this.#o.key.tokenUri,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body,
        timeoutMs: Math.max(1, Math.min(this.#o.timeoutMs, remaining)),
        maxResponseBytes: 64 * 1024,
        signal: op.signal,
      });
    } catch (error) {
      if (op.signal.aborted) throw op.signal.reason;
      const { retryable, description } = classifyTransportFailure(error);
      if (retryable) throw new RetryableCall(`POST token: ${description}`, { cause: error });
      throw new ProviderError(`${this.#o.label}: POST ${this.#o.key.tokenUri}: ${description}`, { retryable: false, cause: error });
    }
    const json = parseJsonBody(response.body);
    if (response.status === 200) {
      const parsed = tokenSchema.safeParse(json);
      if (!parsed.success) {
        throw new ProviderError(`${this.#o.label}: the token endpoint answered 200 without an access token (${parsed.error.issues[0]?.path.join('.') || 'body'}); the relay must reach ${this.#o.key.tokenUri} directly`, {
          retryable: false,
          status: 200,
        });
      }
      const now = this.#o.now();
      const lifetime = parsed.data.expires_in * 1000;
      return { value: parsed.data.access_token, renewAt: now + Math.max(lifetime - RENEW_MARGIN_MS, lifetime / 2) };
    }
    if (response.status === 429 || response.status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      throw new RetryableCall(`the token endpoint answered ${response.status}`, { status: response.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    const error = parseOAuthError(json);
    const said = error ? ` ${error.error}${error.description ? ` (${error.description})` : ''}` : '';
    throw new GcpAuthError(`${this.#o.label}: the token endpoint answered ${response.status}${said}: ${explainTokenError(error?.error ?? '', error?.description ?? '')}`, response.status);
  }
}

function explainTokenError(code: string, description: string): string {
  const lower = description.toLowerCase();
  if (code === 'invalid_grant' && (lower.includes('signature') || lower.includes('account not found'))) {
    return 'Google does not accept this key (deleted or disabled key, or a deleted service account); create a new JSON key and update secrets.serviceAccountKey';
  }
  if (code === 'invalid_grant' && (lower.includes('time') || lower.includes('exp') || lower.includes('iat'))) {
    return 'Google rejected the assertion\'s time: the clock of the machine running the relay is off; synchronise it (NTP)';
  }
  if (code === 'invalid_scope' || code === 'unauthorized_client') {
    return 'Google refused the compute scope for this account; check that the key belongs to a service account of a project with the Compute Engine API enabled';
  }
  return 'Google refused the service account key; create a new JSON key and update secrets.serviceAccountKey';
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
