/**
 * StateStore on one DynamoDB table (AWS deployment). Table definition:
 * `dynamodb-table.ts`.
 *
 * Item layout (`esc()` escapes `%` and `#` inside key parts):
 *
 * | item              | PK                       | SK                             | GSI1PK / GSI1SK                 |
 * |-------------------|--------------------------|--------------------------------|---------------------------------|
 * | incident          | `INC#<uuid>`             | `INC`                          | `INCS#<status>` / updatedAt     |
 * | holding           | `INC#<uuid>`             | `H#<integration>#<key>`        | –                               |
 * | block             | `BLK#<integration>`      | `<key>` (raw)                  | `DUE#<integration>` / dueAt, only while dueAt is set |
 * | integration entry | `INTEG`                  | `<integration>` (raw)          | –                               |
 * | lease             | `LEASE#<name>`           | `LEASE`                        | –                               |
 * | processed event   | `EVT#<eventKey>`         | `EVT`                          | `EVTS#<0..7>` / processedAt; `gcAt` = TTL (epoch s) |
 * | audit entry       | `AUDIT#<YYYY-MM-DD>`     | `<at, 15 digits>#<random>`     | –; `gcAt` = TTL backstop (dynamodb-audit.ts) |
 * | counter           | `CNT#<name>`             | `CNT`                          | –; `value` (ADD), `gcAt` = TTL after its window |
 *
 * - Blocks keep their holders in a string set (`holders`, absent when empty)
 *   and a `version` number bumped by every write; `snapshot` is stored as
 *   JSON text.
 * - `hold` and `release` write each (holding, block) pair in one
 *   TransactWriteItems, without reading first; up to 50 pairs share one
 *   transaction, never two writes to the same block.
 * - The integration registry (`PK=INTEG`) lists every integration that ever
 *   had a block; `listBlocks`, `dueIntegrations` and `purgeSettled` walk it.
 * - The GSI is eventually consistent and keys-only: every read through it
 *   re-reads the items with strongly consistent BatchGetItem and filters on
 *   the fresh values (dueAt <= now, status).
 * - Processed-event markers are forgotten by `purgeSettled(before)` (found
 *   through 8 index shards by processedAt). DynamoDB TTL (`gcAt`, wall clock
 *   + 14 days by default) is only a backstop: an expired marker that is
 *   still readable is still a processed event; no logic depends on TTL.
 *
 * Throttling, 5xx, network and credential/table-missing errors become
 * `StateUnavailableError` (with the SDK error as `cause`); other SDK errors
 * (validation, i.e. bugs) propagate unchanged.
 */
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
  type QueryCommandInput,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { StateUnavailableError } from './errors.ts';
import { STATE_TABLE } from './dynamodb-table.ts';
import { DynamoAuditTrail } from './dynamodb-audit.ts';
import type {
  AuditEntry,
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
import { sdkErrorDetail, unavailableClassifier } from '../aws/sdk-errors.ts';

type Item = Record<string, AttributeValue>;
type Key = { PK: string; SK: string };

/** Options for {@link DynamoStateStore}. */
export interface DynamoStateStoreOptions {
  /** The table created from `dynamodb-table.ts`. */
  tableName: string;
  /** A client to use (not destroyed by `close()`); otherwise one is built from `clientConfig`. */
  client?: DynamoDBClient;
  clientConfig?: DynamoDBClientConfig;
  /**
   * How long after marking a processed-event marker DynamoDB TTL may collect
   * it (a backstop: `purgeSettled` is what forgets markers). Default 14 days.
   */
  processedRetentionMs?: number;
  /** Parallel requests per call (transactions, conditional updates). Default 8. */
  concurrency?: number;
  /** Attempts for a transaction cancelled by a conflict or throttling. Default 6. */
  transactionAttempts?: number;
  /** Wall clock, used only for TTL values. Default `Date.now`. */
  wallClock?: () => number;
}

const INTENTS_PER_TRANSACTION = 50; // two items each: 100, DynamoDB's limit
const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;
/** Index partitions that spread processed-event markers (for purgeSettled). */
const EVENT_SHARDS = 8;
const DEFAULT_RETENTION_MS = 14 * 24 * 3600 * 1000;
const INCIDENT_STATUSES: IncidentStatus[] = ['active', 'ended'];
const INTERNAL_ATTRIBUTES = ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'gcAt'];
const { index: GSI } = STATE_TABLE;

