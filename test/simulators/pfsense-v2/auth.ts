/**
 * The package's authentication (`Auth/*.inc`, `Models/RESTAPISettings.inc`):
 *
 * - `auth_methods` defaults to `['BasicAuth']`; `KeyAuth` (`X-API-Key`) and
 *   `JWTAuth` (`Authorization: Bearer`) must be enabled.
 * - Any enabled method that succeeds authenticates the request; otherwise
 *   401 `AUTH_AUTHENTICATION_FAILED` (id as the simulator assumes it; the
 *   relay keys on the status).
 * - `POST /api/v2/auth/jwt` always uses BasicAuth.
 * - Login protection (sshguard) counts failures: after `threshold` of them
 *   within `windowMs` the client is blocked for `blockMs` (its connections
 *   are dropped). The defaults follow pfSense's: score 30 with 10 per failed
 *   login, i.e. 3 failures in 30 minutes, blocked for 2 minutes.
 */
import { verifyJwt } from './jwt.ts';

export type AuthMethod = 'BasicAuth' | 'KeyAuth' | 'JWTAuth';

export interface LoginProtectionOptions {
  threshold: number;
  windowMs: number;
  blockMs: number;
}

export const DEFAULT_LOGIN_PROTECTION: LoginProtectionOptions = { threshold: 3, windowMs: 30 * 60_000, blockMs: 120_000 };

export interface AuthConfig {
  users: Record<string, string>;
  methods: AuthMethod[];
  apiKeys: Map<string, string>;
  jwtKey: Buffer;
}

/** Who a request authenticated as, or why not. */
export type AuthResult = { ok: true; user: string; method: AuthMethod } | { ok: false };

/** Checks the request headers against the enabled methods (or only `only`). */
export function authenticate(
  headers: Record<string, string>,
  config: AuthConfig,
  nowSeconds: number,
  only?: AuthMethod,
): AuthResult {
  const methods = only === undefined ? config.methods : [only];
  const authorization = headers.authorization ?? '';
  for (const method of methods) {
    if (method === 'BasicAuth' && /^Basic /i.test(authorization)) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        const user = decoded.slice(0, colon);
        const password = config.users[user];
        if (password !== undefined && password === decoded.slice(colon + 1)) return { ok: true, user, method };
      }
    }
    if (method === 'KeyAuth' && headers['x-api-key'] !== undefined) {
      const user = config.apiKeys.get(headers['x-api-key']);
      if (user !== undefined) return { ok: true, user, method };
    }
    if (method === 'JWTAuth' && /^Bearer /i.test(authorization)) {
      const claims = verifyJwt(authorization.slice(7).trim(), config.jwtKey, nowSeconds);
      if (claims !== undefined && config.users[claims.data] !== undefined) return { ok: true, user: claims.data, method };
    }
  }
  return { ok: false };
}

/** sshguard's view of one client: failures in a window, then a block. */
export class LoginProtection {
  readonly #options: LoginProtectionOptions;
  #failures: number[] = [];
  #blockedUntil = Number.NEGATIVE_INFINITY;

  constructor(options: LoginProtectionOptions) {
    this.#options = options;
  }

  blocked(now: number): boolean {
    return now < this.#blockedUntil;
  }

  /** Records a failure; returns true when this one triggered the block. */
  fail(now: number): boolean {
    this.#failures = this.#failures.filter((at) => at > now - this.#options.windowMs);
    this.#failures.push(now);
    if (this.#failures.length >= this.#options.threshold) {
      this.#blockedUntil = now + this.#options.blockMs;
      this.#failures = [];
      return true;
    }
    return false;
  }
}
