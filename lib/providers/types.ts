/**
 * The two kinds of mitigation target.
 *
 * - blocklist: add IPs, remove IPs (pfSense alias, RouterOS address-list,
 *   CrowdSec decisions, the outbound webhook, dry-run, ...).
 * - switch: snapshot the original state, activate, and deactivate by
 *   restoring what the relay changed (scrubbing, firewall lockdown). The
 *   snapshot is taken and recorded before activation, so a crash
 *   mid-activation can never lose the original state; what the relay set is
 *   recorded after, so restore can tell a change made by someone else.
 *
 * Providers are called only by the reconciler, one batch at a time per
 * integration, and only with addresses that passed the never-block guard.
 * They must be idempotent: adding a present IP or removing an absent one
 * succeeds.
 *
 * ## Ownership: recorded, never inferred
 *
 * A blocklist provider touches only entries the relay added. Where the
 * device stores a per-entry description (pfSense `detail`, RouterOS
 * `comment`), every entry the relay adds carries the relay's mark
 * (lib/providers/pfsense/mark.ts; RouterOS: `options.comment`); anything
 * else in the list is the operator's and is never changed or removed.
 *
 * - `add`: an address the device already lists under an entry that is not
 *   the relay's is answered `{ ok: true, foreign: true }`: nothing is added,
 *   the relay records it as "present, not ours" and never removes it.
 * - `remove`: is only ever called for blocks the relay added; removes the
 *   relay's entries for those addresses and nothing else (an operator entry
 *   for the same address stays). Partial append/remove only: never a
 *   whole-list replace that could overwrite an edit made meanwhile.
 * - `list`: every single-address entry, each with `owned` telling whether it
 *   carries the relay's mark. Drift repair re-adds what is missing and
 *   removes only owned entries no incident holds.
 */
import type { Logger } from '../log/types.ts';
import type { Transport } from '../transport/types.ts';

export interface ProviderContext {
  signal: AbortSignal;
  logger: Logger;
  /**
   * Blocklist `add` only, for devices whose entries carry no mark of their
   * own (a WAF IP set): call it with the addresses about to be written that
   * the device did not list when read, right before the write, and await
   * it. The relay records them durably; if the call is then cut off (a
   * crash), the retried entry carries `absentBeforeWrite`, so finding the
   * address present means the relay put it there. Throws when the record
   * could not be made (the batch is then retried; write nothing).
   */
  beforeWrite?: (ips: string[]) => Promise<void>;
  /**
   * Blocklist calls: what the relay knows of an incident (for providers that
   * describe it, e.g. an abuse report's comment); undefined when unknown.
   */
  incident?: (uuid: string) => Promise<IncidentFacts | undefined>;
  /**
   * Blocklist calls: a counter of this integration shared by every process
   * on the relay's store (a daily budget that holds across Lambda
   * containers): adds `amount`, returns the new total. Name a window into
   * it; it may be forgotten after `expiresAt`.
   */
  counter?: (name: string, amount: number, expiresAt: number) => Promise<number>;
}

/** An incident as providers may see it: the facts Flowtriq sent, nothing of the relay's bookkeeping. */
export interface IncidentFacts {
  uuid: string;
  status: 'active' | 'ended';
  family?: string;
  severity?: string;
  /** ISO times from Flowtriq. */
  startedAt?: string;
  endedAt?: string;
  /** Highest packet and bit rates any event of the incident reported. */
  peakPps?: number;
  peakBps?: number;
  /** A sample incident of `relay send-test` (never reported anywhere). */
  sample: boolean;
}

export interface BlockEntry {
  ip: string;
  /** The provider's reference, when it returned one on add. */
  ref?: string;
  /** Epoch ms after which the relay will remove it (for device-side timeouts). */
  expiresAt: number;
  /** Incident uuids holding it, for providers that report context. */
  incidents: string[];
  /**
   * A previous call for this entry may have been cut off (a crash, a lost
   * lease, a timeout, or drift found it missing from the live table): the
   * device may hold a half-done change. Providers with a separate commit
   * step (pfSense's filter reload) commit even when nothing is left to write.
   */
  resumed?: boolean;
  /**
   * An earlier, cut-off add recorded (through `ctx.beforeWrite`) that the
   * device did not list this address just before the relay wrote it: if it
   * is present now, it is the relay's.
   */
  absentBeforeWrite?: boolean;
  /**
   * The block is on the device already and is added again to extend its
   * expiry there (BlocklistProvider.refreshOnHold): a later `expiresAt`.
   */
  refresh?: boolean;
}

/** One entry of the device's list, as `list` reports it. */
export interface DeviceEntry {
  /** Canonical address. */
  ip: string;
  ref?: string;
  /** The entry carries the relay's mark (the relay added it). */
  owned: boolean;
}

export type EntryResult =
  | {
      ip: string;
      ok: true;
      ref?: string;
      /** add: the device already lists the address under an entry the relay did not add; nothing was added. */
      foreign?: true;
    }
  | {
      ip: string;
      ok: false;
      error: string;
      /** The device asked for this long before the next attempt (Retry-After). */
      retryAfterMs?: number;
      /**
       * Not a failure: the change is written but its commit is held back on
       * purpose (pfSense: reloads are spaced to coalesce a burst). The block
       * stays in flight and is tried again after `retryAfterMs` (resumed),
       * with no attempt counted and no error shown.
       */
      deferred?: true;
    };

