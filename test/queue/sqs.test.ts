import { createHash, randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  MessageNotInflight,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  RequestThrottled,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { MessageTooLargeError, QueueUnavailableError } from '../../lib/queue/errors.ts';
import { createFifoQueues, isSqsUnavailable, sqsSafeId, SqsJobQueue } from '../../lib/queue/sqs.ts';
import { jobQueueContract } from '../contract/job-queue.contract.ts';
import { localClientConfig } from '../helpers/engines.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('SqsJobQueue on fauxqs', () => {
  const client = new SQSClient(localClientConfig(inject('sqsEndpoint')));
  afterAll(() => client.destroy());

  /** A fresh queue pair; cleanup closes the queue and deletes both. */
  async function freshQueue(options: { maxReceives: number; lookUpDeadLetterQueue?: boolean }) {
    const urls = await createFifoQueues(client, `relay-${randomUUID()}`, { maxReceives: options.maxReceives, visibilityTimeoutSeconds: 30 });
    const queue = new SqsJobQueue({
      client,
      queueUrl: urls.queueUrl,
      ...(options.lookUpDeadLetterQueue ? {} : { deadLetterQueueUrl: urls.deadLetterQueueUrl }),
    });
    return {
      queue,
      urls,
      async cleanup() {
        await queue.close();
        await client.send(new DeleteQueueCommand({ QueueUrl: urls.queueUrl }));
        await client.send(new DeleteQueueCommand({ QueueUrl: urls.deadLetterQueueUrl }));
      },
    };
  }

  jobQueueContract('SqsJobQueue', freshQueue);

  describe('adapter specifics', () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });
    async function open(options: { maxReceives: number; lookUpDeadLetterQueue?: boolean }) {
      const harness = await freshQueue(options);
      cleanups.push(() => harness.cleanup());
      return harness;
    }

    /** Receives once with a second of long-polling (the emulator answers at once when messages are there). */
    async function receiveOne(queue: SqsJobQueue, visibilityMs = 60_000) {
      return queue.receive({ max: 10, visibilityMs, waitMs: 1_000 });
    }

    /** Sends a message and lets it be received `maxReceives + 1` times so it is dead-lettered. */
    async function poison(queue: SqsJobQueue, body: string, maxReceives: number): Promise<void> {
      await queue.send({ groupId: 'incident-poison', dedupId: randomUUID(), body });
      for (let n = 0; n < maxReceives; n += 1) {
        const [delivered] = await receiveOne(queue);
        await queue.retry(delivered!.receipt, 0);
      }
      await receiveOne(queue);
    }

    it('sends an unsafe group id as its sha256 and keeps those messages in one ordered group', async () => {
      // Prepare
      const { queue } = await open({ maxReceives: 5 });
      const group = 'incident 42 ü';

      // Act
      await queue.send({ groupId: group, dedupId: 'evt-1', body: 'first' });
      await queue.send({ groupId: group, dedupId: 'evt-2', body: 'second' });
      const received = [];
      for (let n = 0; n < 2; n += 1) {
        const batch = await receiveOne(queue);
        for (const delivered of batch) await queue.ack(delivered.receipt);
        received.push(...batch);
      }

      // Assess
      expect(received.map((m) => [m.groupId, m.body])).toEqual([
        [sha256(group), 'first'],
        [sha256(group), 'second'],
      ]);
    });

    it('peeks at dead letters without consuming them', async () => {
      // Prepare
      const { queue } = await open({ maxReceives: 1 });
      await poison(queue, 'poison', 1);

      // Act
      const first = await queue.deadLetters(10);
      const second = await queue.deadLetters(10);

      // Assess
      expect(first.map((m) => m.body)).toEqual(['poison']);
      expect(second.map((m) => m.messageId)).toEqual(first.map((m) => m.messageId));
      expect((await queue.stats()).dead).toBe(1);
    });

    it('finds the dead-letter queue through the redrive policy when it is not given', async () => {
      // Prepare
      const { queue } = await open({ maxReceives: 1, lookUpDeadLetterQueue: true });
      await poison(queue, 'poison', 1);

      // Act
      const dead = await queue.deadLetters(10);
      const stats = await queue.stats();

      // Assess
      expect(dead.map((m) => m.body)).toEqual(['poison']);
      expect(stats).toEqual({ visible: 0, inFlight: 0, dead: 1 });
    });

    it('treats a retry with the receipt of an earlier delivery as a no-op', async () => {
      // Prepare
      const { queue } = await open({ maxReceives: 5 });
      await queue.send({ groupId: 'incident-1', dedupId: 'evt-1', body: 'job' });
      const [first] = await receiveOne(queue);
      await queue.retry(first!.receipt, 0);
      const [second] = await receiveOne(queue);

      // Act
      await queue.retry(first!.receipt, 0);

      // Assess
      expect(second?.receiveCount).toBe(2);
      expect(await queue.stats()).toEqual({ visible: 0, inFlight: 1, dead: 0 });
    });

    it('reports a missing queue as QueueUnavailableError', async () => {
      // Prepare
      const { urls } = await open({ maxReceives: 5 });
      const queue = new SqsJobQueue({ client, queueUrl: `${urls.queueUrl}-gone`, deadLetterQueueUrl: urls.deadLetterQueueUrl });

      // Act
      const sent = queue.send({ groupId: 'incident-1', dedupId: 'evt-1', body: 'job' });

      // Assess
      await expect(sent).rejects.toMatchObject({ name: 'QueueUnavailableError', cause: { name: 'QueueDoesNotExist' } });
    });

    it('refuses work after close with QueueUnavailableError', async () => {
      // Prepare
      const { queue } = await open({ maxReceives: 5 });
      await queue.close();

      // Act
      const sent = queue.send({ groupId: 'incident-1', dedupId: 'evt-1', body: 'job' });

      // Assess
      await expect(sent).rejects.toBeInstanceOf(QueueUnavailableError);
    });
  });
});

