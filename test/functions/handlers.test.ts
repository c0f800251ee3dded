/**
 * The four Lambda handlers, as deployed, with real Lambda event shapes:
 * Function URL payload v2.0 events into the webhook (base64 and plain bodies,
 * lower-case headers), SQS FIFO batches built from messages actually received
 * from the SQS emulator into the worker (state in DynamoDB Local), an
 * EventBridge scheduled event into the sweeper, and a direct invocation of the
 * device relay. The handlers read their environment at import, as in Lambda.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, EventBridgeEvent, LambdaFunctionURLEvent, LambdaFunctionURLResult, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createFifoQueues } from '../../lib/queue/sqs.ts';
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';
import { createTable } from '../../lib/state/dynamodb-table.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientConfig } from '../helpers/engines.ts';
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.ts';

type UrlHandler = (event: LambdaFunctionURLEvent, context: Context) => Promise<LambdaFunctionURLResult>;
type WorkerHandler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
type SweepHandler = (event: EventBridgeEvent<'Scheduled Event', unknown> | Record<string, unknown>) => Promise<{ errors?: unknown[]; ok?: boolean; lines?: string[] }>;
type RelayHandler = (payload: unknown, context: Context) => Promise<{ ok: boolean; error?: { code: string } }>;

let sqs: SQSClient;
let receiver: LoopbackServer;
let queueUrl: string;
let webhook: UrlHandler;
let worker: WorkerHandler;
let sweeper: SweepHandler;
let deviceRelay: RelayHandler;
const context = { awsRequestId: 'req', functionName: 'fn', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

beforeAll(async () => {
  sqs = new SQSClient(localClientConfig(inject('sqsEndpoint')));
  receiver = await startLoopbackServer((_request, response) => response.writeHead(204).end());
  const suffix = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  ({ queueUrl } = await createFifoQueues(sqs, `handlers-${suffix}`, { maxReceives: 5, visibilityTimeoutSeconds: 60 }));
  const tableName = `relay-handlers-${suffix}`;
  const dynamo = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  await createTable(dynamo, tableName);
  dynamo.destroy();

  const root = mkdtempSync(join(tmpdir(), 'relay-lambda-'));
  writeFileSync(
    join(root, 'relay.config.yaml'),
    [
      'webhook:',
      '  secrets: [{ sst: FlowtriqWebhookSecret }]',
      'integrations:',
      '  - id: siem',
      '    type: webhook',
      `    options: { url: "${receiver.origin}/hook", allowInsecureHttp: true }`,
      '    secrets: { signingSecret: { sst: SiemSigningSecret } }',
      // A switch no attack here matches, for the manual controls.
      '  - id: scrub',
      '    type: dry-run',
      '    options: { kind: switch }',
      '    match: { nodes: [no-such-node] }',
      '',
    ].join('\n'),
  );
  Object.assign(process.env, {
    LAMBDA_TASK_ROOT: root,
    RELAY_CONFIG: 'relay.config.yaml',
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    RELAY_QUEUE_URL: queueUrl,
    RELAY_WEBHOOK_SECRETS: JSON.stringify([{ sst: 'FlowtriqWebhookSecret' }]),
    RELAY_REPLAY_WINDOW_MS: '300000',
    RELAY_SQS_ENDPOINT: inject('sqsEndpoint'),
    RELAY_STATE_TABLE: tableName,
    RELAY_DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
    SST_RESOURCE_FlowtriqWebhookSecret: JSON.stringify({ value: TEST_SECRET }),
    SST_RESOURCE_SiemSigningSecret: JSON.stringify({ value: 'siem-signing-secret' }),
    RELAY_LOG_LEVEL: 'ERROR',
  });
  webhook = (await import('../../functions/webhook.ts')).handler as unknown as UrlHandler;
  worker = (await import('../../functions/worker.ts')).handler as unknown as WorkerHandler;
  sweeper = (await import('../../functions/sweeper.ts')).handler as unknown as SweepHandler;
  deviceRelay = (await import('../../functions/device-relay.ts')).handler as unknown as RelayHandler;
});

afterAll(async () => {
  sqs.destroy();
  await receiver.close();
});

function status(result: LambdaFunctionURLResult): number | undefined {
  return typeof result === 'string' ? 200 : result.statusCode;
}

function urlEvent(body: string, options: { base64: boolean; signature?: string }): LambdaFunctionURLEvent {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/webhooks/flowtriq',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'x-flowtriq-signature': options.signature ?? signFlowtriq(TEST_SECRET, body),
      host: 'abcdefghij.lambda-url.eu-west-1.on.aws',
      'user-agent': 'Flowtriq-Webhook',
      'x-forwarded-proto': 'https',
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghij',
      domainName: 'abcdefghij.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abcdefghij',
      http: { method: 'POST', path: '/webhooks/flowtriq', protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'Flowtriq-Webhook' },
      requestId: 'request-id',
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64,
  } as LambdaFunctionURLEvent;
}

/** Receives what the webhook enqueued and shapes it as Lambda's SQS event source mapping does. */
async function receivedBatch(): Promise<SQSEvent> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2, MessageSystemAttributeNames: ['All'] }),
  );
  return {
    Records: Messages.map((message) => ({
      messageId: message.MessageId!,
      receiptHandle: message.ReceiptHandle!,
      body: message.Body!,
      attributes: {
        ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: message.Attributes?.SentTimestamp ?? '0',
        SenderId: message.Attributes?.SenderId ?? 'AIDA',
        ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
        SequenceNumber: message.Attributes?.SequenceNumber,
        MessageGroupId: message.Attributes?.MessageGroupId,
        MessageDeduplicationId: message.Attributes?.MessageDeduplicationId,
      },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody!,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:JobsQueue.fifo',
      awsRegion: LOCAL_REGION,
    })),
  };
}

