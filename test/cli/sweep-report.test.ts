import { afterEach, describe, expect, it } from 'vitest';
import { ProgressLine } from '../../lib/cli/progress.ts';
import { formatSweep, sweepWithProgress } from '../../lib/cli/sweep-report.ts';
import { parseConfig } from '../../lib/config/load.ts';
import type { SweepSummary } from '../../lib/engine/sweeper.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { buildEngine } from '../../lib/runtime/engine.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import type { Transport } from '../../lib/transport/types.ts';

const open: SqliteStateStore[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (text: string) => writes.push(text) } };
}

const reconcile = (integration: string, counts: Partial<SweepSummary['integrations'][number]> = {}) => ({
  integration, busy: false, orphaned: false, added: 0, removed: 0, failed: 0, deferred: 0, conflicts: 0, rounds: 1, ...counts,
});

describe('formatSweep', () => {
  it('says when nothing was due', () => {
    // Act / Assess
    expect(formatSweep({ integrations: [], errors: [], purged: 0, drift: [] })).toEqual(['sweep: nothing was due']);
  });

  it('gives a line per integration, drift and purge, and the errors one per line', () => {
    // Prepare
    const summary: SweepSummary = {
      integrations: [reconcile('fw', { added: 3, removed: 2, failed: 1 }), reconcile('quiet'), reconcile('edge', { busy: true })],
      errors: [{ integration: 'cf', error: 'ProviderError: 403 forbidden\nmore detail' }],
      purged: 4,
      drift: [{ integration: 'fw', reasserted: 2, removed: 1 }],
    };
    // Act
    const lines = formatSweep(summary);
    // Assess
    expect(lines).toEqual([
      'sweep: added 3, removed 2, failed 1',
      '  fw: added 3, removed 2, failed 1',
      '  edge: added 0, removed 0, failed 0; busy: another relay process holds this integration and does the work',
      '  fw: drift repaired: 2 re-added (had vanished from the device), 1 removed (held by nothing)',
      '  purged 4 settled records past the retention period',
      "  failed blocks are retried by the sweeper; see relay status for each one's last error",
      'errors: 1',
      '  cf: ProviderError: 403 forbidden',
    ]);
    expect(lines.join('\n')).not.toMatch(/[{}]/);
  });
});

describe('ProgressLine', () => {
  it('redraws one line in place on a terminal above the threshold, then clears it', () => {
    // Prepare
    const { writes, stream } = recorder(true);
    const progress = new ProgressLine(stream, 101);
    // Act
    progress.update('sweep: 1/101 blocks');
    progress.update('sweep: 2/101 blocks');
    progress.done();
    // Assess
    expect(writes).toEqual(['\rsweep: 1/101 blocks\x1b[K', '\rsweep: 2/101 blocks\x1b[K', '\r\x1b[K']);
  });

  it('writes nothing when stderr is not a terminal, or there is little to do', () => {
    // Prepare
    const piped = recorder(false);
    const small = recorder(true);
    // Act
    for (const [stream, total] of [[piped.stream, 5000], [small.stream, 100]] as const) {
      const progress = new ProgressLine(stream, total);
      progress.update('x');
      progress.done();
    }
    // Assess
    expect(piped.writes).toEqual([]);
    expect(small.writes).toEqual([]);
  });
});

describe('sweepWithProgress', () => {
  async function engineWithDueBlocks(count: number) {
    const store = SqliteStateStore.open(':memory:');
    open.push(store);
    const config = parseConfig({ integrations: [{ id: 'dry', type: 'dry-run' }] });
    const transport: Transport = { request: () => Promise.reject(new Error('no requests')) };
    const engine = buildEngine({ config, store, transport, logger: silentLogger });
    const now = Date.now();
    await store.hold(
      Array.from({ length: count }, (_, index) => ({ integration: 'dry', key: `198.51.${Math.floor(index / 250)}.${(index % 250) + 1}`, kind: 'ip' as const, incident: 'inc', expiresAt: now + 3_600_000 })),
      now - 1,
    );
    return { engine, store };
  }

  it('shows progress for 150 due blocks on a terminal and returns the summary', async () => {
    // Prepare
    const { engine, store } = await engineWithDueBlocks(150);
    const { writes, stream } = recorder(true);
    // Act
    const summary = await sweepWithProgress(engine, store, stream, { pollMs: 1 });
    // Assess
    expect(summary.integrations).toMatchObject([{ integration: 'dry', added: 150, failed: 0 }]);
    expect(writes[0]).toBe('\rsweep: 0/150 blocks\x1b[K');
    expect(writes.at(-1)).toBe('\r\x1b[K');
  });

  it('stays silent when stderr is not a terminal', async () => {
    // Prepare
    const { engine, store } = await engineWithDueBlocks(150);
    const { writes, stream } = recorder(false);
    // Act
    const summary = await sweepWithProgress(engine, store, stream);
    // Assess
    expect(summary.integrations).toMatchObject([{ integration: 'dry', added: 150 }]);
    expect(writes).toEqual([]);
  });
});
