import { afterEach, describe, expect, it } from 'vitest';
import { drainIncidents } from '../../lib/engine/drain.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { MemoryBlocklist, MemorySwitch } from '../helpers/memory-provider.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe('drainIncidents', () => {
  it('ends every active incident and the next sweep withdraws all blocks and activations', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const fw = new MemoryBlocklist('fw');
    const scrub = new MemorySwitch('scrub');
    const { deliver, sweep, clock } = createHarness({ store, providers: [fw, scrub] });
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(3) }));
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-b', at: clock.now(), ips: publicIps(2, 46) }));
    // Act
    const drained = await drainIncidents(store, clock.now());
    await sweep();
    // Assess
    expect(drained.incidents.sort()).toEqual(['inc-a', 'inc-b']);
    expect(fw.device.size).toBe(0);
    expect(scrub.active).toBe(false);
    expect(await store.listBlocks()).toEqual([]);
    expect(await store.listIncidents({ status: 'active' })).toEqual([]);
  });

  it('makes a late update of a drained incident change nothing', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const fw = new MemoryBlocklist('fw');
    const { deliver, clock } = createHarness({ store, providers: [fw] });
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: clock.now(), ips: publicIps(1) }));
    await drainIncidents(store, clock.now() + 1_000);
    // Act
    const outcome = await deliver(attackEvent({ type: 'attack_update', uuid: 'inc-a', at: clock.now() + 500, ips: publicIps(2, 47) }));
    // Assess
    expect(outcome.outcome).toBe('ignored');
  });
});
