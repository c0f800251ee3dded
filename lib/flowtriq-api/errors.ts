/**
 * Failures of the Flowtriq REST API client. Every class extends
 * {@link FlowtriqApiError}, so one `instanceof` catches them all; `retryable`
 * says whether trying again later can help without operator action.
 * Messages never contain the API token.
 */
import { RelayError } from '../errors.ts';

/** Any Flowtriq API failure; the base of the more specific classes below. */
export class FlowtriqApiError extends RelayError {
  /** True when a later retry may succeed (5xx, timeout, network, rate limit). */
  readonly retryable: boolean;
  /** HTTP status, when a response arrived. */
  readonly status?: number;
  /** `error.code` from the `{ ok: false }` envelope, when there was one. */
  readonly apiCode?: string;
  constructor(
    message: string,
    options: { retryable: boolean; status?: number; apiCode?: string; cause?: unknown; code?: string },
  ) {
    super(options.code ?? 'flowtriq_api_error', message, { cause: options.cause });
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
    if (options.apiCode !== undefined) this.apiCode = options.apiCode;
  }
}

/** 401/403: the token is wrong, revoked or lacks access. Not retryable. */
export class FlowtriqApiAuthError extends FlowtriqApiError {
  constructor(message: string, options: { status: number; apiCode?: string }) {
    super(message, { ...options, retryable: false, code: 'flowtriq_api_auth' });
  }
}

/** 404: no such incident (or this Flowtriq account has no such endpoint). Not retryable. */
export class FlowtriqApiNotFoundError extends FlowtriqApiError {
  constructor(message: string, options: { apiCode?: string } = {}) {
    super(message, { ...options, status: 404, retryable: false, code: 'flowtriq_api_not_found' });
  }
}

/**
 * 429 from Flowtriq, or the client's own limiter refused to send (`status`
 * undefined). Retry after `retryAfterMs`.
 */
export class FlowtriqApiRateLimitedError extends FlowtriqApiError {
  /** Milliseconds to wait before the next request. */
  readonly retryAfterMs: number;
  constructor(message: string, options: { retryAfterMs: number; status?: number; apiCode?: string }) {
    super(message, {
      retryable: true,
      code: 'flowtriq_api_rate_limited',
      ...(options.status !== undefined ? { status: options.status } : {}),
      ...(options.apiCode !== undefined ? { apiCode: options.apiCode } : {}),
    });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** No response within the configured `flowtriq.timeout`. Retryable. */
export class FlowtriqApiTimeoutError extends FlowtriqApiError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number, options: { cause?: unknown } = {}) {
    super(`Flowtriq API did not answer within ${timeoutMs} ms`, {
      retryable: true,
      code: 'flowtriq_api_timeout',
      cause: options.cause,
    });
    this.timeoutMs = timeoutMs;
  }
}

/** The client was constructed with unusable options (empty token, bad base URL). */
export class FlowtriqApiConfigError extends RelayError {
  constructor(message: string) {
    super('flowtriq_api_config', message);
  }
}
