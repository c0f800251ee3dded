/**
 * The audit trail on the state table (DynamoDB): one partition per UTC day,
 * `PK = AUDIT#<YYYY-MM-DD>`, `SK = <at, 15 digits>#<random>`, newest first by
 * querying the days backwards. Entries also carry `gcAt` (TTL, epoch s) as
 * a backstop; `purge(before)` deletes the entries of the three days up to
 * `before` that are older than it (it runs every sweep, so each day is
 * purged as it leaves the retention window; anything older is left to TTL).
 * Without `since`, a listing looks back at most LOOKBACK_DAYS days.
 */
import { randomBytes } from 'node:crypto';
import type { AttributeValue, QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { auditLimit, boundedAuditEntry } from '../model/audit.ts';
import type { AuditAction, AuditEntry, AuditOutcome, AuditQuery } from '../model/types.ts';

type Item = Record<string, AttributeValue>;

/** What the audit trail needs from the store (its error mapping and retries included). */
export interface AuditTableAccess {
  /** All items of a query, up to `max`. */
  query(operation: string, input: Omit<QueryCommandInput, 'TableName'>, max?: number): Promise<Item[]>;
  /** Writes the items (BatchWriteItem, retrying unprocessed ones). */
  batchPut(operation: string, items: Item[]): Promise<void>;
  /** Deletes the items' keys (BatchWriteItem, retrying unprocessed ones). */
  batchDelete(operation: string, keys: Item[]): Promise<void>;
  /** Wall clock, for how far back a listing without `since` looks. */
  now(): number;
}

const DAY_MS = 86_400_000;
/** How far back a listing without `since` looks. */
export const LOOKBACK_DAYS = 31;
/** TTL backstop: an entry is gone at the latest this long after it was written. */
export const AUDIT_TTL_MS = 400 * DAY_MS;
/** Days `purge` walks back from `before`. */
const PURGE_DAYS = 3;

const day = (at: number): string => new Date(at).toISOString().slice(0, 10);
const partition = (at: number): string => `AUDIT#${day(at)}`;
const sortPrefix = (at: number): string => String(Math.max(0, Math.floor(at))).padStart(15, '0');

export class DynamoAuditTrail {
  readonly #access: AuditTableAccess;

  constructor(access: AuditTableAccess) {
    this.#access = access;
  }

  async append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const items = entries.map(boundedAuditEntry).map((entry) =>
      marshall(
        {
          PK: partition(entry.at),
          SK: `${sortPrefix(entry.at)}#${randomBytes(6).toString('hex')}`,
          ...entry,
          gcAt: Math.ceil((entry.at + AUDIT_TTL_MS) / 1000),
        },
        { removeUndefinedValues: true },
      ),
    );
    await this.#access.batchPut('appendAudit', items);
  }

  async list(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = auditLimit(query.limit);
    const now = this.#access.now();
    const since = query.since ?? now - LOOKBACK_DAYS * DAY_MS;
    const found: AuditEntry[] = [];
    const filters: string[] = [];
    const names: Record<string, string> = { '#pk': 'PK', '#sk': 'SK' };
    const values: Record<string, unknown> = {};
    if (query.incident !== undefined) {
      filters.push('#incident = :incident');
      names['#incident'] = 'incident';
      values[':incident'] = query.incident;
    }
    if (query.integration !== undefined) {
      filters.push('#integration = :integration');
      names['#integration'] = 'integration';
      values[':integration'] = query.integration;
    }
    // Entries stamped in the future (a skewed clock) are still found: start a day after now.
    for (let at = Math.max(now, since) + DAY_MS; found.length < limit && day(at) >= day(since); at -= DAY_MS) {
      const items = await this.#access.query(
        'listAudit',
        {
          KeyConditionExpression: '#pk = :pk AND #sk >= :from',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall({ ...values, ':pk': partition(at), ':from': sortPrefix(since) }),
          ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
          ScanIndexForward: false,
        },
        limit - found.length,
      );
      found.push(...items.map(toEntry));
    }
    return found.sort((a, b) => b.at - a.at).slice(0, limit);
  }

  async purge(before: number): Promise<number> {
    let deleted = 0;
    for (let n = 0; n < PURGE_DAYS; n += 1) {
      const at = before - n * DAY_MS;
      const keys = await this.#access.query('purgeAudit', {
        KeyConditionExpression: '#pk = :pk AND #sk < :before',
        ExpressionAttributeNames: { '#pk': 'PK', '#sk': 'SK' },
        ExpressionAttributeValues: marshall({ ':pk': partition(at), ':before': sortPrefix(before) }),
        ProjectionExpression: '#pk, #sk',
      });
      if (keys.length === 0) continue;
      await this.#access.batchDelete('purgeAudit', keys.map((item) => ({ PK: item.PK as AttributeValue, SK: item.SK as AttributeValue })));
      deleted += keys.length;
    }
    return deleted;
  }
}

function toEntry(item: Item): AuditEntry {
  const a = unmarshall(item);
  const entry: AuditEntry = { at: a.at as number, action: a.action as AuditAction, count: a.count as number, outcome: a.outcome as AuditOutcome };
  if (typeof a.integration === 'string') entry.integration = a.integration;
  if (typeof a.incident === 'string') entry.incident = a.incident;
  if (typeof a.detail === 'string') entry.detail = a.detail;
  return entry;
}
