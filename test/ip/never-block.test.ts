import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress } from '../../lib/ip/address.ts';
import { cidrLast, parseCidr } from '../../lib/ip/cidr.ts';
import { InvalidNeverBlockEntryError } from '../../lib/ip/errors.ts';
import { BUILTIN_NEVER_BLOCK_V4, BUILTIN_NEVER_BLOCK_V6, createNeverBlockList } from '../../lib/ip/never-block.ts';

/**
 * The ranges the brief requires, written out independently of the code under
 * test: the property tests compare against node:net BlockList built from these.
 */
const REQUIRED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '255.255.255.255/32',
];
/** Never blockable in full (NAT64 and 6to4 depend on the embedded IPv4; see below). */
const REQUIRED_V6 = [
  '::/128',
  '::1/128',
  '64:ff9b:1::/48',
  '100::/64',
  '2001::/23',
  '2001:db8::/32',
  '3fff::/20',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];
/** Inside 2000::/3 but not blockable: the public generator must avoid these. */
const GLOBAL_UNICAST_EXCEPTIONS = ['2001::/23', '2001:db8::/32', '2002::/16', '3fff::/20'];

function oracle(entries: readonly string[], type: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [net = '', prefix = ''] = entry.split('/');
    list.addSubnet(net, Number(prefix), type);
  }
  return list;
}

function range(text: string): { min: bigint; max: bigint } {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`bad fixture ${text}`);
  return { min: parsed.cidr.network, max: cidrLast(parsed.cidr) };
}

const v4 = (value: bigint) => formatAddress({ family: 4, value });
const v6 = (value: bigint) => formatAddress({ family: 6, value });

/** A random IPv4 value inside one of the required ranges. */
const blockedV4 = fc.constantFrom(...REQUIRED_V4).chain((cidr) => fc.bigInt(range(cidr)));

