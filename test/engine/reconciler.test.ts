import { afterEach, describe, expect, it } from 'vitest';
import { Reconciler } from '../../lib/engine/reconciler.ts';
import { RETRY_MAX_MS } from '../../lib/planner/backoff.ts';
import { ProviderError } from '../../lib/providers/errors.ts';
import type { BlockEntry, EntryResult, IncidentFacts, ProviderContext } from '../../lib/providers/types.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { SAMPLE_INCIDENT_PREFIX, type HoldIntent } from '../../lib/model/types.ts';
import { ManualClock } from '../helpers/clock.ts';
import { publicIps } from '../helpers/events.ts';
import { MemoryBlocklist } from '../helpers/memory-provider.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function setup(provider: MemoryBlocklist) {
  const store = SqliteStateStore.open(':memory:');
  stores.push(store);
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const reconciler = new Reconciler(
    { store, providers: new Map([[provider.id, provider]]), logger, now: clock.now },
    { owner: 'me', sleep: async () => void clock.advance(25) },
  );
  const hold = (incident: string, ips: string[]) =>
    store.hold(
      ips.map((ip): HoldIntent => ({ integration: provider.id, key: ip, kind: 'ip', incident, expiresAt: clock.now() + 3_600_000 })),
      clock.now(),
    );
  return { store, clock, logger, reconciler, hold };
}

describe('Reconciler', () => {
  it('adds in batches no larger than the provider accepts', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw', { maxBatch: 2 });
    const { reconciler, hold } = setup(fw);
    await hold('inc-1', publicIps(5));
    // Act
    const summary = await reconciler.reconcile('fw', { trigger: 'inc-1' });
    // Assess
    expect(fw.calls.map((call) => call.ips.length)).toEqual([2, 2, 1]);
    expect(summary).toMatchObject({ added: 5, failed: 0, busy: false });
  });

  it('logs one line per batch with integration, incidents, count, outcome, latency and trigger', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    const { reconciler, hold, logger } = setup(fw);
    await hold('inc-1', publicIps(3));
    // Act
    await reconciler.reconcile('fw', { trigger: 'inc-1' });
    // Assess
    const line = logger.lines.find((l) => l.message === 'block add');
    expect(line?.attributes).toMatchObject({
      integration: 'fw',
      action: 'add',
      incidents: ['inc-1'],
      ipCount: 3,
      succeeded: 3,
      outcome: 'ok',
      trigger: 'inc-1',
    });
    expect(typeof line?.attributes.latencyMs).toBe('number');
  });

  it('leaves the work to the lease holder when another reconciler holds the lease', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    const { reconciler, hold, store, clock } = setup(fw);
    await hold('inc-1', publicIps(1));
    await store.acquireLease('reconcile#fw', 'someone-else', clock.now(), 60_000);
    // Act
    const busy = await reconciler.reconcile('fw', { waitMs: 0 });
    clock.advance(60_001);
    const later = await reconciler.reconcile('fw');
    // Assess
    expect(busy.busy).toBe(true);
    expect(later).toMatchObject({ busy: false, added: 1 });
    expect(fw.calls).toHaveLength(1);
  });

  it('records what the device did even when an intent changed the block during the call, then acts on the new intent', async () => {
    // Prepare: the incident ends while the add is in flight.
    const fw = new MemoryBlocklist('fw');
    const { reconciler, hold, store, clock } = setup(fw);
    const [ip] = publicIps(1) as [string];
    await hold('inc-1', [ip]);
    const add = fw.add.bind(fw);
    fw.add = async (entries: BlockEntry[], ctx: ProviderContext) => {
      const results = await add(entries, ctx);
      await store.release('inc-1', clock.now());
      return results;
    };
    // Act
    const summary = await reconciler.reconcile('fw');
    // Assess
    expect(summary.conflicts).toBeGreaterThan(0);
    expect(fw.calls.map((call) => call.op)).toEqual(['add', 'remove']);
    expect(fw.device.size).toBe(0);
    expect(await store.listBlocks()).toEqual([]);
  });

  it('keeps per-address failures apart from successes and retries them later', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    const { reconciler, hold, store, clock } = setup(fw);
    const [good, bad] = publicIps(2) as [string, string];
    await hold('inc-1', [good, bad]);
    const add = fw.add.bind(fw);
    fw.add = async (entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> => {
      const ok = await add(entries.filter((entry) => entry.ip !== bad), ctx);
      return [...ok, { ip: bad, ok: false, error: 'list is full' }];
    };
    // Act
    await reconciler.reconcile('fw');
    const [goodBlock, badBlock] = await store.getBlocks([{ integration: 'fw', key: good }, { integration: 'fw', key: bad }]);
    fw.add = add;
    clock.advance(2_001);
    await reconciler.reconcile('fw');
    // Assess
    expect(goodBlock).toMatchObject({ actual: 'present', attempts: 0 });
    expect(badBlock).toMatchObject({ attempts: 1, lastError: 'list is full', dueAt: clock.now() - 1 });
    expect(fw.device.has(bad)).toBe(true);
  });

  it('backs off to the longest delay after a failure retrying cannot fix', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    const { reconciler, hold, store, clock } = setup(fw);
    await hold('inc-1', publicIps(1));
    fw.down = new ProviderError('HTTP 401 from the device: check the credentials', { retryable: false, status: 401 });
    // Act
    const summary = await reconciler.reconcile('fw');
    // Assess
    const [block] = await store.listBlocks();
    expect(summary.failed).toBe(1);
    expect(block).toMatchObject({ attempts: 1, dueAt: clock.now() + RETRY_MAX_MS });
    expect(block?.lastError).toContain('401');
    expect(fw.calls).toHaveLength(1);
  });

  it('reports an integration that has due blocks but no provider, and calls nothing', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    const { reconciler, store, clock } = setup(fw);
    await store.hold([{ integration: 'gone', key: '45.0.0.1', kind: 'ip', incident: 'inc-1', expiresAt: clock.now() + 1_000 }], clock.now());
    // Act
    const summary = await reconciler.reconcile('gone');
    // Assess
    expect(summary.orphaned).toBe(true);
  });
});

