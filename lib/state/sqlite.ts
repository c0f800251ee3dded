/**
 * The one-box StateStore: a SQLite file (WAL, synchronous FULL) holding
 * incidents, blocks, holdings, leases and processed-event markers. A block's
 * holders are not stored on the block; they are derived from the holdings
 * table, so the two can never disagree. Every multi-row write runs in one
 * IMMEDIATE transaction.
 *
 * Orderings the interface leaves open: `listIncidents` newest `updatedAt`
 * first; `getBlocks` in request order (each existing key once); `listBlocks`
 * by integration then key; `listHoldings` by integration then key. In a
 * completion, `ref`, `addedAt` and `snapshot` left undefined are kept and
 * `null` clears them. `purgeSettled` returns the number of blocks deleted
 * (processed-event markers older than `before` are deleted too, uncounted).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { MEMORY, migrate, openDatabase, runGuarded, transaction } from '../sqlite/open.ts';
import type { OpenOptions, Schema } from '../sqlite/open.ts';
import { StateUnavailableError } from './errors.ts';
import { auditLimit, boundedAuditEntry } from '../model/audit.ts';
import type {
  ActualState,
  AuditAction,
  AuditEntry,
  AuditOutcome,
  AuditQuery,
  BlockCompletion,
  BlockKey,
  BlockKind,
  BlockRecord,
  CompleteResult,
  Holding,
  HoldIntent,
  IncidentRecord,
  IncidentStatus,
} from '../model/types.ts';
import type { StateStore } from './types.ts';

/** The state store's database schema (append-only list of migrations). */
export const STATE_SCHEMA: Schema = {
  name: 'state store',
  applicationId: 0x46545253, // "FTRS"
  migrations: [
    `
    CREATE TABLE incidents (
      uuid          TEXT PRIMARY KEY,
      status        TEXT NOT NULL,
      last_event_at INTEGER NOT NULL,
      updated_at    INTEGER NOT NULL,
      record        TEXT NOT NULL -- the whole IncidentRecord as JSON
    );
    CREATE INDEX incidents_by_status ON incidents (status, updated_at);

    CREATE TABLE blocks (
      integration     TEXT NOT NULL,
      key             TEXT NOT NULL,
      kind            TEXT NOT NULL CHECK (kind IN ('ip', 'switch')),
      actual          TEXT NOT NULL CHECK (actual IN ('present', 'absent', 'unknown')),
      ref             TEXT,
      snapshot        TEXT, -- JSON
      added_at        INTEGER,
      expires_at      INTEGER NOT NULL,
      due_at          INTEGER,
      attempts        INTEGER NOT NULL,
      last_error      TEXT,
      last_attempt_at INTEGER,
      version         INTEGER NOT NULL,
      updated_at      INTEGER NOT NULL,
      PRIMARY KEY (integration, key)
    ) WITHOUT ROWID;
    CREATE INDEX blocks_due ON blocks (integration, due_at) WHERE due_at IS NOT NULL;
    CREATE INDEX blocks_due_any ON blocks (due_at) WHERE due_at IS NOT NULL;

    CREATE TABLE holdings (
      incident    TEXT NOT NULL,
      integration TEXT NOT NULL,
      key         TEXT NOT NULL,
      kind        TEXT NOT NULL,
      held_at     INTEGER NOT NULL,
      PRIMARY KEY (incident, integration, key),
      FOREIGN KEY (integration, key) REFERENCES blocks (integration, key)
    ) WITHOUT ROWID;
    CREATE INDEX holdings_by_block ON holdings (integration, key);

    CREATE TABLE leases (
      name       TEXT PRIMARY KEY,
      owner      TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE processed_events (
      event_key    TEXT PRIMARY KEY,
      processed_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX processed_events_by_time ON processed_events (processed_at);
    `,
    // 2: "present, not ours" — an address the operator already listed (BlockRecord.foreign).
    `ALTER TABLE blocks ADD COLUMN foreign_entry INTEGER;`,
    // 3: the audit trail (AuditEntry).
    `
    CREATE TABLE audit (
      id          INTEGER PRIMARY KEY AUTOINCREMENT,
      at          INTEGER NOT NULL,
      action      TEXT NOT NULL,
      integration TEXT,
      incident    TEXT,
      count       INTEGER NOT NULL,
      outcome     TEXT NOT NULL,
      detail      TEXT
    );
    CREATE INDEX audit_by_time ON audit (at);
    CREATE INDEX audit_by_incident ON audit (incident, at) WHERE incident IS NOT NULL;
    `,
    // 4: counters shared by every process on this store (StateStore.addToCounter).
    `
    CREATE TABLE counters (
      name       TEXT PRIMARY KEY,
      value      INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    `,
    // 5: the expiry last written to a device that expires entries by itself (BlockRecord.deviceExpiresAt).
    `ALTER TABLE blocks ADD COLUMN device_expires_at INTEGER;`,
  ],
};

