import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress, normalizeAddress } from '../../lib/ip/address.ts';
import type { SourceCandidate } from '../../lib/ip/extract.ts';
import { createNeverBlockList } from '../../lib/ip/never-block.ts';
import { CAP_REASON, selectIps } from '../../lib/ip/select.ts';
import type { SelectionPolicy } from '../../lib/ip/select.ts';

const HOSTILE = [
  '1.2.3.4; /system reset',
  '1.2.3.4\n',
  '$(reboot)',
  '1.2.3.4 && reboot',
  '`reboot`',
  '1.2.3.4/0',
  '1.2.3.4|sh',
  "1.2.3.4' or '1'='1",
  'fe80::1%eth0',
  '::ffff:1.2.3.4\r\n/system reset',
  '',
  'x'.repeat(500),
];

const policy: SelectionPolicy = { minConfidence: 80, acceptUnscored: true, maxIps: 1000 };
const neverBlock = createNeverBlockList({ nodeIps: ['45.0.0.10'], protectNodeSubnet: true, extra: ['9.9.9.0/24'] });

describe('selectIps', () => {
  it('selects scored sources at or above the minimum and skips the rest with the score', () => {
    // Prepare
    const candidates = [
      { ip: '45.1.1.1', confidence: 80 },
      { ip: '45.1.1.2', confidence: 79.5 },
    ];

    // Act
    const result = selectIps({ candidates, policy, neverBlock, alreadyHeld: 0 });

    // Assess
    expect(result).toEqual({
      selected: ['45.1.1.1'],
      skipped: [{ ip: '45.1.1.2', reason: 'confidence 79.5 below minimum 80' }],
    });
  });

  it('accepts unscored sources only when acceptUnscored is on', () => {
    // Prepare
    const candidates = [{ ip: '45.1.1.1' }];

    // Act
    const accepted = selectIps({ candidates, policy, neverBlock, alreadyHeld: 0 });
    const refused = selectIps({ candidates, policy: { ...policy, acceptUnscored: false }, neverBlock, alreadyHeld: 0 });

    // Assess
    expect(accepted.selected).toEqual(['45.1.1.1']);
    expect(refused).toEqual({
      selected: [],
      skipped: [{ ip: '45.1.1.1', reason: 'unscored (acceptUnscored is off)' }],
    });
  });

  it('skips never-block addresses with the list’s reason', () => {
    // Prepare
    const candidates = [
      { ip: '10.0.0.1', confidence: 99 },
      { ip: '45.0.0.10', confidence: 99 },
      { ip: '45.0.0.11', confidence: 99 },
      { ip: '9.9.9.9', confidence: 99 },
    ];

    // Act
    const result = selectIps({ candidates, policy, neverBlock, alreadyHeld: 0 });

    // Assess
    expect(result).toEqual({
      selected: [],
      skipped: [
        { ip: '10.0.0.1', reason: 'private (10.0.0.0/8)', neverBlock: true },
        { ip: '45.0.0.10', reason: "node's own address (45.0.0.10)", neverBlock: true },
        { ip: '45.0.0.11', reason: "node's subnet (45.0.0.0/24)", neverBlock: true },
        { ip: '9.9.9.9', reason: 'operator never-block 9.9.9.0/24', neverBlock: true },
      ],
    });
  });

  it('skips invalid and hostile strings with the parser’s reason', () => {
    // Prepare
    const candidates = [
      { ip: '01.2.3.4', confidence: 99 },
      { ip: '1.2.3.4; /system reset', confidence: 99 },
    ];

    // Act
    const result = selectIps({ candidates, policy, neverBlock, alreadyHeld: 0 });

    // Assess
    expect(result).toEqual({
      selected: [],
      skipped: [
        { ip: '01.2.3.4', reason: expect.stringMatching(/^invalid address: IPv4 part "01" has a leading zero/) },
        { ip: '1.2.3.4; /system reset', reason: 'invalid address: contains whitespace or control characters' },
      ],
    });
  });

  it('shortens very long invalid strings in the skipped list', () => {
    // Prepare
    const candidates = [{ ip: 'a'.repeat(5000) }];

    // Act
    const result = selectIps({ candidates, policy, neverBlock, alreadyHeld: 0 });

    // Assess
    expect(result.skipped[0]?.ip).toHaveLength(101);
  });

  it('skips a score that is not a finite number instead of treating it as unscored', () => {
    // Prepare
    const candidates = [{ ip: '45.1.1.1', confidence: Number.NaN }];

    // Act
    const result = selectIps({ candidates, policy, neverBlock, alreadyHeld: 0 });

    // Assess
    expect(result).toEqual({ selected: [], skipped: [{ ip: '45.1.1.1', reason: 'invalid confidence score' }] });
  });

  it('outputs canonical addresses and merges forms of one address, keeping the better score', () => {
    // Prepare
    const candidates = [
      { ip: '::ffff:45.1.1.1', confidence: 50 },
      { ip: '45.1.1.1', confidence: 95 },
      { ip: '2A00:1450:0:0::1', confidence: 90 },
      { ip: '2a00:1450::1', confidence: 10 },
    ];

    // Act
    const result = selectIps({ candidates, policy, neverBlock, alreadyHeld: 0 });

    // Assess
    expect(result).toEqual({ selected: ['45.1.1.1', '2a00:1450::1'], skipped: [] });
  });

  it('fills the room left by alreadyHeld with the best sources and skips the rest as cap', () => {
    // Prepare
    const candidates = [
      { ip: '45.1.1.1', confidence: 85, count: 10 },
      { ip: '45.1.1.2' },
      { ip: '45.1.1.3', confidence: 99, count: 1 },
      { ip: '45.1.1.4', confidence: 85, count: 500 },
      { ip: '45.1.1.5', confidence: 85, count: 10 },
    ];

    // Act
    const result = selectIps({ candidates, policy: { ...policy, maxIps: 10 }, neverBlock, alreadyHeld: 7 });

    // Assess
    expect(result.selected).toEqual(['45.1.1.3', '45.1.1.4', '45.1.1.1']);
    expect(result.skipped).toEqual([
      { ip: '45.1.1.5', reason: CAP_REASON },
      { ip: '45.1.1.2', reason: CAP_REASON },
    ]);
  });

  it('selects nothing when the incident already holds its maximum, or the numbers are nonsense', () => {
    // Prepare
    const candidates = [{ ip: '45.1.1.1', confidence: 99 }];

    // Act
    const full = selectIps({ candidates, policy: { ...policy, maxIps: 5 }, neverBlock, alreadyHeld: 9 });
    const nonsense = selectIps({ candidates, policy, neverBlock, alreadyHeld: Number.NaN });

    // Assess
    expect(full).toEqual({ selected: [], skipped: [{ ip: '45.1.1.1', reason: 'cap' }] });
    expect(nonsense.selected).toEqual([]);
  });
});

