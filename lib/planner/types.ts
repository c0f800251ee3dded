/**
 * Types of the pure planning layer: no I/O anywhere under lib/planner.
 */
import type { MatchRules } from '../config/schema.ts';
import type { FlowtriqEvent } from '../event/types.ts';
import type { BlockCompletion, BlockRecord, HoldIntent, IncidentRecord } from '../model/types.ts';

/** What the planner needs to know about a configured integration. */
export interface IntegrationView {
  id: string;
  kind: 'blocklist' | 'switch';
  match: MatchRules;
  ttlMs: number;
  /** Blocklists: hold only the first N selected addresses of each event (BlocklistProvider.maxIpsPerEvent). */
  maxIps?: number;
}

export type { SkippedIp } from '../ip/select.ts';

export interface PlanEventInput {
  event: FlowtriqEvent;
  incident: IncidentRecord | undefined;
  integrations: readonly IntegrationView[];
  /** Canonical attacker IPs that passed selection (confidence, never-block, cap). */
  ips: readonly string[];
  /**
   * Switch integrations whose activation this incident already holds: not
   * re-held, so an attack_update never extends a TTL (it counts from the
   * first hold).
   */
  heldSwitches?: ReadonlySet<string>;
  now: number;
}

/** The event changes nothing (stale, already ended, unknown type). */
export interface IgnorePlan {
  action: 'ignore';
  reason: string;
}

/** A `test` event: run every integration's health check, change nothing. */
export interface TestPlan {
  action: 'test';
}

export interface ApplyPlan {
  action: 'apply';
  /** The incident record to store (before any intent is recorded). */
  incident: IncidentRecord;
  /** Blocks to hold for this incident. */
  hold: HoldIntent[];
  /** attack_end: let go of everything the incident holds. */
  releaseAll: boolean;
  /** Integrations that matched, and those that did not with the reason. */
  matched: string[];
  unmatched: { integration: string; reason: string }[];
  /** Why per-IP blocking was skipped as a whole (e.g. spoofed sources). */
  ipBlockingSkipped?: string;
}

export type EventPlan = IgnorePlan | TestPlan | ApplyPlan;

/** Work for one reconcile round of one integration. */
export interface ReconcilePlan {
  /** Blocks that must be put on the device (added / activated). */
  add: BlockRecord[];
  /** Blocks that must come off the device (removed / deactivated). */
  remove: BlockRecord[];
  /** Blocks already in their wanted state: only their bookkeeping changes. */
  settle: BlockCompletion[];
}

export type BlockStatus = 'pending' | 'applied' | 'removing' | 'removed' | 'failed';
