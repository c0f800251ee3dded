import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  InternalServerError,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { DynamoStateStore, isDynamoUnavailable, itemKeys } from '../../lib/state/dynamodb.ts';
import { createTable, STATE_TABLE } from '../../lib/state/dynamodb-table.ts';
import { StateUnavailableError } from '../../lib/state/errors.ts';
import type { HoldIntent } from '../../lib/model/types.ts';
import { stateStoreContract } from '../contract/state-store.contract.ts';
import { localClientConfig } from '../helpers/engines.ts';

const T0 = 1_750_000_000_000;

function tableName(): string {
  return `relay-state-${randomUUID()}`;
}

function intent(incident: string, integration: string, key: string): HoldIntent {
  return { incident, integration, key, kind: 'ip', expiresAt: T0 + 3_600_000 };
}

describe('DynamoStateStore on DynamoDB Local', () => {
  const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  afterAll(() => client.destroy());

  /** A fresh table per test; cleanup closes the store and drops the table. */
  async function freshStore(): Promise<{ store: DynamoStateStore; table: string; cleanup(): Promise<void> }> {
    const table = tableName();
    await createTable(client, table);
    const store = new DynamoStateStore({ client, tableName: table });
    return {
      store,
      table,
      async cleanup() {
        await store.close();
        await client.send(new DeleteTableCommand({ TableName: table }));
      },
    };
  }

  stateStoreContract('DynamoStateStore', freshStore);

  describe('adapter specifics', () => {
    let harness: Awaited<ReturnType<typeof freshStore>>;
    beforeEach(async () => {
      harness = await freshStore();
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    async function rawItem(key: { PK: string; SK: string }): Promise<Record<string, AttributeValue> | undefined> {
      const out = await client.send(new GetItemCommand({ TableName: harness.table, Key: marshall(key), ConsistentRead: true }));
      return out.Item;
    }

    it('creates the table with the shared key schema, keys-only index and gcAt TTL', async () => {
      // Act
      const { Table } = await client.send(new DescribeTableCommand({ TableName: harness.table }));
      const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: harness.table }));

      // Assess
      expect(Table?.KeySchema).toEqual([
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ]);
      expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.Projection?.ProjectionType])).toEqual([[STATE_TABLE.index.name, 'KEYS_ONLY']]);
      expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'gcAt', TimeToLiveStatus: 'ENABLED' });
    });

    it('keeps a block in the due index only while it has a dueAt', async () => {
      // Prepare
      const { store } = harness;
      await store.hold([intent('inc-1', 'fw', '192.0.2.1')], T0);
      const dueItem = await rawItem(itemKeys.block('fw', '192.0.2.1'));
      const [block] = await store.getBlocks([{ integration: 'fw', key: '192.0.2.1' }]);

      // Act
      await store.complete(
        [{ integration: 'fw', key: '192.0.2.1', expectVersion: block!.version, actual: 'present', dueAt: null, attempts: 0, lastError: null, lastAttemptAt: T0 }],
        T0 + 1,
      );
      const settledItem = await rawItem(itemKeys.block('fw', '192.0.2.1'));

      // Assess
      expect(dueItem).toMatchObject({ GSI1PK: { S: 'DUE#fw' }, GSI1SK: { N: String(T0) } });
      expect(settledItem?.GSI1PK).toBeUndefined();
      expect(settledItem?.GSI1SK).toBeUndefined();
    });

    it('keeps integrations and keys containing the separator apart', async () => {
      // Prepare
      const { store } = harness;

      // Act
      await store.hold([intent('inc#1', 'fw#a', 'b'), intent('inc#1', 'fw', 'a#b'), intent('inc#1', 'fw%23a', 'b')], T0);

      // Assess
      expect((await store.listHoldings('inc#1')).map((h) => `${h.integration}|${h.key}`)).toEqual(['fw|a#b', 'fw#a|b', 'fw%23a|b']);
      expect((await store.listBlocks()).map((b) => `${b.integration}|${b.key}`)).toEqual(['fw|a#b', 'fw#a|b', 'fw%23a|b']);
      expect(await store.listHoldings('inc')).toEqual([]);
    });

    it('drops a holding whose block has gone missing without recreating the block', async () => {
      // Prepare
      const { store } = harness;
      await store.hold([intent('inc-1', 'fw', '192.0.2.1'), intent('inc-1', 'fw', '192.0.2.2')], T0);
      await client.send(new DeleteItemCommand({ TableName: harness.table, Key: marshall(itemKeys.block('fw', '192.0.2.1')) }));

      // Act
      await store.release('inc-1', T0 + 1);

      // Assess
      expect(await store.listHoldings('inc-1')).toEqual([]);
      expect((await store.listBlocks({ includeSettled: true })).map((b) => [b.key, b.holders, b.dueAt])).toEqual([['192.0.2.2', [], T0 + 1]]);
    });

    it('stamps processed-event markers with a wall-clock TTL, whatever clock `now` comes from', async () => {
      // Prepare
      const { store } = harness;
      const before = Math.floor(Date.now() / 1000);

      // Act
      await store.markProcessed('evt-1', 1_000);

      // Assess
      const item = await rawItem(itemKeys.event('evt-1'));
      const gcAt = Number(item?.gcAt?.N);
      expect(gcAt).toBeGreaterThanOrEqual(before + 14 * 24 * 3600);
      expect(gcAt).toBeLessThan(before + 15 * 24 * 3600);
    });

    it('refuses work after close with StateUnavailableError', async () => {
      // Prepare
      const { store } = harness;
      await store.close();

      // Act
      const read = store.getIncident('inc-1');

      // Assess
      await expect(read).rejects.toBeInstanceOf(StateUnavailableError);
    });

    it('reports a missing table as StateUnavailableError', async () => {
      // Prepare
      const store = new DynamoStateStore({ client, tableName: tableName() });

      // Act
      const read = store.wasProcessed('evt-1');

      // Assess
      await expect(read).rejects.toMatchObject({ name: 'StateUnavailableError', cause: { name: 'ResourceNotFoundException' } });
    });
  });
});

