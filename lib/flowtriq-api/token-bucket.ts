/**
 * A token bucket: `capacity` requests at once, refilled continuously at
 * `capacity` per `intervalMs`. Non-blocking: `take` says how long to wait
 * instead of waiting.
 */
export class TokenBucket {
  readonly capacity: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: { capacity: number; intervalMs: number; now?: () => number }) {
    if (!(options.capacity >= 1) || !(options.intervalMs > 0)) {
      throw new RangeError('token bucket needs capacity >= 1 and intervalMs > 0');
    }
    this.capacity = options.capacity;
    this.#intervalMs = options.intervalMs;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.capacity;
    this.#updatedAt = this.#now();
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed * this.capacity) / this.#intervalMs);
    this.#updatedAt = now;
  }

  /** Takes one token: `{ ok: true }`, or how many milliseconds until one is available. */
  take(): { ok: true } | { ok: false; retryAfterMs: number } {
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.#tokens) * this.#intervalMs) / this.capacity) };
  }
}
