import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guardBlocklist, type NeverBlockCheck } from '../../lib/providers/guard.ts';
import type { BlockEntry, BlocklistProvider, EntryResult, ProviderContext } from '../../lib/providers/types.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

/** A blocklist provider that records every call and answers ok. */
class RecordingProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly id = 'fw';
  readonly type = 'recording';
  readonly maxBatch = 100;
  readonly adds: string[][] = [];
  readonly removes: string[][] = [];
  async add(entries: BlockEntry[]): Promise<EntryResult[]> {
    this.adds.push(entries.map((entry) => entry.ip));
    return entries.map((entry) => ({ ip: entry.ip, ok: true, ref: `ref-${entry.ip}` }));
  }
  async remove(entries: BlockEntry[]): Promise<EntryResult[]> {
    this.removes.push(entries.map((entry) => entry.ip));
    return entries.map((entry) => ({ ip: entry.ip, ok: true }));
  }
  async healthCheck() {
    return { ok: true, detail: 'recording' };
  }
}

const PROTECTED = new Set(['10.0.0.1', '192.168.1.1', '::1']);
const check: NeverBlockCheck = (ip) => (PROTECTED.has(ip) ? { ok: false, reason: `${ip} is protected` } : { ok: true });

function entries(...ips: string[]): BlockEntry[] {
  return ips.map((ip) => ({ ip, expiresAt: 0, incidents: ['inc'] }));
}

function context(): ProviderContext {
  return { signal: new AbortController().signal, logger: new RecordingLogger() };
}