/** What Lambda's event source mapping does with the response: delete every message not reported as failed. */
async function settle(batch: SQSEvent, result: { batchItemFailures: { itemIdentifier: string }[] }) {
  const failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
  for (const record of batch.Records) {
    if (!failed.has(record.messageId)) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }));
  }
}

function posted(type: string): { entries: { ip: string }[] }[] {
  return receiver.requests
    .map((request) => JSON.parse(request.body) as { type: string; entries: { ip: string }[] })
    .filter((body) => body.type === type);
}

describe('Lambda handlers', () => {
  it('runs an incident end to end: Function URL → SQS FIFO → worker on DynamoDB → provider, then the sweeper', async () => {
    // Prepare
    const ips = publicIps(3, 47);
    const start = JSON.stringify(attackEvent({ type: 'attack_start', uuid: 'inc-lambda-1', at: Date.now(), ips }));
    const end = JSON.stringify(attackEvent({ type: 'attack_end', uuid: 'inc-lambda-1', at: Date.now() + 1_000 }));

    // Act
    const accepted = await webhook(urlEvent(start, { base64: true }), context);
    const startBatch = await receivedBatch();
    const startResult = await worker(startBatch, context);
    await settle(startBatch, startResult);
    const acceptedEnd = await webhook(urlEvent(end, { base64: false }), context);
    const endBatch = await receivedBatch();
    const endResult = await worker(endBatch, context);
    await settle(endBatch, endResult);
    const swept = await sweeper({
      version: '0',
      id: 'e1',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: new Date().toISOString(),
      region: LOCAL_REGION,
      resources: ['arn:aws:events:us-east-1:000000000000:rule/Sweeper'],
      detail: {},
    });

    // Assess
    expect(status(accepted)).toBe(202);
    expect(status(acceptedEnd)).toBe(202);
    expect(startBatch.Records).toHaveLength(1);
    expect(startBatch.Records[0]!.attributes.MessageGroupId).toBe('inc-lambda-1');
    expect(startResult.batchItemFailures).toEqual([]);
    expect(endResult.batchItemFailures).toEqual([]);
    expect(posted('block.add').flatMap((body) => body.entries.map((entry) => entry.ip)).sort()).toEqual([...ips].sort());
    expect(posted('block.remove').flatMap((body) => body.entries.map((entry) => entry.ip)).sort()).toEqual([...ips].sort());
    expect(swept.errors).toEqual([]);
  });

  it('answers a forged Function URL request with 401, enqueues nothing, and counts it in an EMF metric', async () => {
    // Prepare
    const body = JSON.stringify(attackEvent({ type: 'attack_start', uuid: 'inc-forged', at: Date.now(), ips: publicIps(1) }));
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    // Act
    let result: LambdaFunctionURLResult;
    try {
      result = await webhook(urlEvent(body, { base64: true, signature: signFlowtriq('wrong', body) }), context);
    } finally {
      spy.mockRestore();
    }
    const batch = await receivedBatch();
    // Assess
    expect(status(result)).toBe(401);
    expect(batch.Records.filter((record) => record.body.includes('inc-forged'))).toEqual([]);
    const emf = printed
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf).toContainEqual(expect.objectContaining({ flowtriq_relay_webhooks_total: 1, outcome: expect.stringMatching(/^signature_/), service: 'flowtriq-relay' }));
  });

  it('verifies the signature on the decoded bytes of a base64 body', async () => {
    // Prepare: sign the raw bytes; the event carries them base64-encoded.
    const body = `{"event_type":"test","timestamp":"${new Date().toISOString()}"}`;
    // Act
    const result = await webhook(urlEvent(body, { base64: true }), context);
    // Assess
    expect(status(result)).toBe(202);
  });

  it('runs relay test / activate / withdraw --aws sent to the sweeper, with the stage\'s own engine', async () => {
    // Prepare
    const control = (command: string, integration: string, extra: Record<string, unknown> = {}) =>
      sweeper({ relay: 'flowtriq-relay/control', command, integration, ...extra });

    // Act
    const tested = await control('test', 'scrub');
    const activated = await control('activate', 'scrub');
    const again = await control('activate', 'scrub');
    const withdrawn = await control('withdraw', 'scrub');
    const unknown = await control('withdraw', 'nope');
    const blocklist = await control('activate', 'siem');
    const malformed = await sweeper({ relay: 'flowtriq-relay/control', command: 'rm -rf', integration: 'scrub' });

    // Assess
    expect(tested).toMatchObject({ ok: true, lines: [expect.stringMatching(/^scrub \(dry-run\): healthy/), expect.any(String)] });
    expect(activated.ok).toBe(true);
    expect(activated.lines?.[0]).toMatch(/^scrub: on \(manual hold until /);
    expect(again.ok).toBe(true);
    expect(withdrawn.ok).toBe(true);
    expect(withdrawn.lines?.[0]).toMatch(/^scrub: restored/);
    expect(unknown.ok).toBe(false);
    expect(unknown.lines?.[0]).toMatch(/nope/);
    expect(blocklist.ok).toBe(false);
    expect(blocklist.lines?.[0]).toMatch(/siem/);
    expect(malformed).toEqual({ ok: false, lines: [expect.stringMatching(/^not a valid control event: command: /)] });
  });

  it('has a device relay that refuses everything when no integration uses via: vpc', async () => {
    // Act
    const answer = await deviceRelay(
      { v: 1, integration: 'siem', request: { method: 'GET', url: `${receiver.origin}/hook`, headers: {}, timeoutMs: 1_000 } },
      context,
    );
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'forbidden_target' } });
  });
});
