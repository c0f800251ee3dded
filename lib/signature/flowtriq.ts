/**
 * Flowtriq's webhook signature: `X-Flowtriq-Signature: sha256=<hex>` where hex
 * is HMAC-SHA256 of the raw request body keyed with the webhook secret.
 * Verified on the raw bytes, before any parsing, in constant time, against one
 * or two secrets (rotation).
 */
import { timingSafeEqual } from 'node:crypto';
import { hmacSha256, hmacSha256Hex } from './hmac.ts';

export const FLOWTRIQ_SIGNATURE_HEADER = 'x-flowtriq-signature';
const PREFIX = 'sha256=';
const HEX64 = /^[0-9a-f]{64}$/;

/** The header value Flowtriq would send for this body. */
export function signFlowtriq(secret: string, rawBody: string | Uint8Array): string {
  return PREFIX + hmacSha256Hex(secret, rawBody);
}

export type VerifyOutcome = 'valid' | 'missing' | 'malformed' | 'mismatch';

/**
 * Checks a signature header against every configured secret. Every secret is
 * always tried (no early exit), so timing does not reveal which one matched.
 */
export function verifyFlowtriq(
  secrets: readonly string[],
  rawBody: Uint8Array,
  header: string | undefined | null,
): VerifyOutcome {
  if (header === undefined || header === null || header === '') return 'missing';
  const value = header.trim().toLowerCase();
  if (!value.startsWith(PREFIX) || !HEX64.test(value.slice(PREFIX.length))) return 'malformed';
  // 32 bytes each: the digests are compared as bytes, in constant time.
  const expected = Buffer.from(value.slice(PREFIX.length), 'hex');
  let matched = false;
  for (const secret of secrets) {
    if (timingSafeEqual(hmacSha256(secret, rawBody), expected)) matched = true;
  }
  return matched ? 'valid' : 'mismatch';
}
