/**
 * Crash safety: a worker (or sweeper) "process" is killed at random step
 * boundaries — before the intent, after the intent, after the provider call,
 * before the ack — across many random schedules. Killed means killed: after
 * the kill the dead process cannot touch the store, the queue or the device
 * (no finally block releases a lease, nothing is acked). A new process then
 * picks up over the same durable state; messages are re-delivered after
 * their visibility timeout. After re-delivery and sweeps, each device must
 * hold exactly the blocks of the still-active incidents and nothing else.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeJob } from '../../lib/engine/job.ts';
import { processJob } from '../../lib/engine/worker.ts';
import type { Checkpoint } from '../../lib/engine/types.ts';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import { eventDedupId, eventGroupId } from '../../lib/planner/event-key.ts';
import { SqliteJobQueue } from '../../lib/queue/sqlite.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { ManualClock } from '../helpers/clock.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { SWITCH_KEY } from '../../lib/model/types.ts';
import { switchRecord } from '../../lib/planner/plan-switch.ts';
import { KillSwitch, SimulatedCrash } from '../helpers/kill-switch.ts';
import { MemoryBlocklist, MemorySwitch } from '../helpers/memory-provider.ts';

const POOL = publicIps(10);
const T0 = Date.parse('2026-01-01T00:00:00Z');
const VISIBILITY_MS = 60_000;
const crashesAt = new Map<string, number>();

interface IncidentPlan {
  start: number[];
  updates: number[][];
  ends: boolean;
}

const incidentArb: fc.Arbitrary<IncidentPlan> = fc.record({
  start: fc.uniqueArray(fc.integer({ min: 0, max: POOL.length - 1 }), { minLength: 1, maxLength: 5 }),
  updates: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: POOL.length - 1 }), { maxLength: 4 }), { maxLength: 2 }),
  ends: fc.boolean(),
});

const scheduleArb = fc.record({
  incidents: fc.array(incidentArb, { minLength: 1, maxLength: 4 }),
  /** Keys that order the deliveries: a random interleaving, incl. out of order within an incident. */
  orderKeys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 16, maxLength: 16 }),
  duplicates: fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 3 }),
  seed: fc.integer(),
  crashRate: fc.constantFrom(0.1, 0.25, 0.4),
});

type Schedule = typeof scheduleArb extends fc.Arbitrary<infer S> ? S : never;

function buildDeliveries(schedule: Schedule): FlowtriqEvent[] {
  const events: FlowtriqEvent[] = [];
  schedule.incidents.forEach((plan, i) => {
    const uuid = `inc-${i}`;
    const base = T0 + i * 1_000;
    events.push(attackEvent({ type: 'attack_start', uuid, at: base, ips: plan.start.map((n) => POOL[n]!) }));
    plan.updates.forEach((ips, k) =>
      events.push(attackEvent({ type: 'attack_update', uuid, at: base + 100 * (k + 1), ips: ips.map((n) => POOL[n]!) })),
    );
    if (plan.ends) events.push(attackEvent({ type: 'attack_end', uuid, at: base + 900 }));
  });
  const ordered = events
    .map((event, index) => ({ event, key: schedule.orderKeys[index % schedule.orderKeys.length]! + index * 1e-9 }))
    .sort((a, b) => a.key - b.key)
    .map((item) => item.event);
  for (const index of schedule.duplicates) if (ordered[index]) ordered.push(ordered[index]!);
  return ordered;
}

