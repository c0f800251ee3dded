/**
 * The relay's own outbound signature (generic webhook provider):
 * `X-Relay-Timestamp: <unix seconds>` and
 * `X-Relay-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
 * Covering the timestamp lets receivers reject replays.
 */
import { constantTimeEqual, hmacSha256Hex } from './hmac.ts';

export const RELAY_TIMESTAMP_HEADER = 'x-relay-timestamp';
export const RELAY_SIGNATURE_HEADER = 'x-relay-signature';

export function signRelay(secret: string, timestampSeconds: number, body: string): string {
  return 'sha256=' + hmacSha256Hex(secret, `${timestampSeconds}.${body}`);
}

/** Receiver-side check, exported for users' receivers and our tests. */
export function verifyRelay(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || headers.signature === undefined) return false;
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  return constantTimeEqual(signRelay(secret, ts, body), headers.signature);
}
