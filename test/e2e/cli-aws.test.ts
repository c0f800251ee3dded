/**
 * `relay status|drain|activate|withdraw --aws` against a stage's resources:
 * here DynamoDB Local and the SQS emulator (the AWS SDK honours
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, inject, it } from 'vitest';
import { createFifoQueues } from '../../lib/queue/sqs.ts';
import { createTable } from '../../lib/state/dynamodb-table.ts';
import { DynamoStateStore } from '../../lib/state/dynamodb.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientConfig } from '../helpers/engines.ts';

const RELAY = join(import.meta.dirname, '..', '..', 'bin', 'relay.mjs');

/** The environment and flags a CLI run against the local stage needs. */
function stageCli(table: string, queueUrl: string, deadLetterQueueUrl: string) {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
  };
  const args = ['--aws', '--region', LOCAL_REGION, '--table', table, '--queue-url', queueUrl, '--dlq-url', deadLetterQueueUrl];
  return { env, args };
}

describe('relay CLI --aws', () => {
  it('shows a stage and drains its active incidents (the stage sweeper then withdraws the blocks)', async () => {
    // Prepare: a stage with one active incident holding two IPs.
    const suffix = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const dynamo = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
    const sqs = new SQSClient(localClientConfig(inject('sqsEndpoint')));
    const table = `cli-${suffix}`;
    await createTable(dynamo, table);
    const { queueUrl, deadLetterQueueUrl } = await createFifoQueues(sqs, `cli-${suffix}`, { maxReceives: 3, visibilityTimeoutSeconds: 30 });
    const store = new DynamoStateStore({ client: dynamo, tableName: table });
    const now = Date.now();
    await store.putIncident({ uuid: 'inc-aws', status: 'active', lastEventAt: now, lastEventType: 'attack_start', firstSeenAt: now, updatedAt: now });
    await store.hold(
      ['47.0.0.1', '47.0.0.2'].map((ip) => ({ integration: 'fw', key: ip, kind: 'ip' as const, incident: 'inc-aws', expiresAt: now + 3_600_000 })),
      now,
    );
    // …confirmed on the device, as the worker would have recorded it.
    const held = await store.getBlocks([{ integration: 'fw', key: '47.0.0.1' }, { integration: 'fw', key: '47.0.0.2' }]);
    await store.complete(
      held.map((block) => ({
        integration: block.integration,
        key: block.key,
        expectVersion: block.version,
        actual: 'present' as const,
        dueAt: block.expiresAt,
        attempts: 0,
        lastError: null,
        lastAttemptAt: now,
      })),
      now,
    );
    const { env, args } = stageCli(table, queueUrl, deadLetterQueueUrl);
    const cwd = mkdtempSync(join(tmpdir(), 'relay-cli-aws-'));
    const run = (...command: string[]) => spawnSync(process.execPath, [RELAY, ...command], { cwd, env, encoding: 'utf8', timeout: 30_000 });

    // Act
    const before = run('status', '--json', ...args);
    const drained = run('drain', ...args);
    const after = run('status', '--json', ...args);

    // Assess
    expect(before.status, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ incidents: [{ uuid: 'inc-aws' }], blocks: [{ key: '47.0.0.1' }, { key: '47.0.0.2' }] });
    expect(drained.stdout).toMatch(/ended 1 active incident/);
    const report = JSON.parse(after.stdout) as { incidents: unknown[]; blocks: { holders: string[]; status: string }[] };
    expect(report.incidents).toEqual([]);
    // Released, due for removal by the stage's sweeper (the devices are reached from inside AWS).
    expect(report.blocks.map((block) => [block.holders, block.status])).toEqual([
      [[], 'removing'],
      [[], 'removing'],
    ]);
    dynamo.destroy();
    sqs.destroy();
  }, 60_000);

  it('records a manual switch activation and its withdraw in the stage\'s table, for the stage\'s sweeper to apply', async () => {
    // Prepare: a stage whose config has a switch integration.
    const suffix = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const dynamo = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
    const sqs = new SQSClient(localClientConfig(inject('sqsEndpoint')));
    const table = `cli-sw-${suffix}`;
    await createTable(dynamo, table);
    const { queueUrl, deadLetterQueueUrl } = await createFifoQueues(sqs, `cli-sw-${suffix}`, { maxReceives: 3, visibilityTimeoutSeconds: 30 });
    const cwd = mkdtempSync(join(tmpdir(), 'relay-cli-aws-'));
    (await import('node:fs')).writeFileSync(
      join(cwd, 'relay.config.yaml'),
      'webhook:\n  secrets: [{ sst: FlowtriqWebhookSecret }]\nintegrations:\n  - id: scrub\n    type: dry-run\n    ttl: 2h\n    options: { kind: switch }\n',
    );
    const { env, args } = stageCli(table, queueUrl, deadLetterQueueUrl);
    const run = (...command: string[]) => spawnSync(process.execPath, [RELAY, ...command], { cwd, env, encoding: 'utf8', timeout: 30_000 });
    const store = new DynamoStateStore({ client: dynamo, tableName: table });

    // Act
    const on = run('activate', 'scrub', ...args);
    const [held] = await store.getBlocks([{ integration: 'scrub', key: '@switch' }]);
    const off = run('withdraw', 'scrub', ...args);
    const [released] = await store.getBlocks([{ integration: 'scrub', key: '@switch' }]);
    const test = run('test', 'scrub', ...args);

    // Assess
    expect(on.status, on.stderr).toBe(0);
    expect(on.stdout).toMatch(/^scrub: manual hold recorded until /);
    expect(held?.holders).toEqual(['manual:scrub']);
    expect(off.stdout).toMatch(/^scrub: withdraw recorded/);
    expect(released?.holders).toEqual([]);
    expect(test.status).toBe(2);
    expect(test.stderr).toContain('relay test --aws is not offered');
    dynamo.destroy();
    sqs.destroy();
  }, 60_000);

  it('says which stage outputs --aws needs', () => {
    const result = spawnSync(process.execPath, [RELAY, 'status', '--aws'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--aws needs --region \(or AWS_REGION\)/);
  });
});
