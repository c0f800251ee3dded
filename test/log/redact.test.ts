import { describe, expect, it } from 'vitest';
import { REDACTED, redact } from '../../lib/log/redact.ts';

/** `{ n: { n: ... { leaf } } }` with `levels` wrappers around `leaf`. */
function nested(levels: number, leaf: Record<string, unknown>): Record<string, unknown> {
  let value: Record<string, unknown> = leaf;
  for (let index = 0; index < levels; index += 1) value = { n: value };
  return value;
}

/** Follows `levels` `n` keys down. */
function dig(value: unknown, levels: number): unknown {
  let current = value;
  for (let index = 0; index < levels; index += 1) current = (current as Record<string, unknown>).n;
  return current;
}

describe('redact', () => {
  it('uses a marker that is not a secret', () => {
    // Assess
    expect(REDACTED).toBe('[redacted]');
  });

  it.each([
    'secret',
    'webhookSecret',
    'client_secret',
    'token',
    'accessToken',
    'refresh_token',
    'password',
    'passwd',
    'authorization',
    'Authorization',
    'apiKey',
    'api_key',
    'api-key',
    'APIKEY',
    'x-api-key',
    'signature',
    'X-Flowtriq-Signature',
    'cookie',
    'Set-Cookie',
    'credentials',
  ])('replaces the value of a %s key', (key) => {
    // Prepare
    const attributes = { [key]: 'hunter2-do-not-log', keep: 'visible' };
    // Act
    const result = redact(attributes) as Record<string, unknown>;
    // Assess
    expect(result[key]).toBe(REDACTED);
    expect(result.keep).toBe('visible');
  });

  it('replaces secret values whatever their type (objects, numbers, arrays)', () => {
    // Prepare
    const attributes = { credentials: { user: 'u', pass: 'p' }, token: 12345, secrets: ['a', 'b'] };
    // Act
    const result = redact(attributes);
    // Assess
    expect(result).toEqual({ credentials: REDACTED, token: REDACTED, secrets: REDACTED });
  });

  it('redacts secret keys nested in objects', () => {
    // Prepare
    const attributes = { integration: { id: 'fw', options: { url: 'https://fw.example', password: 'pw' } } };
    // Act
    const result = redact(attributes);
    // Assess
    expect(result).toEqual({ integration: { id: 'fw', options: { url: 'https://fw.example', password: REDACTED } } });
  });

  it('redacts secret keys inside arrays, including arrays of arrays', () => {
    // Prepare
    const attributes = {
      headers: [{ name: 'accept', authorization: 'Bearer abc' }],
      batches: [[{ ip: '45.0.0.1', apiKey: 'k1' }], [{ ip: '45.0.0.2', api_key: 'k2' }]],
    };
    // Act
    const result = redact(attributes);
    // Assess
    expect(result).toEqual({
      headers: [{ name: 'accept', authorization: REDACTED }],
      batches: [[{ ip: '45.0.0.1', apiKey: REDACTED }], [{ ip: '45.0.0.2', api_key: REDACTED }]],
    });
  });

  it('redacts inside a top-level array', () => {
    // Act
    const result = redact([{ secret: 's' }, 'plain', 3]);
    // Assess
    expect(result).toEqual([{ secret: REDACTED }, 'plain', 3]);
  });

  it('leaves non-secret keys and values untouched', () => {
    // Prepare
    const attributes = {
      incident: 'd4e5f6a7',
      ips: ['45.0.0.1', '2a0e::7'],
      count: 3,
      dryRun: false,
      nothing: null,
      missing: undefined,
      nested: { integration: 'fw', author: 'ops', key: '45.0.0.1', keyCount: 2 },
    };
    // Act
    const result = redact(attributes);
    // Assess
    expect(result).toEqual(attributes);
  });

  it('returns a copy and never changes the input', () => {
    // Prepare
    const attributes = { token: 'abc', nested: { password: 'pw' } };
    const before = structuredClone(attributes);
    // Act
    const result = redact(attributes);
    // Assess
    expect(result).not.toBe(attributes);
    expect(attributes).toEqual(before);
  });

  it.each([
    ['a string', 'text'],
    ['a number', 42],
    ['a boolean', true],
    ['null', null],
    ['undefined', undefined],
  ])('returns %s as it is', (_name, value) => {
    // Act
    const result = redact(value);
    // Assess
    expect(result).toBe(value);
  });

  it('turns an Error into { name, message } (no stack, no extra properties)', () => {
    // Prepare
    const error = Object.assign(new TypeError('device refused the add'), { token: 'leaky', status: 500 });
    // Act
    const result = redact({ error });
    // Assess
    expect(result).toEqual({ error: { name: 'TypeError', message: 'device refused the add' } });
  });

  it('turns a nested Error (inside an array) into { name, message }', () => {
    // Prepare
    class ProviderDown extends Error {
      constructor() {
        super('connection refused');
        this.name = 'ProviderDown';
      }
    }
    // Act
    const result = redact({ failures: [new ProviderDown()] });
    // Assess
    expect(result).toEqual({ failures: [{ name: 'ProviderDown', message: 'connection refused' }] });
  });

  it('redacts secret keys down to six levels of nesting (the depth limit)', () => {
    // Prepare — the leaf object sits at depth 6
    const attributes = nested(6, { password: 'pw', plain: 'visible' });
    // Act
    const result = redact(attributes);
    // Assess
    expect(dig(result, 6)).toEqual({ password: REDACTED, plain: 'visible' });
  });

  it('terminates on cyclic attributes, still redacting the levels it walks', () => {
    // Prepare
    const cyclic: Record<string, unknown> = { token: 'abc', name: 'loop' };
    cyclic.n = cyclic;
    // Act
    const result = redact(cyclic);
    // Assess
    expect(result).not.toBe(cyclic);
    for (let level = 0; level <= 6; level += 1) {
      expect((dig(result, level) as Record<string, unknown>).token).toBe(REDACTED);
    }
  });

  it('never lets a secret through past the depth limit', () => {
    // Prepare — the leaf object sits at depth 7, beyond the limit
    const attributes = nested(7, { password: 'hunter2-do-not-log' });
    // Act
    const result = redact(attributes);
    // Assess
    expect(JSON.stringify(result)).not.toContain('hunter2-do-not-log');
  });
});
