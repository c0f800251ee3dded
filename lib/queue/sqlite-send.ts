/**
 * Committing a batch of sends: one transaction, de-duplicated per message.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { transaction } from '../sqlite/open.ts';
import type { OutgoingMessage, SendResult } from './types.ts';

export interface SendStatements {
  sweepDedup: StatementSync;
  claimDedup: StatementSync;
  insertMessage: StatementSync;
}

export function prepareSendStatements(db: DatabaseSync): SendStatements {
  return {
    sweepDedup: db.prepare('DELETE FROM dedup WHERE expires_at <= ?'),
    // Changes 1 when the id is new or its window has passed; 0 for a duplicate.
    claimDedup: db.prepare(`
      INSERT INTO dedup (dedup_id, expires_at) VALUES (?1, ?2)
      ON CONFLICT (dedup_id) DO UPDATE SET expires_at = excluded.expires_at WHERE dedup.expires_at <= ?3`),
    insertMessage: db.prepare(`
      INSERT INTO messages (group_id, dedup_id, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?4)`),
  };
}

/** Inserts the batch in one transaction; a dedupId seen inside its window (or earlier in the batch) is a duplicate. */
export function commitSends(
  db: DatabaseSync,
  sql: SendStatements,
  batch: readonly { message: OutgoingMessage; now: number }[],
  options: { dedupWindowMs: number; sweepDedup: boolean },
): SendResult[] {
  return transaction(db, () => {
    if (options.sweepDedup && batch.length > 0) sql.sweepDedup.run(batch[0]!.now);
    return batch.map(({ message, now }) => {
      const fresh = Number(sql.claimDedup.run(message.dedupId, now + options.dedupWindowMs, now).changes) > 0;
      if (!fresh) return { duplicate: true };
      sql.insertMessage.run(message.groupId, message.dedupId, message.body, now);
      return { duplicate: false };
    });
  });
}
