/**
 * The relay's single DynamoDB table, described once as data so the SST stack,
 * local runs and tests create identical tables.
 *
 * - Primary key: `PK` (string) + `SK` (string).
 * - One global secondary index, `GSI1` (`GSI1PK` string + `GSI1SK` number,
 *   keys only). It is sparse and overloaded: due blocks
 *   (`DUE#<integration>`, dueAt), incidents by status (`INCS#<status>`,
 *   updatedAt) and processed-event markers (`EVTS#<n>`, processedAt).
 *   Readers re-read the items it points at with strongly consistent reads,
 *   because GSIs are eventually consistent.
 * - TTL attribute `gcAt` (epoch seconds): a backstop that garbage-collects
 *   processed-event markers. No logic depends on DynamoDB deleting anything.
 *
 * See `dynamodb.ts` for the item layout.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/** The table's key schema, index and TTL attribute. */
export const STATE_TABLE = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** The sparse, overloaded secondary index (due blocks, incidents by status). */
  index: {
    name: 'GSI1',
    partitionKey: 'GSI1PK',
    sortKey: 'GSI1SK',
    projection: 'keys-only',
  },
  /** TTL attribute (epoch seconds), for garbage collection only. */
  ttlAttribute: 'gcAt',
  /** Attribute types of every key attribute (DynamoDB's scalar type codes). */
  attributeTypes: { PK: 'S', SK: 'S', GSI1PK: 'S', GSI1SK: 'N' },
} as const;

/**
 * The same table in the shape of `sst.aws.Dynamo`'s arguments:
 * `new sst.aws.Dynamo('State', stateTableSstArgs)`.
 */
export const stateTableSstArgs = {
  fields: { PK: 'string', SK: 'string', GSI1PK: 'string', GSI1SK: 'number' },
  primaryIndex: { hashKey: 'PK', rangeKey: 'SK' },
  globalIndexes: { GSI1: { hashKey: 'GSI1PK', rangeKey: 'GSI1SK', projection: 'keys-only' } },
  ttl: 'gcAt',
} as const;

/** The CreateTable request for a table named `name` (on-demand billing). */
export function createTableInput(name: string): CreateTableCommandInput {
  const t = STATE_TABLE;
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: Object.entries(t.attributeTypes).map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    KeySchema: [
      { AttributeName: t.partitionKey, KeyType: 'HASH' },
      { AttributeName: t.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: t.index.name,
        KeySchema: [
          { AttributeName: t.index.partitionKey, KeyType: 'HASH' },
          { AttributeName: t.index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}

/**
 * Creates the state table (for tests and local runs), waits until it is
 * active and turns on TTL. An existing table of that name is left as it is.
 */
export async function createTable(client: DynamoDBClient, name: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(name)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    return;
  }
  for (let i = 0; i < 600; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) break;
    if (i === 599) throw new Error(`table ${name} did not become active`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: STATE_TABLE.ttlAttribute, Enabled: true },
    }),
  );
}
