/**
 * The decisions shared by the nftables and ipset providers
 * (lib/providers/nftables/kernel-set.ts), with a scripted backend: what is
 * written for which state of the set, and how failed writes end. The real
 * tools are exercised in provider.test.ts of both folders.
 */
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../lib/providers/errors.ts';
import {
  type AddOp,
  type ApplyOutcome,
  type Family,
  type KernelSetBackend,
  type RemoveOp,
  type SetElement,
  type SetView,
  ROUNDS,
  addEntries,
  listEntries,
  removeEntries,
  timeoutSeconds,
} from '../../../lib/providers/nftables/kernel-set.ts';
import type { ProviderContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';

class ScriptedBackend implements KernelSetBackend {
  reads = 0;
  adds: AddOp[][] = [];
  removes: RemoveOp[][] = [];
  elements = new Map<string, SetElement>();
  markable = true;
  addOutcomes: ApplyOutcome[] = [];
  removeOutcomes: ApplyOutcome[] = [];
  readFailsFrom = Infinity;

  put(ip: string, family: Family, owned: boolean, expiresIn?: number) {
    this.elements.set(ip, { ip, family, owned, ...(expiresIn === undefined ? {} : { expiresIn }) });
  }

  async read(): Promise<SetView> {
    this.reads += 1;
    if (this.reads >= this.readFailsFrom) throw new ProviderError('set vanished', { retryable: false });
    return { elements: new Map(this.elements), markable: this.markable };
  }

  async applyAdds(ops: readonly AddOp[]): Promise<ApplyOutcome> {
    this.adds.push([...ops]);
    return this.addOutcomes.shift() ?? { ok: true };
  }

  async applyRemoves(ops: readonly RemoveOp[]): Promise<ApplyOutcome> {
    this.removes.push([...ops]);
    return this.removeOutcomes.shift() ?? { ok: true };
  }
}

const clock = new ManualClock();
const policy = { timeouts: true, maxTimeoutSeconds: 2_147_483, now: clock.now };
const ctx = (): ProviderContext => ({ signal: new AbortController().signal, logger: new RecordingLogger() });
const block = (ip: string, seconds = 3600) => ({ ip, expiresAt: clock.now() + seconds * 1000, incidents: ['i'] });

describe('addEntries', () => {
  it('creates what is absent with the TTL as timeout, once per address even when the batch repeats it', async () => {
    // Prepare
    const backend = new ScriptedBackend();

    // Act
    const results = await addEntries(backend, [block('192.0.2.1', 600), block('2001:db8::1'), block('192.0.2.1', 1200)], policy, ctx());

    // Assess
    expect(backend.adds).toEqual([
      [
        { kind: 'create', ip: '192.0.2.1', family: 4, timeoutSeconds: 1200 },
        { kind: 'create', ip: '2001:db8::1', family: 6, timeoutSeconds: 3600 },
      ],
    ]);
    expect(results.every((result) => result.ok)).toBe(true);
  });

  it('writes nothing for its own element with enough time left, and refreshes one that would expire too early', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.put('192.0.2.1', 4, true, 3590);
    backend.put('192.0.2.2', 4, true, 100);

    // Act
    await addEntries(backend, [block('192.0.2.1'), block('192.0.2.2')], policy, ctx());

    // Assess
    expect(backend.adds).toEqual([[{ kind: 'refresh', ip: '192.0.2.2', family: 4, timeoutSeconds: 3600 }]]);
  });

  it('reports an element without the mark as foreign and writes nothing for it', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.put('192.0.2.1', 4, false);

    // Act
    const results = await addEntries(backend, [block('192.0.2.1')], policy, ctx());

    // Assess
    expect(results).toEqual([{ ip: '192.0.2.1', ok: true, foreign: true }]);
    expect(backend.adds).toEqual([]);
  });

  it('on a set that cannot carry the mark, reports every present address as foreign', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.markable = false;
    backend.put('192.0.2.1', 4, false, 3000);

    // Act
    const results = await addEntries(backend, [block('192.0.2.1')], policy, ctx());

    // Assess
    expect(results).toEqual([{ ip: '192.0.2.1', ok: true, foreign: true }]);
  });

  it('gives up after a bounded number of rounds when every write races, with the tool message per entry', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.addOutcomes = Array.from({ length: 10 }, () => ({ ok: false as const, error: 'File exists', applied: 0, race: true }));

    // Act
    const results = await addEntries(backend, [block('192.0.2.1')], policy, ctx());

    // Assess
    expect(backend.adds).toHaveLength(ROUNDS);
    expect(results).toEqual([{ ip: '192.0.2.1', ok: false, error: 'File exists' }]);
  });

  it('stops at once on a failure that is not a race, keeping the lines that were applied', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.addOutcomes = [{ ok: false, error: 'Hash is full, cannot add more elements', applied: 1, race: false }];

    // Act
    const results = await addEntries(backend, [block('192.0.2.1'), block('192.0.2.2')], policy, ctx());

    // Assess
    expect(backend.adds).toHaveLength(1);
    expect(results).toEqual([
      { ip: '192.0.2.1', ok: true },
      { ip: '192.0.2.2', ok: false, error: 'Hash is full, cannot add more elements' },
    ]);
  });

  it('a failed first read fails the whole batch (nothing written); a failed re-read fails only what is left', async () => {
    // Prepare
    const first = new ScriptedBackend();
    first.readFailsFrom = 1;
    const later = new ScriptedBackend();
    later.readFailsFrom = 2;
    later.addOutcomes = [{ ok: false, error: 'already added', applied: 1, race: true }];

    // Act
    const whole = addEntries(first, [block('192.0.2.1')], policy, ctx());
    const partial = await addEntries(later, [block('192.0.2.1'), block('192.0.2.2')], policy, ctx());

    // Assess
    await expect(whole).rejects.toThrow('set vanished');
    expect(first.adds).toEqual([]);
    expect(partial[0]).toEqual({ ip: '192.0.2.1', ok: true });
    expect(partial[1]).toMatchObject({ ip: '192.0.2.2', ok: false, error: expect.stringContaining('set vanished') });
  });

  it('without timeouts, writes elements without one and never refreshes', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.put('192.0.2.2', 4, true, 10);

    // Act
    await addEntries(backend, [block('192.0.2.1'), block('192.0.2.2')], { ...policy, timeouts: false }, ctx());

    // Assess
    expect(backend.adds).toEqual([[{ kind: 'create', ip: '192.0.2.1', family: 4 }]]);
  });
});

