/** The readable answer of `relay sweep` and `relay drain`, and their progress line. */
import type { SweepSummary } from '../engine/sweeper.ts';
import type { Engine } from '../runtime/engine.ts';
import { sweep } from '../engine/sweeper.ts';
import type { StateStore } from '../state/types.ts';
import { ProgressLine, type ProgressStream } from './progress.ts';

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** One line per integration that had work, per drift repair, then the errors one per line. */
export function formatSweep(summary: SweepSummary, label = 'sweep'): string[] {
  const lines: string[] = [];
  const acted = summary.integrations.filter((s) => s.added + s.removed + s.failed + s.deferred + s.conflicts > 0 || s.busy || s.orphaned);
  const total = (key: 'added' | 'removed' | 'failed') => summary.integrations.reduce((sum, s) => sum + s[key], 0);
  if (acted.length === 0 && summary.drift.length === 0 && summary.errors.length === 0) {
    lines.push(`${label}: nothing was due`);
  } else {
    lines.push(`${label}: added ${total('added')}, removed ${total('removed')}, failed ${total('failed')}`);
  }
  for (const s of acted) {
    const parts = [`added ${s.added}`, `removed ${s.removed}`, `failed ${s.failed}`];
    if (s.deferred > 0) parts.push(`${s.deferred} deferred (retried soon)`);
    if (s.conflicts > 0) parts.push(`${plural(s.conflicts, 'conflict')} (changed meanwhile; retried)`);
    let note = '';
    if (s.busy) note = '; busy: another relay process holds this integration and does the work';
    if (s.orphaned) note = '; orphaned: blocks are due but the integration is no longer configured (add it back, enabled, so they can be removed)';
    lines.push(`  ${s.integration}: ${parts.join(', ')}${note}`);
  }
  for (const drift of summary.drift) {
    lines.push(`  ${drift.integration}: drift repaired: ${drift.reasserted} re-added (had vanished from the device), ${drift.removed} removed (held by nothing)`);
  }
  if (summary.purged > 0) lines.push(`  purged ${plural(summary.purged, 'settled record')} past the retention period`);
  if (total('failed') > 0) lines.push('  failed blocks are retried by the sweeper; see relay status for each one\'s last error');
  if (summary.errors.length > 0) {
    lines.push(`errors: ${summary.errors.length}`);
    for (const error of summary.errors) lines.push(`  ${error.integration}: ${error.error.split('\n')[0]}`);
  }
  return lines;
}

async function dueCount(store: StateStore, at: number): Promise<number> {
  const blocks = await store.listBlocks();
  return blocks.filter((block) => block.dueAt !== undefined && block.dueAt <= at).length;
}

/**
 * One sweep, with a progress line on a terminal when more than
 * PROGRESS_THRESHOLD blocks are due (counted again every `pollMs`).
 */
export async function sweepWithProgress(
  engine: Engine,
  store: StateStore,
  stream: ProgressStream,
  options: { label?: string; pollMs?: number; waitMs?: number; now?: () => number } = {},
): Promise<SweepSummary> {
  const now = options.now ?? Date.now;
  const label = options.label ?? 'sweep';
  const started = now();
  const total = stream.isTTY === true ? await dueCount(store, started) : 0;
  const progress = new ProgressLine(stream, total);
  if (!progress.enabled) return sweep(engine.sweeper, { waitMs: options.waitMs ?? 30_000 });
  progress.update(`${label}: 0/${total} blocks`);
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    dueCount(store, started)
      .then((left) => progress.update(`${label}: ${total - Math.min(left, total)}/${total} blocks`))
      .catch(() => undefined)
      .finally(() => {
        polling = false;
      });
  }, options.pollMs ?? 250);
  try {
    return await sweep(engine.sweeper, { waitMs: options.waitMs ?? 30_000 });
  } finally {
    clearInterval(timer);
    progress.done();
  }
}
