/**
 * How the adapter authenticates to pfSense-pkg-RESTAPI (v2):
 *
 * - `basic`: `Authorization: Basic` with a local pfSense user (BasicAuth, the
 *   package's only method enabled by default).
 * - `apiKey`: `X-API-Key: <key>` (KeyAuth must be enabled).
 * - `jwt`: `POST /api/v2/auth/jwt` with BasicAuth returns a token used as
 *   `Authorization: Bearer` (JWTAuth must be enabled). There is no refresh
 *   endpoint; the token is renewed by logging in again shortly before its
 *   `exp` (default lifetime 3600 s, 300 s at least).
 *
 * Secret values are checked here once, at construction, so a value that
 * cannot be sent safely in a header fails at startup, and never appear in
 * any message.
 */
import { PfSenseV2ConfigError } from './errors.ts';

export type PfSenseV2AuthMode = 'basic' | 'jwt' | 'apiKey';

export interface PfSenseV2Secrets {
  username?: string;
  password?: string;
  apiKey?: string;
}

/** Renew this long before `exp` at least (clock skew, slow requests). */
const MIN_RENEW_MARGIN_MS = 60_000;
/** Lifetime assumed when a token's `exp` cannot be read: the package's minimum `jwt_exp`. */
const FALLBACK_LIFETIME_MS = 300_000;
/** Shortest time a fetched token is used before logging in again. */
const MIN_REUSE_MS = 30_000;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

export class PfSenseV2Credentials {
  readonly mode: PfSenseV2AuthMode;
  readonly #basic: string | undefined;
  readonly #apiKey: string | undefined;
  readonly #now: () => number;
  #token: { value: string; renewAt: number } | undefined;

  /** @throws PfSenseV2ConfigError when a needed secret is missing or unusable in a header. */
  constructor(mode: PfSenseV2AuthMode, secrets: PfSenseV2Secrets, now: () => number, where: string) {
    this.mode = mode;
    this.#now = now;
    if (mode === 'apiKey') {
      const key = secrets.apiKey;
      if (!key) throw new PfSenseV2ConfigError(`${where}.secrets.apiKey is required for auth: apiKey`);
      if (!VISIBLE_ASCII.test(key)) {
        throw new PfSenseV2ConfigError(`${where}.secrets.apiKey contains spaces, control or non-ASCII characters; paste the key exactly as pfSense showed it`);
      }
      this.#apiKey = key;
      return;
    }
    const { username, password } = secrets;
    if (!username) throw new PfSenseV2ConfigError(`${where}.secrets.username is required for auth: ${mode}`);
    if (!password) throw new PfSenseV2ConfigError(`${where}.secrets.password is required for auth: ${mode}`);
    if (username.includes(':') || /[\u0000-\u001f\u007f]/.test(username)) {
      throw new PfSenseV2ConfigError(`${where}.secrets.username must not contain ":" or control characters (HTTP Basic cannot carry them)`);
    }
    this.#basic = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  }

  /** `Authorization: Basic …` for basic auth and for the JWT login. */
  basicHeader(): string {
    if (this.#basic === undefined) throw new Error('no username/password configured');
    return this.#basic;
  }

  /** Headers for an API request, or undefined when a (new) JWT must be fetched first. */
  headers(): Record<string, string> | undefined {
    if (this.mode === 'apiKey') return { 'X-API-Key': this.#apiKey as string };
    if (this.mode === 'basic') return { Authorization: this.basicHeader() };
    if (this.#token === undefined || this.#now() >= this.#token.renewAt) return undefined;
    return { Authorization: `Bearer ${this.#token.value}` };
  }

  /**
   * Keeps a token from `POST /auth/jwt`, schedules its renewal from its
   * `exp`, and returns the headers to use it. A token is kept for at least
   * MIN_REUSE_MS even if our clock says it is (nearly) expired: pfSense checks
   * `exp` with its own clock, and a skewed clock must not cause a login per request.
   */
  storeToken(token: string): Record<string, string> {
    const now = this.#now();
    const expMs = readExpMs(token);
    const lifetime = expMs === undefined ? FALLBACK_LIFETIME_MS : Math.max(0, expMs - now);
    const margin = Math.max(MIN_RENEW_MARGIN_MS, lifetime / 10);
    this.#token = { value: token, renewAt: now + Math.max(MIN_REUSE_MS, lifetime - margin) };
    return { Authorization: `Bearer ${token}` };
  }

  /** Forgets the token (pfSense rejected it). */
  dropToken(): void {
    this.#token = undefined;
  }
}

/** `exp` (seconds) of a JWT as epoch ms; undefined when unreadable. */
function readExpMs(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
