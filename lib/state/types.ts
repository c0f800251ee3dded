/**
 * Durable state: the source of truth for what the relay has put where. The
 * records themselves are declared in lib/model/types.ts; this is the
 * contract every store (SQLite, DynamoDB) implements.
 */
import type {
  AuditEntry,
  AuditQuery,
  BlockCompletion,
  BlockKey,
  BlockRecord,
  CompleteResult,
  HoldIntent,
  Holding,
  IncidentRecord,
  IncidentStatus,
} from '../model/types.ts';

export interface StateStore {
  getIncident(uuid: string): Promise<IncidentRecord | undefined>;
  /** Writes the incident unless the stored one has a newer lastEventAt; returns whether it was written. */
  putIncident(record: IncidentRecord): Promise<boolean>;
  listIncidents(query?: { status?: IncidentStatus; limit?: number }): Promise<IncidentRecord[]>;

  /**
   * Records intents atomically per block: adds the holding, adds the holder to
   * the block (creating it absent if new), sets expiresAt and kind, sets
   * dueAt = now and bumps the version. Idempotent.
   */
  hold(intents: HoldIntent[], now: number): Promise<void>;
  /**
   * Lets go of every holding of the incident: deletes each holding, removes the
   * holder from its block, sets dueAt = now and bumps the version. Idempotent.
   */
  release(incident: string, now: number): Promise<void>;
  listHoldings(incident: string): Promise<Holding[]>;

  getBlocks(keys: BlockKey[]): Promise<BlockRecord[]>;
  /** Blocks of one or all integrations; settled-absent blocks only with includeSettled. */
  listBlocks(query?: { integration?: string; includeSettled?: boolean }): Promise<BlockRecord[]>;
  /** Blocks of the integration with dueAt <= now, oldest due first. */
  dueBlocks(integration: string, now: number, limit: number): Promise<BlockRecord[]>;
  /** Integrations that have at least one block due at `now` (for the sweeper). */
  dueIntegrations(now: number): Promise<string[]>;
  complete(completions: BlockCompletion[], now: number): Promise<CompleteResult>;
  /**
   * Deletes settled-absent blocks with no holders last updated before `before`,
   * processed-event markers older than `before`, and ended incidents last
   * updated before `before`. Returns the blocks deleted.
   */
  purgeSettled(before: number): Promise<number>;

  /** A time-bounded exclusive lease (the reconciler's per-integration lock). */
  acquireLease(name: string, owner: string, now: number, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /** Who holds the lease and until when (expired leases included), or undefined when none is recorded. */
  getLease(name: string): Promise<{ owner: string; expiresAt: number } | undefined>;

  /** The audit trail: appends entries (their `detail` bounded). */
  appendAudit(entries: AuditEntry[]): Promise<void>;
  /** Audit entries matching the query, newest first. */
  listAudit(query?: AuditQuery): Promise<AuditEntry[]>;
  /** Deletes audit entries older than `before` (retention); returns how many, where the store can tell. */
  purgeAudit(before: number): Promise<number>;

  /**
   * Adds `amount` to the named counter and returns its new total (atomic
   * across processes). Name a window into it (e.g. a UTC day); the counter
   * may be deleted once `expiresAt` has passed.
   */
  addToCounter(name: string, amount: number, expiresAt: number): Promise<number>;

  /** Worker-side de-duplication of processed events. */
  wasProcessed(eventKey: string): Promise<boolean>;
  markProcessed(eventKey: string, now: number): Promise<void>;

  close(): Promise<void>;
}