describe('createNeverBlockList: built-in ranges', () => {
  const list = createNeverBlockList();

  it.each([
    ['10.1.2.3', 'private (10.0.0.0/8)'],
    ['172.31.255.255', 'private (172.16.0.0/12)'],
    ['192.168.1.1', 'private (192.168.0.0/16)'],
    ['127.0.0.1', 'loopback (127.0.0.0/8)'],
    ['0.1.2.3', 'this network (0.0.0.0/8)'],
    ['100.127.0.1', 'CGNAT shared address space (100.64.0.0/10)'],
    ['169.254.169.254', 'link-local (169.254.0.0/16)'],
    ['192.0.0.9', 'IETF protocol assignments (192.0.0.0/24)'],
    ['192.0.2.1', 'documentation (192.0.2.0/24)'],
    ['192.88.99.1', '6to4 relay anycast (192.88.99.0/24)'],
    ['198.19.0.1', 'benchmarking (198.18.0.0/15)'],
    ['239.255.255.250', 'multicast (224.0.0.0/4)'],
    ['255.255.255.255', 'broadcast (255.255.255.255/32)'],
    ['250.1.1.1', 'reserved (240.0.0.0/4)'],
    ['::', 'unspecified (::/128)'],
    ['::1', 'loopback (::1/128)'],
    ['::ffff:192.168.0.1', 'private (192.168.0.0/16)'],
    ['64:ff9b::a00:1', 'NAT64 (64:ff9b::/96) embeds 10.0.0.1: private (10.0.0.0/8)'],
    ['64:ff9b:1::1', 'NAT64 local-use (64:ff9b:1::/48)'],
    ['100::1', 'discard-only (100::/64)'],
    ['2001::1', 'IETF protocol assignments, incl. Teredo (2001::/23)'],
    ['2001:db8::1', 'documentation (2001:db8::/32)'],
    ['2002:7f00:1::1', '6to4 (2002::/16) embeds 127.0.0.1: loopback (127.0.0.0/8)'],
    ['3fff::1', 'documentation (3fff::/20)'],
    ['fd00::1', 'unique local (fc00::/7)'],
    ['fe80::1', 'link-local (fe80::/10)'],
    ['ff02::1', 'multicast (ff00::/8)'],
    ['fec0::1', 'reserved (outside global unicast 2000::/3)'],
    ['::1.2.3.4', 'reserved (outside global unicast 2000::/3)'],
  ])('refuses %s: %s', (ip, expected) => {
    // Act
    const result = list.check(ip);

    // Assess
    expect(result).toEqual({ ok: false, reason: expected });
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '198.51.99.255',
    '100.128.0.0',
    '2a00:1450::1',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows the public address %s',
    (ip) => {
      // Act
      const result = list.check(ip);

      // Assess
      expect(result).toEqual({ ok: true });
    },
  );

  it('refuses a string that is not an address, saying why', () => {
    // Act
    const result = list.check('1.2.3.4; /system reset');

    // Assess
    expect(result).toEqual({ ok: false, reason: 'invalid address: contains whitespace or control characters' });
  });

  it('publishes every range the brief requires', () => {
    // Act
    const published = [...BUILTIN_NEVER_BLOCK_V4, ...BUILTIN_NEVER_BLOCK_V6].map((entry) => entry.cidr);

    // Assess
    expect(published).toEqual(expect.arrayContaining([...REQUIRED_V4, ...REQUIRED_V6, '64:ff9b::/96', '2002::/16']));
  });
});

describe('createNeverBlockList: node addresses', () => {
  it("refuses the node's own address but not its neighbours by default", () => {
    // Prepare
    const list = createNeverBlockList({ nodeIps: ['8.8.4.4'], protectNodeSubnet: false });

    // Act
    const own = list.check('8.8.4.4');
    const neighbour = list.check('8.8.4.5');

    // Assess
    expect(own).toEqual({ ok: false, reason: "node's own address (8.8.4.4)" });
    expect(neighbour).toEqual({ ok: true });
  });

  it("refuses the node's /24 and /64 with protectNodeSubnet, naming the own address first", () => {
    // Prepare
    const list = createNeverBlockList({ nodeIps: ['8.8.4.4', '2a00:1450:4001:81c::200e'], protectNodeSubnet: true });

    // Act
    const results = ['8.8.4.4', '8.8.4.200', '8.8.5.1', '2a00:1450:4001:81c::1', '2a00:1450:4001:81d::1'].map((ip) =>
      list.check(ip),
    );

    // Assess
    expect(results).toEqual([
      { ok: false, reason: "node's own address (8.8.4.4)" },
      { ok: false, reason: "node's subnet (8.8.4.0/24)" },
      { ok: true },
      { ok: false, reason: "node's subnet (2a00:1450:4001:81c::/64)" },
      { ok: true },
    ]);
  });

  it('matches a mapped node address and mapped, NAT64 and 6to4 forms of the node', () => {
    // Prepare
    const list = createNeverBlockList({ nodeIps: ['::ffff:8.8.4.4'] });

    // Act
    const results = ['8.8.4.4', '::ffff:8.8.4.4', '64:ff9b::8.8.4.4', '2002:808:404::1'].map((ip) => list.check(ip));

    // Assess
    expect(results.every((result) => !result.ok)).toBe(true);
    expect(results[0]).toEqual({ ok: false, reason: "node's own address (8.8.4.4)" });
  });

  it('throws when a node address is not a single address', () => {
    // Act
    const act = () => createNeverBlockList({ nodeIps: ['8.8.4.4/24'] });

    // Assess
    expect(act).toThrow(InvalidNeverBlockEntryError);
    expect(act).toThrow(/node address "8\.8\.4\.4\/24" is invalid: contains a prefix length/);
  });
});

describe('createNeverBlockList: operator entries', () => {
  it('refuses operator prefixes and addresses, ahead of the built-in reason', () => {
    // Prepare
    const list = createNeverBlockList({ extra: ['9.9.9.0/24', '2a00:1450::/32', '1.1.1.1', '10.1.0.0/16'] });

    // Act
    const results = ['9.9.9.9', '2a00:1450::1', '1.1.1.1', '1.1.1.2', '10.1.2.3'].map((ip) => list.check(ip));

    // Assess
    expect(results).toEqual([
      { ok: false, reason: 'operator never-block 9.9.9.0/24' },
      { ok: false, reason: 'operator never-block 2a00:1450::/32' },
      { ok: false, reason: 'operator never-block 1.1.1.1/32' },
      { ok: true },
      { ok: false, reason: 'operator never-block 10.1.0.0/16' },
    ]);
  });

  it('treats a mapped operator prefix as the IPv4 prefix it denotes', () => {
    // Prepare
    const list = createNeverBlockList({ extra: ['::ffff:9.9.9.0/120'] });

    // Act
    const result = list.check('9.9.9.9');

    // Assess
    expect(result).toEqual({ ok: false, reason: 'operator never-block 9.9.9.0/24' });
  });

  it('applies an operator IPv6 prefix that covers mapped space to mapped addresses', () => {
    // Prepare
    const list = createNeverBlockList({ extra: ['::/64'] });

    // Act
    const result = list.check('::ffff:8.8.8.8');

    // Assess
    expect(result).toEqual({ ok: false, reason: 'operator never-block ::/64' });
    expect(list.check('8.8.8.8')).toEqual({ ok: true });
  });

  it.each([
    ['10.1.2.3/8', /"10\.1\.2\.3\/8" is invalid: host bits are set; write 10\.0\.0\.0\/8 .* or 10\.1\.2\.3\/32/],
    ['example.com', /"example\.com" is invalid: address is not an IPv4 or IPv6 address; write an IPv4 or IPv6/],
    ['10.0.0.0/33', /"10\.0\.0\.0\/33" is invalid: prefix length \/33 is out of range/],
    [' 10.0.0.0/8', /is invalid: address contains whitespace/],
  ])('throws a named error for the invalid operator entry %j', (entry, pattern) => {
    // Act
    let caught: unknown;
    try {
      createNeverBlockList({ extra: ['192.0.2.0/24', entry] });
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(InvalidNeverBlockEntryError);
    expect((caught as InvalidNeverBlockEntryError).entry).toBe(entry);
    expect((caught as InvalidNeverBlockEntryError).code).toBe('never_block_invalid');
    expect((caught as Error).message).toMatch(pattern);
  });
});

describe('properties', () => {
  const list = createNeverBlockList();
  const v4Oracle = oracle(REQUIRED_V4, 'ipv4');

  it('refuses every IPv4 address inside a required range, plain and IPv4-mapped', () => {
    fc.assert(
      fc.property(blockedV4, (value) => {
        // Act
        const plain = list.check(v4(value));
        const mapped = list.check(`::ffff:${v4(value)}`);

        // Assess
        expect(plain.ok).toBe(false);
        expect(mapped.ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses NAT64 and 6to4 addresses that embed a refused IPv4 address', () => {
    fc.assert(
      fc.property(blockedV4, fc.bigInt({ min: 0n, max: (1n << 80n) - 1n }), (value, low) => {
        // Prepare
        const nat64 = (0x64ff9bn << 96n) | value;
        const sixToFour = (0x2002n << 112n) | (value << 80n) | low;

        // Act
        const results = [list.check(v6(nat64)), list.check(v6(sixToFour))];

        // Assess
        expect(results.map((result) => result.ok)).toEqual([false, false]);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every IPv6 address inside a required IPv6 range or outside 2000::/3', () => {
    const inRequired = fc.constantFrom(...REQUIRED_V6).chain((cidr) => fc.bigInt(range(cidr)));
    const outsideGlobal = fc.oneof(
      fc.bigInt({ min: 0n, max: (0x2000n << 112n) - 1n }),
      fc.bigInt({ min: 0x4000n << 112n, max: (1n << 128n) - 1n }),
    );
    fc.assert(
      fc.property(fc.oneof(inRequired, outsideGlobal), (value) => {
        // Prepare
        const address = { family: 6 as const, value };
        const embedsPublicV4 =
          (value >> 32n === 0x64ff9bn << 64n && v4Oracle.check(v4(value & 0xffff_ffffn)) === false) ||
          (value >> 32n === 0xffffn && v4Oracle.check(v4(value & 0xffff_ffffn)) === false);
        fc.pre(!embedsPublicV4);

        // Act
        const result = list.check(address);

        // Assess
        expect(result.ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with an independent oracle on every IPv4 address', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 0xffff_ffffn }), blockedV4), (value) => {
        // Act
        const result = list.check(v4(value));

        // Assess
        expect(result.ok).toBe(!v4Oracle.check(v4(value), 'ipv4'));
      }),
      { numRuns: 5000 },
    );
  });

  it('allows random public addresses, including public IPv4 in mapped, NAT64 and 6to4 form', () => {
    const v6Exceptions = oracle(GLOBAL_UNICAST_EXCEPTIONS, 'ipv6');
    const publicV4 = fc.bigInt({ min: 0n, max: 0xffff_ffffn }).filter((value) => !v4Oracle.check(v4(value), 'ipv4'));
    const publicV6 = fc
      .bigInt({ min: 0x2000n << 112n, max: (0x4000n << 112n) - 1n })
      .filter((value) => !v6Exceptions.check(v6(value), 'ipv6'));
    const embedded = fc.tuple(publicV4, fc.bigInt({ min: 0n, max: (1n << 80n) - 1n })).chain(([value, low]) =>
      fc.constantFrom(
        `::ffff:${v4(value)}`,
        v6((0x64ff9bn << 96n) | value),
        v6((0x2002n << 112n) | (value << 80n) | low),
      ),
    );
    fc.assert(
      fc.property(fc.oneof(publicV4.map(v4), publicV6.map(v6), embedded), (ip) => {
        // Act
        const result = list.check(ip);

        // Assess
        expect(result).toEqual({ ok: true });
      }),
      { numRuns: 3000 },
    );
  });
});
