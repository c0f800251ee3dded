import { createHmac, timingSafeEqual } from 'node:crypto';

/** Lower-case hex HMAC-SHA256 of `payload` keyed with `secret`. */
export function hmacSha256Hex(secret: string | Uint8Array, payload: string | Uint8Array): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** HMAC-SHA256 of `payload` keyed with `secret`, as 32 bytes. */
export function hmacSha256(secret: string | Uint8Array, payload: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/** Compares two strings in time that depends only on their length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    // Still do a comparison of equal cost so timing reveals only the length.
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}
