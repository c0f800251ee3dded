/**
 * The two kinds of mitigation target.
 *
 * - blocklist: add IPs, remove IPs (pfSense alias, RouterOS address-list,
 *   CrowdSec decisions, the outbound webhook, dry-run, ...).
 * - switch: snapshot the original state, activate, and deactivate by
 *   restoring that snapshot (scrubbing, firewall lockdown). The snapshot is
 *   taken and recorded before activation, so a crash mid-activation can
 *   never lose the original state.
 *
 * Providers are called only by the reconciler, one batch at a time per
 * integration, and only with addresses that passed the never-block guard.
 * They must be idempotent: adding a present IP or removing an absent one
 * succeeds.
 */
import type { Logger } from '../log/types.ts';

export interface ProviderContext {
  signal: AbortSignal;
  logger: Logger;
}

export interface BlockEntry {
  ip: string;
  /** The provider's reference, when it returned one on add. */
  ref?: string;
  /** Epoch ms after which the relay will remove it (for device-side timeouts). */
  expiresAt: number;
  /** Incident uuids holding it, for providers that report context. */
  incidents: string[];
}

export type EntryResult =
  | { ip: string; ok: true; ref?: string }
  | { ip: string; ok: false; error: string };

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
  /** One result per entry. Throw ProviderError when the whole batch failed. */
  add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]>;
  remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]>;
  healthCheck(ctx: ProviderContext): Promise<HealthResult>;
  /**
   * Optional, for drift repair: the addresses currently on the device that
   * the relay manages (its alias / its tagged list entries), canonical form.
   * The sweeper re-asserts blocks that vanished (a reboot, a filter reload)
   * and removes entries the relay no longer holds.
   */
  list?(ctx: ProviderContext): Promise<{ ip: string; ref?: string }[]>;
}

export interface SwitchContext extends ProviderContext {
  incidents: string[];
}

export interface SwitchProvider {
  readonly kind: 'switch';
  readonly id: string;
  readonly type: string;
  /** Reads what deactivate will need to restore the original state. Changes nothing. */
  snapshot(ctx: SwitchContext): Promise<unknown>;
  /** Turns mitigation on. Idempotent: activating an active target succeeds. */
  activate(ctx: SwitchContext): Promise<void>;
  /** Restores the state captured by `snapshot`. Idempotent. */
  deactivate(snapshot: unknown, ctx: SwitchContext): Promise<void>;
  healthCheck(ctx: ProviderContext): Promise<HealthResult>;
}

export type Provider = BlocklistProvider | SwitchProvider;
