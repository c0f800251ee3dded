/**
 * HS256 JSON Web Tokens as the package issues them from `POST /api/v2/auth/jwt`
 * (`Models/RESTAPIJWT.inc`): payload `{iss, exp, nbf, data: <username>}`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The claims the simulator puts in and checks. */
export interface SimJwtClaims {
  iss: string;
  exp: number;
  nbf: number;
  data: string;
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** Signs claims with the server key. */
export function signJwt(claims: SimJwtClaims, key: Buffer): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', key).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

/**
 * Verifies signature and time window; returns the claims, or undefined when
 * the token is malformed, forged, expired or not yet valid.
 */
export function verifyJwt(token: string, key: Buffer, nowSeconds: number): SimJwtClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [head, body, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', key).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let claims: SimJwtClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SimJwtClaims;
  } catch {
    return undefined;
  }
  if (typeof claims.exp !== 'number' || nowSeconds >= claims.exp) return undefined;
  if (typeof claims.nbf === 'number' && nowSeconds < claims.nbf) return undefined;
  return claims;
}
