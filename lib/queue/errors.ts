import { RelayError } from '../errors.ts';

/** The queue could not take the message (down, throttled). Intake answers 503. */
export class QueueUnavailableError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('queue_unavailable', message, options);
  }
}

/** The message is larger than the queue accepts. Intake answers 413. */
export class MessageTooLargeError extends RelayError {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super('message_too_large', `message of ${bytes} bytes exceeds the queue limit of ${limit} bytes`);
    this.bytes = bytes;
    this.limit = limit;
  }
}
