/**
 * The webhook's SDK-free sender, against the SQS emulator: what it sends is
 * what the SDK-based queue receives, FIFO de-duplication holds, and failures
 * map to the intake's 503/413 errors.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MessageTooLargeError, QueueUnavailableError } from '../../lib/queue/errors.ts';
import { SqsFetchSender } from '../../lib/queue/sqs-fetch-sender.ts';
import { createFifoQueues, SqsJobQueue } from '../../lib/queue/sqs.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientConfig } from '../helpers/engines.ts';
import { unusedPort } from '../helpers/loopback-server.ts';

let client: SQSClient;
beforeAll(() => {
  client = new SQSClient(localClientConfig(inject('sqsEndpoint')));
});
afterAll(() => client.destroy());

async function setup() {
  const { queueUrl } = await createFifoQueues(client, `sender-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, { maxReceives: 3, visibilityTimeoutSeconds: 30 });
  const sender = new SqsFetchSender({ queueUrl, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, endpoint: inject('sqsEndpoint') });
  return { sender, queue: new SqsJobQueue({ client, queueUrl }), queueUrl };
}

describe('SqsFetchSender', () => {
  it('sends a FIFO message the SDK-based queue receives with its group and de-dup ids', async () => {
    // Prepare
    const { sender, queue } = await setup();
    // Act
    await sender.send({ groupId: 'inc-1', dedupId: 'a'.repeat(64), body: '{"hello":"world"}' });
    const [message] = await queue.receive({ max: 10, visibilityMs: 30_000, waitMs: 2_000 });
    // Assess
    expect(message).toMatchObject({ groupId: 'inc-1', dedupId: 'a'.repeat(64), body: '{"hello":"world"}', receiveCount: 1 });
  });

  it('is de-duplicated by SQS when the same event is sent twice', async () => {
    // Prepare
    const { sender, queue } = await setup();
    // Act
    await sender.send({ groupId: 'inc-1', dedupId: 'same', body: 'one' });
    await sender.send({ groupId: 'inc-1', dedupId: 'same', body: 'one' });
    const first = await queue.receive({ max: 10, visibilityMs: 30_000, waitMs: 1_000 });
    await queue.ack(first[0]!.receipt);
    const second = await queue.receive({ max: 10, visibilityMs: 30_000, waitMs: 1_000 });
    // Assess
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(0);
  });

  it('hashes group and de-dup ids SQS would refuse', async () => {
    // Prepare
    const { sender, queue } = await setup();
    // Act
    await sender.send({ groupId: 'inc with spaces ✓', dedupId: 'x'.repeat(200), body: 'b' });
    const [message] = await queue.receive({ max: 1, visibilityMs: 30_000, waitMs: 2_000 });
    // Assess
    expect(message?.groupId).toMatch(/^[0-9a-f]{64}$/);
    expect(message?.dedupId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a body over 256 KiB before sending', async () => {
    const { sender } = await setup();
    await expect(sender.send({ groupId: 'g', dedupId: 'd', body: 'x'.repeat(262_145) })).rejects.toBeInstanceOf(MessageTooLargeError);
  });

  it('reports a missing queue as unavailable (the intake answers 503)', async () => {
    // Prepare
    const sender = new SqsFetchSender({
      queueUrl: `${inject('sqsEndpoint')}/000000000000/does-not-exist.fifo`,
      region: LOCAL_REGION,
      credentials: { ...LOCAL_CREDENTIALS },
      endpoint: inject('sqsEndpoint'),
    });
    // Act / Assess
    await expect(sender.send({ groupId: 'g', dedupId: 'd', body: 'b' })).rejects.toBeInstanceOf(QueueUnavailableError);
  });

  it('reports an unreachable endpoint as unavailable', async () => {
    // Prepare
    const port = await unusedPort();
    const sender = new SqsFetchSender({
      queueUrl: `http://127.0.0.1:${port}/000000000000/q.fifo`,
      region: LOCAL_REGION,
      credentials: { ...LOCAL_CREDENTIALS },
      timeoutMs: 2_000,
    });
    // Act / Assess
    await expect(sender.send({ groupId: 'g', dedupId: 'd', body: 'b' })).rejects.toBeInstanceOf(QueueUnavailableError);
  });
});
