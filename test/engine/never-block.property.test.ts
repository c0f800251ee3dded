/**
 * End to end through the worker and reconciler: whatever a Flowtriq event
 * claims, no address on the never-block list ever reaches a provider. The
 * oracle is node:net's BlockList over the ranges the issue names, written
 * out here independently of lib/ip.
 */
import { BlockList } from 'node:net';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { attackEvent } from '../helpers/events.ts';
import { MemoryBlocklist } from '../helpers/memory-provider.ts';

const NODE_IP = '45.67.89.10';
const OPERATOR = ['81.2.69.0/24', '2a00:1450::/32'];
const V4 = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4], ['81.2.69.0', 24], ['192.88.99.0', 24],
] as const;
const V6 = [['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['2a00:1450::', 32]] as const;

const oracle = new BlockList();
for (const [network, prefix] of V4) oracle.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of V6) oracle.addSubnet(network, prefix, 'ipv6');
oracle.addAddress(NODE_IP, 'ipv4');

function protectedAddress(ip: string): boolean {
  if (ip.includes(':')) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    return mapped ? oracle.check(mapped[1]!, 'ipv4') : oracle.check(ip, 'ipv6');
  }
  return oracle.check(ip, 'ipv4');
}

const v4Text = (value: number) => [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
const v4In = (network: string, prefix: number) => {
  const base = network.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
  const size = 2 ** (32 - prefix);
  return fc.integer({ min: 0, max: size - 1 }).map((offset) => v4Text((base + offset) >>> 0));
};
const v6In = (prefixHex: string) =>
  fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }).map((groups) => `${prefixHex}${groups.map((g) => g.toString(16)).join(':')}`);

const protectedArb = fc.oneof(
  ...V4.map(([network, prefix]) => v4In(network, prefix)),
  fc.constant(NODE_IP),
  ...V4.map(([network, prefix]) => v4In(network, prefix).map((ip) => `::ffff:${ip}`)),
  v6In('fd12:3456:789a:1:'),
  v6In('fe80::'),
  v6In('ff02::'),
  v6In('2001:db8:1:2:'),
  v6In('2a00:1450:1:2:'),
  fc.constant('::1'),
);
const publicArb = fc.integer({ min: 0, max: 2 ** 32 - 1 }).map(v4Text).filter((ip) => !protectedAddress(ip));

const stores: SqliteStateStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

describe('never-block, end to end', () => {
  it('never passes a protected address to a provider, whatever the event carries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(protectedArb, publicArb), { minLength: 1, maxLength: 40 }), async (ips) => {
        // Prepare
        const store = SqliteStateStore.open(':memory:');
        stores.push(store);
        const fw = new MemoryBlocklist('fw');
        const { deliver, clock } = createHarness({ store, providers: [fw], config: { blocking: { neverBlock: OPERATOR } } });
        // Act
        await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: clock.now(), ips, node: { id: 1, name: 'edge', ip_address: NODE_IP } }));
        // Assess
        const reached = fw.addedIps();
        expect(reached.filter(protectedAddress)).toEqual([]);
        // …and the public ones did get through (the guard is not just blocking everything).
        const expectedPublic = new Set(ips.filter((ip) => !protectedAddress(ip)));
        expect(new Set(reached)).toEqual(expectedPublic);
      }),
      { numRuns: 200 },
    );
  }, 60_000);
});
