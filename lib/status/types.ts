/**
 * The one-box relay's status page (GET /status, GET /status.json): what it
 * needs from the running process, and the view it shows.
 *
 * Every string in the view that came from a webhook (incident uuid, title,
 * family, severity, node name/ip) or from a device (lastError, audit detail)
 * is untrusted: the HTML page escapes all of it (lib/status/page.ts).
 */
import type { Logger } from '../log/types.ts';
import type { AuditEntry } from '../model/types.ts';
import type { BlockStatus } from '../planner/types.ts';
import type { QueueStats } from '../queue/types.ts';
import type { StateStore } from '../state/types.ts';

/** The latest health-check result of one integration. */
export interface HealthResult {
  ok: boolean;
  /** One short line; shown as is (escaped). */
  detail: string;
  /** Epoch ms of the check. */
  at: number;
}

/** What the one-box process knows in memory (nothing of it is in the store). */
export interface RuntimeStatus {
  /** Epoch ms the process started. */
  startedAt: number;
  /** Epoch ms the last sweep finished. */
  lastSweepAt?: number;
  /** Epoch ms the last drift check finished. */
  lastDriftCheckAt?: number;
  /** Integration id → its last health-check result. */
  health: ReadonlyMap<string, HealthResult>;
}

export interface StatusIntegration {
  id: string;
  /** The provider type (`routeros`, `cloudflare`, …). */
  type: string;
  kind: 'blocklist' | 'switch';
}

export interface StatusDeps {
  store: StateStore;
  queue: { stats(): Promise<QueueStats> };
  runtime: () => RuntimeStatus;
  /** The configured integrations, in config order. */
  integrations: StatusIntegration[];
  now: () => number;
  /**
   * The status token. Set: every request needs it (Bearer header, or the
   * cookie `?token=` sets). Unset: only loopback clients are answered.
   */
  token: string | undefined;
  /** Where a failure to build the page is logged (never with the token). */
  logger?: Logger;
}

/** A list cut to a bound: `more` entries were left out. */
export interface Bounded<T> {
  items: T[];
  more: number;
}

export interface IncidentView {
  uuid: string;
  id?: number | string;
  title?: string;
  family?: string;
  severity?: string;
  node?: { id?: number | string; name?: string; ip?: string };
  spoofed?: boolean;
  /** As the webhook gave it (ISO 8601), else the time the relay first saw the incident. */
  startedAt: string;
  firstSeenAt: number;
  lastEventAt: number;
  peakPps?: number;
  peakBps?: number;
  /** Distinct attacker addresses this incident holds on blocklists. */
  attackers: number;
  /** Blocklist entries it holds (one per address and integration). */
  blocksHeld: number;
  /** Switch integrations this incident holds. */
  switches: number;
}

export interface BlockView {
  /** The address (or CIDR) on the blocklist. */
  address: string;
  status: BlockStatus;
  /** Incidents holding it. */
  holders: number;
  /** Present on the device under an entry the relay did not add (the operator's): never removed. */
  foreign: boolean;
  /** Epoch ms the block is removed even if still held. */
  expiresAt: number;
  /** expiresAt − now (negative once past). */
  timeLeftMs: number;
  /** Epoch ms the device confirmed the add. */
  addedAt?: number;
  /** Epoch ms of the last provider call about it (the last verification). */
  lastAttemptAt?: number;
  /** Epoch ms the reconciler looks at it next. */
  dueAt?: number;
  attempts: number;
  lastError?: string;
}

export interface BlocklistView {
  id: string;
  type: string;
  /** false: blocks remain from an integration no longer in the config. */
  configured: boolean;
  /** Blocks per status (all of them, not only those listed). */
  counts: Partial<Record<BlockStatus, number>>;
  blocks: Bounded<BlockView>;
}

export type SwitchState =
  /** Not activated (or restored). */
  | 'off'
  /** Being turned on (no confirmation yet). */
  | 'turning-on'
  /** On and held by at least one incident. */
  | 'on'
  /** On, no incident holds it, waiting out the hold-down before restoring. */
  | 'hold-down'
  /** No longer wanted, being restored. */
  | 'restoring'
  /** The last attempt failed; retried at nextAttemptAt. */
  | 'failed';

export interface SwitchView {
  id: string;
  type: string;
  configured: boolean;
  state: SwitchState;
  holders: Bounded<string>;
  /** Epoch ms the hold-down ends and the switch is restored unless an incident needs it again. */
  holdDownEndsAt?: number;
  expiresAt?: number;
  /** What the relay found before changing anything. */
  found?: { summary: string; alreadyActive: boolean };
  /** What the relay set. */
  activation?: { summary: string; confirmed: boolean; confirmedAt?: string };
  lastAttemptAt?: number;
  nextAttemptAt?: number;
  lastError?: string;
}

export interface FailureView {
  integration: string;
  kind: 'ip' | 'switch';
  /** The address, or `@switch`. */
  key: string;
  status: BlockStatus;
  attempts: number;
  lastError: string;
  lastAttemptAt?: number;
  /** Epoch ms of the next retry. */
  nextRetryAt: number;
}

export interface NoticeView {
  integration: string;
  at: number;
  message: string;
}

export interface IntegrationHealthView extends StatusIntegration {
  /** The last health-check result; absent when none ran yet. */
  health?: HealthResult;
}

/** The JSON of GET /status.json, and what GET /status renders. */
export interface StatusView {
  /** Epoch ms the view was built. */
  generatedAt: number;
  health: {
    startedAt: number;
    uptimeMs: number;
    lastSweepAt?: number;
    lastDriftCheckAt?: number;
    queue: { waiting: number; inFlight: number; dead: number; oldestAgeMs?: number };
    integrations: IntegrationHealthView[];
    /** Short lines about what needs a look (failures, dead letters, failed health checks, notices). */
    attention: string[];
  };
  incidents: Bounded<IncidentView>;
  blocklists: BlocklistView[];
  switches: SwitchView[];
  failures: Bounded<FailureView>;
  notices: Bounded<NoticeView>;
  /** Newest first. */
  audit: AuditEntry[];
}
