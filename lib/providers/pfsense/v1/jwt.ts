/**
 * When to renew a pfSense v1 JWT. The package signs HS256 tokens whose
 * payload carries `exp` and `nbf` (issue time) in the firewall's clock; the
 * relay never verifies the signature (it cannot, and need not: the firewall
 * does), it only reads the lifetime.
 *
 * The renewal time is computed from the lifetime (`exp - nbf`, or
 * `exp - iat`) added to the relay's own clock at receipt, so a firewall whose
 * clock is off does not make the relay renew too late or on every call. Only
 * when neither `nbf` nor `iat` is present is `exp` compared with the relay's
 * clock directly. Tokens are renewed a minute before they expire (half the
 * lifetime for lifetimes under two minutes).
 */

/** How long before expiry a token is replaced. */
export const JWT_RENEW_MARGIN_MS = 60_000;
/** Assumed lifetime when the payload cannot be read: 5 minutes is the package's minimum `jwt_exp`. */
export const JWT_FALLBACK_LIFETIME_MS = 300_000;

/** Header.payload.signature, each base64url: nothing else may reach an Authorization header. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** True when the text is shaped like a compact JWS (and so safe to put in a header). */
export function isJwtShaped(token: string): boolean {
  return token.length <= 8192 && JWT_SHAPE.test(token);
}

/** Epoch ms (relay clock) at which a token received at `receivedAt` should be replaced. */
export function jwtRenewAt(token: string, receivedAt: number): number {
  const claims = readClaims(token);
  const exp = numeric(claims?.exp);
  const issued = numeric(claims?.nbf) ?? numeric(claims?.iat);
  let lifetimeMs: number;
  if (exp !== undefined && issued !== undefined && exp > issued) lifetimeMs = (exp - issued) * 1000;
  else if (exp !== undefined && issued === undefined) lifetimeMs = exp * 1000 - receivedAt;
  else lifetimeMs = JWT_FALLBACK_LIFETIME_MS;
  if (lifetimeMs <= 0) return receivedAt;
  const margin = lifetimeMs < 2 * JWT_RENEW_MARGIN_MS ? lifetimeMs / 2 : JWT_RENEW_MARGIN_MS;
  return receivedAt + lifetimeMs - margin;
}

function readClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
