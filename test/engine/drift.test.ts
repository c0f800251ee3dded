import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { MemoryBlocklist } from '../helpers/memory-provider.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function setup() {
  const store = SqliteStateStore.open(':memory:');
  stores.push(store);
  const fw = new MemoryBlocklist('fw');
  return { ...createHarness({ store, providers: [fw], config: { sweeper: { driftCheck: '5m' } } }), fw };
}

describe('drift repair (sweeper)', () => {
  it('re-adds the blocks of an active incident after the device rebooted and lost them', async () => {
    // Prepare
    const { deliver, sweep, clock, fw } = setup();
    const ips = publicIps(5);
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips }));
    fw.device.clear(); // reboot: dynamic entries gone
    // Act
    const summary = await sweep();
    // Assess
    expect([...fw.device].sort()).toEqual([...ips].sort());
    expect(summary.drift).toEqual([{ integration: 'fw', reasserted: 5, removed: 0 }]);
  });

  it('never touches the operator\'s own entries in the same list, at drift or at attack_end', async () => {
    // Prepare: the operator keeps two permanent entries; one of them is also an attacker of the incident.
    const { deliver, sweep, clock, fw } = setup();
    fw.operator.add('46.9.9.1');
    fw.operator.add('46.9.9.2');
    const ips = [...publicIps(3), '46.9.9.2'];
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips }));

    // Act
    await sweep();
    clock.advance(6 * 60_000);
    fw.operator.add('46.9.9.3'); // added by hand during the attack
    await sweep();
    clock.advance(1_000);
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: clock.now() }));
    clock.advance(6 * 60_000);
    await sweep();

    // Assess
    expect([...fw.operator].sort()).toEqual(['46.9.9.1', '46.9.9.2', '46.9.9.3']);
    expect(fw.operatorTouched).toBe(0);
    expect(fw.device.size).toBe(0);
    expect(fw.duplicateAdds).toBe(0);
  });

  it('removes a relay entry that no incident holds', async () => {
    // Prepare
    const { deliver, sweep, clock, fw } = setup();
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(2) }));
    fw.device.add('46.1.2.3'); // left behind, e.g. by an older relay installation
    // Act
    await sweep();
    // Assess
    expect(fw.device.has('46.1.2.3')).toBe(false);
    expect(fw.device.size).toBe(2);
  });

  it('counts a failed comparison as a check: no retry every sweep (login protection)', async () => {
    // Prepare
    const { deliver, sweep, clock, fw } = setup();
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(1) }));
    const { ProviderError } = await import('../../lib/providers/errors.ts');
    fw.down = new ProviderError('401', { retryable: false, status: 401 });
    // Act
    const first = await sweep();
    const before = fw.listCalls;
    clock.advance(30_000);
    const second = await sweep();
    // Assess
    expect(first.errors).toEqual([expect.objectContaining({ integration: 'fw', error: expect.stringContaining('drift check') })]);
    expect(second.errors).toEqual([]);
    expect(before).toBe(1);
    expect(fw.listCalls).toBe(1);
  });

  it('compares each device at most once per drift interval', async () => {
    // Prepare
    const { deliver, sweep, clock, fw } = setup();
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(1) }));
    await sweep();
    fw.device.clear();
    // Act
    clock.advance(60_000);
    await sweep();
    const beforeInterval = fw.device.size;
    clock.advance(5 * 60_000);
    await sweep();
    // Assess
    expect(beforeInterval).toBe(0);
    expect(fw.device.size).toBe(1);
  });
});
