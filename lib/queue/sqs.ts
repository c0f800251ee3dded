/**
 * JobQueue on an SQS FIFO queue with a FIFO dead-letter queue (AWS
 * deployment).
 *
 * - Group and de-duplication ids go to SQS as given when they fit SQS's rules
 *   (1–128 printable ASCII characters); otherwise their sha256 hex is sent
 *   instead, and that is what `receive` reports back.
 * - SQS cannot tell whether a send was dropped as a duplicate, so `send`
 *   returns `{ duplicate: undefined }`. De-duplication lasts 5 minutes.
 * - Visibility and long-poll times are whole seconds on SQS: milliseconds are
 *   rounded up.
 * - A receipt from an earlier delivery no longer acks or retries the message:
 *   SQS accepts such a delete without deleting anything, and `retry` treats
 *   SQS's MessageNotInflight as "nothing to retry".
 * - `deadLetters` is a peek: it receives from the DLQ with a short visibility
 *   timeout, then makes the messages visible again at once. Each peek counts
 *   as a receive on the DLQ (so `receiveCount` of a dead letter is the DLQ's
 *   count, not the count it died with), a concurrent DLQ consumer may briefly
 *   miss the peeked messages, and since the DLQ is FIFO a peek may show only
 *   the oldest dead letter of each group.
 * - `stats` reads SQS's Approximate* counters, which lag on AWS.
 * - Throttling, 5xx, network, credential and missing-queue errors become
 *   `QueueUnavailableError` (with the SDK error as `cause`).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  MessageNotInflight,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { MessageTooLargeError, QueueUnavailableError } from './errors.ts';
import { SQS_MAX_MESSAGE_BYTES, sqsSafeId } from './sqs-ids.ts';
import type { JobQueue, OutgoingMessage, QueueStats, ReceiveOptions, ReceivedMessage, SendResult } from './types.ts';
import { sdkErrorDetail, unavailableClassifier } from '../aws/sdk-errors.ts';

export { SQS_MAX_MESSAGE_BYTES, sqsSafeId } from './sqs-ids.ts';
/** Most messages one ReceiveMessage may return. */
export const SQS_MAX_RECEIVE = 10;
const MAX_WAIT_SECONDS = 20;
const MAX_VISIBILITY_SECONDS = 43_200;
/** How long peeked dead letters stay hidden before they are put back. */
const PEEK_VISIBILITY_SECONDS = 30;

/** Options for {@link SqsJobQueue}. */
export interface SqsJobQueueOptions {
  /** URL of the FIFO queue. */
  queueUrl: string;
  /** URL of its dead-letter queue; looked up from the RedrivePolicy when omitted. */
  deadLetterQueueUrl?: string;
  /** A client to use (not destroyed by `close()`); otherwise one is built from `clientConfig`. */
  client?: SQSClient;
  clientConfig?: SQSClientConfig;
  /** Largest body accepted, in bytes. Default {@link SQS_MAX_MESSAGE_BYTES}. */
  maxMessageBytes?: number;
}


/** Service-specific error names that mean the service cannot serve us right now. */
export const isSqsUnavailable = unavailableClassifier([
  'KmsThrottled',
  'KmsUnavailable',
  'OverLimit',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'InvalidClientTokenId',
  'InvalidSecurity',
  'SignatureDoesNotMatch',
]);

function toQueueError(operation: string, error: unknown): unknown {
  if (isSqsUnavailable(error)) {
    const detail = sdkErrorDetail(error);
    return new QueueUnavailableError(`SQS ${operation} failed: ${detail}`, { cause: error });
  }
  return error;
}

function seconds(ms: number, max: number): number {
  return Math.min(max, Math.max(0, Math.ceil(ms / 1000)));
}

function toReceived(message: Message): ReceivedMessage {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    groupId: attributes.MessageGroupId ?? '',
    dedupId: attributes.MessageDeduplicationId ?? '',
    body: message.Body ?? '',
    receiveCount: Number(attributes.ApproximateReceiveCount ?? '1'),
    receipt: message.ReceiptHandle ?? '',
  };
}

/** A JobQueue on an SQS FIFO queue and its dead-letter queue. */
export class SqsJobQueue implements JobQueue {
  readonly #client: SQSClient;
  readonly #ownsClient: boolean;
  readonly #queueUrl: string;
  readonly #maxBytes: number;
  #deadLetterQueueUrl: Promise<string | undefined> | undefined;
  #closed = false;

