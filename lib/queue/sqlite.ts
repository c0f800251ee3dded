/**
 * The one-box JobQueue: a SQLite file (WAL, synchronous FULL) with SQS FIFO
 * semantics.
 *
 * - Order: messages of a group are delivered strictly in send order and only
 *   the oldest message of a group is ever deliverable, so a group with a
 *   message in flight (or waiting out a retry delay) delivers nothing else.
 *   Groups are independent; across groups the oldest head goes first.
 * - De-duplication: a send whose dedupId was first sent less than the window
 *   ago is dropped and reported as `{ duplicate: true }`.
 * - At-least-once: a received message is invisible for `visibilityMs`; if it
 *   is neither acked nor retried by then it is delivered again.
 * - Receipts are fresh per delivery: a receipt from an earlier delivery no
 *   longer acks or retries the message (both become no-ops).
 * - Dead letters: a message that has already been received `maxReceives`
 *   times is moved to the dead-letter table by the receive that would have
 *   delivered it for the next time.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { MEMORY, migrate, openDatabase, runGuarded, transaction } from '../sqlite/open.ts';
import type { OpenOptions, Schema } from '../sqlite/open.ts';
import { MessageTooLargeError, QueueUnavailableError } from './errors.ts';
import { commitSends, prepareSendStatements, type SendStatements } from './sqlite-send.ts';
import type { JobQueue, OutgoingMessage, QueueStats, ReceiveOptions, ReceivedMessage, SendResult } from './types.ts';

/** Largest accepted body in UTF-8 bytes (the SQS limit the AWS deployment is held to). */
export const MAX_BODY_BYTES = 256 * 1024;
/** Default de-duplication window. */
export const DEFAULT_DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Default number of receives before a message is dead-lettered. */
export const DEFAULT_MAX_RECEIVES = 5;
/** Default interval at which a long-polling receive re-reads the table. */
export const DEFAULT_POLL_INTERVAL_MS = 25;

/** Options for {@link SqliteJobQueue}. */
export interface SqliteJobQueueOptions extends OpenOptions {
  /** Receives after which the next receive dead-letters the message instead (default 5). */
  maxReceives?: number;
  /** How long a dedupId suppresses later sends (default 24 h). */
  dedupWindowMs?: number;
  /** Clock for visibility, delays and the dedup window (default Date.now). */
  now?: () => number;
  /**
   * How often a long-polling receive re-reads the table (default 25 ms). Sends
   * through the same instance wake it at once; this catches other connections
   * and expiring visibility timeouts.
   */
  pollIntervalMs?: number;
  /**
   * A send commit that ended less than this long ago means sends are arriving
   * back to back: the next commit then waits one more event-loop turn to
   * gather more of them (default 2 ms; 0 never waits).
   */
  busyWindowMs?: number;
}

/** The job queue's database schema (append-only list of migrations). */
export const QUEUE_SCHEMA: Schema = {
  name: 'job queue',
  applicationId: 0x46545251, // "FTRQ"
  migrations: [
    `
    CREATE TABLE messages (
      seq           INTEGER PRIMARY KEY AUTOINCREMENT, -- send order, never reused
      id            TEXT NOT NULL UNIQUE,
      group_id      TEXT NOT NULL,
      dedup_id      TEXT NOT NULL,
      body          TEXT NOT NULL,
      sent_at       INTEGER NOT NULL,
      visible_at    INTEGER NOT NULL,
      receive_count INTEGER NOT NULL DEFAULT 0,
      receipt       TEXT UNIQUE -- the current delivery's receipt; NULL when not delivered
    );
    CREATE INDEX messages_by_group ON messages (group_id, seq);

    CREATE TABLE dedup (
      dedup_id   TEXT PRIMARY KEY,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX dedup_by_expiry ON dedup (expires_at);

    CREATE TABLE dead_letters (
      seq           INTEGER PRIMARY KEY, -- the message's original send order
      id            TEXT NOT NULL UNIQUE,
      group_id      TEXT NOT NULL,
      dedup_id      TEXT NOT NULL,
      body          TEXT NOT NULL,
      sent_at       INTEGER NOT NULL,
      receive_count INTEGER NOT NULL,
      died_at       INTEGER NOT NULL
    );
    CREATE INDEX dead_letters_by_time ON dead_letters (died_at, seq);
    `,
    // 2: sends touch no randomly keyed index. The message id is derived from
    // `seq`; receipts carry their `seq`, so acks find the row by primary key;
    // group heads are found by a scan in send order (see #receiveNow). Each
    // random-keyed index cost one dirty page per message per commit: about
    // 10 µs of CPU and 4 KiB of WAL per message and index under load.
    `
    CREATE TABLE messages_v2 (
      seq           INTEGER PRIMARY KEY AUTOINCREMENT, -- send order and message id, never reused
      group_id      TEXT NOT NULL,
      dedup_id      TEXT NOT NULL,
      body          TEXT NOT NULL,
      sent_at       INTEGER NOT NULL,
      visible_at    INTEGER NOT NULL,
      receive_count INTEGER NOT NULL DEFAULT 0,
      receipt       TEXT -- the current delivery's receipt ("<seq>.<random>"); NULL when not delivered
    );
    INSERT INTO messages_v2 (seq, group_id, dedup_id, body, sent_at, visible_at, receive_count, receipt)
      SELECT seq, group_id, dedup_id, body, sent_at, visible_at, receive_count, NULL FROM messages;
    -- Carry the sequence over, so a seq used before (and perhaps dead-lettered) is never reused.
    INSERT INTO sqlite_sequence (name, seq)
      SELECT 'messages_v2', seq FROM sqlite_sequence WHERE name = 'messages'
      AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages_v2');
    UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'messages'))
      WHERE name = 'messages_v2';
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    `,
  ],
};

