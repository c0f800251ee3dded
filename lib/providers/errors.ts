import { RelayError } from '../errors.ts';

/**
 * A provider call failed as a whole. `retryable: false` means retrying cannot
 * help without operator action (bad credentials, forbidden, misconfigured);
 * the reconciler then backs off to its longest delay instead of hammering
 * (login protection on firewalls counts failed auth).
 */
export class ProviderError extends RelayError {
  readonly retryable: boolean;
  readonly status?: number;
  /** The device asked for this long before the next attempt (Retry-After); the reconciler waits at least that. */
  readonly retryAfterMs?: number;
  constructor(message: string, options: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown }) {
    super('provider_error', message, { cause: options.cause });
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** The reconciler refused to pass a never-block address to a provider. */
export class NeverBlockViolationError extends RelayError {
  constructor(ip: string, reason: string) {
    super('never_block', `refused to block ${ip}: ${reason}`);
  }
}