describe('Reconciler: one writer per device', () => {
  it('never calls a device twice at once and merges the requests that wait into one batch', async () => {
    // Prepare: a slow device, and 20 incidents whose workers each ask for a pass at nearly the same time.
    const fw = new MemoryBlocklist('fw');
    fw.delayMs = 30;
    const { reconciler, hold } = setup(fw);
    const ips = publicIps(200);

    // Act
    const passes: Promise<unknown>[] = [];
    for (let n = 0; n < 20; n += 1) {
      await hold(`inc-${n}`, ips.slice(n * 10, n * 10 + 10));
      passes.push(reconciler.reconcile('fw', { trigger: `inc-${n}` }));
    }
    await Promise.all(passes);

    // Assess
    expect(fw.maxInFlight).toBe(1);
    expect(fw.duplicateAdds).toBe(0);
    expect(new Set(fw.addedIps()).size).toBe(200);
    expect(fw.addedIps()).toHaveLength(200);
    expect(fw.calls.length).toBeLessThanOrEqual(2);
  });

  it('runs drift repair and reconcile passes one after the other, never together', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    fw.delayMs = 20;
    const { reconciler, hold } = setup(fw);
    await hold('inc-1', publicIps(5));

    // Act
    await Promise.all([reconciler.reconcile('fw'), reconciler.repairDrift('fw'), reconciler.reconcile('fw'), reconciler.repairDrift('fw')]);

    // Assess
    expect(fw.maxInFlight).toBe(1);
    expect(fw.duplicateAdds).toBe(0);
  });

  it('tells when every pass has finished', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    fw.delayMs = 20;
    const { reconciler, hold } = setup(fw);
    await hold('inc-1', publicIps(3));
    let done = false;

    // Act
    void reconciler.reconcile('fw').then(() => {
      done = true;
    });
    await reconciler.idle();

    // Assess
    expect(done).toBe(true);
    expect(fw.device.size).toBe(3);
  });
});