  constructor(options: SqsJobQueueOptions) {
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new SQSClient(options.clientConfig ?? {});
    this.#queueUrl = options.queueUrl;
    this.#maxBytes = options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES;
    if (options.deadLetterQueueUrl !== undefined) this.#deadLetterQueueUrl = Promise.resolve(options.deadLetterQueueUrl);
  }

  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new QueueUnavailableError(`job queue is closed (${operation})`);
    try {
      return await run();
    } catch (error) {
      throw toQueueError(operation, error);
    }
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const bytes = Buffer.byteLength(message.body, 'utf8');
    if (bytes > this.#maxBytes) throw new MessageTooLargeError(bytes, this.#maxBytes);
    await this.#call('SendMessage', () =>
      this.#client.send(
        new SendMessageCommand({
          QueueUrl: this.#queueUrl,
          MessageBody: message.body,
          MessageGroupId: sqsSafeId(message.groupId),
          MessageDeduplicationId: sqsSafeId(message.dedupId),
        }),
      ),
    );
    return {};
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    return (await this.#receiveFrom(this.#queueUrl, options.max, seconds(options.visibilityMs, MAX_VISIBILITY_SECONDS), seconds(options.waitMs ?? 0, MAX_WAIT_SECONDS))).map(toReceived);
  }

  async #receiveFrom(queueUrl: string, max: number, visibilitySeconds: number, waitSeconds: number): Promise<Message[]> {
    const count = Math.min(SQS_MAX_RECEIVE, Math.floor(max));
    if (count < 1) return [];
    const out = await this.#call('ReceiveMessage', () =>
      this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: count,
          VisibilityTimeout: visibilitySeconds,
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
        }),
      ),
    );
    return out.Messages ?? [];
  }

  async ack(receipt: string): Promise<void> {
    await this.#call('DeleteMessage', () => this.#client.send(new DeleteMessageCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: receipt })));
  }

  async retry(receipt: string, delayMs: number): Promise<void> {
    try {
      await this.#call('ChangeMessageVisibility', () =>
        this.#client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.#queueUrl,
            ReceiptHandle: receipt,
            VisibilityTimeout: seconds(delayMs, MAX_VISIBILITY_SECONDS),
          }),
        ),
      );
    } catch (error) {
      // Already acked or redelivered under a newer receipt: nothing left to retry.
      if (error instanceof MessageNotInflight) return;
      throw error;
    }
  }

  async #counts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
    const out = await this.#call('GetQueueAttributes', () =>
      this.#client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      ),
    );
    return {
      visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  /** The DLQ's URL, from the options or the queue's RedrivePolicy (undefined when none). */
  async #dlqUrl(): Promise<string | undefined> {
    this.#deadLetterQueueUrl ??= this.#lookUpDeadLetterQueue().catch((error: unknown) => {
      this.#deadLetterQueueUrl = undefined; // try again next time
      throw error;
    });
    return this.#deadLetterQueueUrl;
  }

  async #lookUpDeadLetterQueue(): Promise<string | undefined> {
    const out = await this.#call('GetQueueAttributes', () =>
      this.#client.send(new GetQueueAttributesCommand({ QueueUrl: this.#queueUrl, AttributeNames: ['RedrivePolicy'] })),
    );
    const policy = out.Attributes?.RedrivePolicy;
    if (!policy) return undefined;
    const arn = String((JSON.parse(policy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn ?? '');
    const [, , , , account, name] = arn.split(':');
    if (!name) return undefined;
    const found = await this.#call('GetQueueUrl', () =>
      this.#client.send(new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) })),
    );
    return found.QueueUrl;
  }

  async stats(): Promise<QueueStats> {
    const dlq = await this.#dlqUrl();
    const [main, dead] = await Promise.all([this.#counts(this.#queueUrl), dlq ? this.#counts(dlq) : Promise.resolve({ visible: 0, inFlight: 0 })]);
    return { visible: main.visible, inFlight: main.inFlight, dead: dead.visible + dead.inFlight };
  }

  async deadLetters(limit: number): Promise<ReceivedMessage[]> {
    const dlq = await this.#dlqUrl();
    if (!dlq || limit < 1) return [];
    const peeked = new Map<string, Message>();
    try {
      while (peeked.size < limit) {
        const batch = await this.#receiveFrom(dlq, limit - peeked.size, PEEK_VISIBILITY_SECONDS, 0);
        const fresh = batch.filter((m) => m.MessageId !== undefined && !peeked.has(m.MessageId));
        if (fresh.length === 0) break;
        for (const message of fresh) peeked.set(message.MessageId as string, message);
      }
    } finally {
      await this.#putBack(dlq, [...peeked.values()]);
    }
    return [...peeked.values()].slice(0, limit).map(toReceived);
  }

  /** Makes peeked messages visible again right away. */
  async #putBack(queueUrl: string, messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += SQS_MAX_RECEIVE) {
      const entries = messages.slice(i, i + SQS_MAX_RECEIVE).map((message, j) => ({
        Id: String(j),
        ReceiptHandle: message.ReceiptHandle ?? '',
        VisibilityTimeout: 0,
      }));
      await this.#call('ChangeMessageVisibilityBatch', () =>
        this.#client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries })),
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) this.#client.destroy();
  }
}

/** Options for {@link createFifoQueues}. */
export interface FifoQueueOptions {
  /** Receives before a message moves to the DLQ (SQS maxReceiveCount). */
  maxReceives: number;
  visibilityTimeoutSeconds: number;
}

/**
 * Creates `<baseName>-dlq.fifo` and `<baseName>.fifo` (redriving to the DLQ
 * after `maxReceives` receives), for tests and local runs. The DLQ keeps
 * messages 14 days. Returns both URLs.
 */
export async function createFifoQueues(
  client: SQSClient,
  baseName: string,
  options: FifoQueueOptions,
): Promise<{ queueUrl: string; deadLetterQueueUrl: string }> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${baseName}-dlq.fifo`,
      Attributes: { FifoQueue: 'true', MessageRetentionPeriod: '1209600' },
    }),
  );
  const deadLetterQueueUrl = dlq.QueueUrl;
  if (!deadLetterQueueUrl) throw new Error(`CreateQueue ${baseName}-dlq.fifo returned no URL`);
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }));
  const deadLetterTargetArn = Attributes?.QueueArn;
  if (!deadLetterTargetArn) throw new Error(`GetQueueAttributes ${baseName}-dlq.fifo returned no QueueArn`);
  const main = await client.send(
    new CreateQueueCommand({
      QueueName: `${baseName}.fifo`,
      Attributes: {
        FifoQueue: 'true',
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn, maxReceiveCount: options.maxReceives }),
      },
    }),
  );
  if (!main.QueueUrl) throw new Error(`CreateQueue ${baseName}.fifo returned no URL`);
  return { queueUrl: main.QueueUrl, deadLetterQueueUrl };
}
