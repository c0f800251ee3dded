/**
 * Due blocks → provider work, and provider outcomes → completions. Pure.
 *
 * A block is wanted while it has a holder and has not expired. The
 * reconciler compares that with what it last confirmed on the device
 * (`actual`) and acts only on the difference.
 *
 * A block recorded "present, not ours" (`foreign`: the operator listed the
 * address before the relay came) is never removed from the device: when
 * nobody wants it any more, the relay only forgets it.
 */
import type { BlockCompletion, BlockRecord } from '../model/types.ts';
import { retryDelayMs } from './backoff.ts';
import { clearQuiet, holdDown } from './plan-switch.ts';
import type { BlockStatus, ReconcilePlan } from './types.ts';

export function isWanted(block: BlockRecord, now: number): boolean {
  return block.holders.length > 0 && block.expiresAt > now;
}

/**
 * @param holdDownMs a switch integration's quiet period before it is
 *   restored (see plan-switch.ts); blocklists have none.
 * @param refreshOnHold blocklists whose device expires entries by itself
 *   (BlocklistProvider.refreshOnHold): a due block already present is added
 *   again, which extends its expiry on the device.
 */
export function planReconcile(
  blocks: readonly BlockRecord[],
  now: number,
  holdDownMs: (integration: string) => number = () => 0,
  refreshOnHold: (integration: string) => boolean = () => false,
): ReconcilePlan {
  const plan: ReconcilePlan = { add: [], remove: [], settle: [] };
  for (const block of blocks) {
    const wanted = isWanted(block, now);
    // A switch nobody wants any more stays on through its hold-down.
    const held = !wanted && block.kind === 'switch' && block.actual !== 'absent' ? holdDown(block, now, holdDownMs(block.integration)) : undefined;
    if (wanted && block.actual === 'present' && block.kind === 'ip' && !block.foreign && refreshOnHold(block.integration) && needsRefresh(block)) {
      // The device forgets it at the expiry it was told: an intent touched it, so tell it the new one.
      plan.add.push(block);
    } else if (wanted && block.actual === 'present') {
      const resumed = block.kind === 'switch' ? clearQuiet(block) : undefined;
      plan.settle.push(resumed === undefined ? settled(block, now, block.expiresAt) : { ...settled(block, now, block.expiresAt), snapshot: resumed });
    } else if (held?.kind === 'hold') {
      plan.settle.push(held.completion);
    } else if (!wanted && block.actual === 'present' && block.foreign) {
      plan.settle.push(forgotten(block, now));
    } else if (!wanted && block.actual === 'absent') {
      plan.settle.push(settled(block, now, null));
    } else if (wanted) {
      plan.add.push(block);
    } else {
      plan.remove.push(block);
    }
  }
  return plan;
}

/**
 * The device was told an expiry more than REFRESH_AFTER_MS earlier than the
 * block's (or none is recorded): tell it again. Updates that extend the TTL
 * by less do not each cost a device call.
 */
export const REFRESH_AFTER_MS = 5 * 60_000;

function needsRefresh(block: BlockRecord): boolean {
  return block.deviceExpiresAt === undefined || block.expiresAt - block.deviceExpiresAt > REFRESH_AFTER_MS;
}

function settled(block: BlockRecord, now: number, dueAt: number | null): BlockCompletion {
  return {
    integration: block.integration,
    key: block.key,
    expectVersion: block.version,
    actual: block.actual,
    dueAt,
    attempts: 0,
    lastError: null,
    lastAttemptAt: block.lastAttemptAt ?? now,
  };
}

/**
 * A foreign block nobody wants: the relay forgets it and leaves the
 * operator's entry where it is. The record ends as after a confirmed
 * removal, but no device call was made.
 */
function forgotten(block: BlockRecord, now: number): BlockCompletion {
  return completeRemove(block, { ok: true }, now);
}

export type OpOutcome =
  | { ok: true; ref?: string; /** present, not ours: nothing was added */ foreign?: true }
  | {
      ok: false;
      error: string;
      retryable: boolean;
      /** the device asked for this long (Retry-After) */
      retryAfterMs?: number;
      /** not a failure: held back on purpose, look again after retryAfterMs */
      deferred?: true;
    };

/**
 * Write-ahead for a device call: the block's device state becomes unknown
 * until the outcome is recorded, so a crash after the call (whatever the
 * device did) leads to the call being repeated, never to a block forgotten
 * on the device. `snapshot` records a switch's original state before it is
 * activated.
 */
