import { afterEach, describe, expect, it } from 'vitest';
import { activateSwitch, manualHolder, testIntegration, withdrawSwitch } from '../../lib/cli/switch-controls.ts';
import { RelayError } from '../../lib/errors.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { MemoryBlocklist, MemorySwitch } from '../helpers/memory-provider.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function setup() {
  const store = SqliteStateStore.open(':memory:');
  stores.push(store);
  const scrub = new MemorySwitch('scrub');
  scrub.holdDownMs = 15 * 60_000;
  const fw = new MemoryBlocklist('fw');
  const harness = createHarness({ store, providers: [scrub, fw], integrations: { scrub: { ttl: '2h' } } });
  return { ...harness, scrub, fw };
}

describe('relay activate / withdraw', () => {
  it('activate turns a switch on as a manual hold; withdraw restores it at once, without the hold-down', async () => {
    // Prepare
    const { engine, scrub, clock, store } = setup();
    const original = structuredClone(scrub.state);

    // Act
    const on = await activateSwitch(engine, 'scrub', clock.now());
    const holders = (await store.getBlocks([{ integration: 'scrub', key: '@switch' }]))[0]?.holders;
    const off = await withdrawSwitch(engine, 'scrub', clock.now());

    // Assess
    expect(on.ok).toBe(true);
    expect(on.lines[0]).toMatch(/^scrub: on \(manual hold until .+; relay withdraw scrub ends it\)$/);
    expect(holders).toEqual([manualHolder('scrub')]);
    expect(off).toEqual({ ok: true, lines: expect.arrayContaining(['scrub: restored']) });
    expect(scrub.state).toEqual(original);
  });

  it('a manual hold outlives the incidents: their end does not turn the switch off', async () => {
    // Prepare
    const { engine, scrub, clock, deliver, sweep } = setup();
    await activateSwitch(engine, 'scrub', clock.now());
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: clock.now(), ips: publicIps(1) }));

    // Act
    await deliver(attackEvent({ type: 'attack_end', uuid: 'inc-1', at: clock.now() + 1 }));
    clock.advance(30 * 60_000);
    await sweep();

    // Assess
    expect(scrub.active).toBe(true);
  });

  it('withdraw refuses while an incident holds the switch, naming it; --force restores anyway', async () => {
    // Prepare
    const { engine, scrub, clock, deliver } = setup();
    await deliver(attackEvent({ type: 'attack_start', uuid: 'inc-7', at: clock.now(), ips: publicIps(1) }));

    // Act
    const refused = await withdrawSwitch(engine, 'scrub', clock.now());
    const stillOn = scrub.active;
    const forced = await withdrawSwitch(engine, 'scrub', clock.now(), { force: true });

    // Assess
    expect(refused.ok).toBe(false);
    expect(refused.lines[0]).toBe('refused: 1 incident(s) still hold scrub: inc-7');
    expect(stillOn).toBe(true);
    expect(forced.ok).toBe(true);
    expect(forced.lines[0]).toBe('scrub: restored (forced while inc-7 still held it)');
    expect(scrub.active).toBe(false);
  });

  it('withdraw of a switch that is off says so and calls nothing', async () => {
    const { engine, scrub, clock } = setup();
    expect(await withdrawSwitch(engine, 'scrub', clock.now())).toEqual({ ok: true, lines: ['scrub: not on; nothing to withdraw'] });
    expect(scrub.calls).toEqual([]);
  });

  it('names the switch integrations when given a blocklist or an unknown id', async () => {
    const { engine, clock } = setup();
    await expect(activateSwitch(engine, 'fw', clock.now())).rejects.toThrow(/integration "fw" is a blocklist \(memory\); activate and withdraw apply to switch integrations \(scrub\)/);
    await expect(withdrawSwitch(engine, 'nope', clock.now())).rejects.toThrow(RelayError);
    await expect(withdrawSwitch(engine, 'nope', clock.now())).rejects.toThrow(/no enabled integration "nope".*switch integrations: scrub/);
  });
});

describe('relay test', () => {
  it('runs the health check and, for a switch, shows what it would save, changing nothing', async () => {
    // Prepare
    const { engine, scrub } = setup();
    const before = structuredClone(scrub.state);

    // Act
    const result = await testIntegration(engine, 'scrub');

    // Assess
    expect(result).toEqual({ ok: true, lines: ['scrub (memory-switch): healthy: memory switch', 'now: mode normal'] });
    expect(scrub.state).toEqual(before);
    expect(scrub.calls).toEqual([]);
  });
});
