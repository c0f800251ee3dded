/**
 * The relay's records: what the pure planner reasons about and what every
 * state store persists. Storage depends on this model, not the other way
 * round.
 *
 * Model
 * - An *incident* is one Flowtriq attack (keyed by its uuid).
 * - A *block* is one thing the relay keeps on one integration: an IP on a
 *   blocklist integration (`kind: 'ip'`, key = the IP), or the activation of a
 *   switch integration (`kind: 'switch'`, key = SWITCH_KEY).
 * - A *holding* links an incident to a block. A block is wanted while it has
 *   at least one holder and has not expired; an IP shared by two incidents
 *   stays until the last holder lets go.
 *
 * Intent before action: workers only record intents (`hold`, `release`),
 * which mark the block due (`dueAt = now`). Provider calls are made later by
 * the reconciler, which holds the integration's lease, reads due blocks,
 * calls the provider and records the outcome with `complete`, conditional on
 * the version it read. A crash anywhere leaves a due block behind, never an
 * untracked one.
 */

export type IncidentStatus = 'active' | 'ended';

export interface IncidentRecord {
  uuid: string;
  id?: number | string;
  status: IncidentStatus;
  title?: string;
  family?: string;
  severity?: string;
  node?: { id?: number | string; name?: string; ip?: string };
  spoofed?: boolean;
  startedAt?: string;
  endedAt?: string;
  /** Highest packet and bit rates the incident's events reported. */
  peakPps?: number;
  peakBps?: number;
  /** Epoch ms of the newest event applied; an older event never undoes it. */
  lastEventAt: number;
  lastEventType: string;
  firstSeenAt: number;
  updatedAt: number;
}

export type BlockKind = 'ip' | 'switch';

/**
 * Incident uuids of `relay send-test`'s sample attacks start with this: their
 * addresses are really pushed to blocklists (with --yes) but never reported
 * anywhere a report cannot be taken back (AbuseIPDB).
 */
export const SAMPLE_INCIDENT_PREFIX = 'send-test-';

/** The key of a switch integration's single activation block. */
export const SWITCH_KEY = '@switch';

/** What the relay last confirmed on the device. */
export type ActualState = 'present' | 'absent' | 'unknown';

export interface BlockKey {
  integration: string;
  key: string;
}

export interface BlockRecord extends BlockKey {
  kind: BlockKind;
  /** Incident uuids holding this block (sorted, unique). */
  holders: string[];
  actual: ActualState;
  /** Provider's reference for the entry (e.g. a RouterOS `.id`). */
  ref?: string;
  /**
   * The device already listed the address under an entry the relay did not
   * add (the operator's): "present, not ours". The relay added nothing and
   * never removes it; letting go of the block only forgets it.
   * false (while an add is in flight): the device did not list the address
   * just before the relay wrote it (ProviderContext.beforeWrite), so after a
   * crash, finding it present means the relay put it there.
   */
  foreign?: boolean;
  /** Switch kind: the original state saved by activate, restored by deactivate. */
  snapshot?: unknown;
  /** Epoch ms when the provider confirmed the add. */
  addedAt?: number;
  /**
   * The expiry the device was last told with a successful add (devices that
   * drop entries by themselves, BlocklistProvider.refreshOnHold): when the
   * block's expiry moves well past it, the relay tells the device again.
   */
  deviceExpiresAt?: number;
  /** Epoch ms after which the block is removed even if holders remain. */
  expiresAt: number;
  /** Epoch ms when the reconciler must look at it next; absent when settled and absent. */
  dueAt?: number;
  /** Consecutive failed provider attempts. */
  attempts: number;
  lastError?: string;
  lastAttemptAt?: number;
  /** Incremented by every write; `complete` is conditional on it. */
  version: number;
  updatedAt: number;
}

export interface HoldIntent extends BlockKey {
  incident: string;
  kind: BlockKind;
  /** New expiry for the block (now + the integration's TTL). */
  expiresAt: number;
}

export interface Holding extends BlockKey {
  incident: string;
  kind: BlockKind;
  heldAt: number;
}

/**
 * The reconciler's record of one provider outcome (or, before a call, of the
 * call about to be made: `actual: 'unknown'`). `ref`, `foreign`, `snapshot`
 * and `addedAt` left undefined are unchanged; null clears them.
 */
export interface BlockCompletion extends BlockKey {
  /** Applied only if the block's version still equals this. */
  expectVersion: number;
  actual: ActualState;
  ref?: string | null;
  /** true: present, not ours; false: absent just before the relay's write; null clears it. */
  foreign?: boolean | null;
  snapshot?: unknown;
  addedAt?: number | null;
  /** The expiry written to the device by this add; null clears it. */
  deviceExpiresAt?: number | null;
  /** Next look; null removes the block from the due index. */
  dueAt: number | null;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: number;
}

export interface CompleteResult {
  /** Completions skipped because the block changed since it was read. */
  conflicts: BlockKey[];
}


/**
 * What a switch block keeps in its `snapshot` field (JSON): the resource as
 * read before the relay changed it (stored before any change), what the
 * relay set (stored after), and when its last holder let go (hold-down).
 * Shapes match the provider contract's SwitchSnapshot and SwitchActivation.
 */
export interface SwitchRecord {
  snapshot?: { state: unknown; alreadyActive: boolean; summary: string };
  activation?: { applied: unknown; confirmed: boolean; confirmedAt?: string; recheckAfterMs?: number; summary: string };
  /** Epoch ms the last holder let go; the switch is restored once the hold-down has passed since. */
  quietSince?: number;
}

/** What the relay did, as the audit trail records it. */
export type AuditAction =
  /** Addresses written to (or found on) a blocklist. */
  | 'block.add'
  /** Addresses taken off a blocklist. */
  | 'block.remove'
  /** A switch turned on, or found already on. */
  | 'switch.on'
  /** A switch restored (or left alone because someone changed it). */
  | 'switch.off'
  /** Drift repair: blocks missing from the device, re-asserted. */
  | 'drift.reassert'
  /** Drift repair: relay entries no incident holds, removed from the device. */
  | 'drift.remove'
  /** An operator's `relay activate` / `relay withdraw` / `relay drain`. */
  | 'manual.activate'
  | 'manual.withdraw'
  | 'manual.drain'
  /** Addresses an incident named that the never-block list refused. */
  | 'never-block.refused'
  /** An incident ended and let go of what it held. */
  | 'incident.released';

export type AuditOutcome = 'ok' | 'partial' | 'failed' | 'deferred' | 'changed-by-others';

/**
 * One line of the audit trail: a durable, bounded history of what the relay
 * did, for `relay history` and the status page. No addresses (counts only),
 * no secrets; `detail` is one short line.
 */
export interface AuditEntry {
  /** Epoch ms. */
  at: number;
  action: AuditAction;
  integration?: string;
  incident?: string;
  /** Addresses (or switches) the action was about. */
  count: number;
  outcome: AuditOutcome;
  detail?: string;
}

export interface AuditQuery {
  /** Only entries at or after this epoch ms. */
  since?: number;
  incident?: string;
  integration?: string;
  /** Newest first, at most this many (default 100, at most 1000). */
  limit?: number;
}