export function markInFlight(block: BlockRecord, now: number, snapshot?: unknown): BlockCompletion {
  const completion: BlockCompletion = {
    integration: block.integration,
    key: block.key,
    expectVersion: block.version,
    actual: 'unknown',
    dueAt: block.dueAt ?? now,
    attempts: block.attempts,
    lastError: block.lastError ?? null,
    lastAttemptAt: now,
  };
  if (snapshot !== undefined) completion.snapshot = snapshot;
  return completion;
}

/**
 * Write-ahead for devices whose entries carry no mark (ProviderContext.beforeWrite):
 * the address was absent just before the relay wrote it (`foreign: false`),
 * so after a crash, finding it present means the relay put it there. Kept
 * through failed attempts (a timed-out write may still have landed); cleared
 * by the next add or remove that completes.
 */
export function markAbsentBeforeWrite(block: BlockRecord, now: number): BlockCompletion {
  return { ...markInFlight(block, now), foreign: false };
}

/** The record as it stands after `markInFlight` was stored. */
export function inFlight(block: BlockRecord, now: number, snapshot?: unknown): BlockRecord {
  return {
    ...block,
    actual: 'unknown',
    dueAt: block.dueAt ?? now,
    lastAttemptAt: now,
    version: block.version + 1,
    ...(snapshot !== undefined ? { snapshot } : {}),
  };
}

/** The completion to record after the device accepted or refused an add. */
export function completeAdd(block: BlockRecord, outcome: OpOutcome, now: number): BlockCompletion {
  if (!outcome.ok) return failed(block, outcome, now);
  const completion: BlockCompletion = {
    integration: block.integration,
    key: block.key,
    expectVersion: block.version,
    actual: 'present',
    ref: outcome.ref ?? block.ref ?? null,
    foreign: outcome.foreign ? true : null,
    addedAt: block.addedAt ?? now,
    // What the entry carried (providers write the block's expiry).
    deviceExpiresAt: outcome.foreign ? null : block.expiresAt,
    dueAt: block.expiresAt,
    attempts: 0,
    lastError: null,
    lastAttemptAt: now,
  };
  return completion;
}

/** The completion to record after the device accepted or refused a removal. */
export function completeRemove(block: BlockRecord, outcome: OpOutcome, now: number): BlockCompletion {
  if (!outcome.ok) return failed(block, outcome, now);
  return {
    integration: block.integration,
    key: block.key,
    expectVersion: block.version,
    actual: 'absent',
    ref: null,
    foreign: null,
    addedAt: null,
    deviceExpiresAt: null,
    snapshot: null,
    dueAt: null,
    attempts: 0,
    lastError: null,
    lastAttemptAt: now,
  };
}

function failed(
  block: BlockRecord,
  outcome: { error: string; retryable: boolean; retryAfterMs?: number; deferred?: true },
  now: number,
): BlockCompletion {
  if (outcome.deferred) {
    // Held back on purpose (a coalesced commit): still in flight, no attempt counted, no error shown.
    return {
      integration: block.integration,
      key: block.key,
      expectVersion: block.version,
      actual: block.actual,
      dueAt: now + (outcome.retryAfterMs ?? 0),
      attempts: block.attempts,
      lastError: block.lastError ?? null,
      lastAttemptAt: now,
    };
  }
  const attempts = block.attempts + 1;
  return {
    integration: block.integration,
    key: block.key,
    expectVersion: block.version,
    actual: block.actual,
    // The device's Retry-After is a floor: never retry sooner than it asked.
    dueAt: now + Math.max(retryDelayMs(attempts, outcome.retryable), outcome.retryAfterMs ?? 0),
    attempts,
    lastError: outcome.error,
    lastAttemptAt: now,
  };
}

/** The status shown to operators, derived from the record. */
export function blockStatus(block: BlockRecord, now: number): BlockStatus {
  const wanted = isWanted(block, now);
  if (wanted) {
    if (block.actual === 'present') return 'applied';
    return block.lastError ? 'failed' : 'pending';
  }
  if (block.actual === 'absent') return 'removed';
  return block.lastError ? 'failed' : 'removing';
}

/**
 * After a completion lost the version race (an intent changed the block while
 * the provider call ran), the device facts it carries are still true. This
 * re-bases them on the fresh record and leaves the block due now, so the next
 * round decides again with the newest holders.
 */
export function rebaseFacts(fresh: BlockRecord, lost: BlockCompletion, now: number): BlockCompletion {
  const completion: BlockCompletion = { ...lost, expectVersion: fresh.version, dueAt: now };
  return completion;
}
