/**
 * Switch blocks: reading their record, and the hold-down. Pure.
 *
 * A switch is held while any active incident holds it. When the last holder
 * lets go, the relay waits `holdDownMs` of quiet before it restores (a BGP
 * withdrawal takes ~15 min to converge; an incident that flaps must not flap
 * the advertisement). A new holder in that time keeps it on with no call at
 * all. A TTL that runs out does not wait: a switch never outlives its
 * incidents' TTL.
 */
import type { BlockCompletion, BlockRecord, SwitchRecord } from '../model/types.ts';

/**
 * The record stored in a switch block's snapshot field. A value written
 * before records had this shape (a raw provider snapshot) reads as that
 * snapshot, not known to be active before.
 */
export function switchRecord(stored: unknown): SwitchRecord {
  if (stored === null || stored === undefined) return {};
  if (typeof stored === 'object' && !Array.isArray(stored)) {
    const value = stored as Record<string, unknown>;
    const keys = Object.keys(value);
    if (keys.every((key) => key === 'snapshot' || key === 'activation' || key === 'quietSince')) return value as SwitchRecord;
  }
  return { snapshot: { state: stored, alreadyActive: false, summary: 'recorded by an earlier relay version' } };
}

export type HoldDown =
  /** Keep it on: look again at `until` (the completion records when the quiet began). */
  | { kind: 'hold'; until: number; completion: BlockCompletion }
  /** The quiet period is over (or none applies): restore now. */
  | { kind: 'restore' };

/**
 * For a switch block that nobody wants any more and that may be on.
 * `holdDownMs` is the integration's quiet period.
 */
export function holdDown(block: BlockRecord, now: number, holdDownMs: number): HoldDown {
  const expired = block.expiresAt <= now;
  if (expired || holdDownMs <= 0 || block.holders.length > 0) return { kind: 'restore' };
  const record = switchRecord(block.snapshot);
  const quietSince = record.quietSince ?? now;
  const until = quietSince + holdDownMs;
  if (now >= until) return { kind: 'restore' };
  return {
    kind: 'hold',
    until,
    completion: {
      integration: block.integration,
      key: block.key,
      expectVersion: block.version,
      actual: block.actual,
      snapshot: { ...record, quietSince },
      dueAt: Math.min(until, block.expiresAt),
      attempts: block.attempts,
      lastError: block.lastError ?? null,
      lastAttemptAt: block.lastAttemptAt ?? now,
    },
  };
}

/** A held switch that a new holder wants again: the quiet period, if one began, is over. */
export function clearQuiet(block: BlockRecord): SwitchRecord | undefined {
  const record = switchRecord(block.snapshot);
  if (record.quietSince === undefined) return undefined;
  const { quietSince: _ended, ...rest } = record;
  return rest;
}
