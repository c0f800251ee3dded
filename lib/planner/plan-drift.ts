/**
 * Device list vs recorded state → repairs. Pure.
 *
 * The device's list holds the relay's entries (`owned`: they carry its
 * mark) and the operator's (everything else). Ownership is recorded, never
 * inferred: the operator's entries are never removed, whatever state says.
 *
 * - A block the relay believes is on the device, still wanted, but with no
 *   entry at all for its address (a reboot drops RouterOS entries that carry
 *   a timeout; a flushed pf table; an operator deleted the entry it had) is
 *   re-asserted: its device state becomes unknown and it is due now.
 * - An owned entry that no wanted block accounts for is stale and is
 *   removed, unless the operator also lists that address (removing by
 *   address would take theirs too; the operator wants it blocked anyway).
 *   Blocks in flight (device state unknown) and blocks wanted but not yet
 *   confirmed are left to the reconciler.
 */
import type { BlockCompletion, BlockRecord } from '../model/types.ts';
import { isWanted } from './plan-reconcile.ts';

export interface DriftPlan {
  reassert: BlockCompletion[];
  removeStale: { ip: string; ref?: string }[];
}

export function planDrift(
  blocks: readonly BlockRecord[],
  device: readonly { ip: string; ref?: string; owned: boolean }[],
  now: number,
): DriftPlan {
  const listed = new Set(device.map((entry) => entry.ip));
  const operators = new Set(device.filter((entry) => !entry.owned).map((entry) => entry.ip));
  const byKey = new Map(blocks.filter((block) => block.kind === 'ip').map((block) => [block.key, block]));
  const reassert: BlockCompletion[] = [];
  for (const block of byKey.values()) {
    if (block.actual === 'present' && isWanted(block, now) && !listed.has(block.key)) {
      reassert.push({
        integration: block.integration,
        key: block.key,
        expectVersion: block.version,
        actual: 'unknown',
        foreign: null,
        dueAt: now,
        attempts: block.attempts,
        lastError: 'missing from the device (drift); re-asserting',
        lastAttemptAt: now,
      });
    }
  }
  const stale = new Map<string, { ip: string; ref?: string }>();
  for (const entry of device) {
    if (!entry.owned || operators.has(entry.ip) || stale.has(entry.ip)) continue;
    const block = byKey.get(entry.ip);
    if (block && !(!isWanted(block, now) && block.actual === 'absent')) continue;
    stale.set(entry.ip, entry.ref === undefined ? { ip: entry.ip } : { ip: entry.ip, ref: entry.ref });
  }
  return { reassert, removeStale: [...stale.values()] };
}
