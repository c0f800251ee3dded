import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FLOWTRIQ_SIGNATURE_HEADER, signFlowtriq, verifyFlowtriq } from '../../lib/signature/flowtriq.ts';
import { constantTimeEqual, hmacSha256, hmacSha256Hex } from '../../lib/signature/hmac.ts';

const SECRET = 'whsec_flowtriq_vector_1';
const BODY = '{"event_type":"test","timestamp":"2025-03-10T14:22:00Z"}';
/**
 * Computed once, outside Node, with:
 *   printf '%s' '{"event_type":"test","timestamp":"2025-03-10T14:22:00Z"}' | openssl dgst -sha256 -hmac 'whsec_flowtriq_vector_1'
 */
const OPENSSL_HEX = 'c1f611b338b46d41529f4a544fd269418035d9f83ce72b0f77d5b6fac463b321';

/** The expected HMAC, computed with node:crypto directly (not through the code under test). */
function expectedHex(secret: string, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('hmacSha256', () => {
  it('gives the 32 bytes of the fixed openssl vector', () => {
    // Act
    const digest = hmacSha256(SECRET, bytes(BODY));
    // Assess
    expect(digest).toHaveLength(32);
    expect(digest.toString('hex')).toBe(OPENSSL_HEX);
  });
});

describe('hmacSha256Hex', () => {
  it('matches the HMAC-SHA256 computed by node:crypto for the same key and payload', () => {
    // Prepare
    const secret = 'rotation-secret-2';
    const payload = '{"event_type":"attack_start"}';
    // Act
    const hex = hmacSha256Hex(secret, payload);
    // Assess
    expect(hex).toBe(expectedHex(secret, payload));
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches the fixed vector computed with openssl', () => {
    // Act
    const hex = hmacSha256Hex(SECRET, BODY);
    // Assess
    expect(hex).toBe(OPENSSL_HEX);
  });

  it('gives the same digest for a string and its UTF-8 bytes', () => {
    // Prepare
    const body = '{"title":"Flood on nœud-1 🚨"}';
    // Act
    const fromString = hmacSha256Hex(SECRET, body);
    const fromBytes = hmacSha256Hex(SECRET, bytes(body));
    // Assess
    expect(fromBytes).toBe(fromString);
    expect(fromBytes).toBe(expectedHex(SECRET, Buffer.from(body, 'utf8')));
  });
});

describe('signFlowtriq', () => {
  it('produces sha256=<lower-case hex HMAC of the raw body>', () => {
    // Act
    const header = signFlowtriq(SECRET, BODY);
    // Assess
    expect(header).toBe(`sha256=${expectedHex(SECRET, BODY)}`);
    expect(header).toBe(`sha256=${OPENSSL_HEX}`);
  });
});

describe('verifyFlowtriq', () => {
  it('names the header it expects in lower case', () => {
    // Assess
    expect(FLOWTRIQ_SIGNATURE_HEADER).toBe('x-flowtriq-signature');
  });

  it('accepts the known vector computed with node:crypto', () => {
    // Prepare
    const header = `sha256=${expectedHex(SECRET, BODY)}`;
    // Act
    const outcome = verifyFlowtriq([SECRET], bytes(BODY), header);
    // Assess
    expect(outcome).toBe('valid');
  });

  it('accepts the fixed vector computed with openssl', () => {
    // Act
    const outcome = verifyFlowtriq([SECRET], bytes(BODY), `sha256=${OPENSSL_HEX}`);
    // Assess
    expect(outcome).toBe('valid');
  });

  it('accepts upper-case hex (and an upper-case prefix)', () => {
    // Prepare
    const upperHex = `sha256=${OPENSSL_HEX.toUpperCase()}`;
    const upperAll = `SHA256=${OPENSSL_HEX.toUpperCase()}`;
    // Act
    const outcomes = [verifyFlowtriq([SECRET], bytes(BODY), upperHex), verifyFlowtriq([SECRET], bytes(BODY), upperAll)];
    // Assess
    expect(outcomes).toEqual(['valid', 'valid']);
  });

  it.each([
    ['leading spaces', `   sha256=${OPENSSL_HEX}`],
    ['trailing spaces', `sha256=${OPENSSL_HEX}   `],
    ['tabs and a newline', `\tsha256=${OPENSSL_HEX}\r\n`],
  ])('accepts whitespace around the header value (%s)', (_name, header) => {
    // Act
    const outcome = verifyFlowtriq([SECRET], bytes(BODY), header);
    // Assess
    expect(outcome).toBe('valid');
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['empty', ''],
  ] as const)('reports a %s header as missing', (_name, header) => {
    // Act
    const outcome = verifyFlowtriq([SECRET], bytes(BODY), header);
    // Assess
    expect(outcome).toBe('missing');
  });

  it.each([
    ['a sha1= prefix', `sha1=${OPENSSL_HEX}`],
    ['no prefix at all', OPENSSL_HEX],
    ['a prefix missing its =', `sha256${OPENSSL_HEX}`],
    ['a prefix with : instead of =', `sha256:${OPENSSL_HEX}`],
    ['63 hex chars', `sha256=${OPENSSL_HEX.slice(0, 63)}`],
    ['65 hex chars', `sha256=${OPENSSL_HEX}0`],
    ['a non-hex character', `sha256=${OPENSSL_HEX.slice(0, 63)}g`],
    ['base64 instead of hex', `sha256=${Buffer.from(OPENSSL_HEX, 'hex').toString('base64')}`],
    ['an empty digest', 'sha256='],
    ['whitespace inside the value', `sha256= ${OPENSSL_HEX}`],
    ['only whitespace', '   '],
  ])('reports %s as malformed', (_name, header) => {
    // Act
    const outcome = verifyFlowtriq([SECRET], bytes(BODY), header);
    // Assess
    expect(outcome).toBe('malformed');
  });

  it('accepts a signature made with either of two secrets (rotation)', () => {
    // Prepare
    const secrets = ['old-secret', 'new-secret'];
    // Act
    const withOld = verifyFlowtriq(secrets, bytes(BODY), `sha256=${expectedHex('old-secret', BODY)}`);
    const withNew = verifyFlowtriq(secrets, bytes(BODY), `sha256=${expectedHex('new-secret', BODY)}`);
    // Assess
    expect(withOld).toBe('valid');
    expect(withNew).toBe('valid');
  });

  it('reports a mismatch when neither of two secrets made the signature', () => {
    // Prepare
    const header = `sha256=${expectedHex('someone-else', BODY)}`;
    // Act
    const outcome = verifyFlowtriq(['old-secret', 'new-secret'], bytes(BODY), header);
    // Assess
    expect(outcome).toBe('mismatch');
  });

  it('reports a mismatch for a well-formed signature when no secret is configured', () => {
    // Act
    const outcome = verifyFlowtriq([], bytes(BODY), `sha256=${OPENSSL_HEX}`);
    // Assess
    expect(outcome).toBe('mismatch');
  });

  it('reports a mismatch when the body differs by one byte', () => {
    // Prepare
    const header = `sha256=${expectedHex(SECRET, BODY)}`;
    const tampered = bytes(BODY);
    const at = tampered.length - 2;
    tampered[at] = tampered[at]! ^ 0x01; // flips one bit of one byte
    // Act
    const outcome = verifyFlowtriq([SECRET], tampered, header);
    // Assess
    expect(outcome).toBe('mismatch');
    expect(verifyFlowtriq([SECRET], bytes(BODY), header)).toBe('valid');
  });

  it('reports a mismatch when the body has one extra byte', () => {
    // Prepare
    const header = `sha256=${expectedHex(SECRET, BODY)}`;
    // Act
    const outcome = verifyFlowtriq([SECRET], bytes(`${BODY}\n`), header);
    // Assess
    expect(outcome).toBe('mismatch');
  });

  it('verifies the exact bytes, so a signature over re-serialised JSON does not match', () => {
    // Prepare
    const raw = '{ "event_type": "test", "timestamp": "2025-03-10T14:22:00Z" }';
    const reserialised = JSON.stringify(JSON.parse(raw));
    const header = `sha256=${expectedHex(SECRET, reserialised)}`;
    // Act
    const outcome = verifyFlowtriq([SECRET], bytes(raw), header);
    // Assess
    expect(outcome).toBe('mismatch');
  });

  it('round-trips with signFlowtriq for arbitrary binary bodies', () => {
    // Prepare
    const body = Uint8Array.from({ length: 257 }, (_, index) => (index * 37) & 255);
    // Act
    const outcome = verifyFlowtriq([SECRET], body, signFlowtriq(SECRET, body));
    // Assess
    expect(outcome).toBe('valid');
    expect(signFlowtriq(SECRET, body)).toBe(`sha256=${expectedHex(SECRET, body)}`);
  });
});

describe('constantTimeEqual', () => {
  it('is true for equal strings', () => {
    // Act
    const result = constantTimeEqual(`sha256=${OPENSSL_HEX}`, `sha256=${OPENSSL_HEX}`);
    // Assess
    expect(result).toBe(true);
  });

  it('is true for two empty strings', () => {
    // Act
    const result = constantTimeEqual('', '');
    // Assess
    expect(result).toBe(true);
  });

  it('is false for different strings of the same length', () => {
    // Prepare
    const other = OPENSSL_HEX.slice(0, 63) + (OPENSSL_HEX.endsWith('1') ? '2' : '1');
    // Act
    const result = constantTimeEqual(OPENSSL_HEX, other);
    // Assess
    expect(other).toHaveLength(OPENSSL_HEX.length);
    expect(result).toBe(false);
  });

  it('is false for strings of different lengths, whichever is longer', () => {
    // Act
    const shorter = constantTimeEqual(OPENSSL_HEX.slice(0, 63), OPENSSL_HEX);
    const longer = constantTimeEqual(OPENSSL_HEX, `${OPENSSL_HEX}0`);
    const empty = constantTimeEqual('', 'a');
    // Assess
    expect([shorter, longer, empty]).toEqual([false, false, false]);
  });

  it('compares UTF-8 bytes: same UTF-16 length but different byte length is unequal', () => {
    // Prepare — 'é' is 1 UTF-16 unit but 2 UTF-8 bytes
    const a = 'é';
    const b = 'e';
    // Act
    const result = constantTimeEqual(a, b);
    // Assess
    expect(a.length).toBe(b.length);
    expect(result).toBe(false);
  });

  it('is case-sensitive', () => {
    // Act
    const result = constantTimeEqual(OPENSSL_HEX, OPENSSL_HEX.toUpperCase());
    // Assess
    expect(result).toBe(false);
  });
});
