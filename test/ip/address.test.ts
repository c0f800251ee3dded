import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatAddress,
  isIpv4Mapped,
  normalizeAddress,
  parseAddress,
  unmapAddress,
} from '../../lib/ip/address.ts';

function value(text: string): bigint {
  const parsed = parseAddress(text);
  if (!parsed.ok) throw new Error(`expected ${text} to parse: ${parsed.reason}`);
  return parsed.address.value;
}

function reason(text: string): string {
  const parsed = parseAddress(text);
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
  return parsed.reason;
}

/** Renders 8 groups as IPv6 text in a random but valid way: case, leading zeros, `::`, dotted tail. */
const ipv6Text = fc
  .record({
    groups: fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    }),
    upper: fc.boolean(),
    padded: fc.boolean(),
    dottedTail: fc.boolean(),
    compressAt: fc.nat(),
  })
  .map(({ groups, upper, padded, dottedTail, compressAt }) => {
    const hex = (g: number) => {
      const text = padded ? g.toString(16).padStart(4, '0') : g.toString(16);
      return upper ? text.toUpperCase() : text;
    };
    const parts: string[] = groups.map(hex);
    let tokens = parts;
    if (dottedTail) {
      const hi = groups[6] ?? 0;
      const lo = groups[7] ?? 0;
      tokens = [...parts.slice(0, 6), `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`];
    }
    // Zero runs among the hex groups (never the dotted tail) that "::" could replace.
    const hexCount = dottedTail ? 6 : 8;
    const runs: [number, number][] = [];
    for (let i = 0; i < hexCount; i++) {
      if (groups[i] !== 0) continue;
      for (let j = i + 1; j <= hexCount && groups[j - 1] === 0; j++) runs.push([i, j]);
    }
    let text = tokens.join(':');
    if (runs.length > 0) {
      const run = runs[compressAt % (runs.length + 1)];
      if (run) text = `${tokens.slice(0, run[0]).join(':')}::${tokens.slice(run[1]).join(':')}`;
    }
    const expected = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
    return { text, expected };
  });

describe('parseAddress: IPv4', () => {
  it('accepts a dotted quad and formats it back unchanged', () => {
    // Prepare
    const inputs = ['0.0.0.0', '1.2.3.4', '255.255.255.255', '198.51.100.7'];

    // Act
    const formatted = inputs.map((text) => formatAddress({ family: 4, value: value(text) }));

    // Assess
    expect(formatted).toEqual(inputs);
    expect(value('1.2.3.4')).toBe(0x01020304n);
  });

  it('rejects leading zeros, which some stacks read as octal', () => {
    // Act
    const why = reason('01.2.3.4');

    // Assess
    expect(why).toMatch(/leading zero/);
    expect(reason('1.2.3.010')).toMatch(/leading zero/);
    expect(reason('1.2.3.00')).toMatch(/leading zero/);
  });

  it.each([
    ['1.2.3', /4 dot-separated parts/],
    ['1.2.3.4.5', /4 dot-separated parts/],
    ['1..3.4', /empty part/],
    ['1.2.3.4.', /empty part|4 dot-separated parts/],
    ['256.1.1.1', /out of range/],
    ['1.2.3.1000', /longer than 3 digits/],
    ['0x1.2.3.4', /not an IPv4 or IPv6 address/],
    ['1.2.3.-4', /not an IPv4 or IPv6 address/],
    ['１.2.3.4', /not an IPv4 or IPv6 address/],
  ])('rejects malformed IPv4 %j', (text, pattern) => {
    // Act
    const why = reason(text);

    // Assess
    expect(why).toMatch(pattern);
  });
});

describe('parseAddress: IPv6', () => {
  it('reads compressed and expanded forms of one address as the same value', () => {
    // Prepare
    const forms = ['2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:DB8:0:0:0:0:0:1', '2001:db8:0::0:1'];

    // Act
    const values = forms.map(value);

    // Assess
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toBe(0x20010db8000000000000000000000001n);
  });

  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8::A', '2001:db8::a'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::102:304', '::102:304'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
  ])('formats %s per RFC 5952 as %s', (input, expected) => {
    // Act
    const formatted = formatAddress({ family: 6, value: value(input) });

    // Assess
    expect(formatted).toBe(expected);
  });

  it.each([
    ['1:::2', /"::" only once/],
    ['1::2::3', /"::" only once/],
    [':1::2', /empty group/],
    ['1::2:', /empty group/],
    ['1:2:3:4:5:6:7', /needs 8 groups/],
    ['1:2:3:4:5:6:7:8:9', /needs 8 groups/],
    ['1:2:3:4:5:6:7:8::', /too many groups/],
    ['::1:2:3:4:5:6:7:8', /too many groups/],
    ['12345::', /1–4 hex digits/],
    ['g::1', /not an IPv4 or IPv6 address/],
    ['1.2.3.4::', /embedded IPv4 part is invalid/],
    ['::ffff:1.2.3', /embedded IPv4 part is invalid/],
    ['::ffff:01.2.3.4', /leading zero/],
    ['1:2:3:4:5:6:7:1.2.3.4', /needs 6 groups/],
  ])('rejects malformed IPv6 %j', (text, pattern) => {
    // Act
    const why = reason(text);

    // Assess
    expect(why).toMatch(pattern);
  });
});

