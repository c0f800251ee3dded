/**
 * Opening the one-box SQLite databases (`node:sqlite`) and evolving their
 * schema. Each component (state store, job queue) owns one database file; the
 * file is tagged with the component's application id so two components can
 * never migrate the same file by mistake.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { RelayError } from '../errors.ts';

/** The path that opens a private, in-memory database. */
export const MEMORY = ':memory:';

/** Options for {@link openDatabase}. */
export interface OpenOptions {
  /** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
  /**
   * `FULL` (default) syncs the write-ahead log on every commit: a committed
   * transaction survives a process crash *and* an OS crash or power loss.
   * `NORMAL` survives a process crash only (the WAL is synced at checkpoints).
   */
  synchronous?: 'FULL' | 'NORMAL';
}

/**
 * Opens (creating if needed, with its parent directory) the database at
 * `path`, or a private in-memory one for `':memory:'`, configured for the relay:
 *
 * - `journal_mode = WAL`: readers never block the writer and a commit is one
 *   append to the log.
 * - `synchronous = FULL` by default. In WAL mode any setting already keeps
 *   every committed transaction across a *process* crash (the commit has been
 *   written to the WAL file before `COMMIT` returns, and the OS keeps it).
 *   FULL additionally fsyncs the WAL on each commit, so an acknowledged
 *   webhook, queued job or recorded hold also survives an OS crash or power
 *   loss. That matters here: the reconciler calls a provider only after it has
 *   read a committed intent, and with NORMAL a power loss could roll back both
 *   the intent and its completion while the firewall keeps the entry - an
 *   untracked block. The relay's write rate (intents per attack, not per
 *   packet) makes the extra fsync cheap.
 * - `busy_timeout`: another connection holding the write lock is waited for.
 * - `foreign_keys = ON`.
 */
export function openDatabase(path: string, options: OpenOptions = {}): DatabaseSync {
  const location = path === MEMORY ? MEMORY : resolve(path);
  if (location !== MEMORY) mkdirSync(dirname(location), { recursive: true });
  const db = new DatabaseSync(location);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5_000))}`);
    // In-memory databases report "memory" and cannot use WAL; that is fine.
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${options.synchronous ?? 'FULL'}`);
    db.exec('PRAGMA foreign_keys = ON');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** One schema step: SQL to execute, or a function for steps that need code. */
export type Migration = string | ((db: DatabaseSync) => void);

/** The schema of one component's database file. */
export interface Schema {
  /** Used in error messages, e.g. "state store". */
  name: string;
  /** A non-zero 32-bit tag stored in the file header (`PRAGMA application_id`). */
  applicationId: number;
  /** Applied in order; `PRAGMA user_version` counts the steps already applied. Only ever append. */
  migrations: readonly Migration[];
}

/** The database file belongs to another component or to a newer relay. */
export class DatabaseSchemaError extends RelayError {
  constructor(message: string) {
    super('database_schema', message);
  }
}

/**
 * Brings the database up to the schema's latest version. Each pending step
 * runs in its own IMMEDIATE transaction together with the `user_version`
 * bump, so a crash mid-migration leaves a consistent, resumable file.
 * Throws {@link DatabaseSchemaError} when the file is tagged for another
 * component or is newer than this code knows.
 */
export function migrate(db: DatabaseSync, schema: Schema): void {
  const owner = readPragmaNumber(db, 'application_id');
  const current = readPragmaNumber(db, 'user_version');
  if (owner !== 0 && owner !== schema.applicationId) {
    throw new DatabaseSchemaError(`the database belongs to another component (application_id ${owner}), not the ${schema.name}`);
  }
  if (owner === 0 && current !== 0) {
    throw new DatabaseSchemaError(`the database has user_version ${current} but no application_id; it was not created by the ${schema.name}`);
  }
  if (current > schema.migrations.length) {
    throw new DatabaseSchemaError(
      `the ${schema.name} database is at schema version ${current}, newer than this relay knows (${schema.migrations.length}); upgrade the relay`,
    );
  }
  for (let version = current; version < schema.migrations.length; version += 1) {
    const step = schema.migrations[version]!;
    transaction(db, () => {
      if (typeof step === 'string') db.exec(step);
      else step(db);
      if (version === 0) db.exec(`PRAGMA application_id = ${schema.applicationId | 0}`);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    });
  }
}

/**
 * Runs `work` inside `BEGIN IMMEDIATE … COMMIT` (taking the write lock up
 * front, so it never fails half-way with a lock upgrade), rolling back if it
 * throws. `work` must be synchronous.
 */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

function readPragmaNumber(db: DatabaseSync, pragma: 'application_id' | 'user_version'): number {
  const row = db.prepare(`PRAGMA ${pragma}`).get() as Record<string, unknown> | undefined;
  return Number(row?.[pragma] ?? 0);
}

/**
 * Runs one synchronous database operation for a component. A failure of
 * node:sqlite itself (SQLITE_BUSY, I/O, a closed handle) becomes the
 * component's "unavailable" error, made by `unavailable`, with the message
 * "<what> failed: <reason>"; a RelayError or a bug passes through unchanged.
 */
export function runGuarded<T>(what: string, work: () => T, unavailable: (message: string, options: { cause: unknown }) => Error): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof RelayError || !isDatabaseError(error)) throw error;
    throw unavailable(`${what} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Errors raised by node:sqlite itself (SQLITE_BUSY, I/O, closed handle), as opposed to bugs. */
function isDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_SQLITE_ERROR' || code === 'ERR_INVALID_STATE';
}