describe('Reconciler: leases that expire in seconds', () => {
  it('renews its lease while a long device call runs, so nobody else takes it', async () => {
    // Prepare: a 150 ms lease and a 400 ms device call, on the real clock.
    const fw = new MemoryBlocklist('fw');
    fw.delayMs = 400;
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const reconciler = new Reconciler({ store, providers: new Map([[fw.id, fw]]), logger: new RecordingLogger(), now: Date.now }, { owner: 'me', leaseMs: 150 });
    await store.hold([{ integration: 'fw', key: '45.0.0.1', kind: 'ip', incident: 'inc-1', expiresAt: Date.now() + 60_000 }], Date.now());

    // Act
    const pass = reconciler.reconcile('fw');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stolen = await store.acquireLease('reconcile#fw', 'someone-else', Date.now(), 150);
    await pass;

    // Assess
    expect(stolen).toBe(false);
    expect(fw.device.has('45.0.0.1')).toBe(true);
  });

  it('aborts its device call when another process took the lease', async () => {
    // Prepare: the lease is taken from under the pass (as after a long stall of this process).
    const fw = new MemoryBlocklist('fw');
    fw.delayMs = 300;
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const reconciler = new Reconciler({ store, providers: new Map([[fw.id, fw]]), logger: new RecordingLogger(), now: Date.now }, { owner: 'me', leaseMs: 90 });
    await store.hold([{ integration: 'fw', key: '45.0.0.1', kind: 'ip', incident: 'inc-1', expiresAt: Date.now() + 60_000 }], Date.now());

    // Act
    const pass = reconciler.reconcile('fw');
    await new Promise((resolve) => setTimeout(resolve, 10));
    await store.releaseLease('reconcile#fw', 'me');
    await store.acquireLease('reconcile#fw', 'someone-else', Date.now(), 60_000);
    const summary = await pass;

    // Assess
    expect(fw.lastSignal?.aborted).toBe(true);
    expect(summary.failed).toBe(1);
    const [block] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.1' }]);
    expect(block?.actual).toBe('unknown');
  });
});

describe('Reconciler: ownership and resumed work', () => {
  it('records an address the operator already lists as present, not ours, and never removes it', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    fw.operator.add('45.0.0.7');
    const { reconciler, hold, store, clock } = setup(fw);
    await hold('inc-1', ['45.0.0.7', '45.0.0.8']);
    await reconciler.reconcile('fw');
    const [recorded] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.7' }]);

    // Act
    await store.release('inc-1', clock.now());
    await reconciler.reconcile('fw');

    // Assess
    expect(recorded).toMatchObject({ actual: 'present', foreign: true });
    expect(fw.calls.filter((call) => call.op === 'remove').flatMap((call) => call.ips)).toEqual(['45.0.0.8']);
    expect(fw.operator.has('45.0.0.7')).toBe(true);
    expect(fw.operatorTouched).toBe(0);
    const [forgotten] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.7' }]);
    expect(forgotten).toMatchObject({ actual: 'absent' });
    expect(forgotten?.foreign).toBeUndefined();
  });

  it('marks an entry resumed when an earlier call for it did not finish', async () => {
    // Prepare: the first attempt fails after being marked in flight.
    const fw = new MemoryBlocklist('fw');
    const { reconciler, hold, clock } = setup(fw);
    await hold('inc-1', ['45.0.0.1']);
    fw.down = new ProviderError('timeout', { retryable: true });
    await reconciler.reconcile('fw');
    fw.down = undefined;
    clock.advance(60_000);

    // Act
    await reconciler.reconcile('fw');

    // Assess
    expect(fw.calls.map((call) => call.resumed)).toEqual([[], ['45.0.0.1']]);
  });

  it('waits the Retry-After the device gave before trying again', async () => {
    // Prepare
    const fw = new MemoryBlocklist('fw');
    const { reconciler, hold, store, clock } = setup(fw);
    await hold('inc-1', ['45.0.0.1']);
    fw.down = new ProviderError('apply queue full', { retryable: true, retryAfterMs: 300_000 });

    // Act
    await reconciler.reconcile('fw');

    // Assess
    const [block] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.1' }]);
    expect(block?.dueAt).toBe(clock.now() + 300_000);
  });
});