/** Escapes the separator (and the escape character) inside a key part. */
export function esc(part: string): string {
  return part.replace(/%/g, '%25').replace(/#/g, '%23');
}

/** Primary keys of every item kind (see the table at the top of the file). */
export const itemKeys = {
  incident: (uuid: string): Key => ({ PK: `INC#${esc(uuid)}`, SK: 'INC' }),
  holdingPrefix: 'H#',
  holding: (incident: string, integration: string, key: string): Key => ({
    PK: `INC#${esc(incident)}`,
    SK: `H#${esc(integration)}#${esc(key)}`,
  }),
  blockPartition: (integration: string): string => `BLK#${esc(integration)}`,
  block: (integration: string, key: string): Key => ({ PK: `BLK#${esc(integration)}`, SK: key }),
  duePartition: (integration: string): string => `DUE#${esc(integration)}`,
  incidentPartition: (status: IncidentStatus): string => `INCS#${status}`,
  integrationRegistry: 'INTEG',
  integration: (integration: string): Key => ({ PK: 'INTEG', SK: integration }),
  lease: (name: string): Key => ({ PK: `LEASE#${esc(name)}`, SK: 'LEASE' }),
  event: (eventKey: string): Key => ({ PK: `EVT#${esc(eventKey)}`, SK: 'EVT' }),
  eventPartition: (shard: number): string => `EVTS#${shard}`,
  counter: (name: string): Key => ({ PK: `CNT#${esc(name)}`, SK: 'CNT' }),
} as const;

/** Service-specific error names that mean the service cannot serve us right now. */
export const isDynamoUnavailable = unavailableClassifier([
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'TransactionConflictException',
  'TransactionInProgressException',
  'ResourceNotFoundException',
  'InvalidSignatureException',
]);

function toStateError(operation: string, error: unknown): unknown {
  if (error instanceof StateUnavailableError) return error;
  if (isDynamoUnavailable(error)) {
    const detail = sdkErrorDetail(error);
    return new StateUnavailableError(`DynamoDB ${operation} failed: ${detail}`, { cause: error });
  }
  return error;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `limit` in flight; results keep input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The index shard of a processed-event marker (FNV-1a of the key). */
function eventShard(eventKey: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < eventKey.length; i++) hash = Math.imul(hash ^ eventKey.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % EVENT_SHARDS;
}

function blockId(b: BlockKey): string {
  return `${b.integration}\u0000${b.key}`;
}

function compareBlocks(a: BlockKey, b: BlockKey): number {
  return a.integration < b.integration ? -1 : a.integration > b.integration ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function toBlock(item: Item): BlockRecord {
  const a = unmarshall(item);
  const block: BlockRecord = {
    integration: a.integration as string,
    key: a.key as string,
    kind: a.kind as BlockKind,
    holders: a.holders instanceof Set ? [...(a.holders as Set<string>)].sort() : [],
    actual: a.actual ?? 'absent',
    expiresAt: a.expiresAt as number,
    attempts: (a.attempts as number | undefined) ?? 0,
    version: (a.version as number | undefined) ?? 0,
    updatedAt: a.updatedAt as number,
  };
  if (a.ref !== undefined) block.ref = a.ref as string;
  if (typeof a.foreign === 'boolean') block.foreign = a.foreign;
  if (a.snapshot !== undefined) block.snapshot = JSON.parse(a.snapshot as string) as unknown;
  if (a.addedAt !== undefined) block.addedAt = a.addedAt as number;
  if (a.deviceExpiresAt !== undefined) block.deviceExpiresAt = a.deviceExpiresAt as number;
  if (a.dueAt !== undefined) block.dueAt = a.dueAt as number;
  if (a.lastError !== undefined) block.lastError = a.lastError as string;
  if (a.lastAttemptAt !== undefined) block.lastAttemptAt = a.lastAttemptAt as number;
  return block;
}

function toIncident(item: Item): IncidentRecord {
  const a = unmarshall(item);
  for (const name of INTERNAL_ATTRIBUTES) delete a[name];
  return a as IncidentRecord;
}

function toHolding(item: Item): Holding {
  const a = unmarshall(item);
  return {
    incident: a.incident as string,
    integration: a.integration as string,
    key: a.key as string,
    kind: a.kind as BlockKind,
    heldAt: a.heldAt as number,
  };
}

/** Whether a block is settled and absent (not wanted, nothing to do). */
function isSettledAbsent(block: BlockRecord): boolean {
  return block.actual === 'absent' && block.dueAt === undefined;
}

function cancellationCodes(error: TransactionCanceledException): (string | undefined)[] {
  return (error.CancellationReasons ?? []).map((reason) => (reason.Code === 'None' ? undefined : reason.Code));
}

/** A StateStore on a single DynamoDB table. */
export class DynamoStateStore implements StateStore {
  readonly #client: DynamoDBClient;
  readonly #ownsClient: boolean;
  readonly #table: string;
  readonly #retentionMs: number;
  readonly #concurrency: number;
  readonly #transactionAttempts: number;
  readonly #wallClock: () => number;
  /** Integrations already written to the registry by this instance. */
  readonly #registered = new Set<string>();
  #closed = false;

  constructor(options: DynamoStateStoreOptions) {
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new DynamoDBClient(options.clientConfig ?? {});
    this.#table = options.tableName;
    this.#retentionMs = options.processedRetentionMs ?? DEFAULT_RETENTION_MS;
    this.#concurrency = Math.max(1, options.concurrency ?? 8);
    this.#transactionAttempts = Math.max(1, options.transactionAttempts ?? 6);
    this.#wallClock = options.wallClock ?? Date.now;
  }

  // ---------------------------------------------------------------- plumbing

  /** Throws StateUnavailableError once the store is closed. */
  #open(operation: string): void {
    if (this.#closed) throw new StateUnavailableError(`state store is closed (${operation})`);
  }

  async #send<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toStateError(operation, error);
    }
  }

  async #query(operation: string, input: Omit<QueryCommandInput, 'TableName'>, max = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.#send(operation, () =>
        this.#client.send(new QueryCommand({ ...input, TableName: this.#table, ExclusiveStartKey: start })),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && items.length < max);
    return items;
  }

  /** Strongly consistent reads of the given keys (missing items are skipped), in input order. */
  async #getItems(operation: string, keys: Key[]): Promise<Item[]> {
    const unique = new Map<string, Key>();
    for (const key of keys) unique.set(`${key.PK}\u0000${key.SK}`, key);
    const found = new Map<string, Item>();
    const chunks: Key[][] = [];
    const all = [...unique.values()];
    for (let i = 0; i < all.length; i += BATCH_GET_MAX) chunks.push(all.slice(i, i + BATCH_GET_MAX));
    await mapLimit(chunks, this.#concurrency, async (chunk) => {
      let pending: Item[] = chunk.map((key) => marshall(key));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt >= 8) throw new StateUnavailableError(`DynamoDB ${operation} failed: keys left unprocessed after ${attempt} attempts`);
          await sleep(Math.min(1000, 25 * 2 ** attempt) * Math.random());
        }
        const request = { [this.#table]: { Keys: pending, ConsistentRead: true } };
        const out = await this.#send(operation, () => this.#client.send(new BatchGetItemCommand({ RequestItems: request })));
        for (const item of out.Responses?.[this.#table] ?? []) {
          found.set(`${item.PK?.S}\u0000${item.SK?.S}`, item);
        }
        pending = out.UnprocessedKeys?.[this.#table]?.Keys ?? [];
      }
    });
    return all.flatMap((key) => {
      const item = found.get(`${key.PK}\u0000${key.SK}`);
      return item ? [item] : [];
    });
  }

  /**
   * Runs one transaction, retrying with jittered backoff while it is cancelled
   * only by conflicts with other transactions or throttling. Other
   * cancellations (conditions) are thrown for the caller to handle.
   */
  async #transact(operation: string, items: TransactWriteItem[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#client.send(new TransactWriteItemsCommand({ TransactItems: items }));
        return;
      } catch (error) {
        if (error instanceof TransactionCanceledException) {
          const codes = cancellationCodes(error).filter((code) => code !== undefined);
          const retryable = codes.length > 0 && codes.every((code) => code === 'TransactionConflict' || code === 'ThrottlingError' || code === 'ProvisionedThroughputExceeded' || code === 'RequestLimitExceeded');
          if (!retryable) throw error;
          if (attempt >= this.#transactionAttempts) {
            throw new StateUnavailableError(`DynamoDB ${operation} failed: transaction cancelled (${codes.join(', ')}) ${attempt} times`, { cause: error });
          }
          await sleep(Math.min(2000, 20 * 2 ** attempt) * (0.5 + Math.random()));
          continue;
        }
        throw toStateError(operation, error);
      }
    }
  }

  async #listIntegrations(): Promise<string[]> {
    const items = await this.#query('listIntegrations', {
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': { S: itemKeys.integrationRegistry } },
      ConsistentRead: true,
    });
    return items.map((item) => item.SK?.S ?? '').filter((id) => id !== '').sort();
  }

  async #register(integrations: Iterable<string>): Promise<void> {
    const fresh = [...new Set(integrations)].filter((id) => !this.#registered.has(id));
    await mapLimit(fresh, this.#concurrency, async (integration) => {
      await this.#send('hold', () =>
        this.#client.send(new PutItemCommand({ TableName: this.#table, Item: marshall({ ...itemKeys.integration(integration), integration }) })),
      );
      this.#registered.add(integration);
    });
  }

  // ---------------------------------------------------------------- incidents

  async getIncident(uuid: string): Promise<IncidentRecord | undefined> {
    this.#open('getIncident');
    const out = await this.#send('getIncident', () =>
      this.#client.send(new GetItemCommand({ TableName: this.#table, Key: marshall(itemKeys.incident(uuid)), ConsistentRead: true })),
    );
    return out.Item ? toIncident(out.Item) : undefined;
  }

  async putIncident(record: IncidentRecord): Promise<boolean> {
    this.#open('putIncident');
    const item = marshall(
      {
        ...record,
        ...itemKeys.incident(record.uuid),
        [GSI.partitionKey]: itemKeys.incidentPartition(record.status),
        [GSI.sortKey]: record.updatedAt,
      },
      { removeUndefinedValues: true },
    );
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(PK) OR lastEventAt <= :t',
          ExpressionAttributeValues: { ':t': { N: String(record.lastEventAt) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw toStateError('putIncident', error);
    }
  }

  async listIncidents(query: { status?: IncidentStatus; limit?: number } = {}): Promise<IncidentRecord[]> {
    this.#open('listIncidents');
    const limit = query.limit ?? Infinity;
    if (limit <= 0) return [];
    const statuses = query.status ? [query.status] : INCIDENT_STATUSES;
    const candidates = await Promise.all(
      statuses.map((status) =>
        this.#query(
          'listIncidents',
          {
            IndexName: GSI.name,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': GSI.partitionKey },
            ExpressionAttributeValues: { ':pk': { S: itemKeys.incidentPartition(status) } },
            ScanIndexForward: false,
            ...(Number.isFinite(limit) ? { Limit: Math.min(limit, 1000) } : {}),
          },
          limit,
        ),
      ),
    );
    // The index may lag: re-read and filter on the fresh status.
    const keys = candidates.flat().map((item) => ({ PK: item.PK?.S ?? '', SK: item.SK?.S ?? '' }));
    const incidents = (await this.#getItems('listIncidents', keys))
      .map(toIncident)
      .filter((incident) => statuses.includes(incident.status));
    incidents.sort((a, b) => b.updatedAt - a.updatedAt || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
    return Number.isFinite(limit) ? incidents.slice(0, limit) : incidents;
  }

  // ---------------------------------------------------------------- intents

  async hold(intents: HoldIntent[], now: number): Promise<void> {
    this.#open('hold');
    if (intents.length === 0) return;
    // One write per (incident, block): the last intent for a pair wins.
    const unique = new Map<string, HoldIntent>();
    for (const intent of intents) unique.set(`${intent.incident}\u0000${blockId(intent)}`, intent);
    await this.#register([...unique.values()].map((intent) => intent.integration));

    // Chunks of ≤50 intents that never touch one block twice (a transaction may not).
    const chunks: { intents: HoldIntent[]; blocks: Set<string> }[] = [];
    for (const intent of unique.values()) {
      const id = blockId(intent);
      let chunk = chunks.find((c) => c.intents.length < INTENTS_PER_TRANSACTION && !c.blocks.has(id));
      if (!chunk) {
        chunk = { intents: [], blocks: new Set() };
        chunks.push(chunk);
      }
      chunk.intents.push(intent);
      chunk.blocks.add(id);
    }
    await mapLimit(chunks, this.#concurrency, (chunk) =>
      this.#transact('hold', chunk.intents.flatMap((intent) => this.#holdItems(intent, now))),
    );
  }

  #holdItems(intent: HoldIntent, now: number): TransactWriteItem[] {
    const holding: TransactWriteItem = {
      Update: {
        TableName: this.#table,
        Key: marshall(itemKeys.holding(intent.incident, intent.integration, intent.key)),
        UpdateExpression: 'SET #incident = :incident, #integration = :integration, #key = :key, #kind = :kind, #heldAt = if_not_exists(#heldAt, :now)',
        ExpressionAttributeNames: { '#incident': 'incident', '#integration': 'integration', '#key': 'key', '#kind': 'kind', '#heldAt': 'heldAt' },
        ExpressionAttributeValues: marshall({
          ':incident': intent.incident,
          ':integration': intent.integration,
          ':key': intent.key,
          ':kind': intent.kind,
          ':now': now,
        }),
      },
    };
    const block: TransactWriteItem = {
      Update: {
        TableName: this.#table,
        Key: marshall(itemKeys.block(intent.integration, intent.key)),
        UpdateExpression:
          'SET #integration = :integration, #key = :key, #kind = :kind, #expiresAt = :expiresAt, #dueAt = :now, #gpk = :gpk, #gsk = :now, #updatedAt = :now, ' +
          '#actual = if_not_exists(#actual, :absent), #attempts = if_not_exists(#attempts, :zero) ' +
          'ADD #holders :holders, #version :one',
        ExpressionAttributeNames: {
          '#integration': 'integration',
          '#key': 'key',
          '#kind': 'kind',
          '#expiresAt': 'expiresAt',
          '#dueAt': 'dueAt',
          '#gpk': GSI.partitionKey,
          '#gsk': GSI.sortKey,
          '#updatedAt': 'updatedAt',
          '#actual': 'actual',
          '#attempts': 'attempts',
          '#holders': 'holders',
          '#version': 'version',
        },
        ExpressionAttributeValues: {
          ...marshall({
            ':integration': intent.integration,
            ':key': intent.key,
            ':kind': intent.kind,
            ':expiresAt': intent.expiresAt,
            ':now': now,
            ':gpk': itemKeys.duePartition(intent.integration),
            ':absent': 'absent',
            ':zero': 0,
            ':one': 1,
          }),
          ':holders': { SS: [intent.incident] },
        },
      },
    };
    return [holding, block];
  }

  async release(incident: string, now: number): Promise<void> {
    this.#open('release');
    const holdings = await this.listHoldings(incident);
    const chunks: Holding[][] = [];
    for (let i = 0; i < holdings.length; i += INTENTS_PER_TRANSACTION) chunks.push(holdings.slice(i, i + INTENTS_PER_TRANSACTION));
    await mapLimit(chunks, this.#concurrency, (chunk) => this.#releaseChunk(chunk, now));
  }

  async #releaseChunk(holdings: Holding[], now: number): Promise<void> {
    const items = holdings.flatMap((holding) => this.#releaseItems(holding, now));
    try {
      await this.#transact('release', items);
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      // A block is missing (its condition failed): drop those holdings alone, retry the rest.
      const codes = cancellationCodes(error);
      const orphaned = holdings.filter((_, i) => codes[2 * i + 1] === 'ConditionalCheckFailed');
      if (orphaned.length === 0) throw toStateError('release', error);
      const rest = holdings.filter((_, i) => codes[2 * i + 1] !== 'ConditionalCheckFailed');
      await mapLimit(orphaned, this.#concurrency, (holding) =>
        this.#send('release', () =>
          this.#client.send(
            new DeleteItemCommand({ TableName: this.#table, Key: marshall(itemKeys.holding(holding.incident, holding.integration, holding.key)) }),
          ),
        ),
      );
      if (rest.length > 0) await this.#releaseChunk(rest, now);
    }
  }

  #releaseItems(holding: Holding, now: number): TransactWriteItem[] {
    return [
      { Delete: { TableName: this.#table, Key: marshall(itemKeys.holding(holding.incident, holding.integration, holding.key)) } },
      {
        Update: {
          TableName: this.#table,
          Key: marshall(itemKeys.block(holding.integration, holding.key)),
          ConditionExpression: 'attribute_exists(PK)',
          UpdateExpression: 'SET #dueAt = :now, #gpk = :gpk, #gsk = :now, #updatedAt = :now DELETE #holders :holders ADD #version :one',
          ExpressionAttributeNames: {
            '#dueAt': 'dueAt',
            '#gpk': GSI.partitionKey,
            '#gsk': GSI.sortKey,
            '#updatedAt': 'updatedAt',
            '#holders': 'holders',
            '#version': 'version',
          },
          ExpressionAttributeValues: {
            ...marshall({ ':now': now, ':gpk': itemKeys.duePartition(holding.integration), ':one': 1 }),
            ':holders': { SS: [holding.incident] },
          },
        },
      },
    ];
  }

  async listHoldings(incident: string): Promise<Holding[]> {
    this.#open('listHoldings');
    const items = await this.#query('listHoldings', {
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: marshall({ ':pk': itemKeys.incident(incident).PK, ':prefix': itemKeys.holdingPrefix }),
      ConsistentRead: true,
    });
    return items.map(toHolding).sort(compareBlocks);
  }

  // ---------------------------------------------------------------- blocks

  async getBlocks(keys: BlockKey[]): Promise<BlockRecord[]> {
    this.#open('getBlocks');
    if (keys.length === 0) return [];
    const items = await this.#getItems(
      'getBlocks',
      keys.map((k) => itemKeys.block(k.integration, k.key)),
    );
    return items.map(toBlock);
  }

  async listBlocks(query: { integration?: string; includeSettled?: boolean } = {}): Promise<BlockRecord[]> {
    this.#open('listBlocks');
    const integrations = query.integration !== undefined ? [query.integration] : await this.#listIntegrations();
    const perIntegration = await mapLimit(integrations, this.#concurrency, (integration) => this.#blocksOf(integration));
    const blocks = perIntegration.flat().filter((block) => query.includeSettled || !isSettledAbsent(block));
    return blocks.sort(compareBlocks);
  }

  async #blocksOf(integration: string): Promise<BlockRecord[]> {
    const items = await this.#query('listBlocks', {
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': { S: itemKeys.blockPartition(integration) } },
      ConsistentRead: true,
    });
    return items.map(toBlock);
  }

  async dueBlocks(integration: string, now: number, limit: number): Promise<BlockRecord[]> {
    this.#open('dueBlocks');
    if (limit <= 0) return [];
    const due: BlockRecord[] = [];
    const seen = new Set<string>();
    let start: Item | undefined;
    do {
      const page = await this.#send('dueBlocks', () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: GSI.name,
            KeyConditionExpression: '#pk = :pk AND #sk <= :now',
            ExpressionAttributeNames: { '#pk': GSI.partitionKey, '#sk': GSI.sortKey },
            ExpressionAttributeValues: marshall({ ':pk': itemKeys.duePartition(integration), ':now': now }),
            ScanIndexForward: true,
            Limit: Math.min(limit - due.length, 1000),
            ExclusiveStartKey: start,
          }),
        ),
      );
      start = page.LastEvaluatedKey;
      const keys = (page.Items ?? []).map((item) => ({ PK: item.PK?.S ?? '', SK: item.SK?.S ?? '' }));
      // The index is eventually consistent: trust only a fresh read of the block.
      for (const block of (await this.#getItems('dueBlocks', keys)).map(toBlock)) {
        const id = blockId(block);
        if (block.dueAt !== undefined && block.dueAt <= now && !seen.has(id)) {
          seen.add(id);
          due.push(block);
        }
      }
    } while (start && due.length < limit);
    due.sort((a, b) => (a.dueAt ?? 0) - (b.dueAt ?? 0) || compareBlocks(a, b));
    return due.slice(0, limit);
  }

  async dueIntegrations(now: number): Promise<string[]> {
    this.#open('dueIntegrations');
    const integrations = await this.#listIntegrations();
    const due = await mapLimit(integrations, this.#concurrency, async (integration) => (await this.dueBlocks(integration, now, 1)).length > 0);
    return integrations.filter((_, i) => due[i]);
  }

  async complete(completions: BlockCompletion[], now: number): Promise<CompleteResult> {
    this.#open('complete');
    const applied = await mapLimit(completions, this.#concurrency, async (completion) => {
      try {
        await this.#client.send(new UpdateItemCommand(this.#completeInput(completion, now)));
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw toStateError('complete', error);
      }
    });
    const conflicts = completions.filter((_, i) => !applied[i]).map(({ integration, key }) => ({ integration, key }));
    return { conflicts };
  }

  #completeInput(c: BlockCompletion, now: number): UpdateItemCommand['input'] {
    const names: Record<string, string> = { '#version': 'version' };
    const values: Record<string, unknown> = { ':expect': c.expectVersion, ':one': 1 };
    const set: string[] = [];
    const remove: string[] = [];
    const assign = (attribute: string, value: unknown) => {
      names[`#${attribute}`] = attribute;
      if (value === null) {
        remove.push(`#${attribute}`);
      } else {
        values[`:${attribute}`] = value;
        set.push(`#${attribute} = :${attribute}`);
      }
    };
    assign('actual', c.actual);
    assign('attempts', c.attempts);
    assign('lastAttemptAt', c.lastAttemptAt);
    assign('updatedAt', now);
    assign('lastError', c.lastError);
    if (c.ref !== undefined) assign('ref', c.ref);
    if (c.foreign !== undefined) assign('foreign', c.foreign);
    if (c.snapshot !== undefined) assign('snapshot', c.snapshot === null ? null : JSON.stringify(c.snapshot));
    if (c.addedAt !== undefined) assign('addedAt', c.addedAt);
    if (c.deviceExpiresAt !== undefined) assign('deviceExpiresAt', c.deviceExpiresAt);
    assign('dueAt', c.dueAt);
    assign(GSI.partitionKey, c.dueAt === null ? null : itemKeys.duePartition(c.integration));
    assign(GSI.sortKey, c.dueAt);
    const expression = [`SET ${set.join(', ')}`, remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '', 'ADD #version :one'].filter(Boolean).join(' ');
    return {
      TableName: this.#table,
      Key: marshall(itemKeys.block(c.integration, c.key)),
      UpdateExpression: expression,
      ConditionExpression: '#version = :expect',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: marshall(values),
    };
  }

  async purgeSettled(before: number): Promise<number> {
    this.#open('purgeSettled');
    const [purged] = await Promise.all([
      this.#purgeSettledBlocks(before),
      this.#purgeProcessed(before),
      this.#purgeEndedIncidents(before),
    ]);
    return purged;
  }

  async #purgeSettledBlocks(before: number): Promise<number> {
    const integrations = await this.#listIntegrations();
    const condition = '#actual = :absent AND attribute_not_exists(#dueAt) AND attribute_not_exists(#holders) AND #updatedAt < :before';
    const names = { '#actual': 'actual', '#dueAt': 'dueAt', '#holders': 'holders', '#updatedAt': 'updatedAt' };
    const values = marshall({ ':absent': 'absent', ':before': before });
    const counts = await mapLimit(integrations, this.#concurrency, async (integration) => {
      const items = await this.#query('purgeSettled', {
        KeyConditionExpression: 'PK = :pk',
        FilterExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ':pk': { S: itemKeys.blockPartition(integration) } },
        ConsistentRead: true,
      });
      const deleted = await mapLimit(items, this.#concurrency, async (item) => {
        try {
          // Re-checked at delete time: a hold may have raced the query.
          await this.#client.send(
            new DeleteItemCommand({
              TableName: this.#table,
              Key: { PK: item.PK as AttributeValue, SK: item.SK as AttributeValue },
              ConditionExpression: condition,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          );
          return 1;
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException) return 0;
          throw toStateError('purgeSettled', error);
        }
      });
      return deleted.reduce<number>((sum, n) => sum + n, 0);
    });
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** Forgets processed-event markers with processedAt < before (found through the index shards). */
  async #purgeProcessed(before: number): Promise<void> {
    const shards = Array.from({ length: EVENT_SHARDS }, (_, n) => itemKeys.eventPartition(n));
    await mapLimit(shards, this.#concurrency, async (shard) => {
      const items = await this.#query('purgeSettled', {
        IndexName: GSI.name,
        KeyConditionExpression: '#pk = :pk AND #sk < :before',
        ExpressionAttributeNames: { '#pk': GSI.partitionKey, '#sk': GSI.sortKey },
        ExpressionAttributeValues: marshall({ ':pk': shard, ':before': before }),
      });
      const keys = items.map((item) => ({ PK: item.PK as AttributeValue, SK: item.SK as AttributeValue }));
      const batches: Item[][] = [];
      for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX) batches.push(keys.slice(i, i + BATCH_WRITE_MAX));
      // A marker's processedAt never changes (put-if-absent), so unconditional deletes are safe.
      await mapLimit(batches, this.#concurrency, (batch) => this.#batchDelete(batch));
    });
  }

  /** Forgets ended incidents last updated before `before` (found through the status index). */
  async #purgeEndedIncidents(before: number): Promise<void> {
    const items = await this.#query('purgeSettled', {
      IndexName: GSI.name,
      KeyConditionExpression: '#pk = :pk AND #sk < :before',
      ExpressionAttributeNames: { '#pk': GSI.partitionKey, '#sk': GSI.sortKey },
      ExpressionAttributeValues: marshall({ ':pk': itemKeys.incidentPartition('ended'), ':before': before }),
    });
    await mapLimit(items, this.#concurrency, async (item) => {
      try {
        // Conditional: the index may be stale, and the record is the truth.
        await this.#client.send(
          new DeleteItemCommand({
            TableName: this.#table,
            Key: { PK: item.PK as AttributeValue, SK: item.SK as AttributeValue },
            ConditionExpression: '#status = :ended AND #updatedAt < :before',
            ExpressionAttributeNames: { '#status': 'status', '#updatedAt': 'updatedAt' },
            ExpressionAttributeValues: marshall({ ':ended': 'ended', ':before': before }),
          }),
        );
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw toStateError('purgeSettled', error);
      }
    });
  }

  async #batchDelete(keys: Item[], operation = 'purgeSettled'): Promise<void> {
    await this.#batchWrite(operation, keys.map((Key) => ({ DeleteRequest: { Key } })));
  }

  /** BatchWriteItem in chunks of 25, retrying unprocessed requests with backoff. */
  async #batchWrite(operation: string, requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX) {
      let pending = requests.slice(i, i + BATCH_WRITE_MAX);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt >= 8) throw new StateUnavailableError(`DynamoDB ${operation} failed: writes left unprocessed after ${attempt} attempts`);
          await sleep(Math.min(1000, 25 * 2 ** attempt) * Math.random());
        }
        const request = { [this.#table]: pending };
        const out = await this.#send(operation, () => this.#client.send(new BatchWriteItemCommand({ RequestItems: request })));
        pending = out.UnprocessedItems?.[this.#table] ?? [];
      }
    }
  }

  // ---------------------------------------------------------------- audit trail

  readonly #audit = new DynamoAuditTrail({
    query: (operation, input, max) => this.#query(operation, input, max),
    batchPut: (operation, items) => this.#batchWrite(operation, items.map((Item) => ({ PutRequest: { Item } }))),
    batchDelete: (operation, keys) => this.#batchDelete(keys, operation),
    now: () => this.#wallClock(),
  });

  async addToCounter(name: string, amount: number, expiresAt: number): Promise<number> {
    this.#open('addToCounter');
    const out = await this.#send('addToCounter', () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(itemKeys.counter(name)),
          UpdateExpression: 'ADD #value :amount SET #gcAt = :gcAt',
          ExpressionAttributeNames: { '#value': 'value', '#gcAt': STATE_TABLE.ttlAttribute },
          // The TTL only collects it: the name carries its window.
          ExpressionAttributeValues: marshall({ ':amount': amount, ':gcAt': Math.ceil(expiresAt / 1000) + 86_400 }),
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return Number(out.Attributes?.value?.N ?? amount);
  }

  async appendAudit(entries: AuditEntry[]): Promise<void> {
    this.#open('appendAudit');
    await this.#audit.append(entries);
  }

  async listAudit(query?: AuditQuery): Promise<AuditEntry[]> {
    this.#open('listAudit');
    return this.#audit.list(query);
  }

  async purgeAudit(before: number): Promise<number> {
    this.#open('purgeAudit');
    return this.#audit.purge(before);
  }

  // ---------------------------------------------------------------- leases

  async acquireLease(name: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    this.#open('acquireLease');
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: marshall({ ...itemKeys.lease(name), name, owner, expiresAt: now + ttlMs, acquiredAt: now }),
          ConditionExpression: 'attribute_not_exists(PK) OR #owner = :owner OR #expiresAt <= :now',
          ExpressionAttributeNames: { '#owner': 'owner', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: marshall({ ':owner': owner, ':now': now }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw toStateError('acquireLease', error);
    }
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.#open('releaseLease');
    try {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: marshall(itemKeys.lease(name)),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: marshall({ ':owner': owner }),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw toStateError('releaseLease', error);
    }
  }

  async getLease(name: string): Promise<{ owner: string; expiresAt: number } | undefined> {
    this.#open('getLease');
    const out = await this.#send('getLease', () =>
      this.#client.send(new GetItemCommand({ TableName: this.#table, Key: marshall(itemKeys.lease(name)), ConsistentRead: true })),
    );
    if (out.Item === undefined) return undefined;
    const item = unmarshall(out.Item);
    return { owner: String(item.owner), expiresAt: Number(item.expiresAt) };
  }

  // ---------------------------------------------------------------- processed events

  async wasProcessed(eventKey: string): Promise<boolean> {
    this.#open('wasProcessed');
    const out = await this.#send('wasProcessed', () =>
      this.#client.send(
        new GetItemCommand({ TableName: this.#table, Key: marshall(itemKeys.event(eventKey)), ConsistentRead: true, ProjectionExpression: 'PK' }),
      ),
    );
    return out.Item !== undefined;
  }

  async markProcessed(eventKey: string, now: number): Promise<void> {
    this.#open('markProcessed');
    // TTL runs on the wall clock, whatever clock `now` comes from.
    const gcAt = Math.ceil((Math.max(now, this.#wallClock()) + this.#retentionMs) / 1000);
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: marshall({
            ...itemKeys.event(eventKey),
            eventKey,
            processedAt: now,
            [GSI.partitionKey]: itemKeys.eventPartition(eventShard(eventKey)),
            [GSI.sortKey]: now,
            [STATE_TABLE.ttlAttribute]: gcAt,
          }),
          // The first mark wins, as its processedAt decides when purgeSettled forgets it.
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw toStateError('markProcessed', error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) this.#client.destroy();
  }
}
