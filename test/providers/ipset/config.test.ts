/** Options of the `ipset` integration: defaults, and messages that name the fix. */
import { describe, expect, it } from 'vitest';
import { ipsetOptionsSchema } from '../../../lib/providers/ipset/config.ts';

describe('ipsetOptionsSchema', () => {
  it('defaults to sets flowtriq_v4 / flowtriq_v6, TTL timeouts and the relay comment', () => {
    // Act
    const options = ipsetOptionsSchema.parse({});

    // Assess
    expect(options).toEqual({ ipv4Set: 'flowtriq_v4', ipv6Set: 'flowtriq_v6', comment: 'flowtriq-relay', elementTimeout: 'ttl', timeout: 10_000 });
  });

  it.each([
    [{ ipv4Set: 'a'.repeat(32) }, 'ipv4Set', '1–31 letters'],
    [{ ipv6Set: '-exist' }, 'ipv6Set', 'must start with a letter'],
    [{ ipv4Set: 'x y' }, 'ipv4Set', 'must start with a letter'],
    [{ comment: 'a"b' }, 'comment', 'use 1–64 letters'],
    [{ ipv4Set: 'same', ipv6Set: 'same' }, 'ipv6Set', 'must differ from ipv4Set'],
    [{ elementTimeout: 'forever' }, 'elementTimeout', 'must be "ttl" or "none"'],
  ])('rejects %j at %s', (input, path, message) => {
    // Act
    const result = ipsetOptionsSchema.safeParse(input);

    // Assess
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    expect(issue.path.join('.')).toBe(path);
    expect(issue.message).toContain(message);
  });
});