describe('Reconciler: deferred commits and wake-ups', () => {
  /** A device that holds back the commit of the first batch it sees (as pfSense spaces its reloads). */
  class DeferringBlocklist extends MemoryBlocklist {
    deferNext = true;
    override async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
      const results = await super.add(entries, ctx);
      if (!this.deferNext) return results;
      this.deferNext = false;
      return results.map((result) => ({ ip: result.ip, ok: false, error: 'written; reload deferred', retryAfterMs: 150, deferred: true }));
    }
  }

  it('keeps a deferred entry in flight without counting a failure or showing an error', async () => {
    // Prepare
    const fw = new DeferringBlocklist('fw');
    const { reconciler, hold, store, clock } = setup(fw);
    await hold('inc-1', ['45.0.0.1']);

    // Act
    const summary = await reconciler.reconcile('fw');

    // Assess
    expect(summary).toMatchObject({ added: 0, failed: 0, deferred: 1 });
    const [block] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.1' }]);
    expect(block).toMatchObject({ actual: 'unknown', attempts: 0, dueAt: clock.now() + 150 });
    expect(block?.lastError).toBeUndefined();
  });

  it('with wakeUp, comes back by itself when a deferred entry falls due, as a resumed call', async () => {
    // Prepare: the real clock, no sweeper, nobody asks again.
    const fw = new DeferringBlocklist('fw');
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const reconciler = new Reconciler({ store, providers: new Map([[fw.id, fw]]), logger: new RecordingLogger(), now: Date.now }, { owner: 'me', wakeUp: true });
    await store.hold([{ integration: 'fw', key: '45.0.0.1', kind: 'ip', incident: 'inc-1', expiresAt: Date.now() + 60_000 }], Date.now());

    // Act
    await reconciler.reconcile('fw');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await reconciler.idle();
    reconciler.close();

    // Assess
    const [block] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.1' }]);
    expect(block?.actual).toBe('present');
    expect(fw.calls.map((call) => call.resumed)).toEqual([[], ['45.0.0.1']]);
  });

  it('without wakeUp (Lambda), leaves the retry to the sweeper', async () => {
    // Prepare
    const fw = new DeferringBlocklist('fw');
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const reconciler = new Reconciler({ store, providers: new Map([[fw.id, fw]]), logger: new RecordingLogger(), now: Date.now }, { owner: 'me' });
    await store.hold([{ integration: 'fw', key: '45.0.0.1', kind: 'ip', incident: 'inc-1', expiresAt: Date.now() + 60_000 }], Date.now());

    // Act
    await reconciler.reconcile('fw');
    await new Promise((resolve) => setTimeout(resolve, 400));

    // Assess
    expect(fw.calls).toHaveLength(1);
  });
});

/** A device whose entries carry no mark: it asks the relay to record what it is about to write (ProviderContext.beforeWrite). */
class UnmarkedBlocklist extends MemoryBlocklist {
  /** Runs between the relay's in-flight mark and the write-ahead (e.g. an intent arriving meanwhile). */
  beforeNote: (() => Promise<void>) | undefined;
  /** Fails the call right after the write-ahead, as a crash or a lost answer would. */
  failAfterNote = false;
  readonly seen: BlockEntry[][] = [];

  override async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    this.seen.push(entries.map((entry) => ({ ...entry })));
    await this.beforeNote?.();
    await ctx.beforeWrite?.(entries.filter((entry) => !this.device.has(entry.ip)).map((entry) => entry.ip));
    const results = await super.add(entries, ctx);
    if (this.failAfterNote) throw new ProviderError('the answer was lost', { retryable: true });
    return results;
  }
}

describe('Reconciler: write-ahead for devices without entry marks', () => {
  it('records "absent just before the write" durably; a cut-off call passes it on to the retry, and the outcome clears it', async () => {
    // Prepare
    const fw = new UnmarkedBlocklist('fw');
    fw.failAfterNote = true;
    const { reconciler, hold, store, clock } = setup(fw);
    const [ip] = publicIps(1) as [string];
    await hold('inc-1', [ip]);

    // Act
    await reconciler.reconcile('fw');
    const [afterCutOff] = await store.getBlocks([{ integration: 'fw', key: ip }]);
    fw.failAfterNote = false;
    clock.advance(RETRY_MAX_MS);
    await reconciler.reconcile('fw');
    const [afterRetry] = await store.getBlocks([{ integration: 'fw', key: ip }]);

    // Assess
    expect(afterCutOff).toMatchObject({ actual: 'unknown', foreign: false, attempts: 1 });
    expect(fw.seen[1]).toEqual([expect.objectContaining({ ip, resumed: true, absentBeforeWrite: true })]);
    expect(afterRetry?.actual).toBe('present');
    expect(afterRetry?.foreign ?? undefined).toBeUndefined();
  });

  it('writes nothing when an intent changed the block before the write-ahead, and writes in the next round', async () => {
    // Prepare: a second incident holds the same address just as the device is about to be written.
    const fw = new UnmarkedBlocklist('fw');
    const { reconciler, hold, store } = setup(fw);
    const [ip] = publicIps(1) as [string];
    await hold('inc-1', [ip]);
    fw.beforeNote = async () => {
      fw.beforeNote = undefined;
      await hold('inc-2', [ip]);
    };

    // Act
    const summary = await reconciler.reconcile('fw');
    const [block] = await store.getBlocks([{ integration: 'fw', key: ip }]);

    // Assess: the provider was asked twice but wrote once, in the round after the conflict.
    expect(summary.conflicts).toBeGreaterThan(0);
    expect(fw.seen).toHaveLength(2);
    expect(fw.calls.filter((call) => call.op === 'add')).toHaveLength(1);
    expect(block).toMatchObject({ actual: 'present', holders: ['inc-1', 'inc-2'] });
    expect(fw.duplicateAdds).toBe(0);
  });
});