describe('guardBlocklist', () => {
  it('passes only blockable addresses to the inner add and answers never-block for the rest, in order', async () => {
    // Prepare
    const inner = new RecordingProvider();
    const logger = new RecordingLogger();
    const guarded = guardBlocklist(inner, check, logger);

    // Act
    const results = await guarded.add(entries('203.0.113.7', '10.0.0.1', '198.51.100.2'), context());

    // Assess
    expect(inner.adds).toEqual([['203.0.113.7', '198.51.100.2']]);
    expect(results).toEqual([
      { ip: '203.0.113.7', ok: true, ref: 'ref-203.0.113.7' },
      { ip: '10.0.0.1', ok: false, error: 'never-block: 10.0.0.1 is protected' },
      { ip: '198.51.100.2', ok: true, ref: 'ref-198.51.100.2' },
    ]);
  });

  it('logs a warning per refused address', async () => {
    // Prepare
    const logger = new RecordingLogger();
    const guarded = guardBlocklist(new RecordingProvider(), check, logger);

    // Act
    await guarded.add(entries('10.0.0.1', '::1', '203.0.113.7'), context());

    // Assess
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message: 'never-block: refused to block',
        attributes: { integration: 'fw', ip: '10.0.0.1', reason: '10.0.0.1 is protected' },
      },
      {
        level: 'warn',
        message: 'never-block: refused to block',
        attributes: { integration: 'fw', ip: '::1', reason: '::1 is protected' },
      },
    ]);
  });

  it('does not call the inner add when every address is refused', async () => {
    // Prepare
    const inner = new RecordingProvider();
    const guarded = guardBlocklist(inner, check, new RecordingLogger());

    // Act
    const results = await guarded.add(entries('10.0.0.1', '192.168.1.1'), context());

    // Assess
    expect(inner.adds).toEqual([]);
    expect(results.map((result) => result.ok)).toEqual([false, false]);
  });

  it('refuses an address when the check itself throws', async () => {
    // Prepare
    const inner = new RecordingProvider();
    const throwing: NeverBlockCheck = () => {
      throw new Error('list not loaded');
    };
    const guarded = guardBlocklist(inner, throwing, new RecordingLogger());

    // Act
    const results = await guarded.add(entries('203.0.113.7'), context());

    // Assess
    expect(inner.adds).toEqual([]);
    expect(results[0]).toMatchObject({ ok: false, error: expect.stringMatching(/^never-block: .*list not loaded/) });
  });

  it('passes remove through unchanged, protected addresses included', async () => {
    // Prepare
    const inner = new RecordingProvider();
    const guarded = guardBlocklist(inner, check, new RecordingLogger());

    // Act
    const results = await guarded.remove(entries('10.0.0.1', '203.0.113.7'), context());

    // Assess
    expect(inner.removes).toEqual([['10.0.0.1', '203.0.113.7']]);
    expect(results.every((result) => result.ok)).toBe(true);
  });

  it('keeps the identity, batch limit and health check of the inner provider', async () => {
    // Prepare
    const inner = new RecordingProvider();
    const guarded = guardBlocklist(inner, check, new RecordingLogger());

    // Act
    const health = await guarded.healthCheck(context());

    // Assess
    expect({ kind: guarded.kind, id: guarded.id, type: guarded.type, maxBatch: guarded.maxBatch }).toEqual({
      kind: 'blocklist',
      id: 'fw',
      type: 'recording',
      maxBatch: 100,
    });
    expect(health).toEqual({ ok: true, detail: 'recording' });
  });

  it('reports a failure for an address the inner provider left unanswered', async () => {
    // Prepare
    const inner = new RecordingProvider();
    inner.add = async () => [];
    const guarded = guardBlocklist(inner, check, new RecordingLogger());

    // Act
    const results = await guarded.add(entries('203.0.113.7'), context());

    // Assess
    expect(results).toEqual([
      { ip: '203.0.113.7', ok: false, error: 'the provider returned no result for this address' },
    ]);
  });

  it('never lets a refused address reach the inner add, whatever the batch (property)', async () => {
    // Prepare
    const pool = ['203.0.113.7', '198.51.100.2', '10.0.0.1', '192.168.1.1', '::1', '2001:db8::9', '0.0.0.0', 'x'];
    const ip = fc.constantFrom(...pool);
    const verdicts = fc.dictionary(fc.constantFrom(...pool), fc.boolean());

    // Act
    const property = fc.asyncProperty(fc.array(ip, { maxLength: 40 }), verdicts, async (batch, blockable) => {
      const inner = new RecordingProvider();
      const randomCheck: NeverBlockCheck = (candidate) =>
        blockable[candidate] === true ? { ok: true } : { ok: false, reason: 'protected' };
      const guarded = guardBlocklist(inner, randomCheck, new RecordingLogger());
      const results = await guarded.add(entries(...batch), context());

      // every address the inner provider saw passed the check, and it never saw an empty batch
      for (const call of inner.adds) {
        expect(call.length).toBeGreaterThan(0);
        for (const seen of call) expect(randomCheck(seen).ok).toBe(true);
      }
      // one result per entry, in order; refused entries are reported as never-block
      expect(results.map((result) => result.ip)).toEqual(batch);
      for (const result of results) {
        expect(result.ok).toBe(randomCheck(result.ip).ok);
        if (!result.ok) expect(result.error).toBe('never-block: protected');
      }
    });

    // Assess
    await fc.assert(property, { numRuns: 300 });
  });
});

describe('guardBlocklist: listing', () => {
  it('passes list() through when the inner provider can list, and offers none when it cannot', async () => {
    // Prepare
    const listing = { kind: 'blocklist' as const, id: 'a', type: 't', maxBatch: 10, add: async () => [], remove: async () => [], healthCheck: async () => ({ ok: true, detail: '' }), list: async () => [{ ip: '45.0.0.1', owned: true }] };
    const { list: _omit, ...plain } = listing;
    const logger = new RecordingLogger();
    const ctx = { signal: new AbortController().signal, logger };
    // Act
    const guarded = guardBlocklist(listing, () => ({ ok: true }), logger);
    const guardedPlain = guardBlocklist(plain, () => ({ ok: true }), logger);
    // Assess
    expect(await guarded.list?.(ctx)).toEqual([{ ip: '45.0.0.1', owned: true }]);
    expect(guardedPlain.list).toBeUndefined();
  });
});
