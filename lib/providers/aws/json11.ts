/**
 * A minimal AWS JSON 1.1 client (Shield, WAFv2) over the relay's Transport:
 * `POST /` with `Content-Type: application/x-amz-json-1.1` and
 * `X-Amz-Target: <prefix>.<Operation>`, SigV4-signed (./sigv4.ts), every
 * answer validated with zod.
 *
 * - 5xx, 429 and throttling codes (ThrottlingException, InternalError…) and
 *   transport failures are retried by withRetries within the operation's
 *   budget, honouring Retry-After; then a retryable ProviderError.
 * - AccessDenied names the IAM action to grant (`<service>:<Operation>`).
 * - Refused credentials name the fix; never the key, the secret or the token.
 * - Anything else is an AwsApiError carrying the AWS error code, so callers
 *   can act on WAFOptimisticLockException, InvalidOperationException, …
 */
import type { z } from 'zod';
import packageJson from '../../../package.json' with { type: 'json' };
import type { Logger } from '../../log/types.ts';
import { classifyTransportFailure } from '../../transport/errors.ts';
import type { HttpResponse, Transport } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { AwsApiError, classifyAwsError, credentialsFix, parseAwsError } from './errors.ts';
import { type AwsCredentials, signRequest } from './sigv4.ts';

export const AWS_USER_AGENT = `flowtriq-relay/${packageJson.version}`;
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** One provider operation's budget and context. */
export interface AwsOp {
  signal: AbortSignal;
  logger: Logger;
  /** Epoch ms by which the operation must be finished. */
  deadline: number;
}

export interface AwsJsonClientOptions {
  /** For messages, e.g. `aws-shield edge`. */
  label: string;
  /** SigV4 service name and IAM prefix (`shield`, `wafv2`). */
  service: string;
  region: string;
  /** `https://shield.us-east-1.amazonaws.com` (no trailing slash). */
  endpoint: string;
  /** `AWSShield_20160616`, `AWSWAF_20190729`. */
  targetPrefix: string;
  credentials: () => AwsCredentials;
  transport: Transport;
  timeoutMs: number;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export class AwsJsonClient {
  readonly #o: AwsJsonClientOptions;
  readonly #signingKeys = new Map<string, ArrayBuffer>();

  constructor(options: AwsJsonClientOptions) {
    this.#o = options;
  }

  get label(): string {
    return this.#o.label;
  }

  /** Calls `operation` with `input`, retried on throttling/5xx/transport failures; the answer is validated with `schema`. */
  async call<T>(op: AwsOp, operation: string, input: object, schema: z.ZodType<T>): Promise<T> {
    return withRetries(() => this.#once(op, operation, input, schema), {
      deadline: op.deadline,
      signal: op.signal,
      now: this.#o.now,
      sleep: this.#o.sleep,
      label: `${this.#o.label}: ${operation}`,
      ...(this.#o.random ? { random: this.#o.random } : {}),
    });
  }

  async #once<T>(op: AwsOp, operation: string, input: object, schema: z.ZodType<T>): Promise<T> {
    op.signal.throwIfAborted();
    const remaining = op.deadline - this.#o.now();
    if (remaining <= 0) {
      throw new ProviderError(`${this.#o.label}: the operation ran out of time before ${operation}; it will be retried`, { retryable: true });
    }
    const url = `${this.#o.endpoint}/`;
    const body = JSON.stringify(input);
    let credentials: AwsCredentials;
    try {
      credentials = this.#o.credentials();
    } catch (error) {
      throw new ProviderError(`${this.#o.label}: no AWS credentials: ${error instanceof Error ? error.message : String(error)}`, { retryable: false });
    }
    const headers = await signRequest(
      {
        method: 'POST',
        url,
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `${this.#o.targetPrefix}.${operation}`,
        },
        body,
        service: this.#o.service,
        region: this.#o.region,
        now: this.#o.now(),
      },
      credentials,
      this.#signingKeys,
    );
    headers['user-agent'] = AWS_USER_AGENT;
    headers.accept = 'application/json';
    let response: HttpResponse;
    try {
      response = await this.#o.transport.request({
        method: 'POST',
        url,
        headers,
        body,
        timeoutMs: Math.max(1, Math.min(this.#o.timeoutMs, remaining)),
        maxResponseBytes: MAX_RESPONSE_BYTES,
        signal: op.signal,
      });
    } catch (error) {
      if (op.signal.aborted) throw op.signal.reason;
      const failure = classifyTransportFailure(error);
      if (failure.retryable) throw new RetryableCall(`${operation}: ${failure.description}`, { cause: error });
      throw new ProviderError(`${this.#o.label}: ${operation}: ${failure.description}`, { retryable: false, cause: error });
    }
    op.logger.debug('aws request', { service: this.#o.service, operation, status: response.status, requestId: response.headers['x-amzn-requestid'] });
    return this.#interpret(operation, response, schema);
  }

  #interpret<T>(operation: string, response: HttpResponse, schema: z.ZodType<T>): T {
    const { status } = response;
    const json = parseJson(response.body);
    if (status >= 200 && status < 300) {
      if (json === undefined) {
        throw new ProviderError(
          `${this.#o.label}: ${operation} answered ${status} without a JSON body; the relay must reach ${this.#o.endpoint} directly (no proxy rewriting answers)`,
          { retryable: false, status },
        );
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        const problem = parsed.error.issues
          .slice(0, 3)
          .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
          .join('; ');
        throw new ProviderError(
          `${this.#o.label}: ${operation} answered ${status} with an unexpected body (${problem}); the relay expects the ${this.#o.service} API as documented — check options.endpoint and any proxy`,
          { retryable: false, status },
        );
      }
      return parsed.data;
    }
    const { code, message } = parseAwsError(json, response.headers['x-amzn-errortype']);
    const said = `${code ?? `HTTP ${status}`}${message ? ` (${truncate(message)})` : ''}`;
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
    switch (classifyAwsError(status, code)) {
      case 'retry':
        throw new RetryableCall(`${operation} answered ${status} ${said}`, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
      case 'access-denied':
        throw new AwsApiError(
          `${this.#o.label}: ${operation} answered ${said}: the relay's IAM identity lacks ${this.#o.service}:${operation}; ` +
            `grant "${this.#o.service}:${operation}" (see the README's IAM policy for this integration)`,
          { code, operation, status },
        );
      case 'credentials':
        throw new AwsApiError(`${this.#o.label}: ${operation} answered ${code ?? status}: ${credentialsFix(code)}`, { code, operation, status });
      default:
        throw new AwsApiError(`${this.#o.label}: ${operation} answered ${status} ${said}`, { code, operation, status });
    }
  }
}

function truncate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function parseJson(body: Uint8Array): unknown {
  if (body.byteLength === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
