/**
 * `relay status|drain|test|activate|withdraw --aws` against a stage's resources:
 * here DynamoDB Local and the SQS emulator (the AWS SDK honours
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, inject, it } from 'vitest';
import { createFifoQueues } from '../../lib/queue/sqs.ts';
import { createTable } from '../../lib/state/dynamodb-table.ts';
import { DynamoStateStore } from '../../lib/state/dynamodb.ts';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../lib/config/load.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { createSweeperHandler } from '../../lib/runtime/aws-sweeper.ts';
import { buildEngine } from '../../lib/runtime/engine.ts';
import { createDirectTransport } from '../../lib/transport/node-http.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientConfig } from '../helpers/engines.ts';
import { startLoopbackServer } from '../helpers/loopback-server.ts';

const RELAY = join(import.meta.dirname, '..', '..', 'bin', 'relay.mjs');

/** Runs the CLI without blocking this process (a loopback server here must answer it). */
function runCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [RELAY, ...args], { ...options, timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

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
    expect(on.stdout).toContain('add --sweeper-function');
    expect(test.status).toBe(2);
    expect(test.stderr).toContain('relay test --aws needs --sweeper-function (or RELAY_SWEEPER_FUNCTION)');
    dynamo.destroy();
    sqs.destroy();
  }, 60_000);

  it('with --sweeper-function, has the stage\'s sweeper run test / activate / withdraw now and prints its answer', async () => {
    // Prepare: a stage (DynamoDB Local) and a loopback stand-in for the Lambda API that runs the
    // sweeper's handler over the stage's engine, as the deployed function does.
    const suffix = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const dynamo = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
    const table = `cli-inv-${suffix}`;
    await createTable(dynamo, table);
    const configText = 'webhook:\n  secrets: [{ env: FLOWTRIQ_WEBHOOK_SECRET }]\nintegrations:\n  - id: scrub\n    type: dry-run\n    ttl: 2h\n    options: { kind: switch }\n';
    const store = new DynamoStateStore({ client: dynamo, tableName: table });
    const engine = buildEngine({ config: parseConfig(parseYaml(configText)), store, transport: createDirectTransport(), logger: silentLogger });
    const handler = createSweeperHandler(engine, silentLogger);
    const invocations: unknown[] = [];
    const lambda = await startLoopbackServer((request, response) => {
      const signed = new RegExp(`^AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/\\d{8}/${LOCAL_REGION}/lambda/aws4_request, `).test(String(request.headers.authorization));
      if (request.method !== 'POST' || request.path !== '/2015-03-31/functions/relay-Sweeper/invocations' || !signed) {
        return void response.writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException' }).end('{"Message":"Function not found"}');
      }
      const event = JSON.parse(request.body) as unknown;
      invocations.push(event);
      void handler(event as never).then((answer) => response.writeHead(200).end(JSON.stringify(answer)));
    });
    const cwd = mkdtempSync(join(tmpdir(), 'relay-cli-aws-'));
    const env = { ...process.env, AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey, RELAY_LAMBDA_ENDPOINT: lambda.origin };
    const run = (...command: string[]) => runCli([...command, '--aws', '--region', LOCAL_REGION, '--sweeper-function', 'relay-Sweeper'], { cwd, env });

    // Act
    const test = await run('test', 'scrub');
    const on = await run('activate', 'scrub');
    const [held] = await store.getBlocks([{ integration: 'scrub', key: '@switch' }]);
    const off = await run('withdraw', 'scrub', '--force');
    const [released] = await store.getBlocks([{ integration: 'scrub', key: '@switch' }]);
    const unknown = await run('withdraw', 'nope');
    const wrongFunction = await runCli(['test', 'scrub', '--aws', '--region', LOCAL_REGION, '--sweeper-function', 'other'], { cwd, env });

    // Assess
    expect(test.status, test.stderr).toBe(0);
    expect(test.stdout).toMatch(/^scrub \(dry-run\): healthy/);
    expect(on.status, on.stderr).toBe(0);
    expect(on.stdout).toMatch(/^scrub: on \(manual hold until /);
    expect(held).toMatchObject({ actual: 'present', holders: ['manual:scrub'] });
    expect(off.status, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/^scrub: restored/);
    expect(released === undefined || released.actual === 'absent').toBe(true);
    expect(unknown.status).toBe(1);
    expect(unknown.stdout).toMatch(/nope/);
    expect(wrongFunction.status).toBe(2);
    expect(wrongFunction.stderr).toMatch(/^relay: invoking the stage's sweeper other failed: .*check --sweeper-function/);
    expect(invocations).toEqual([
      { relay: 'flowtriq-relay/control', command: 'test', integration: 'scrub' },
      { relay: 'flowtriq-relay/control', command: 'activate', integration: 'scrub' },
      { relay: 'flowtriq-relay/control', command: 'withdraw', integration: 'scrub', force: true },
      { relay: 'flowtriq-relay/control', command: 'withdraw', integration: 'nope' },
    ]);
    await lambda.close();
    dynamo.destroy();
  }, 60_000);

  it('says which stage outputs --aws needs', () => {
    const result = spawnSync(process.execPath, [RELAY, 'status', '--aws'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--aws needs --region \(or AWS_REGION\)/);
  });
});