export interface HealthResult {
  ok: boolean;
  /** Human-readable, no secrets. */
  detail: string;
}

export interface BlocklistProvider {
  readonly kind: 'blocklist';
  readonly id: string;
  readonly type: string;
  /** Largest batch the reconciler should pass to one add/remove call. */
  readonly maxBatch: number;
  /**
   * Most addresses one event of an incident may hold on this integration:
   * its first N, ranked as selected (highest confidence, then count). For
   * providers that act on an incident's top attackers only (abuse reports).
   */
  readonly maxIpsPerEvent?: number;
  /**
   * The device drops entries by itself at the expiry it was told (kernel
   * set timeouts): when an intent touches a block already on the device
   * (another incident holds it, an update extends its TTL), the relay calls
   * `add` for it again, and `add` extends the entry's expiry.
   */
  readonly refreshOnHold?: boolean;
  /** One result per entry. Throw ProviderError when the whole batch failed. */
  add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]>;
  remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]>;
  healthCheck(ctx: ProviderContext): Promise<HealthResult>;
  /**
   * Optional, for drift repair: the single-address entries of the relay's
   * list (alias, address-list), canonical form, each marked `owned` when it
   * carries the relay's mark. Where the device enforces from a separate live
   * table that can be read cheaply (pfSense v2), an entry configured but not
   * live is left out, so it is re-asserted (with `resumed`, which applies).
   * The sweeper re-asserts blocks that vanished (a reboot, a flushed table)
   * and removes owned entries the relay no longer holds; entries not owned
   * are never touched.
   */
  list?(ctx: ProviderContext): Promise<DeviceEntry[]>;
}

export interface SwitchContext extends ProviderContext {
  incidents: string[];
}

/**
 * The resource as a switch provider read it before the relay changed
 * anything. Stored durably before any change (a crash never loses it), and
 * the only thing restore works from.
 */
export interface SwitchSnapshot<S = unknown> {
  /** What restore needs, as read (JSON-serialisable; no secrets). */
  state: S;
  /**
   * The resource was already in the target state before the relay came (a
   * prefix already advertised, a zone already under attack, an OVH
   * mitigation already on): the relay records it and never turns it off.
   */
  alreadyActive: boolean;
  /** One line for status and logs, e.g. `security_level medium (modified 2026-12-01T10:00:00Z)`. */
  summary: string;
}

/** What the relay set, as the provider read it back after activating. */
export interface SwitchActivation<A = unknown> {
  /**
   * The fields the relay set, with whatever the provider returns to tell a
   * later change apart (modified_on, version, fingerprint, ...), JSON. Restore
   * compares the resource with this: a difference means someone else changed
   * it since, and the relay leaves it alone.
   */
  applied: A;
  /** The provider reports the target state as in effect (asynchronous providers: confirmed by polling). */
  confirmed: boolean;
  /** ISO time the target state was confirmed. */
  confirmedAt?: string;
  /** Not confirmed yet: when to look again (the reconciler calls activate again, which must then only poll). */
  recheckAfterMs?: number;
  summary: string;
}

/** What restore did. */
export type SwitchRestore =
  /** The resource is back as the snapshot had it (for what the relay changed). */
  | { outcome: 'restored'; summary: string }
  /** Someone else changed what the relay set since it set it: nothing was written; reported loudly. */
  | { outcome: 'changed-by-others'; summary: string }
  /** Restore requested, not confirmed yet (asynchronous providers): look again after recheckAfterMs. */
  | { outcome: 'pending'; recheckAfterMs: number; summary: string };

export interface SwitchProvider {
  readonly kind: 'switch';
  readonly id: string;
  readonly type: string;
  /**
   * Quiet period after the last holder lets go before the relay restores
   * (anti-flap: a BGP withdrawal takes ~15 min to converge, so an incident
   * that flaps must not flap the advertisement). A TTL that runs out does
   * not wait for it.
   */
  readonly holdDownMs: number;
  /** Reads the resource: what restore needs, and whether it is already in the target state. Changes nothing. */
  snapshot(ctx: SwitchContext): Promise<SwitchSnapshot>;
  /**
   * Turns mitigation on. Idempotent: called again (after a crash, or to
   * re-check an unconfirmed activation) it changes nothing that is already
   * as it should be and only reports. Never called when the snapshot says
   * `alreadyActive`.
   */
  activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation>;
  /**
   * Restores exactly what the relay changed, and only if nobody changed it
   * since (`activation.applied` against the resource as read now);
   * `activation` is undefined when a crash came between the change and its
   * record: compare with the target state instead. Idempotent. Never called
   * when the snapshot says `alreadyActive`.
   */
  deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore>;
  healthCheck(ctx: ProviderContext): Promise<HealthResult>;
}

export type Provider = BlocklistProvider | SwitchProvider;

/** What a cloud switch provider's factory takes from the validated config. */
export interface SwitchIntegration<Options> {
  id: string;
  options: Options;
  holdDownMs: number;
}

/** What a provider over a cloud API takes besides its config; timing is injectable for tests. */
export interface CloudProviderDeps<Secrets> {
  transport: Transport;
  /** Resolved secrets; never logged. */
  secrets: Secrets;
  now?: () => number;
  /** Waits `ms`, rejecting when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Jitter source in [0, 1). */
  random?: () => number;
  logger?: Logger;
}
