/** Options of the `nftables` integration: defaults, and messages that name the fix. */
import { describe, expect, it } from 'vitest';
import { nftablesOptionsSchema } from '../../../lib/providers/nftables/config.ts';

describe('nftablesOptionsSchema', () => {
  it('defaults to table inet flowtriq with sets flowtriq_v4 / flowtriq_v6, TTL timeouts and the relay comment', () => {
    // Act
    const options = nftablesOptionsSchema.parse({});

    // Assess
    expect(options).toEqual({
      family: 'inet',
      table: 'flowtriq',
      ipv4Set: 'flowtriq_v4',
      ipv6Set: 'flowtriq_v6',
      comment: 'flowtriq-relay',
      elementTimeout: 'ttl',
      timeout: 10_000,
    });
  });

  it.each([
    [{ table: 'bad name' }, 'table', 'must start with a letter'],
    [{ ipv4Set: '4set' }, 'ipv4Set', 'must start with a letter'],
    [{ ipv6Set: 'x"; flush ruleset' }, 'ipv6Set', 'must start with a letter'],
    [{ comment: 'two words' }, 'comment', 'use 1–64 letters'],
    [{ comment: 'a"b' }, 'comment', 'use 1–64 letters'],
    [{ family: 'arp' }, 'family', 'must be one of inet, ip, ip6, netdev, bridge'],
    [{ elementTimeout: 'forever' }, 'elementTimeout', 'must be "ttl" or "none"'],
    [{ ipv4Set: 'same', ipv6Set: 'same' }, 'ipv6Set', 'must differ from ipv4Set'],
    [{ timeout: '5m' }, 'timeout', 'out of range'],
    [{ extra: true }, '', 'extra'],
  ])('rejects %j at %s', (input, path, message) => {
    // Act
    const result = nftablesOptionsSchema.safeParse(input);

    // Assess
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    expect(issue.path.join('.')).toBe(path);
    expect(`${issue.message} ${JSON.stringify(issue)}`).toContain(message);
  });
});
