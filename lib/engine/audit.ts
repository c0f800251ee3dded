/**
 * What the engine writes to the audit trail (lib/model/types.ts AuditEntry):
 * one entry per incident and batch for block adds, one per batch for
 * removals (their holders are gone by then), switches, drift repairs,
 * releases and never-block refusals. Counts only, never addresses.
 *
 * Writing the trail never fails the work it describes: a store error is
 * logged and the entry is lost (the log line of the same action stays).
 */
import { describeError } from '../errors.ts';
import type { Logger } from '../log/types.ts';
import type { AuditAction, AuditEntry, AuditOutcome, BlockRecord } from '../model/types.ts';
import type { OpOutcome } from '../planner/plan-reconcile.ts';
import type { StateStore } from '../state/types.ts';

/** Most entries one batch writes (one per incident holding part of it); the rest are summed into the last. */
const MAX_ENTRIES_PER_BATCH = 50;

export async function appendAudit(store: StateStore, logger: Logger, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  try {
    await store.appendAudit(entries);
  } catch (error) {
    logger.warn('audit trail: entries not recorded', { count: entries.length, error: describeError(error) });
  }
}

/** The outcome of a group of provider results. */
export function groupOutcome(outcomes: readonly OpOutcome[]): AuditOutcome {
  const ok = outcomes.filter((o) => o.ok).length;
  const deferred = outcomes.filter((o) => !o.ok && o.deferred).length;
  if (ok === outcomes.length) return 'ok';
  if (deferred === outcomes.length) return 'deferred';
  if (ok + deferred === 0) return 'failed';
  return 'partial';
}

/**
 * Entries for one blocklist batch: per holding incident (a block held by two
 * counts for both); blocks without holders (removals) in one entry without
 * an incident.
 */
export function batchAudit(
  action: Extract<AuditAction, 'block.add' | 'block.remove'>,
  integration: string,
  results: readonly { block: BlockRecord; outcome: OpOutcome }[],
  at: number,
): AuditEntry[] {
  const groups = new Map<string | undefined, OpOutcome[]>();
  for (const { block, outcome } of results) {
    const holders = block.holders.length > 0 ? block.holders : [undefined];
    for (const holder of holders) groups.set(holder, [...(groups.get(holder) ?? []), outcome]);
  }
  const entries = [...groups].map(([incident, outcomes]): AuditEntry => {
    const firstError = outcomes.find((o): o is Extract<OpOutcome, { ok: false }> => !o.ok && !o.deferred)?.error;
    return {
      at,
      action,
      integration,
      ...(incident !== undefined ? { incident } : {}),
      count: outcomes.length,
      outcome: groupOutcome(outcomes),
      ...(firstError !== undefined ? { detail: firstError } : {}),
    };
  });
  if (entries.length <= MAX_ENTRIES_PER_BATCH) return entries;
  const kept = entries.slice(0, MAX_ENTRIES_PER_BATCH - 1);
  const rest = entries.slice(MAX_ENTRIES_PER_BATCH - 1);
  kept.push({
    at,
    action,
    integration,
    count: rest.reduce((sum, entry) => sum + entry.count, 0),
    outcome: rest.every((entry) => entry.outcome === 'ok') ? 'ok' : 'partial',
    detail: `for ${rest.length} more incidents`,
  });
  return kept;
}