describe('sqsSafeId', () => {
  it.each([
    ['incident-4b1c', 'letters, digits and dashes'],
    ['a'.repeat(128), '128 characters'],
    ['uuid:4b1c/attack.started@1750000000', 'ASCII punctuation'],
  ])('keeps %s (%s)', (id) => {
    // Act
    const safe = sqsSafeId(id);

    // Assess
    expect(safe).toBe(id);
  });

  it.each([
    ['a'.repeat(129), 'longer than 128 characters'],
    ['incident 4b1c', 'a space'],
    ['Zürich', 'non-ASCII'],
    ['', 'empty'],
  ])('hashes %j (%s) to sha256 hex', (id) => {
    // Act
    const safe = sqsSafeId(id);

    // Assess
    expect(safe).toBe(sha256(id));
    expect(safe).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('SqsJobQueue with a mocked client', () => {
  const client = new SQSClient(localClientConfig('http://127.0.0.1:9'));
  const mock = mockClient(client);
  const queueUrl = 'http://127.0.0.1:9/000000000000/relay.fifo';
  let queue: SqsJobQueue;

  beforeEach(() => {
    mock.reset();
    queue = new SqsJobQueue({ client, queueUrl, deadLetterQueueUrl: `${queueUrl}-dlq` });
  });
  afterAll(() => {
    mock.restore();
    client.destroy();
  });

  it('sends unsafe group and dedup ids hashed, safe ones unchanged', async () => {
    // Prepare
    mock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });

    // Act
    const result = await queue.send({ groupId: 'incident 1', dedupId: 'evt-1', body: '{}' });

    // Assess
    expect(result.duplicate).toBeUndefined();
    expect(mock.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({
      QueueUrl: queueUrl,
      MessageGroupId: sha256('incident 1'),
      MessageDeduplicationId: 'evt-1',
      MessageBody: '{}',
    });
  });

  it('rejects a body over 262,144 bytes without calling SQS', async () => {
    // Act
    const sent = queue.send({ groupId: 'g', dedupId: 'd', body: 'x'.repeat(262_145) });

    // Assess
    await expect(sent).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(mock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('asks SQS for at most 10 messages, whole seconds and every system attribute', async () => {
    // Prepare
    mock.on(ReceiveMessageCommand).resolves({
      Messages: [
        {
          MessageId: 'm-1',
          ReceiptHandle: 'r-1',
          Body: 'job',
          Attributes: { MessageGroupId: 'g', MessageDeduplicationId: 'd', ApproximateReceiveCount: '3' },
        },
      ],
    });

    // Act
    const received = await queue.receive({ max: 25, visibilityMs: 1_500, waitMs: 60_000 });

    // Assess
    expect(mock.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toMatchObject({
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 2,
      WaitTimeSeconds: 20,
      MessageSystemAttributeNames: ['All'],
    });
    expect(received).toEqual([{ messageId: 'm-1', groupId: 'g', dedupId: 'd', body: 'job', receiveCount: 3, receipt: 'r-1' }]);
  });

  it('retries by changing the visibility to the delay rounded up to seconds', async () => {
    // Prepare
    mock.on(ChangeMessageVisibilityCommand).resolves({});

    // Act
    await queue.retry('r-1', 2_001);

    // Assess
    expect(mock.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input).toMatchObject({ ReceiptHandle: 'r-1', VisibilityTimeout: 3 });
  });

  it('counts in-flight dead letters as dead', async () => {
    // Prepare
    mock
      .on(GetQueueAttributesCommand, { QueueUrl: queueUrl })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '4', ApproximateNumberOfMessagesNotVisible: '2' } })
      .on(GetQueueAttributesCommand, { QueueUrl: `${queueUrl}-dlq` })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '1' } });

    // Act
    const stats = await queue.stats();

    // Assess
    expect(stats).toEqual({ visible: 4, inFlight: 2, dead: 2 });
  });

  describe('error mapping', () => {
    const throttled = () => new RequestThrottled({ message: 'Request is throttled', $metadata: { httpStatusCode: 400 } });
    const serverError = () =>
      new SQSServiceException({ name: 'InternalFailure', $fault: 'server', message: 'We encountered an internal error', $metadata: { httpStatusCode: 500 } });
    const networkError = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', $metadata: { attempts: 3, totalRetryDelay: 300 } });

    it.each([
      ['throttling', throttled],
      ['a 5xx', serverError],
      ['a network failure', networkError],
    ])('turns %s into QueueUnavailableError and keeps the cause', async (_label, makeError) => {
      // Prepare
      const error = makeError();
      mock.on(SendMessageCommand).rejects(error);

      // Act
      const sent = queue.send({ groupId: 'g', dedupId: 'd', body: 'job' });

      // Assess
      await expect(sent).rejects.toBeInstanceOf(QueueUnavailableError);
      await expect(sent).rejects.toHaveProperty('cause', error);
    });

    it('turns throttling of a receive into QueueUnavailableError', async () => {
      // Prepare
      mock.on(ReceiveMessageCommand).rejects(throttled());

      // Act
      const received = queue.receive({ max: 1, visibilityMs: 1_000 });

      // Assess
      await expect(received).rejects.toBeInstanceOf(QueueUnavailableError);
    });

    it('lets an invalid receipt through unchanged', async () => {
      // Prepare
      const error = new ReceiptHandleIsInvalid({ message: 'The input receipt handle is invalid', $metadata: { httpStatusCode: 400 } });
      mock.on(ChangeMessageVisibilityCommand).rejects(error);

      // Act
      const retried = queue.retry('garbage', 0);

      // Assess
      await expect(retried).rejects.toBe(error);
      expect(isSqsUnavailable(error)).toBe(false);
    });

    it('treats MessageNotInflight on retry as nothing left to retry', async () => {
      // Prepare
      mock.on(ChangeMessageVisibilityCommand).rejects(new MessageNotInflight({ message: 'not in flight', $metadata: { httpStatusCode: 400 } }));

      // Act
      const retried = queue.retry('r-old', 0);

      // Assess
      await expect(retried).resolves.toBeUndefined();
    });
  });
});