/** What must be on the devices once everything settled: an independent model of the rules. */
function expectedState(deliveries: FlowtriqEvent[]) {
  const incidents = new Map<string, { lastAt: number; ended: boolean; ips: Set<string>; holdsSwitch: boolean }>();
  for (const event of deliveries) {
    const uuid = event.incident!.uuid;
    const at = Date.parse(event.timestamp);
    const state = incidents.get(uuid) ?? { lastAt: -Infinity, ended: false, ips: new Set<string>(), holdsSwitch: false };
    incidents.set(uuid, state);
    if (at < state.lastAt) continue;
    if (state.ended && event.event_type !== 'attack_end') continue;
    state.lastAt = at;
    if (event.event_type === 'attack_end') {
      state.ended = true;
      state.ips.clear();
      state.holdsSwitch = false;
    } else {
      for (const source of event.incident!.top_src_ips ?? []) state.ips.add(source.ip);
      state.holdsSwitch = true;
    }
  }
  const ips = new Set<string>();
  let switchActive = false;
  for (const state of incidents.values()) {
    for (const ip of state.ips) ips.add(ip);
    switchActive ||= state.holdsSwitch;
  }
  return { ips: [...ips].sort(), switchActive };
}

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function runSchedule(schedule: Schedule) {
  const clock = new ManualClock(T0 + 1_000);
  const store = SqliteStateStore.open(':memory:');
  const queue = SqliteJobQueue.open(':memory:', { now: clock.now, maxReceives: 10_000 });
  const fw = new MemoryBlocklist('fw', { maxBatch: 3 });
  const scrub = new MemorySwitch('scrub');
  scrub.holdDownMs = 60_000; // restores wait a quiet minute: crashes land inside the hold-down too
  const random = mulberry32(schedule.seed);
  const deliveries = buildDeliveries(schedule);
  try {
    for (const event of deliveries) {
      await queue.send({ groupId: eventGroupId(event), dedupId: eventDedupId(event), body: encodeJob(event, clock.now()) });
    }

    let processId = 0;
    const newProcess = (crashing: boolean) => {
      const kill = new KillSwitch();
      processId += 1;
      const checkpoint = (point: Checkpoint) => {
        if (crashing && random() < schedule.crashRate) {
          crashesAt.set(point, (crashesAt.get(point) ?? 0) + 1);
          kill.kill(point);
        }
      };
      const harness = createHarness({
        store,
        providers: [kill.wrap(fw), kill.wrap(scrub)],
        integrations: { fw: { ttl: '30d' }, scrub: { ttl: '30d' } },
        clock,
        checkpoint,
        owner: `process-${processId}`,
        wrapStore: (inner) => kill.wrap(inner),
      });
      return { harness, queue: kill.wrap(queue) };
    };

    let crashes = 0;
    for (let step = 0; step < 400; step += 1) {
      const crashing = crashes < 25;
      const { harness, queue: processQueue } = newProcess(crashing);
      try {
        if (random() < 0.2) {
          await harness.sweep();
          continue;
        }
        const [message] = await processQueue.receive({ max: 1, visibilityMs: VISIBILITY_MS });
        if (!message) {
          const stats = await queue.stats();
          if (stats.visible === 0 && stats.inFlight === 0) break;
          clock.advance(VISIBILITY_MS + 1_000);
          continue;
        }
        await processJob(message.body, { ...harness.engine.worker, leaseWaitMs: 0 });
        if (crashing && random() < schedule.crashRate) {
          crashesAt.set('before-ack', (crashesAt.get('before-ack') ?? 0) + 1);
          throw new SimulatedCrash('before-ack (queue)');
        }
        await processQueue.ack(message.receipt);
      } catch (error) {
        if (!(error instanceof SimulatedCrash)) throw error;
        crashes += 1;
        // The dead process's messages and leases come back only after their timeouts.
        clock.advance(130_000);
      }
    }
    expect((await queue.stats()).visible + (await queue.stats()).inFlight).toBe(0);

    // Sweeps with no more crashes until nothing is due.
    for (let sweepRound = 0; sweepRound < 20; sweepRound += 1) {
      const { harness } = newProcess(false);
      await harness.sweep();
      // Done when nothing falls due within the hour (a hold-down ends within it).
      if ((await store.dueIntegrations(clock.now() + 3_600_000)).length === 0) break;
      clock.advance(300_000);
    }

    const expected = expectedState(deliveries);
    expect([...fw.device].sort()).toEqual(expected.ips);
    expect(scrub.active).toBe(expected.switchActive);
    if (!expected.switchActive) expect(scrub.state).toEqual({ mode: 'normal', rules: ['allow 443', 'allow 22'] });
    // Never a lost snapshot: a switch left on still has the original state recorded, taken once, before any change.
    if (expected.switchActive) {
      const [held] = await store.getBlocks([{ integration: 'scrub', key: SWITCH_KEY }]);
      expect(switchRecord(held?.snapshot).snapshot?.state).toEqual({ mode: 'normal', rules: ['allow 443', 'allow 22'] });
    }
    expect(scrub.snapshots.every((snapshot) => !snapshot.alreadyActive)).toBe(true);
    // State agrees with the devices: every applied block is on the device, nothing failed, nothing due.
    const blocks = await store.listBlocks();
    expect(blocks.filter((b) => b.kind === 'ip' && b.actual === 'present').map((b) => b.key).sort()).toEqual(expected.ips);
    expect(blocks.filter((b) => b.lastError)).toEqual([]);
    expect(await store.dueIntegrations(clock.now())).toEqual([]);
  } finally {
    await queue.close();
    await store.close();
  }
}

describe('crash safety', () => {
  it('leaves exactly the blocks of still-active incidents after crashes at every step boundary', async () => {
    await fc.assert(fc.asyncProperty(scheduleArb, runSchedule), { numRuns: 150 });
  }, 240_000);

  afterAll(() => {
    // Every boundary was crashed at, many times, across the schedules.
    for (const point of ['before-intent', 'after-intent', 'after-provider', 'before-ack']) {
      expect(crashesAt.get(point) ?? 0, point).toBeGreaterThan(10);
    }
  });
});
