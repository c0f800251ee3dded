/**
 * The switch machinery through the worker and the sweeper (engine harness,
 * real SQLite state, a switch "device" in memory): snapshot first, holds,
 * hold-down, restore only what the relay changed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SWITCH_KEY } from '../../lib/model/types.ts';
import { collectStatus, formatStatus } from '../../lib/cli/status.ts';
import { switchRecord } from '../../lib/planner/plan-switch.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { MemorySwitch } from '../helpers/memory-provider.ts';

const HOLD = 15 * 60_000;
const stores: SqliteStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function setup(options: { holdDownMs?: number; ttl?: string } = {}) {
  const store = SqliteStateStore.open(':memory:');
  stores.push(store);
  const scrub = new MemorySwitch('scrub');
  scrub.holdDownMs = options.holdDownMs ?? HOLD;
  const harness = createHarness({ store, providers: [scrub], integrations: { scrub: { ttl: options.ttl ?? '1d' } } });
  const record = async () => switchRecord((await store.getBlocks([{ integration: 'scrub', key: SWITCH_KEY }]))[0]?.snapshot);
  const start = (uuid: string) => harness.deliver(attackEvent({ type: 'attack_start', uuid, at: harness.clock.now(), ips: publicIps(1) }));
  const end = (uuid: string) => harness.deliver(attackEvent({ type: 'attack_end', uuid, at: harness.clock.now() + 1 }));
  return { ...harness, scrub, record, start, end };
}

describe('switch machinery', () => {
  it('stores the original state before turning the switch on', async () => {
    // Prepare
    const { scrub, record, start } = setup();
    const original = structuredClone(scrub.state);

    // Act
    await start('inc-1');

    // Assess
    expect(scrub.active).toBe(true);
    const stored = await record();
    expect(stored.snapshot).toEqual({ state: original, alreadyActive: false, summary: 'mode normal' });
    expect(stored.activation).toMatchObject({ confirmed: true, applied: { mode: 'lockdown' } });
  });

  it('stays on while another incident holds it, and restores exactly after the hold-down once both have ended', async () => {
    // Prepare
    const { scrub, start, end, sweep, clock } = setup();
    const original = structuredClone(scrub.state);
    await start('inc-a');
    await start('inc-b');

    // Act
    await end('inc-a');
    const afterFirstEnd = scrub.active;
    await end('inc-b');
    const afterSecondEnd = scrub.active;
    clock.advance(HOLD - 1_000);
    await sweep();
    const justBeforeHoldDown = scrub.active;
    clock.advance(1_000);
    await sweep();

    // Assess
    expect([afterFirstEnd, afterSecondEnd, justBeforeHoldDown]).toEqual([true, true, true]);
    expect(scrub.active).toBe(false);
    expect(scrub.state).toEqual(original);
    expect(scrub.calls.map((call) => call.op)).toEqual(['activate', 'deactivate']);
  });

  it('keeps the switch on with no provider call when a new incident comes during the hold-down', async () => {
    // Prepare
    const { scrub, start, end, sweep, clock, record } = setup();
    await start('inc-a');
    await end('inc-a');
    clock.advance(5 * 60_000);

    // Act
    await start('inc-b');
    clock.advance(HOLD);
    await sweep();

    // Assess
    expect(scrub.active).toBe(true);
    expect(scrub.calls.map((call) => call.op)).toEqual(['activate']);
    expect((await record()).quietSince).toBeUndefined();
  });

  it('never turns off a switch that was already on before the relay came', async () => {
    // Prepare: the operator had locked the device down before the attack.
    const { scrub, start, end, sweep, clock } = setup({ holdDownMs: 0 });
    scrub.state = { mode: 'lockdown', rules: ['allow 22', 'allow 8443'] };
    const before = structuredClone(scrub.state);

    // Act
    await start('inc-1');
    await end('inc-1');
    clock.advance(60_000);
    await sweep();

    // Assess
    expect(scrub.state).toEqual(before);
    expect(scrub.calls).toEqual([]);
  });

  it('leaves alone a change someone made behind its back, and reports it in status', async () => {
    // Prepare
    const { scrub, start, end, store, clock } = setup({ holdDownMs: 0 });
    await start('inc-1');
    scrub.state = { mode: 'lockdown', rules: ['allow 22', 'allow 9000'] }; // an admin opened a port meanwhile
    const edited = structuredClone(scrub.state);

    // Act
    await end('inc-1');
    const report = await collectStatus(store, { stats: async () => ({ visible: 0, inFlight: 0, dead: 0 }) }, clock.now());

    // Assess
    expect(scrub.state).toEqual(edited);
    expect(report.notices).toEqual([expect.objectContaining({ integration: 'scrub', message: expect.stringContaining('changed by someone else during the attack') })]);
    expect(formatStatus(report, clock.now())).toContain('Notices: 1');
    expect(await store.dueIntegrations(clock.now() + 3_600_000)).toEqual([]);
  });

  it('looks again at an activation the provider has not confirmed yet, without a second snapshot, and shows when it was confirmed', async () => {
    // Prepare: an asynchronous provider (an advertisement takes minutes).
    const { scrub, start, sweep, clock, store } = setup();
    scrub.pendingChecks = 2;

    // Act
    await start('inc-1');
    const [pending] = await store.getBlocks([{ integration: 'scrub', key: SWITCH_KEY }]);
    for (let n = 0; n < 2; n += 1) {
      clock.advance(1_000);
      await sweep();
    }
    const [confirmed] = await store.getBlocks([{ integration: 'scrub', key: SWITCH_KEY }]);
    const report = await collectStatus(store, { stats: async () => ({ visible: 0, inFlight: 0, dead: 0 }) }, clock.now());

    // Assess
    expect(pending).toMatchObject({ actual: 'unknown', attempts: 0 });
    expect(pending?.lastError).toBeUndefined();
    expect(confirmed?.actual).toBe('present');
    expect(scrub.snapshots).toHaveLength(1);
    expect(scrub.calls.map((call) => call.op)).toEqual(['activate', 'activate', 'activate']);
    expect(formatStatus(report, clock.now())).toMatch(/set: lockdown \(confirmed 1970-01-01T00:00:00.000Z\)/);
  });

  it('never outlives its TTL: restored when it runs out even though the incident never ended', async () => {
    // Prepare
    const { scrub, start, sweep, clock } = setup({ ttl: '10m' });
    const original = structuredClone(scrub.state);
    await start('inc-1');

    // Act
    clock.advance(10 * 60_000);
    await sweep();

    // Assess
    expect(scrub.state).toEqual(original);
  });
});