interface AuditRow {
  at: number;
  action: string;
  integration: string | null;
  incident: string | null;
  count: number;
  outcome: string;
  detail: string | null;
}

function toAuditEntry(row: AuditRow): AuditEntry {
  const entry: AuditEntry = { at: row.at, action: row.action as AuditAction, count: row.count, outcome: row.outcome as AuditOutcome };
  if (row.integration !== null) entry.integration = row.integration;
  if (row.incident !== null) entry.incident = row.incident;
  if (row.detail !== null) entry.detail = row.detail;
  return entry;
}

interface BlockRow {
  integration: string;
  key: string;
  kind: string;
  actual: string;
  ref: string | null;
  foreign_entry: number | null;
  device_expires_at: number | null;
  snapshot: string | null;
  added_at: number | null;
  expires_at: number;
  due_at: number | null;
  attempts: number;
  last_error: string | null;
  last_attempt_at: number | null;
  version: number;
  updated_at: number;
  holders: string;
}

interface HoldingRow {
  incident: string;
  integration: string;
  key: string;
  kind: string;
  held_at: number;
}

const BLOCK_COLUMNS = `
  b.*,
  (SELECT json_group_array(h.incident) FROM holdings h WHERE h.integration = b.integration AND h.key = b.key) AS holders`;

/** True for a block with no holders, confirmed absent and not due (purgeable). */
const SETTLED = `(b.actual = 'absent' AND b.due_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM holdings h WHERE h.integration = b.integration AND h.key = b.key))`;

/** {@link StateStore} on a `node:sqlite` database. */
export class SqliteStateStore implements StateStore {
  readonly #db: DatabaseSync;
  readonly #sql: ReturnType<typeof prepareStatements>;
  #closed = false;

  /** Opens (creating and migrating) the store at `path`, or a private in-memory one for `':memory:'`. */
  static open(path: string = MEMORY, options?: OpenOptions): SqliteStateStore {
    const db = openDatabase(path, options);
    try {
      return new SqliteStateStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Migrates `db` and takes ownership of it: `close()` closes it. */
  constructor(db: DatabaseSync) {
    migrate(db, STATE_SCHEMA);
    this.#db = db;
    this.#sql = prepareStatements(db);
  }

  async getIncident(uuid: string): Promise<IncidentRecord | undefined> {
    return this.#run('getIncident', () => {
      const row = this.#sql.getIncident.get(uuid) as { record: string } | undefined;
      return row ? (JSON.parse(row.record) as IncidentRecord) : undefined;
    });
  }

