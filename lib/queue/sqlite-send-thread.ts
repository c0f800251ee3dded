/**
 * The queue's writer thread: commits sends on its own connection so the
 * fsync of each group commit never blocks the server's event loop. Every
 * message received in one turn of this thread joins one transaction.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../sqlite/open.ts';
import { commitSends, prepareSendStatements } from './sqlite-send.ts';
import type { OutgoingMessage } from './types.ts';

export interface SendThreadData {
  path: string;
  synchronous?: 'FULL' | 'NORMAL';
  dedupWindowMs: number;
}

export interface SendThreadItem {
  id: number;
  message: OutgoingMessage;
  now: number;
}

/** Sends go in batches: everything sent in one turn of the sending thread, in one message. */
export type SendThreadRequest = { type: 'send'; items: SendThreadItem[] } | { type: 'close' };
export type SendThreadReply =
  | { type: 'done'; ids: number[]; duplicates: boolean[] }
  | { type: 'failed'; ids: number[]; message: string }
  | { type: 'closed' };

const SWEEP_INTERVAL_MS = 60_000;
const data = workerData as SendThreadData;
const port = parentPort!;
const db = openDatabase(data.path, data.synchronous ? { synchronous: data.synchronous } : {});
const sql = prepareSendStatements(db);
let pending: SendThreadItem[] = [];
let lastSweep = -Infinity;

function flush() {
  const batch = pending;
  pending = [];
  if (batch.length === 0) return;
  const ids = batch.map((item) => item.id);
  try {
    const now = batch[0]!.now;
    const sweep = now - lastSweep >= SWEEP_INTERVAL_MS;
    if (sweep) lastSweep = now;
    const results = commitSends(db, sql, batch, { dedupWindowMs: data.dedupWindowMs, sweepDedup: sweep });
    port.postMessage({ type: 'done', ids, duplicates: results.map((result) => result.duplicate === true) } satisfies SendThreadReply);
  } catch (error) {
    port.postMessage({ type: 'failed', ids, message: error instanceof Error ? error.message : String(error) } satisfies SendThreadReply);
  }
}

port.on('message', (request: SendThreadRequest) => {
  if (request.type === 'close') {
    flush();
    db.close();
    port.postMessage({ type: 'closed' } satisfies SendThreadReply);
    port.close();
    return;
  }
  if (pending.length === 0) setImmediate(flush);
  for (const item of request.items) pending.push(item);
});