describe('properties', () => {
  const publicV4 = fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => formatAddress({ family: 4, value: BigInt(n) }));
  const anyV6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => formatAddress({ family: 6, value: v }));
  const specialV4 = fc.constantFrom(
    ...['10.0.0.1', '127.0.0.1', '192.168.1.1', '45.0.0.10', '45.0.0.99', '9.9.9.9', '255.255.255.255'],
  );
  const ipText = fc.oneof(
    publicV4,
    publicV4.map((ip) => `::ffff:${ip}`),
    publicV4.map((ip) => `::FFFF:${ip}`),
    anyV6,
    specialV4,
    specialV4.map((ip) => `::ffff:${ip}`),
    fc.constantFrom(...HOSTILE),
    publicV4.chain((ip) => fc.constantFrom(`${ip}; /system reset`, `${ip}\n`, ` ${ip}`, `${ip}/32`, `$(${ip})`)),
    fc.string({ maxLength: 50 }),
  );
  const candidate: fc.Arbitrary<SourceCandidate> = fc.record(
    {
      ip: ipText,
      confidence: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })),
      count: fc.nat(),
    },
    { requiredKeys: ['ip'] },
  );
  const input = fc.record({
    candidates: fc.array(candidate, { maxLength: 60 }),
    policy: fc.record({
      minConfidence: fc.integer({ min: 0, max: 100 }),
      acceptUnscored: fc.boolean(),
      maxIps: fc.integer({ min: 1, max: 40 }),
    }),
    alreadyHeld: fc.integer({ min: 0, max: 50 }),
  });

  it('never selects a never-block address, never exceeds the cap, and outputs canonical unique addresses', () => {
    fc.assert(
      fc.property(input, ({ candidates, policy: p, alreadyHeld }) => {
        // Act
        const { selected, skipped } = selectIps({ candidates, policy: p, neverBlock, alreadyHeld });

        // Assess
        expect(selected.length).toBeLessThanOrEqual(Math.max(0, p.maxIps - alreadyHeld));
        expect(new Set(selected).size).toBe(selected.length);
        for (const ip of selected) {
          expect(neverBlock.check(ip)).toEqual({ ok: true });
          expect(normalizeAddress(ip)).toMatchObject({ ok: true, canonical: ip });
        }
        // Every candidate is accounted for: selected or skipped, by canonical form or raw text.
        const accounted = new Set([...selected, ...skipped.map((entry) => entry.ip)]);
        for (const c of candidates) {
          const normalized = normalizeAddress(c.ip);
          const key = normalized.ok ? normalized.canonical : c.ip.length > 100 ? `${c.ip.slice(0, 100)}…` : c.ip;
          expect(accounted.has(key)).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('always skips hostile strings, whatever their score or the policy', () => {
    fc.assert(
      fc.property(
        input,
        fc.constantFrom(...HOSTILE),
        fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
        ({ candidates, policy: p }, hostile, confidence) => {
          // Prepare
          const evil: SourceCandidate = confidence === undefined ? { ip: hostile } : { ip: hostile, confidence };

          // Act
          const { selected, skipped } = selectIps({
            candidates: [evil, ...candidates],
            policy: { ...p, minConfidence: 0, acceptUnscored: true },
            neverBlock,
            alreadyHeld: 0,
          });

          // Assess
          const shown = hostile.length > 100 ? `${hostile.slice(0, 100)}…` : hostile;
          expect(selected.every((ip) => /^[0-9a-f:.]+$/.test(ip))).toBe(true);
          expect(skipped.find((entry) => entry.ip === shown)?.reason).toMatch(/^invalid address: /);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('selects exactly the eligible sources when there is room for all of them', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(publicV4, fc.integer({ min: 0, max: 100 })), { maxLength: 30 }), (pairs) => {
        // Prepare
        const candidates = pairs.map(([ip, confidence]) => ({ ip, confidence }));
        const expected = new Set(
          pairs.filter(([ip, confidence]) => confidence >= 50 && neverBlock.check(ip).ok).map(([ip]) => ip),
        );

        // Act
        const { selected } = selectIps({
          candidates,
          policy: { minConfidence: 50, acceptUnscored: false, maxIps: 100 },
          neverBlock,
          alreadyHeld: 0,
        });

        // Assess
        expect(new Set(selected)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
