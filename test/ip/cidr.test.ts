import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from '../../lib/ip/address.ts';
import type { IpAddress } from '../../lib/ip/address.ts';
import { cidrContains, cidrLast, cidrOf, formatCidr, parseCidr } from '../../lib/ip/cidr.ts';
import type { Cidr } from '../../lib/ip/cidr.ts';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`expected ${text} to parse: ${parsed.reason}`);
  return parsed.cidr;
}

function address(text: string): IpAddress {
  const parsed = parseAddress(text);
  if (!parsed.ok) throw new Error(`expected ${text} to parse: ${parsed.reason}`);
  return parsed.address;
}

describe('parseCidr', () => {
  it('reads a bare address as a host prefix', () => {
    // Act
    const v4 = cidr('192.0.2.7');
    const v6 = cidr('2001:db8::7');

    // Assess
    expect(formatCidr(v4)).toBe('192.0.2.7/32');
    expect(formatCidr(v6)).toBe('2001:db8::7/128');
  });

  it('formats prefixes canonically', () => {
    // Act
    const formatted = ['10.0.0.0/8', '2001:0DB8:0000::/32', '::/0', '0.0.0.0/0', 'fe80::/10'].map((text) =>
      formatCidr(cidr(text)),
    );

    // Assess
    expect(formatted).toEqual(['10.0.0.0/8', '2001:db8::/32', '::/0', '0.0.0.0/0', 'fe80::/10']);
  });

  it('rejects host bits by default and offers both readings', () => {
    // Act
    const result = parseCidr('10.1.2.3/8');

    // Assess
    expect(result).toEqual({
      ok: false,
      reason: 'host bits are set; write 10.0.0.0/8 for the whole network or 10.1.2.3/32 for the single address',
    });
    expect(parseCidr('2001:db8::1/32')).toMatchObject({ ok: false, reason: expect.stringMatching(/2001:db8::\/32/) });
  });

  it('clears host bits when asked to', () => {
    // Act
    const result = parseCidr('10.1.2.3/8', { hostBits: 'clear' });

    // Assess
    expect(result.ok && formatCidr(result.cidr)).toBe('10.0.0.0/8');
  });

  it.each([
    ['10.0.0.0/33', /out of range for IPv4/],
    ['::/129', /out of range for IPv6/],
    ['10.0.0.0/08', /without leading zeros/],
    ['10.0.0.0/', /must be a number/],
    ['10.0.0.0/8/8', /must be a number/],
    ['10.0.0.0/ 8', /must be a number/],
    ['10.0.0.0/-1', /must be a number/],
    [' 10.0.0.0/8', /address contains whitespace/],
    ['010.0.0.0/8', /leading zero/],
    ['fe80::%1/64', /zone id/],
    ['/8', /address is empty/],
  ])('rejects %j', (text, pattern) => {
    // Act
    const result = parseCidr(text);

    // Assess
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(pattern) });
  });

  it('keeps an IPv4-mapped prefix as IPv6', () => {
    // Act
    const mapped = cidr('::ffff:10.0.0.0/104');

    // Assess
    expect(mapped.family).toBe(6);
    expect(formatCidr(mapped)).toBe('::ffff:10.0.0.0/104');
  });
});

describe('cidrContains, cidrOf, cidrLast', () => {
  it('contains exactly the addresses between the network and the last address', () => {
    // Prepare
    const range = cidr('198.51.100.0/24');

    // Act
    const inside = ['198.51.100.0', '198.51.100.255'].map((text) => cidrContains(range, address(text)));
    const outside = ['198.51.99.255', '198.51.101.0'].map((text) => cidrContains(range, address(text)));

    // Assess
    expect(inside).toEqual([true, true]);
    expect(outside).toEqual([false, false]);
    expect(formatAddress({ family: 4, value: cidrLast(range) })).toBe('198.51.100.255');
  });

  it('never matches across families, mapped addresses included', () => {
    // Act
    const result = cidrContains(cidr('10.0.0.0/8'), address('::ffff:10.0.0.1'));

    // Assess
    expect(result).toBe(false);
  });

  it('computes the enclosing /24 and /64 of an address', () => {
    // Act
    const v4 = cidrOf(address('203.0.113.77'), 24);
    const v6 = cidrOf(address('2001:db8:1:2:3:4:5:6'), 64);

    // Assess
    expect(formatCidr(v4)).toBe('203.0.113.0/24');
    expect(formatCidr(v6)).toBe('2001:db8:1:2::/64');
    expect(() => cidrOf(address('1.2.3.4'), 33)).toThrow(RangeError);
  });

  it('agrees with node:net BlockList on random prefixes and addresses', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.constant(4 as const), fc.bigInt({ min: 0n, max: 0xffff_ffffn }), fc.integer({ min: 0, max: 32 })),
          fc.tuple(
            fc.constant(6 as const),
            fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
            fc.integer({ min: 0, max: 128 }),
          ),
        ),
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        ([family, base, prefix], noise) => {
          // Prepare: an address near the prefix (flip the host bits and the last network bit)
          const range = cidrOf({ family, value: base }, prefix);
          const bits = family === 4 ? 32 : 128;
          const mask = (1n << BigInt(bits)) - 1n;
          const probe = { family, value: (base ^ (noise & (mask >> BigInt(Math.max(0, prefix - 1))))) & mask };
          fc.pre(family === 4 || (probe.value >> 32n) !== 0xffffn); // BlockList matches mapped v6 against v4 rules
          const oracle = new BlockList();
          oracle.addSubnet(formatAddress({ family, value: range.network }), prefix, family === 4 ? 'ipv4' : 'ipv6');

          // Act
          const ours = cidrContains(range, probe);

          // Assess
          expect(ours).toBe(oracle.check(formatAddress(probe), family === 4 ? 'ipv4' : 'ipv6'));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
