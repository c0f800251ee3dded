import { afterEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../../lib/providers/errors.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { ManualClock } from '../helpers/clock.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { MemoryBlocklist, MemorySwitch } from '../helpers/memory-provider.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function setup(options: Parameters<typeof createHarness>[0] extends infer O ? Partial<O> : never = {}) {
  const store = SqliteStateStore.open(':memory:');
  stores.push(store);
  const fw = new MemoryBlocklist('fw');
  const harness = createHarness({ store, providers: [fw], ...options });
  return { ...harness, fw };
}

describe('worker: events to blocks', () => {
  it('blocks the attackers of attack_start and removes exactly them on attack_end', async () => {
    // Prepare
    const { deliver, fw, clock, store } = setup();
    const ips = publicIps(20);
    // Act
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips }));
    const during = [...fw.device].sort();
    clock.advance(60_000);
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: clock.now() }));
    // Assess
    expect(during).toEqual([...ips].sort());
    expect(fw.device.size).toBe(0);
    expect(fw.calls.map((call) => [call.op, call.ips.length])).toEqual([
      ['add', 20],
      ['remove', 20],
    ]);
    expect(await store.listBlocks()).toEqual([]);
  });

  it('adds only the new IPs of an attack_update and leaves existing entries untouched', async () => {
    // Prepare
    const { deliver, fw, clock } = setup();
    const [a, b, c] = publicIps(3) as [string, string, string];
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: [a, b] }));
    clock.advance(5_000);
    // Act
    await deliver(attackEvent({ type: 'attack_update', uuid: 'inc-a', at: clock.now(), ips: [a, b, c] }));
    // Assess
    expect(fw.calls).toEqual([
      { op: 'add', ips: [a, b], resumed: [] },
      { op: 'add', ips: [c], resumed: [] },
    ]);
    expect([...fw.device].sort()).toEqual([a, b, c].sort());
  });

  it('keeps an IP shared by two incidents until the last one ends', async () => {
    // Prepare
    const { deliver, fw, clock } = setup();
    const [shared, onlyA, onlyB] = publicIps(3) as [string, string, string];
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: [shared, onlyA] }));
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-b', at: clock.now(), ips: [shared, onlyB] }));
    clock.advance(1_000);
    // Act
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: clock.now() }));
    const afterFirstEnd = [...fw.device].sort();
    clock.advance(1_000);
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-b', at: clock.now() }));
    // Assess
    expect(afterFirstEnd).toEqual([shared, onlyB].sort());
    expect(fw.device.size).toBe(0);
  });

  it('leaves no block when attack_end arrives before attack_start', async () => {
    // Prepare
    const { deliver, fw, clock, store } = setup();
    const start = attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(5) });
    const end = attackEvent({ type: 'attack_end', uuid: 'inc-a', at: clock.now() + 30_000 });
    // Act
    await deliver(end);
    const outcome = await deliver(start);
    // Assess
    expect(outcome).toMatchObject({ outcome: 'ignored' });
    expect(fw.calls).toEqual([]);
    expect(await store.listBlocks()).toEqual([]);
  });

  it('acts once on a re-delivered event', async () => {
    // Prepare
    const { deliver, fw, clock } = setup();
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(3) });
    await deliver(event);
    // Act
    const again = await deliver(event);
    // Assess
    expect(again).toEqual({ outcome: 'duplicate' });
    expect(fw.calls).toHaveLength(1);
  });

  it('never passes a never-block address to a provider', async () => {
    // Prepare
    const { deliver, fw, clock } = setup({ config: { blocking: { neverBlock: ['45.9.9.0/24'] } } });
    const ips = ['10.1.2.3', '127.0.0.1', '100.64.0.9', '192.0.2.10', '45.9.9.9', '::1', 'fe80::1', '45.0.0.1'];
    // Act
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips, node: { id: 1, name: 'n', ip_address: '45.0.0.1' } }));
    // Assess (45.0.0.1 is the node's own address)
    expect(fw.addedIps()).toEqual([]);
  });

  it('skips sources below the minimum confidence', async () => {
    // Prepare
    const { deliver, fw, clock } = setup();
    // Act
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(2), confidence: 79 }));
    // Assess
    expect(fw.calls).toEqual([]);
  });

  it('skips per-IP blocking for spoofed sources and logs why', async () => {
    // Prepare
    const { deliver, fw, clock, logger } = setup();
    // Act
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(2), spoofed: true }));
    // Assess
    expect(fw.calls).toEqual([]);
    const line = logger.lines.find((l) => l.message === 'intent recorded');
    expect(String(line?.attributes.ipBlockingSkipped)).toMatch(/spoof/);
  });

  it('caps the IPs held per incident across events', async () => {
    // Prepare
    const { deliver, fw, clock } = setup({ config: { blocking: { maxIpsPerIncident: 5 } } });
    const ips = publicIps(8);
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: ips.slice(0, 4) }));
    clock.advance(1_000);
    // Act
    await deliver(attackEvent({ type: 'attack_update', uuid: 'inc-a', at: clock.now(), ips }));
    // Assess
    expect(fw.device.size).toBe(5);
  });

  it('retries a removal that failed while the device was down, via the sweeper, after recovery', async () => {
    // Prepare
    const { deliver, fw, clock, sweep, store } = setup();
    const ips = publicIps(4);
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips }));
    fw.down = new ProviderError('connect ECONNREFUSED', { retryable: true });
    // Act
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: clock.now() + 1 }));
    const whileDown = await store.listBlocks();
    fw.down = undefined;
    clock.advance(60_000);
    await sweep();
    // Assess
    expect(whileDown.every((block) => block.lastError?.includes('ECONNREFUSED'))).toBe(true);
    expect(fw.device.size).toBe(0);
    expect(await store.listBlocks()).toEqual([]);
  });

  it('removes blocks whose TTL passed even if attack_end never comes', async () => {
    // Prepare
    const { deliver, fw, clock, sweep } = setup({ integrations: { fw: { ttl: '10m' } } });
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(3) }));
    // Act
    clock.advance(9 * 60_000);
    await sweep();
    const beforeExpiry = fw.device.size;
    clock.advance(61_000);
    await sweep();
    // Assess
    expect(beforeExpiry).toBe(3);
    expect(fw.device.size).toBe(0);
  });

  it('only acts on integrations whose match rules select the incident', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const web = new MemoryBlocklist('web');
    const game = new MemoryBlocklist('game');
    const { deliver, clock } = createHarness({
      store,
      providers: [web, game],
      integrations: { web: { match: { nodes: ['edge-1'] } }, game: { match: { nodes: ['game-1'], minSeverity: 'critical' } } },
    });
    // Act
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(2) }));
    // Assess
    expect(web.device.size).toBe(2);
    expect(game.calls).toEqual([]);
  });

  it('activates a switch once for overlapping incidents and restores the original state after the last ends', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const scrub = new MemorySwitch('scrub');
    const { deliver, clock } = createHarness({ store, providers: [scrub] });
    const original = structuredClone(scrub.state);
    // Act
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now() }));
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-b', at: clock.now() }));
    clock.advance(1_000);
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: clock.now() }));
    const afterFirst = scrub.active;
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-b', at: clock.now() }));
    // Assess
    expect(afterFirst).toBe(true);
    expect(scrub.active).toBe(false);
    expect(scrub.state).toEqual(original);
    expect(scrub.calls.map((call) => call.op)).toEqual(['activate', 'deactivate']);
  });

  it('counts a switch TTL from the first activation: updates do not extend it', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const scrub = new MemorySwitch('scrub');
    const { deliver, clock, sweep } = createHarness({ store, providers: [scrub], integrations: { scrub: { ttl: '10m' } } });
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now() }));
    clock.advance(8 * 60_000);
    await deliver(attackEvent({ type: 'attack_update', uuid: 'inc-a', at: clock.now() }));
    // Act
    clock.advance(2 * 60_000 + 1);
    await sweep();
    // Assess
    expect(scrub.active).toBe(false);
    expect(scrub.calls.map((call) => call.op)).toEqual(['activate', 'deactivate']);
  });

  it('runs every health check on a test event and changes nothing', async () => {
    // Prepare
    const { deliver, fw, clock } = setup();
    // Act
    const outcome = await deliver({ event_type: 'test', timestamp: new Date(clock.now()).toISOString() });
    // Assess
    expect(outcome).toEqual({ outcome: 'tested', healthy: 1, unhealthy: 0 });
    expect(fw.calls).toEqual([]);
  });

  it('reports blocks of an integration that is no longer configured instead of forgetting them', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const clock = new ManualClock();
    const fw = new MemoryBlocklist('fw');
    const before = createHarness({ store, providers: [fw], clock });
    await before.deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(2) }));
    const after = createHarness({ store, providers: [new MemoryBlocklist('other')], clock });
    // Act
    await after.deliver(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: clock.now() + 1 }));
    const summary = await after.sweep();
    // Assess
    expect(summary.integrations).toEqual([expect.objectContaining({ integration: 'fw', orphaned: true })]);
    expect(after.logger.lines.some((line) => line.level === 'error' && line.attributes.integration === 'fw')).toBe(true);
    expect(fw.device.size).toBe(2);
  });
});
