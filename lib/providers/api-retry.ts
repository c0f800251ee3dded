/**
 * Retries for cloud and provider APIs, shared by every provider: 429 and 5xx
 * (and transport failures) are tried again with exponential backoff and full
 * jitter, honouring a Retry-After the API gave, for as long as the
 * operation's time budget allows. When the budget runs out the last failure
 * is thrown as a retryable ProviderError carrying `retryAfterMs`, so the
 * reconciler schedules the next attempt no sooner than the API asked.
 *
 * A provider's client decides what is retryable: it throws `RetryableCall`
 * (with the API's Retry-After when there was one) for a failure worth
 * another try, anything else to stop at once.
 */
import { ProviderError } from './errors.ts';

/** A failure worth another try: a 429, a 5xx, a connection that broke. */
export class RetryableCall extends Error {
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number; status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RetryableCall';
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

export interface RetryOptions {
  /** Epoch ms by which the operation must be finished (waits included). */
  deadline: number;
  signal: AbortSignal;
  now: () => number;
  /** Waits `ms`, rejecting when the signal aborts (lib/util/sleep.ts). */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** First backoff (default 500 ms), doubled per attempt up to maxDelayMs (default 30 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Source of jitter in [0, 1) (tests pass a fixed one). */
  random?: () => number;
  /** Prefix of the final error's message, e.g. `cloudflare zone 023e…`. */
  label: string;
}

/** Runs `call` until it succeeds, fails for good, or the budget is spent. */
export async function withRetries<T>(call: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call(attempt);
    } catch (error) {
      if (!(error instanceof RetryableCall)) throw error;
      // Full jitter: a random wait up to the exponential step, but never sooner than the API asked.
      const backoff = Math.floor(random() * Math.min(max, base * 2 ** (attempt - 1)));
      const wait = Math.max(backoff, error.retryAfterMs ?? 0);
      if (options.now() + wait >= options.deadline) {
        throw new ProviderError(`${options.label}: ${error.message} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}; it will be retried)`, {
          retryable: true,
          ...retryDetails(error),
        });
      }
      await options.sleep(wait, options.signal);
    }
  }
}

/** The client's clock and jitter, as its options carry them. */
export interface RetryClock {
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** withRetries' options for one operation (its deadline and signal) of a client (its clock). */
export function retryOptions(op: { deadline: number; signal: AbortSignal }, clock: RetryClock, label: string): RetryOptions {
  return {
    deadline: op.deadline,
    signal: op.signal,
    now: clock.now,
    sleep: clock.sleep,
    label,
    ...(clock.random ? { random: clock.random } : {}),
  };
}

/**
 * What a RetryableCall hands on to the error that reports it (a write whose
 * outcome is unclear, not repeated blindly): its status and Retry-After when
 * it had them, and itself as the cause.
 */
export function retryDetails(error: RetryableCall): { status?: number; retryAfterMs?: number; cause: RetryableCall } {
  return {
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    cause: error,
  };
}
