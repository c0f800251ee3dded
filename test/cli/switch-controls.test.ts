import { afterEach, describe, expect, it } from 'vitest';
import { activateSwitch, manualHolder, recordSwitchControl, testIntegration, withdrawSwitch } from '../../lib/cli/switch-controls.ts';
import { parseConfig } from '../../lib/config/load.ts';
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

describe('relay activate / withdraw --aws (a deployed stage: intents only, its sweeper does the work)', () => {
  function stage() {
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const config = parseConfig({
      integrations: [
        { id: 'scrub', type: 'dry-run', ttl: '2h', options: { kind: 'switch' } },
        { id: 'fw', type: 'dry-run' },
      ],
    });
    return { store, config };
  }

  it('activate records a manual hold until the TTL; withdraw expires it now and lets go of it', async () => {
    // Prepare
    const { store, config } = stage();
    const now = Date.parse('2030-01-01T00:00:00Z');
    // Act
    const on = await recordSwitchControl(store, config, 'activate', 'scrub', now);
    const [held] = await store.getBlocks([{ integration: 'scrub', key: '@switch' }]);
    const off = await recordSwitchControl(store, config, 'withdraw', 'scrub', now + 1_000);
    const [released] = await store.getBlocks([{ integration: 'scrub', key: '@switch' }]);
    // Assess
    expect(on.lines[0]).toBe('scrub: manual hold recorded until 2030-01-01T02:00:00.000Z');
    expect(held).toMatchObject({ holders: [manualHolder('scrub')], expiresAt: now + 7_200_000, dueAt: now });
    expect(off.lines[0]).toBe('scrub: withdraw recorded');
    expect(released).toMatchObject({ holders: [], expiresAt: now + 1_000, dueAt: now + 1_000 });
  });

  it('withdraw refuses while an incident holds the switch, naming it, unless forced', async () => {
    // Prepare
    const { store, config } = stage();
    await store.hold([{ incident: 'inc-9', integration: 'scrub', key: '@switch', kind: 'switch', expiresAt: 10_000_000 }], 1_000);
    // Act
    const refused = await recordSwitchControl(store, config, 'withdraw', 'scrub', 2_000);
    const forced = await recordSwitchControl(store, config, 'withdraw', 'scrub', 2_000, { force: true });
    // Assess
    expect(refused).toMatchObject({ ok: false, lines: ['refused: 1 incident(s) still hold scrub: inc-9', expect.any(String)] });
    expect(forced.lines[0]).toBe('scrub: withdraw recorded (forced while inc-9 still held it)');
  });

  it('names the switch integrations for a blocklist, an unknown or a disabled id', async () => {
    const { store, config } = stage();
    await expect(recordSwitchControl(store, config, 'activate', 'fw', 0)).rejects.toThrow(/integration "fw" is a blocklist \(dry-run\); activate and withdraw apply to switch integrations \(scrub\)/);
    await expect(recordSwitchControl(store, config, 'activate', 'nope', 0)).rejects.toThrow(/no enabled integration "nope" in the configuration; switch integrations: scrub/);
  });
});
