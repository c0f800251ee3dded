/**
 * Sends jobs to an SQS FIFO queue with one signed HTTPS request (SQS's JSON
 * protocol, SigV4 by aws4fetch), without the AWS SDK: the webhook Lambda only
 * ever sends, and loading the SDK would dominate its cold start.
 */
import { AwsClient } from 'aws4fetch';
import { MessageTooLargeError, QueueUnavailableError } from './errors.ts';
import { SQS_MAX_MESSAGE_BYTES, sqsSafeId } from './sqs-ids.ts';
import type { JobQueue, OutgoingMessage, SendResult } from './types.ts';

export interface SqsFetchSenderOptions {
  queueUrl: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Overrides the endpoint (tests point it at the SQS emulator); defaults to the queue URL's origin. */
  endpoint?: string;
  timeoutMs?: number;
}

/** Error types (the part after '#') that mean "SQS cannot take it now": retry later. */
const UNAVAILABLE = new Set([
  'RequestThrottled',
  'ThrottlingException',
  'KmsThrottled',
  'KmsUnavailable',
  'OverLimit',
  'QueueDoesNotExist',
  'NonExistentQueue',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'InvalidSecurity',
  'SignatureDoesNotMatch',
  'ExpiredToken',
]);

export class SqsFetchSender implements Pick<JobQueue, 'send'> {
  readonly #client: AwsClient;
  readonly #queueUrl: string;
  readonly #endpoint: string;
  readonly #timeoutMs: number;

  constructor(options: SqsFetchSenderOptions) {
    this.#client = new AwsClient({ ...options.credentials, region: options.region, service: 'sqs', retries: 2 });
    this.#queueUrl = options.queueUrl;
    this.#endpoint = options.endpoint ?? new URL(options.queueUrl).origin;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const bytes = Buffer.byteLength(message.body, 'utf8');
    if (bytes > SQS_MAX_MESSAGE_BYTES) throw new MessageTooLargeError(bytes, SQS_MAX_MESSAGE_BYTES);
    let response: Response;
    try {
      response = await this.#client.fetch(`${this.#endpoint}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
        body: JSON.stringify({
          QueueUrl: this.#queueUrl,
          MessageBody: message.body,
          MessageGroupId: sqsSafeId(message.groupId),
          MessageDeduplicationId: sqsSafeId(message.dedupId),
        }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new QueueUnavailableError(`SQS SendMessage failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (response.ok) {
      await response.body?.cancel();
      return {};
    }
    // The error type comes in the JSON body (`__type`) and, for clients of the
    // older query protocol, in x-amzn-query-error; either may name it.
    const text = await response.text();
    const names: string[] = [];
    try {
      const parsed = JSON.parse(text) as { __type?: string };
      if (parsed.__type) names.push(parsed.__type.split('#').pop()!);
    } catch {
      // not JSON
    }
    const header = response.headers.get('x-amzn-query-error')?.split(';')[0];
    if (header) names.push(header.replace(/^AWS\.SimpleQueueService\./, ''));
    const type = names[0] ?? `HTTP ${response.status}`;
    if (response.status >= 500 || response.status === 429 || names.some((name) => UNAVAILABLE.has(name))) {
      throw new QueueUnavailableError(`SQS SendMessage failed: ${type}`);
    }
    throw new Error(`SQS SendMessage rejected the request: ${type} (HTTP ${response.status})`);
  }
}