  async putIncident(record: IncidentRecord): Promise<boolean> {
    return this.#run('putIncident', () => {
      const result = this.#sql.putIncident.run(
        record.uuid,
        record.status,
        record.lastEventAt,
        record.updatedAt,
        JSON.stringify(record),
      );
      return Number(result.changes) > 0;
    });
  }

  async listIncidents(query: { status?: IncidentStatus; limit?: number } = {}): Promise<IncidentRecord[]> {
    return this.#run('listIncidents', () => {
      const limit = query.limit ?? -1;
      const rows = (
        query.status === undefined ? this.#sql.listIncidents.all(limit) : this.#sql.listIncidentsByStatus.all(query.status, limit)
      ) as Array<{ record: string }>;
      return rows.map((row) => JSON.parse(row.record) as IncidentRecord);
    });
  }

  async hold(intents: HoldIntent[], now: number): Promise<void> {
    if (intents.length === 0) return;
    this.#run('hold', () =>
      transaction(this.#db, () => {
        for (const intent of intents) {
          this.#sql.upsertHeldBlock.run(intent.integration, intent.key, intent.kind, intent.expiresAt, now);
          this.#sql.upsertHolding.run(intent.incident, intent.integration, intent.key, intent.kind, now);
        }
      }),
    );
  }

  async release(incident: string, now: number): Promise<void> {
    this.#run('release', () =>
      transaction(this.#db, () => {
        const held = this.#sql.listHoldings.all(incident) as unknown as HoldingRow[];
        if (held.length === 0) return;
        this.#sql.deleteHoldings.run(incident);
        for (const holding of held) this.#sql.touchBlock.run(now, now, holding.integration, holding.key);
      }),
    );
  }

  async listHoldings(incident: string): Promise<Holding[]> {
    return this.#run('listHoldings', () =>
      (this.#sql.listHoldings.all(incident) as unknown as HoldingRow[]).map((row) => ({
        incident: row.incident,
        integration: row.integration,
        key: row.key,
        kind: row.kind as BlockKind,
        heldAt: row.held_at,
      })),
    );
  }

  async getBlocks(keys: BlockKey[]): Promise<BlockRecord[]> {
    return this.#run('getBlocks', () => {
      const seen = new Set<string>();
      const blocks: BlockRecord[] = [];
      for (const { integration, key } of keys) {
        const id = JSON.stringify([integration, key]);
        if (seen.has(id)) continue;
        seen.add(id);
        const row = this.#sql.getBlock.get(integration, key) as BlockRow | undefined;
        if (row) blocks.push(toBlock(row));
      }
      return blocks;
    });
  }

  async listBlocks(query: { integration?: string; includeSettled?: boolean } = {}): Promise<BlockRecord[]> {
    return this.#run('listBlocks', () => {
      const settled = query.includeSettled ? 1 : 0;
      const rows =
        query.integration === undefined
          ? this.#sql.listBlocks.all(settled)
          : this.#sql.listBlocksOf.all(query.integration, settled);
      return (rows as unknown as BlockRow[]).map(toBlock);
    });
  }

  async dueBlocks(integration: string, now: number, limit: number): Promise<BlockRecord[]> {
    if (limit <= 0) return [];
    return this.#run('dueBlocks', () =>
      (this.#sql.dueBlocks.all(integration, now, Math.floor(limit)) as unknown as BlockRow[]).map(toBlock),
    );
  }

  async dueIntegrations(now: number): Promise<string[]> {
    return this.#run('dueIntegrations', () =>
      (this.#sql.dueIntegrations.all(now) as Array<{ integration: string }>).map((row) => row.integration),
    );
  }

  async complete(completions: BlockCompletion[], now: number): Promise<CompleteResult> {
    const conflicts: BlockKey[] = [];
    if (completions.length === 0) return { conflicts };
    this.#run('complete', () =>
      transaction(this.#db, () => {
        for (const done of completions) {
          const result = this.#sql.completeBlock.run({
            integration: done.integration,
            key: done.key,
            expectVersion: done.expectVersion,
            actual: done.actual,
            setRef: done.ref === undefined ? 0 : 1,
            ref: done.ref ?? null,
            setForeign: done.foreign === undefined ? 0 : 1,
            foreign: done.foreign === true ? 1 : done.foreign === false ? 0 : null,
            setSnapshot: done.snapshot === undefined ? 0 : 1,
            snapshot: encodeJson(done.snapshot),
            setAddedAt: done.addedAt === undefined ? 0 : 1,
            addedAt: done.addedAt ?? null,
            setDeviceExpiresAt: done.deviceExpiresAt === undefined ? 0 : 1,
            deviceExpiresAt: done.deviceExpiresAt ?? null,
            dueAt: done.dueAt,
            attempts: done.attempts,
            lastError: done.lastError,
            lastAttemptAt: done.lastAttemptAt,
            now,
          });
          if (Number(result.changes) === 0) conflicts.push({ integration: done.integration, key: done.key });
        }
      }),
    );
    return { conflicts };
  }

  async purgeSettled(before: number): Promise<number> {
    return this.#run('purgeSettled', () =>
      transaction(this.#db, () => {
        const purged = Number(this.#sql.purgeSettled.run(before).changes);
        this.#sql.purgeProcessed.run(before);
        this.#sql.purgeCounters.run(before);
        this.#sql.purgeEndedIncidents.run(before);
        return purged;
      }),
    );
  }

  async acquireLease(name: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    return this.#run('acquireLease', () => Number(this.#sql.acquireLease.run(name, owner, now + ttlMs, now).changes) > 0);
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#run('releaseLease', () => this.#sql.releaseLease.run(name, owner));
  }

  async getLease(name: string): Promise<{ owner: string; expiresAt: number } | undefined> {
    return this.#run('getLease', () => {
      const row = this.#sql.getLease.get(name) as { owner: string; expires_at: number } | undefined;
      return row === undefined ? undefined : { owner: row.owner, expiresAt: row.expires_at };
    });
  }

  async wasProcessed(eventKey: string): Promise<boolean> {
    return this.#run('wasProcessed', () => this.#sql.wasProcessed.get(eventKey) !== undefined);
  }

  async markProcessed(eventKey: string, now: number): Promise<void> {
    this.#run('markProcessed', () => this.#sql.markProcessed.run(eventKey, now));
  }

  async appendAudit(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.#run('appendAudit', () =>
      transaction(this.#db, () => {
        for (const entry of entries.map(boundedAuditEntry)) {
          this.#sql.appendAudit.run(entry.at, entry.action, entry.integration ?? null, entry.incident ?? null, entry.count, entry.outcome, entry.detail ?? null);
        }
      }),
    );
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = auditLimit(query.limit);
    return this.#run('listAudit', () =>
      (this.#sql.listAudit.all({
        since: query.since ?? null,
        incident: query.incident ?? null,
        integration: query.integration ?? null,
        limit,
      }) as unknown as AuditRow[]).map(toAuditEntry),
    );
  }

  async addToCounter(name: string, amount: number, expiresAt: number): Promise<number> {
    return this.#run('addToCounter', () => {
      const row = this.#sql.addToCounter.get(name, amount, expiresAt) as { value: number };
      return row.value;
    });
  }

  async purgeAudit(before: number): Promise<number> {
    return this.#run('purgeAudit', () => Number(this.#sql.purgeAudit.run(before).changes));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Runs one synchronous operation, turning database failures into StateUnavailableError. */
  #run<T>(operation: string, work: () => T): T {
    if (this.#closed) throw new StateUnavailableError(`state store is closed (${operation})`);
    return runGuarded(`state store ${operation}`, work, (message, options) => new StateUnavailableError(message, options));
  }
}