interface ScanRow {
  seq: number;
  group_id: string;
  visible_at: number;
  receive_count: number;
}

interface DeadLetterRow {
  id: string;
  group_id: string;
  dedup_id: string;
  body: string;
  receive_count: number;
}

/** The row a receipt ("<seq>.<random>") was issued for, or undefined for a handle no delivery issued. */
function receiptSeq(receipt: string): number | undefined {
  const dot = receipt.indexOf('.');
  const seq = Number(receipt.slice(0, dot));
  return dot > 0 && Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/** How often expired dedup entries are swept (on send). */
const DEDUP_SWEEP_INTERVAL_MS = 60_000;
/** Default for {@link SqliteJobQueueOptions.busyWindowMs}. */
export const DEFAULT_BUSY_WINDOW_MS = 2;
/** Under load, a commit waits one more event-loop turn unless this many sends are already waiting. */
const BUSY_BATCH = 32;

/** {@link JobQueue} on a `node:sqlite` database. */
export class SqliteJobQueue implements JobQueue {
  readonly #db: DatabaseSync;
  readonly #sql: ReturnType<typeof prepareStatements>;
  readonly #now: () => number;
  readonly #maxReceives: number;
  readonly #dedupWindowMs: number;
  readonly #pollIntervalMs: number;
  /** Wakes long-polling receives of this instance (on send and on close). */
  readonly #waiters = new Set<() => void>();
  #lastDedupSweep = -Infinity;
  #closed = false;
  readonly #pendingSends: { message: OutgoingMessage; now: number; resolve: (result: SendResult) => void; reject: (error: unknown) => void }[] = [];
  readonly #sendSql: SendStatements;
  readonly #busyWindowMs: number;
  /** When the last send commit ended (performance.now()). */
  #lastCommitEnd = -Infinity;
  /** The waiting sends have already been held back one turn. */
  #waitedATurn = false;

  /** Opens (creating and migrating) the queue at `path`, or a private in-memory one for `':memory:'`. */
  static open(path: string = MEMORY, options: SqliteJobQueueOptions = {}): SqliteJobQueue {
    const db = openDatabase(path, options);
    try {
      return new SqliteJobQueue(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Migrates `db` and takes ownership of it: `close()` closes it. */
  constructor(db: DatabaseSync, options: SqliteJobQueueOptions = {}) {
    const maxReceives = options.maxReceives ?? DEFAULT_MAX_RECEIVES;
    if (!Number.isInteger(maxReceives) || maxReceives < 1) throw new RangeError(`maxReceives must be a positive integer, got ${maxReceives}`);
    migrate(db, QUEUE_SCHEMA);
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#sendSql = prepareSendStatements(db);
    this.#now = options.now ?? Date.now;
    this.#maxReceives = maxReceives;
    this.#dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    this.#pollIntervalMs = Math.max(1, options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.#busyWindowMs = Math.max(0, options.busyWindowMs ?? DEFAULT_BUSY_WINDOW_MS);
  }

  /**
   * Sends are committed in groups: every send made in one event-loop turn
   * joins one transaction (one fsync), and each promise resolves only after
   * that COMMIT, so a resolved send is on disk. Under load this turns one
   * fsync per webhook into one per batch; alone, a send waits one turn.
   *
   * Under load (the previous commit ended less than `busyWindowMs`, 2 ms,
   * ago) a commit waits one more turn unless 32 sends are already waiting, so
   * the requests read in the next poll phase join it: in the ingest benchmark
   * ~25 sends per fsync instead of ~17, for one loop iteration of latency.
   * An idle queue commits in the send's own turn.
   *
   * The COMMIT runs on this thread and blocks it for the fsync (0.1-0.4 ms
   * on the disk measured). A writer thread with its own connection was
   * measured as the alternative and was slower on 2 cores: handing batches
   * across threads cost more than the fsync it kept off the event loop
   * (bench/README.md).
   */
  async send(message: OutgoingMessage): Promise<SendResult> {
    const bytes = Buffer.byteLength(message.body, 'utf8');
    if (bytes > MAX_BODY_BYTES) throw new MessageTooLargeError(bytes, MAX_BODY_BYTES);
    if (this.#closed) throw new QueueUnavailableError('job queue is closed (send)');
    const now = this.#now();
    return new Promise<SendResult>((resolve, reject) => {
      this.#pendingSends.push({ message, now, resolve, reject });
      if (this.#pendingSends.length === 1) setImmediate(() => this.#flushSends());
    });
  }

  /** Commits every waiting send in one transaction (after one more turn when busy, unless `now`). */
  #flushSends(now = false): void {
    if (this.#pendingSends.length === 0) return;
    const busy = performance.now() - this.#lastCommitEnd < this.#busyWindowMs;
    if (!now && !this.#waitedATurn && busy && this.#pendingSends.length < BUSY_BATCH) {
      this.#waitedATurn = true;
      setImmediate(() => this.#flushSends());
      return;
    }
    this.#waitedATurn = false;
    const batch = this.#pendingSends.splice(0);
    let results: SendResult[];
    try {
      results = this.#run('send', () => {
        const sweep = batch[0]!.now - this.#lastDedupSweep >= DEDUP_SWEEP_INTERVAL_MS;
        if (sweep) this.#lastDedupSweep = batch[0]!.now;
        return commitSends(this.#db, this.#sendSql, batch, { dedupWindowMs: this.#dedupWindowMs, sweepDedup: sweep });
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    } finally {
      this.#lastCommitEnd = performance.now();
    }
    batch.forEach((pending, index) => pending.resolve(results[index]!));
    if (results.some((result) => !result.duplicate)) this.#wake();
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const deadline = performance.now() + Math.max(0, options.waitMs ?? 0);
    for (;;) {
      const received = this.#receiveNow(options);
      if (received.length > 0) return received;
      const remaining = deadline - performance.now();
      if (remaining <= 0 || this.#closed) return [];
      await this.#sleep(Math.min(remaining, this.#pollIntervalMs));
      if (this.#closed) return [];
    }
  }

  async ack(receipt: string): Promise<void> {
    const seq = receiptSeq(receipt);
    if (seq === undefined) return;
    this.#run('ack', () => this.#sql.deleteByReceipt.run(seq, receipt));
  }

  async retry(receipt: string, delayMs: number): Promise<void> {
    const seq = receiptSeq(receipt);
    if (seq === undefined) return;
    this.#run('retry', () => this.#sql.releaseByReceipt.run(this.#now() + Math.max(0, delayMs), seq, receipt));
    if (delayMs <= 0) this.#wake();
  }

  async stats(): Promise<QueueStats> {
    return this.#run('stats', () => {
      const now = this.#now();
      const live = this.#sql.countMessages.get(now, now) as { visible: number | null; in_flight: number | null; oldest: number | null };
      const dead = this.#sql.countDead.get() as { dead: number };
      return {
        visible: live.visible ?? 0,
        inFlight: live.in_flight ?? 0,
        dead: dead.dead,
        ...(live.oldest !== null ? { oldestAgeMs: Math.max(0, now - live.oldest) } : {}),
      };
    });
  }

  async deadLetters(limit: number): Promise<ReceivedMessage[]> {
    if (limit <= 0) return [];
    return this.#run('deadLetters', () =>
      (this.#sql.listDead.all(Math.floor(limit)) as unknown as DeadLetterRow[]).map((row) => ({
        messageId: row.id,
        groupId: row.group_id,
        dedupId: row.dedup_id,
        body: row.body,
        receiveCount: row.receive_count,
        // Dead letters cannot be acked or retried; the handle matches no delivery.
        receipt: `dead:${row.id}`,
      })),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flushSends(true);
    this.#closed = true;
    this.#wake();
    this.#db.close();
  }

  /**
   * One non-blocking receive: delivers up to `max` group heads, dead-lettering
   * exhausted ones. Heads are found by reading the table in send order (no
   * index on the group, which would cost every send a random write): the
   * first row met of a group is its head. A head that is in flight or waiting
   * out a delay blocks its group; a head that has used up its receives is
   * dead-lettered and uncovers the group's next row, met later in the same
   * scan. The scan stops once `max` heads are chosen, so it reads only the
   * blocked rows in front of them.
   */
  #receiveNow(options: ReceiveOptions): ReceivedMessage[] {
    const max = Math.max(1, Math.floor(options.max));
    const visibilityMs = Math.max(0, options.visibilityMs);
    return this.#run('receive', () => {
      const now = this.#now();
      return transaction(this.#db, () => {
        const decided = new Set<string>();
        const chosen: ScanRow[] = [];
        const dead: number[] = [];
        for (const row of this.#sql.scanInOrder.iterate() as Iterable<ScanRow>) {
          if (decided.has(row.group_id)) continue;
          if (row.visible_at > now) {
            decided.add(row.group_id);
          } else if (row.receive_count >= this.#maxReceives) {
            dead.push(row.seq);
          } else {
            decided.add(row.group_id);
            chosen.push(row);
            if (chosen.length >= max) break;
          }
        }
        for (const seq of dead) {
          this.#sql.copyToDead.run(now, seq);
          this.#sql.deleteBySeq.run(seq);
        }
        return chosen.map((row) => {
          const receipt = `${row.seq}.${randomUUID()}`;
          const { body, dedup_id } = this.#sql.markDelivered.get(now + visibilityMs, receipt, row.seq) as { body: string; dedup_id: string };
          return {
            messageId: String(row.seq),
            groupId: row.group_id,
            dedupId: dedup_id,
            body,
            receiveCount: row.receive_count + 1,
            receipt,
          };
        });
      });
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Runs one synchronous operation, turning database failures into QueueUnavailableError. */
  #run<T>(operation: string, work: () => T): T {
    if (this.#closed) throw new QueueUnavailableError(`job queue is closed (${operation})`);
    return runGuarded(`job queue ${operation}`, work, (message, options) => new QueueUnavailableError(message, options));
  }
}

function prepareStatements(db: DatabaseSync) {
  const prepare = (sql: string): StatementSync => db.prepare(sql);
  return {
    // Every message in send order, without bodies (receive reads until it has enough heads).
    scanInOrder: prepare('SELECT seq, group_id, visible_at, receive_count FROM messages ORDER BY seq'),
    markDelivered: prepare(
      'UPDATE messages SET visible_at = ?, receipt = ?, receive_count = receive_count + 1 WHERE seq = ? RETURNING body, dedup_id',
    ),
    copyToDead: prepare(`
      INSERT INTO dead_letters (seq, id, group_id, dedup_id, body, sent_at, receive_count, died_at)
      SELECT seq, CAST(seq AS TEXT), group_id, dedup_id, body, sent_at, receive_count, ?1 FROM messages WHERE seq = ?2`),
    deleteBySeq: prepare('DELETE FROM messages WHERE seq = ?'),
    deleteByReceipt: prepare('DELETE FROM messages WHERE seq = ? AND receipt = ?'),
    releaseByReceipt: prepare('UPDATE messages SET visible_at = ?, receipt = NULL WHERE seq = ? AND receipt = ?'),
    countMessages: prepare(
      'SELECT sum(visible_at <= ?1) AS visible, sum(visible_at > ?2) AS in_flight, min(sent_at) AS oldest FROM messages',
    ),
    countDead: prepare('SELECT count(*) AS dead FROM dead_letters'),
    listDead: prepare('SELECT * FROM dead_letters ORDER BY died_at, seq LIMIT ?'),
  };
}