describe('parseAddress: hostile and out-of-scope input', () => {
  it.each([
    ['', /empty/],
    [' 1.2.3.4', /whitespace/],
    ['1.2.3.4 ', /whitespace/],
    ['1.2.3.4\n', /whitespace/],
    ['1.2.3.4\u0000', /control/],
    ['1.2.3.4; /system reset', /whitespace/],
    ['1.2.3.4;reboot', /not an IPv4 or IPv6 address/],
    ['$(reboot)', /not an IPv4 or IPv6 address/],
    ['fe80::1%eth0', /zone id/],
    ['10.0.0.0/8', /prefix length/],
    ['2001:db8::/32', /prefix length/],
    ['[::1]', /not an IPv4 or IPv6 address/],
    ['1.2.3.4'.padEnd(60, '0'), /too long/],
  ])('rejects %j with a reason instead of throwing', (text, pattern) => {
    // Act
    const why = reason(text);

    // Assess
    expect(why).toMatch(pattern);
  });

  it('rejects a value that is not a string at runtime', () => {
    // Act
    const result = parseAddress(42 as unknown as string);

    // Assess
    expect(result).toEqual({ ok: false, reason: 'is not a string' });
  });
});

describe('unmapAddress and normalizeAddress', () => {
  it('turns an IPv4-mapped IPv6 address into its IPv4 form', () => {
    // Act
    const normalized = normalizeAddress('::FFFF:1.2.3.4');

    // Assess
    expect(normalized).toEqual({ ok: true, address: { family: 4, value: 0x01020304n }, canonical: '1.2.3.4' });
    expect(normalizeAddress('::ffff:102:304')).toMatchObject({ canonical: '1.2.3.4' });
  });

  it('leaves other addresses, including NAT64 and IPv4-compatible ones, as IPv6', () => {
    // Prepare
    const nat64 = parseAddress('64:ff9b::1.2.3.4');
    const compatible = parseAddress('::1.2.3.4');
    if (!nat64.ok || !compatible.ok) throw new Error('fixture must parse');

    // Act
    const results = [unmapAddress(nat64.address), unmapAddress(compatible.address)];

    // Assess
    expect(results.map((a) => a.family)).toEqual([6, 6]);
    expect(isIpv4Mapped(nat64.address)).toBe(false);
  });

  it('passes a parse failure through with its reason', () => {
    // Act
    const normalized = normalizeAddress('1.2.3.4/32');

    // Assess
    expect(normalized).toEqual({ ok: false, reason: expect.stringMatching(/prefix length/) });
  });
});

describe('properties', () => {
  it('parses any rendering of an IPv6 address to the value it denotes', () => {
    fc.assert(
      fc.property(ipv6Text, ({ text, expected }) => {
        // Act
        const parsed = parseAddress(text);

        // Assess
        expect(parsed).toEqual({ ok: true, address: { family: 6, value: expected } });
      }),
      { numRuns: 2000 },
    );
  });

  it('formats every IPv6 value as the WHATWG URL serializer (RFC 5952 compressed) does', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.boolean(), (random, sparse) => {
        // Prepare: zero out some groups so that "::" runs are common
        const v = sparse ? random & 0xffff_0000_0000_ffff_0000_ffff_0000_0000n : random;
        const address = { family: 6 as const, value: v };
        fc.pre(!isIpv4Mapped(address));

        // Act
        const text = formatAddress(address);

        // Assess
        expect(`[${text}]`).toBe(new URL(`http://[${text}]/`).hostname);
        expect(parseAddress(text)).toEqual({ ok: true, address });
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every IPv4 value and agrees with node:net isIP', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffff_ffffn }), (v) => {
        // Act
        const text = formatAddress({ family: 4, value: v });

        // Assess
        expect(isIP(text)).toBe(4);
        expect(parseAddress(text)).toEqual({ ok: true, address: { family: 4, value: v } });
      }),
      { numRuns: 2000 },
    );
  });

  it('never accepts what node:net rejects, and rejects only zone ids that it accepts', () => {
    // Prepare: random strings over the address alphabet, and near-miss mutations of valid text
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:.%/ x'.split(''));
    const randomText = fc.string({ unit: alphabet, maxLength: 46 });
    const mutated = fc
      .tuple(ipv6Text, fc.nat(), fc.constantFrom(':', '.', '0', 'f', '::', '', '1.2.3.4', '%0'))
      .map(([{ text }, at, insert]) => {
        const i = at % (text.length + 1);
        return insert === '' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + insert + text.slice(i);
      });

    fc.assert(
      fc.property(fc.oneof(randomText, mutated), (text) => {
        // Act
        const ours = parseAddress(text).ok;

        // Assess
        expect(ours).toBe(isIP(text) !== 0 && !text.includes('%'));
      }),
      { numRuns: 5000 },
    );
  });
});