describe('Reconciler: incident facts for providers that describe incidents', () => {
  it('lets a provider look up the incident of a block, with the sample flag of relay send-test', async () => {
    // Prepare
    const seen: (IncidentFacts | undefined)[] = [];
    class Describing extends MemoryBlocklist {
      override async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
        for (const entry of entries) seen.push(await ctx.incident?.(entry.incidents[0]!));
        return super.add(entries, ctx);
      }
    }
    const fw = new Describing('fw');
    const { reconciler, hold, store, clock } = setup(fw);
    const [a, b] = publicIps(2) as [string, string];
    const base = { status: 'active' as const, lastEventAt: clock.now(), lastEventType: 'attack_start', firstSeenAt: clock.now(), updatedAt: clock.now() };
    await store.putIncident({ ...base, uuid: 'inc-1', family: 'udp_flood', severity: 'high', startedAt: '2026-12-04T10:00:00Z', peakPps: 120_000, node: { name: 'web-1', ip: '203.0.113.10' } });
    await store.putIncident({ ...base, uuid: `${SAMPLE_INCIDENT_PREFIX}x` });
    await hold('inc-1', [a]);
    await hold(`${SAMPLE_INCIDENT_PREFIX}x`, [b]);

    // Act
    await reconciler.reconcile('fw');

    // Assess: the facts Flowtriq sent, nothing of the node.
    expect(seen).toEqual([
      { uuid: 'inc-1', status: 'active', family: 'udp_flood', severity: 'high', startedAt: '2026-12-04T10:00:00Z', peakPps: 120_000, sample: false },
      { uuid: `${SAMPLE_INCIDENT_PREFIX}x`, status: 'active', sample: true },
    ]);
  });
});

describe('Reconciler: devices that expire entries by themselves', () => {
  it('adds a present block again when another incident holds it (the device is told the later expiry), and only then', async () => {
    // Prepare: a device with kernel-style timeouts.
    class Expiring extends MemoryBlocklist {
      readonly refreshOnHold = true;
      readonly expiries: number[][] = [];
      readonly refreshes: boolean[] = [];
      override async add(entries: BlockEntry[], _ctx: ProviderContext): Promise<EntryResult[]> {
        this.expiries.push(entries.map((entry) => entry.expiresAt));
        this.refreshes.push(...entries.map((entry) => entry.refresh === true));
        return entries.map((entry) => ({ ip: entry.ip, ok: true as const }));
      }
    }
    const fw = new Expiring('fw');
    const { reconciler, hold, clock, store } = setup(fw);
    const [ip] = publicIps(1) as [string];
    await hold('inc-1', [ip]);
    await reconciler.reconcile('fw');
    const first = fw.expiries.length;

    // Act: nothing new → no call; an update a minute later → no call; a second incident 30 minutes later → the longer expiry is written.
    await reconciler.reconcile('fw');
    clock.advance(60_000);
    await hold('inc-1', [ip]);
    await reconciler.reconcile('fw');
    clock.advance(29 * 60_000);
    await hold('inc-2', [ip]);
    await reconciler.reconcile('fw');
    const [block] = await store.getBlocks([{ integration: 'fw', key: ip }]);

    // Assess
    expect(first).toBe(1);
    expect(fw.expiries).toHaveLength(2);
    expect(fw.expiries[1]![0]).toBe(block!.expiresAt);
    expect(fw.expiries[1]![0]! - fw.expiries[0]![0]!).toBe(30 * 60_000);
    expect(block).toMatchObject({ actual: 'present', holders: ['inc-1', 'inc-2'] });
    expect(fw.refreshes).toEqual([false, true]);
  });
});
