import { afterEach, describe, expect, it } from 'vitest';
import { Reconciler } from '../../lib/engine/reconciler.ts';
import { RETRY_MAX_MS } from '../../lib/planner/backoff.ts';
import { ProviderError } from '../../lib/providers/errors.ts';
import type { BlockEntry, EntryResult, ProviderContext } from '../../lib/providers/types.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import type { HoldIntent } from '../../lib/model/types.ts';
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
