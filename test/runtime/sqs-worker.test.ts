/**
 * The AWS worker's partial-batch behaviour, on SQS FIFO batches built from
 * messages actually received from the SQS emulator.
 */
import { ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeJob } from '../../lib/engine/job.ts';
import { eventDedupId, eventGroupId } from '../../lib/planner/event-key.ts';
import { createFifoQueues, SqsJobQueue } from '../../lib/queue/sqs.ts';
import { createSqsWorkerHandler } from '../../lib/runtime/sqs-worker.ts';
import { StateUnavailableError } from '../../lib/state/errors.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import type { StateStore } from '../../lib/state/types.ts';
import { ManualClock } from '../helpers/clock.ts';
import { createHarness } from '../helpers/engine-harness.ts';
import { localClientConfig } from '../helpers/engines.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { MemoryBlocklist } from '../helpers/memory-provider.ts';

let client: SQSClient;
beforeAll(() => {
  client = new SQSClient(localClientConfig(inject('sqsEndpoint')));
});
afterAll(() => client.destroy());

/** The record shape Lambda's SQS event source mapping delivers. */
function toRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body!,
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      SequenceNumber: attributes.SequenceNumber,
      MessageGroupId: attributes.MessageGroupId,
      MessageDeduplicationId: attributes.MessageDeduplicationId,
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody!,
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

const context = { functionName: 'worker', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

/** A store that fails every write for one incident (its group must stop; others go on). */
function failingFor(store: StateStore, uuid: string): StateStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'putIncident' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (record: { uuid: string }) => {
        if (record.uuid === uuid) throw new StateUnavailableError('ProvisionedThroughputExceededException');
        return value.call(target, record);
      };
    },
  });
}

describe('SQS FIFO worker (Powertools partial batch)', () => {
  it('reports the failed message, processes other groups and drops poison, on a batch received from the emulator', async () => {
    // Prepare
    const { queueUrl } = await createFifoQueues(client, `worker-${Date.now()}`, { maxReceives: 5, visibilityTimeoutSeconds: 30 });
    const queue = new SqsJobQueue({ client, queueUrl });
    const at = Date.now();
    const events = [
      attackEvent({ type: 'attack_start', uuid: 'inc-bad', at, ips: publicIps(2) }),
      attackEvent({ type: 'attack_start', uuid: 'inc-good', at, ips: publicIps(3, 46) }),
      attackEvent({ type: 'attack_end', uuid: 'inc-bad', at: at + 1_000 }),
    ];
    for (const event of events) {
      await queue.send({ groupId: eventGroupId(event), dedupId: eventDedupId(event), body: encodeJob(event, at) });
    }
    await queue.send({ groupId: 'poison', dedupId: 'poison-1', body: '{"v":1,"receivedAt":"x","event":{}}' });
    const received: Message[] = [];
    // The emulator hands out one message per group while its head is in flight: expect 3.
    for (let attempt = 0; attempt < 5 && received.length < 3; attempt += 1) {
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
      );
      received.push(...Messages);
    }
    const event: SQSEvent = { Records: received.map((message) => toRecord(message, 'arn:aws:sqs:us-east-1:000000000000:worker.fifo')) };
    const store = SqliteStateStore.open(':memory:');
    const fw = new MemoryBlocklist('fw');
    const harness = createHarness({ store, providers: [fw], clock: new ManualClock(at), wrapStore: (inner) => failingFor(inner, 'inc-bad') });
    const handler = createSqsWorkerHandler(harness.engine.worker);

    // Act
    const response = await handler(event, context);

    // Assess
    expect(received).toHaveLength(3);
    const failedIds = response.batchItemFailures.map((failure) => failure.itemIdentifier).sort();
    const badGroupIds = received.filter((message) => message.Attributes?.MessageGroupId === 'inc-bad').map((m) => m.MessageId!).sort();
    expect(badGroupIds).toHaveLength(1);
    expect(failedIds).toEqual(badGroupIds);
    expect([...fw.device].sort()).toEqual(publicIps(3, 46).sort());
    expect(harness.logger.lines.some((line) => line.message === 'dropping a job that can never succeed')).toBe(true);
    await store.close();
    queue.close();
  });

  it('short-circuits the rest of a failed group in the same batch and keeps its order', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    const fw = new MemoryBlocklist('fw');
    const harness = createHarness({ store, providers: [fw], wrapStore: (inner) => failingFor(inner, 'inc-bad') });
    const handler = createSqsWorkerHandler(harness.engine.worker);
    const at = harness.clock.now();
    const batch = [
      ['b-1', attackEvent({ type: 'attack_start', uuid: 'inc-bad', at, ips: publicIps(1) })],
      ['g-1', attackEvent({ type: 'attack_start', uuid: 'inc-good', at, ips: publicIps(2, 46) })],
      ['b-2', attackEvent({ type: 'attack_end', uuid: 'inc-bad', at: at + 1 })],
      ['g-2', attackEvent({ type: 'attack_end', uuid: 'inc-good', at: at + 1 })],
    ] as const;
    const records = batch.map(([id, event]) =>
      toRecord(
        { MessageId: id, ReceiptHandle: `r-${id}`, Body: encodeJob(event, at), MD5OfBody: 'x', Attributes: { MessageGroupId: event.incident!.uuid, ApproximateReceiveCount: '1' } },
        'arn:aws:sqs:us-east-1:000000000000:worker.fifo',
      ),
    );
    // Act
    const response = await handler({ Records: records }, context);
    // Assess
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(['b-1', 'b-2']);
    expect(fw.calls.map((call) => call.op)).toEqual(['add', 'remove']);
    expect(fw.device.size).toBe(0);
    await store.close();
  });

  it('returns no failures when the whole batch succeeds', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    const harness = createHarness({ store, providers: [new MemoryBlocklist('fw')] });
    const handler = createSqsWorkerHandler(harness.engine.worker);
    const body = encodeJob(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: harness.clock.now(), ips: publicIps(1) }), harness.clock.now());
    const record = toRecord(
      { MessageId: 'm-1', ReceiptHandle: 'r-1', Body: body, MD5OfBody: 'x', Attributes: { MessageGroupId: 'inc-1', ApproximateReceiveCount: '1' } },
      'arn:aws:sqs:us-east-1:000000000000:worker.fifo',
    );
    // Act
    const response = await handler({ Records: [record] }, context);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    await store.close();
  });
});
