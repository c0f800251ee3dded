/**
 * The state-derived gauges (read from the store when scraped, or by the
 * sweeper in Lambda): active incidents, blocks on the device per
 * integration, overdue blocks, switch state.
 */
import { SWITCH_KEY, type BlockRecord } from '../model/types.ts';
import { blockStatus } from '../planner/plan-reconcile.ts';
import type { StateStore } from '../state/types.ts';

/** A block due longer than this without the relay getting to it is overdue. */
export const OVERDUE_AFTER_MS = 5 * 60_000;
/** A block that failed this many times in a row is overdue, whatever its next retry. */
export const OVERDUE_ATTEMPTS = 3;

export interface StateGauges {
  activeIncidents: number;
  /** Blocks on the device (or in flight to it) per integration. */
  activeBlocks: Map<string, number>;
  overdueBlocks: number;
  /** 1 when the integration's switch is on (or being switched on). */
  switches: Map<string, number>;
}

/**
 * Overdue: the relay has not reached what the block should be. Its work is
 * due for more than OVERDUE_AFTER_MS (a stuck reconciler), or it keeps
 * failing (OVERDUE_ATTEMPTS in a row).
 */
export function isOverdue(block: BlockRecord, now: number): boolean {
  const status = blockStatus(block, now);
  if (status === 'applied' || status === 'removed') return false;
  if (block.attempts >= OVERDUE_ATTEMPTS) return true;
  return block.dueAt !== undefined && now - block.dueAt > OVERDUE_AFTER_MS;
}

export async function collectStateGauges(store: StateStore, integrations: readonly string[], now: number): Promise<StateGauges> {
  const incidents = await store.listIncidents({ status: 'active' });
  const blocks = await store.listBlocks();
  const activeBlocks = new Map(integrations.map((id) => [id, 0]));
  const switches = new Map<string, number>();
  let overdueBlocks = 0;
  for (const block of blocks) {
    if (isOverdue(block, now)) overdueBlocks += 1;
    const on = block.actual !== 'absent';
    if (block.key === SWITCH_KEY) switches.set(block.integration, on ? 1 : 0);
    else if (on) activeBlocks.set(block.integration, (activeBlocks.get(block.integration) ?? 0) + 1);
  }
  return { activeIncidents: incidents.length, activeBlocks, overdueBlocks, switches };
}
