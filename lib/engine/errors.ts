import { RelayError } from '../errors.ts';

/** A job can never succeed (its body is not a valid event); it is logged and dropped. */
export class PoisonJobError extends RelayError {
  constructor(message: string) {
    super('poison_job', message);
  }
}

/** A job failed for a reason that may pass (state store down, API rate limit); retry it. */
export class RetryableJobError extends RelayError {
  readonly delayMs: number;
  constructor(message: string, delayMs: number, options?: { cause?: unknown }) {
    super('retryable_job', message, options);
    this.delayMs = delayMs;
  }
}
