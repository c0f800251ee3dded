/**
 * One-box consumer: receives jobs from the queue and processes them with
 * bounded concurrency. Acks on success, retries with backoff on failure (the
 * queue dead-letters after its receive limit), drops poison jobs with an
 * error log. `stop` waits for in-flight jobs (SIGTERM finishes work).
 */
import { describeError } from '../errors.ts';
import { PoisonJobError, RetryableJobError } from '../engine/errors.ts';
import type { Logger } from '../log/types.ts';
import type { JobQueue, ReceivedMessage } from '../queue/types.ts';

export interface WorkerLoopOptions {
  queue: JobQueue;
  handle: (message: ReceivedMessage) => Promise<unknown>;
  logger: Logger;
  concurrency?: number;
  visibilityMs?: number;
  pollWaitMs?: number;
}

export class WorkerLoop {
  readonly #options: Required<Omit<WorkerLoopOptions, 'handle' | 'queue' | 'logger'>> & WorkerLoopOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(options: WorkerLoopOptions) {
    this.#options = { concurrency: 4, visibilityMs: 120_000, pollWaitMs: 250, ...options };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops receiving and waits for in-flight jobs to finish. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.all(this.#inFlight);
  }

  /** Resolves when nothing is in flight and nothing is visible in the queue. */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const stats = await this.#options.queue.stats();
      if (this.#inFlight.size === 0 && stats.visible === 0 && stats.inFlight === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('worker loop did not become idle in time');
  }

  async #run(): Promise<void> {
    const { queue, logger, concurrency, visibilityMs, pollWaitMs } = this.#options;
    while (this.#running) {
      const room = concurrency - this.#inFlight.size;
      if (room <= 0) {
        await Promise.race(this.#inFlight);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        messages = await queue.receive({ max: room, visibilityMs, waitMs: pollWaitMs });
      } catch (error) {
        logger.error('queue receive failed', { error: describeError(error) });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      for (const message of messages) {
        const job = this.#process(message).finally(() => this.#inFlight.delete(job));
        this.#inFlight.add(job);
      }
    }
  }

  async #process(message: ReceivedMessage): Promise<void> {
    const { queue, logger, handle } = this.#options;
    try {
      await handle(message);
      await queue.ack(message.receipt);
    } catch (error) {
      if (error instanceof PoisonJobError) {
        logger.error('dropping a job that can never succeed', { messageId: message.messageId, error: error.message });
        await queue.ack(message.receipt).catch(() => undefined);
        return;
      }
      const delayMs =
        error instanceof RetryableJobError ? error.delayMs : Math.min(1_000 * 2 ** (message.receiveCount - 1), 60_000);
      logger.warn('job failed; it will be retried', {
        messageId: message.messageId,
        group: message.groupId,
        receiveCount: message.receiveCount,
        retryInMs: delayMs,
        error: describeError(error),
      });
      await queue.retry(message.receipt, delayMs).catch((retryError: unknown) => {
        logger.error('could not schedule the retry; the visibility timeout will', { error: describeError(retryError) });
      });
    }
  }
}
