/** Delay before retrying a failed provider call: 2 s doubling to a 5 min cap. */
export const RETRY_BASE_MS = 2_000;
export const RETRY_MAX_MS = 300_000;

/** `attempts` is the number of consecutive failures so far (>= 1). */
export function retryDelayMs(attempts: number, retryable = true): number {
  if (!retryable) return RETRY_MAX_MS;
  const exponent = Math.min(Math.max(attempts, 1) - 1, 20);
  return Math.min(RETRY_BASE_MS * 2 ** exponent, RETRY_MAX_MS);
}
