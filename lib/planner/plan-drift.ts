/**
 * Device list vs recorded state → repairs. Pure.
 *
 * - A block the relay believes is on the device, still wanted, but missing
 *   from the device's list (a reboot drops RouterOS entries that carry a
 *   timeout; a filter reload can flush runtime tables) is re-asserted: its
 *   device state becomes unknown and it is due now.
 * - An entry on the device that the relay manages but holds no wanted block
 *   for is stale and is removed. Blocks in flight (device state unknown) and
 *   blocks wanted but not yet confirmed are left to the reconciler.
 */
import type { BlockCompletion, BlockRecord } from '../model/types.ts';
import { isWanted } from './plan-reconcile.ts';

export interface DriftPlan {
  reassert: BlockCompletion[];
  removeStale: { ip: string; ref?: string }[];
}

export function planDrift(
  blocks: readonly BlockRecord[],
  device: readonly { ip: string; ref?: string }[],
  now: number,
): DriftPlan {
  const onDevice = new Map(device.map((entry) => [entry.ip, entry]));
  const byKey = new Map(blocks.filter((block) => block.kind === 'ip').map((block) => [block.key, block]));
  const reassert: BlockCompletion[] = [];
  for (const block of byKey.values()) {
    if (block.actual === 'present' && isWanted(block, now) && !onDevice.has(block.key)) {
      reassert.push({
        integration: block.integration,
        key: block.key,
        expectVersion: block.version,
        actual: 'unknown',
        dueAt: now,
        attempts: block.attempts,
        lastError: 'missing from the device (drift); re-asserting',
        lastAttemptAt: now,
      });
    }
  }
  const removeStale = device.filter((entry) => {
    const block = byKey.get(entry.ip);
    if (!block) return true;
    return !isWanted(block, now) && block.actual === 'absent';
  });
  return { reassert, removeStale };
}
