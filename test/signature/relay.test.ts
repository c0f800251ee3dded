import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RELAY_SIGNATURE_HEADER, RELAY_TIMESTAMP_HEADER, signRelay, verifyRelay } from '../../lib/signature/relay.ts';

const SECRET = 'relay-outbound-secret';
const BODY = '{"action":"add","ips":["45.0.0.1"]}';
const T = 1_741_616_520; // 2025-03-10T14:22:00Z in unix seconds

function headersFor(secret: string, timestamp: number, body: string) {
  return { timestamp: String(timestamp), signature: signRelay(secret, timestamp, body) };
}

describe('signRelay', () => {
  it('signs "<timestamp>.<body>" with HMAC-SHA256 as sha256=<hex>', () => {
    // Prepare
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    // Act
    const signature = signRelay(SECRET, T, BODY);
    // Assess
    expect(signature).toBe(`sha256=${expected}`);
  });

  it('covers the timestamp: the same body at another time signs differently', () => {
    // Act
    const first = signRelay(SECRET, T, BODY);
    const second = signRelay(SECRET, T + 1, BODY);
    // Assess
    expect(second).not.toBe(first);
  });

  it('names its headers in lower case', () => {
    // Assess
    expect([RELAY_TIMESTAMP_HEADER, RELAY_SIGNATURE_HEADER]).toEqual(['x-relay-timestamp', 'x-relay-signature']);
  });
});

describe('verifyRelay', () => {
  it('accepts what signRelay produced (round trip)', () => {
    // Prepare
    const headers = headersFor(SECRET, T, BODY);
    // Act
    const ok = verifyRelay(SECRET, headers, BODY, T);
    // Assess
    expect(ok).toBe(true);
  });

  it('accepts a timestamp up to the tolerance in the past and in the future', () => {
    // Prepare
    const headers = headersFor(SECRET, T, BODY);
    // Act
    const receiverAhead = verifyRelay(SECRET, headers, BODY, T + 300);
    const receiverBehind = verifyRelay(SECRET, headers, BODY, T - 300);
    // Assess
    expect(receiverAhead).toBe(true);
    expect(receiverBehind).toBe(true);
  });

  it('refuses a timestamp one second outside the default 300 s tolerance, in either direction', () => {
    // Prepare
    const headers = headersFor(SECRET, T, BODY);
    // Act
    const tooOld = verifyRelay(SECRET, headers, BODY, T + 301);
    const tooNew = verifyRelay(SECRET, headers, BODY, T - 301);
    // Assess
    expect(tooOld).toBe(false);
    expect(tooNew).toBe(false);
  });

  it('honours a custom tolerance in both directions', () => {
    // Prepare
    const headers = headersFor(SECRET, T, BODY);
    // Act
    const results = [
      verifyRelay(SECRET, headers, BODY, T + 10, 10),
      verifyRelay(SECRET, headers, BODY, T - 10, 10),
      verifyRelay(SECRET, headers, BODY, T + 11, 10),
      verifyRelay(SECRET, headers, BODY, T - 11, 10),
    ];
    // Assess
    expect(results).toEqual([true, true, false, false]);
  });

  it.each([
    ['a fractional timestamp', `${T}.5`],
    ['a non-numeric timestamp', 'yesterday'],
    ['digits followed by junk', `${T}abc`],
    ['a missing timestamp', undefined],
  ])('refuses %s', (_name, timestamp) => {
    // Prepare — signed over the header text as sent, so only the timestamp check can refuse it
    const signature = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${BODY}`).digest('hex')}`;
    // Act
    const ok = verifyRelay(SECRET, { timestamp, signature }, BODY, T);
    // Assess
    expect(ok).toBe(false);
  });

  it('refuses a missing signature', () => {
    // Act
    const ok = verifyRelay(SECRET, { timestamp: String(T), signature: undefined }, BODY, T);
    // Assess
    expect(ok).toBe(false);
  });

  it('refuses a tampered body', () => {
    // Prepare
    const headers = headersFor(SECRET, T, BODY);
    const tampered = BODY.replace('45.0.0.1', '45.0.0.2');
    // Act
    const ok = verifyRelay(SECRET, headers, tampered, T);
    // Assess
    expect(ok).toBe(false);
  });

  it('refuses a signature made with another secret', () => {
    // Prepare
    const headers = headersFor('not-the-secret', T, BODY);
    // Act
    const ok = verifyRelay(SECRET, headers, BODY, T);
    // Assess
    expect(ok).toBe(false);
  });

  it('refuses a valid signature replayed with a different timestamp header', () => {
    // Prepare
    const headers = { timestamp: String(T + 60), signature: signRelay(SECRET, T, BODY) };
    // Act
    const ok = verifyRelay(SECRET, headers, BODY, T + 60);
    // Assess
    expect(ok).toBe(false);
  });
});