describe('DynamoStateStore with a mocked client', () => {
  const client = new DynamoDBClient(localClientConfig('http://127.0.0.1:9'));
  const mock = mockClient(client);
  let store: DynamoStateStore;

  beforeEach(() => {
    mock.reset();
    store = new DynamoStateStore({ client, tableName: 'relay-state', transactionAttempts: 3 });
  });
  afterAll(() => {
    mock.restore();
    client.destroy();
  });

  const throttled = () => new ProvisionedThroughputExceededException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: { httpStatusCode: 400 } });
  const serverError = () => new InternalServerError({ message: 'Internal server error', $metadata: { httpStatusCode: 500 } });
  const networkError = () =>
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', $metadata: { attempts: 3, totalRetryDelay: 300 } });

  describe('error mapping', () => {
    it.each([
      ['throttling', throttled],
      ['a 5xx', serverError],
      ['a network failure', networkError],
    ])('turns %s into StateUnavailableError and keeps the cause', async (_label, makeError) => {
      // Prepare
      const error = makeError();
      mock.on(GetItemCommand).rejects(error);

      // Act
      const read = store.getIncident('inc-1');

      // Assess
      await expect(read).rejects.toBeInstanceOf(StateUnavailableError);
      await expect(read).rejects.toHaveProperty('cause', error);
    });

    it('turns throttling of a conditional write into StateUnavailableError', async () => {
      // Prepare
      mock.on(UpdateItemCommand).rejects(throttled());

      // Act
      const done = store.complete(
        [{ integration: 'fw', key: '192.0.2.1', expectVersion: 1, actual: 'present', dueAt: null, attempts: 0, lastError: null, lastAttemptAt: T0 }],
        T0,
      );

      // Assess
      await expect(done).rejects.toBeInstanceOf(StateUnavailableError);
    });

    it('lets a malformed request through unchanged', async () => {
      // Prepare
      const error = Object.assign(new Error('One or more parameter values were invalid'), {
        name: 'ValidationException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      });
      mock.on(GetItemCommand).rejects(error);

      // Act
      const read = store.getIncident('inc-1');

      // Assess
      await expect(read).rejects.toBe(error);
      expect(isDynamoUnavailable(error)).toBe(false);
    });

    it('retries a transaction cancelled by a conflict and succeeds', async () => {
      // Prepare
      mock.on(PutItemCommand).resolves({});
      mock
        .on(TransactWriteItemsCommand)
        .rejectsOnce(
          new TransactionCanceledException({
            message: 'Transaction cancelled',
            $metadata: { httpStatusCode: 400 },
            CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
          }),
        )
        .resolves({});

      // Act
      await store.hold([intent('inc-1', 'fw', '192.0.2.1')], T0);

      // Assess
      expect(mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(2);
    });

    it('gives up on a transaction that keeps conflicting with StateUnavailableError', async () => {
      // Prepare
      mock.on(PutItemCommand).resolves({});
      mock.on(TransactWriteItemsCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: { httpStatusCode: 400 },
          CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
        }),
      );

      // Act
      const held = store.hold([intent('inc-1', 'fw', '192.0.2.1')], T0);

      // Assess
      await expect(held).rejects.toBeInstanceOf(StateUnavailableError);
      expect(mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(3);
    });
  });

  describe('index staleness', () => {
    const now = T0 + 100;

    /** What the keys-only index returns for a block. */
    function indexEntry(key: string, dueAt: number): Record<string, AttributeValue> {
      return marshall({ ...itemKeys.block('fw', key), GSI1PK: 'DUE#fw', GSI1SK: dueAt });
    }

    /** The block item as a consistent read returns it. */
    function blockItem(key: string, dueAt: number | undefined): Record<string, AttributeValue> {
      return marshall(
        { ...itemKeys.block('fw', key), integration: 'fw', key, kind: 'ip', actual: 'absent', expiresAt: T0 + 3_600_000, attempts: 0, version: 2, updatedAt: T0, dueAt },
        { removeUndefinedValues: true },
      );
    }

    function routeQueries(pages: Record<string, AttributeValue>[][]): void {
      let page = 0;
      mock.on(QueryCommand).callsFake((input: { IndexName?: string }) => {
        if (input.IndexName === undefined) return { Items: [marshall({ ...itemKeys.integration('fw'), integration: 'fw' })] };
        const items = pages[page] ?? [];
        page += 1;
        return { Items: items, ...(page < pages.length ? { LastEvaluatedKey: items.at(-1) } : {}) };
      });
    }

    it('re-reads blocks found through the index and drops those no longer due', async () => {
      // Prepare
      routeQueries([[indexEntry('192.0.2.1', T0), indexEntry('192.0.2.2', T0 + 1), indexEntry('192.0.2.3', T0 + 2), indexEntry('192.0.2.4', T0 + 3)]]);
      mock.on(BatchGetItemCommand).resolves({
        Responses: {
          'relay-state': [blockItem('192.0.2.1', T0), blockItem('192.0.2.2', T0 + 5_000), blockItem('192.0.2.3', undefined)],
        },
      });

      // Act
      const due = await store.dueBlocks('fw', now, 10);

      // Assess
      expect(due.map((b) => b.key)).toEqual(['192.0.2.1']);
      const [read] = mock.commandCalls(BatchGetItemCommand);
      expect(read?.args[0].input.RequestItems?.['relay-state']?.ConsistentRead).toBe(true);
    });

    it('keeps reading the index past stale entries to fill the limit', async () => {
      // Prepare
      routeQueries([[indexEntry('192.0.2.1', T0)], [indexEntry('192.0.2.2', T0 + 1)]]);
      mock
        .on(BatchGetItemCommand)
        .resolvesOnce({ Responses: { 'relay-state': [blockItem('192.0.2.1', undefined)] } })
        .resolvesOnce({ Responses: { 'relay-state': [blockItem('192.0.2.2', T0 + 1)] } });

      // Act
      const due = await store.dueBlocks('fw', now, 1);

      // Assess
      expect(due.map((b) => b.key)).toEqual(['192.0.2.2']);
      expect(mock.commandCalls(QueryCommand, { IndexName: STATE_TABLE.index.name })).toHaveLength(2);
    });

    it('does not name an integration whose index entries are all stale', async () => {
      // Prepare
      routeQueries([[indexEntry('192.0.2.1', T0)]]);
      mock.on(BatchGetItemCommand).resolves({ Responses: { 'relay-state': [blockItem('192.0.2.1', undefined)] } });

      // Act
      const due = await store.dueIntegrations(now);

      // Assess
      expect(due).toEqual([]);
    });

    it('lists incidents by their current status, not the index entry', async () => {
      // Prepare
      const ended = { uuid: 'inc-1', status: 'ended', lastEventAt: T0, lastEventType: 'attack.ended', firstSeenAt: T0, updatedAt: T0 };
      mock.on(QueryCommand).resolves({ Items: [marshall({ ...itemKeys.incident('inc-1'), GSI1PK: 'INCS#active', GSI1SK: T0 })] });
      mock.on(BatchGetItemCommand).resolves({ Responses: { 'relay-state': [marshall({ ...itemKeys.incident('inc-1'), ...ended, GSI1PK: 'INCS#ended', GSI1SK: T0 })] } });

      // Act
      const active = await store.listIncidents({ status: 'active' });

      // Assess
      expect(active).toEqual([]);
    });
  });
});