describe('removeEntries', () => {
  it('deletes only the relay\'s elements; absent and foreign ones are answered ok and left alone', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.put('192.0.2.1', 4, true, 100);
    backend.put('192.0.2.2', 4, false);

    // Act
    const results = await removeEntries(backend, [block('192.0.2.1'), block('192.0.2.2'), block('192.0.2.3')], policy, ctx());

    // Assess
    expect(backend.removes).toEqual([[{ ip: '192.0.2.1', family: 4 }]]);
    expect(results.every((result) => result.ok)).toBe(true);
  });

  it('on a set that cannot carry the mark, deletes what the relay recorded but never an element without a timeout', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.markable = false;
    backend.put('192.0.2.1', 4, false, 100);
    backend.put('192.0.2.2', 4, false);

    // Act
    await removeEntries(backend, [block('192.0.2.1'), block('192.0.2.2')], policy, ctx());

    // Assess
    expect(backend.removes).toEqual([[{ ip: '192.0.2.1', family: 4 }]]);
  });
});

describe('listEntries', () => {
  it('reports owned only for marked elements of a markable set', async () => {
    // Prepare
    const backend = new ScriptedBackend();
    backend.put('192.0.2.1', 4, true);
    backend.put('2001:db8::1', 6, false);

    // Act
    const marked = await listEntries(backend, ctx());
    backend.markable = false;
    const unmarked = await listEntries(backend, ctx());

    // Assess
    expect(marked).toEqual([
      { ip: '192.0.2.1', owned: true },
      { ip: '2001:db8::1', owned: false },
    ]);
    expect(unmarked.every((entry) => !entry.owned)).toBe(true);
  });
});

describe('timeoutSeconds', () => {
  it('rounds up, is at least 1 and at most the tool\'s limit', () => {
    // Assess
    expect(timeoutSeconds(1_500, 0, 100)).toBe(2);
    expect(timeoutSeconds(-5_000, 0, 100)).toBe(1);
    expect(timeoutSeconds(10_000_000, 0, 100)).toBe(100);
    expect(timeoutSeconds(Number.POSITIVE_INFINITY, 0, 100)).toBe(100);
  });
});
