/**
 * HS256 JWTs as pfSense-pkg-API v1 issues them: payload
 * `{iss, aud, exp, nbf, data: <username>}`, times in seconds. The key lives
 * in the simulator; rotating it revokes every token issued so far.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface V1JwtPayload {
  iss: string;
  aud: string;
  exp: number;
  nbf: number;
  data: string;
}

export type JwtCheck = { ok: true; username: string } | { ok: false; reason: string };

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function signJwt(key: Buffer, payload: V1JwtPayload): string {
  const head = `${encode({ typ: 'JWT', alg: 'HS256' })}.${encode(payload)}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

/** Checks the signature and the time window (`nbf <= now < exp`, seconds). */
export function verifyJwt(key: Buffer, token: string, nowSeconds: number): JwtCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed' };
  const [header, payload, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  let claims: Partial<V1JwtPayload>;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<V1JwtPayload>;
  } catch {
    return { ok: false, reason: 'payload' };
  }
  if (typeof claims.exp !== 'number' || nowSeconds >= claims.exp) return { ok: false, reason: 'expired' };
  if (typeof claims.nbf === 'number' && nowSeconds < claims.nbf) return { ok: false, reason: 'not yet valid' };
  if (typeof claims.data !== 'string') return { ok: false, reason: 'no user' };
  return { ok: true, username: claims.data };
}