function prepareStatements(db: DatabaseSync) {
  const prepare = (sql: string): StatementSync => db.prepare(sql);
  return {
    getIncident: prepare('SELECT record FROM incidents WHERE uuid = ?'),
    putIncident: prepare(`
      INSERT INTO incidents (uuid, status, last_event_at, updated_at, record) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (uuid) DO UPDATE SET
        status = excluded.status, last_event_at = excluded.last_event_at,
        updated_at = excluded.updated_at, record = excluded.record
      WHERE incidents.last_event_at <= excluded.last_event_at`),
    listIncidents: prepare('SELECT record FROM incidents ORDER BY updated_at DESC, uuid LIMIT ?'),
    listIncidentsByStatus: prepare('SELECT record FROM incidents WHERE status = ? ORDER BY updated_at DESC, uuid LIMIT ?'),

    upsertHeldBlock: prepare(`
      INSERT INTO blocks (integration, key, kind, actual, expires_at, due_at, attempts, version, updated_at)
      VALUES (?1, ?2, ?3, 'absent', ?4, ?5, 0, 1, ?5)
      ON CONFLICT (integration, key) DO UPDATE SET
        kind = excluded.kind, expires_at = excluded.expires_at, due_at = excluded.due_at,
        version = version + 1, updated_at = excluded.updated_at`),
    upsertHolding: prepare(`
      INSERT INTO holdings (incident, integration, key, kind, held_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (incident, integration, key) DO UPDATE SET kind = excluded.kind`),
    listHoldings: prepare('SELECT * FROM holdings WHERE incident = ? ORDER BY integration, key'),
    deleteHoldings: prepare('DELETE FROM holdings WHERE incident = ?'),
    touchBlock: prepare('UPDATE blocks SET due_at = ?, version = version + 1, updated_at = ? WHERE integration = ? AND key = ?'),

    getBlock: prepare(`SELECT ${BLOCK_COLUMNS} FROM blocks b WHERE b.integration = ? AND b.key = ?`),
    listBlocks: prepare(`SELECT ${BLOCK_COLUMNS} FROM blocks b WHERE (?1 OR NOT ${SETTLED}) ORDER BY b.integration, b.key`),
    listBlocksOf: prepare(
      `SELECT ${BLOCK_COLUMNS} FROM blocks b WHERE b.integration = ?1 AND (?2 OR NOT ${SETTLED}) ORDER BY b.key`,
    ),
    dueBlocks: prepare(`
      SELECT ${BLOCK_COLUMNS} FROM blocks b
      WHERE b.integration = ? AND b.due_at IS NOT NULL AND b.due_at <= ?
      ORDER BY b.due_at, b.key LIMIT ?`),
    dueIntegrations: prepare(
      'SELECT DISTINCT integration FROM blocks WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY integration',
    ),
    completeBlock: prepare(`
      UPDATE blocks SET
        actual = :actual,
        ref = CASE WHEN :setRef THEN :ref ELSE ref END,
        foreign_entry = CASE WHEN :setForeign THEN :foreign ELSE foreign_entry END,
        snapshot = CASE WHEN :setSnapshot THEN :snapshot ELSE snapshot END,
        added_at = CASE WHEN :setAddedAt THEN :addedAt ELSE added_at END,
        device_expires_at = CASE WHEN :setDeviceExpiresAt THEN :deviceExpiresAt ELSE device_expires_at END,
        due_at = :dueAt, attempts = :attempts, last_error = :lastError, last_attempt_at = :lastAttemptAt,
        version = version + 1, updated_at = :now
      WHERE integration = :integration AND key = :key AND version = :expectVersion`),
    purgeSettled: prepare(`
      DELETE FROM blocks WHERE (integration, key) IN (
        SELECT b.integration, b.key FROM blocks b WHERE b.updated_at < ? AND ${SETTLED})`),
    purgeProcessed: prepare('DELETE FROM processed_events WHERE processed_at < ?'),
    purgeEndedIncidents: prepare("DELETE FROM incidents WHERE status = 'ended' AND updated_at < ?"),

    acquireLease: prepare(`
      INSERT INTO leases (name, owner, expires_at) VALUES (?1, ?2, ?3)
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
      WHERE leases.owner = excluded.owner OR leases.expires_at <= ?4`),
    releaseLease: prepare('DELETE FROM leases WHERE name = ? AND owner = ?'),
    getLease: prepare('SELECT owner, expires_at FROM leases WHERE name = ?'),

    wasProcessed: prepare('SELECT 1 AS hit FROM processed_events WHERE event_key = ?'),
    markProcessed: prepare('INSERT INTO processed_events (event_key, processed_at) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    appendAudit: prepare('INSERT INTO audit (at, action, integration, incident, count, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    listAudit: prepare(`
      SELECT at, action, integration, incident, count, outcome, detail FROM audit
      WHERE (:since IS NULL OR at >= :since) AND (:incident IS NULL OR incident = :incident) AND (:integration IS NULL OR integration = :integration)
      ORDER BY at DESC, id DESC LIMIT :limit`),
    purgeAudit: prepare('DELETE FROM audit WHERE at < ?'),
    addToCounter: prepare(`
      INSERT INTO counters (name, value, expires_at) VALUES (?1, ?2, ?3)
      ON CONFLICT (name) DO UPDATE SET value = value + excluded.value, expires_at = max(expires_at, excluded.expires_at)
      RETURNING value`),
    purgeCounters: prepare('DELETE FROM counters WHERE expires_at < ?'),
  };
}

function toBlock(row: BlockRow): BlockRecord {
  const holders = [...new Set(JSON.parse(row.holders) as string[])].sort();
  const block: BlockRecord = {
    integration: row.integration,
    key: row.key,
    kind: row.kind as BlockKind,
    holders,
    actual: row.actual as ActualState,
    expiresAt: row.expires_at,
    attempts: row.attempts,
    version: row.version,
    updatedAt: row.updated_at,
  };
  if (row.ref !== null) block.ref = row.ref;
  if (row.foreign_entry === 1) block.foreign = true;
  else if (row.foreign_entry === 0) block.foreign = false;
  if (row.snapshot !== null) block.snapshot = JSON.parse(row.snapshot);
  if (row.added_at !== null) block.addedAt = row.added_at;
  if (row.device_expires_at !== null && row.device_expires_at !== undefined) block.deviceExpiresAt = row.device_expires_at;
  if (row.due_at !== null) block.dueAt = row.due_at;
  if (row.last_error !== null) block.lastError = row.last_error;
  if (row.last_attempt_at !== null) block.lastAttemptAt = row.last_attempt_at;
  return block;
}

/** JSON text for a snapshot; null (and undefined) store no snapshot. */
function encodeJson(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(value) ?? null;
}
