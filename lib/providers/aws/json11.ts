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
import type { HttpResponse } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, parseJsonBody, sendRequest, timeLeft } from '../http-json.ts';
import { AwsApiError, classifyAwsError, credentialsFix, parseAwsError } from './errors.ts';
import { type AwsCredentials, signRequest } from './sigv4.ts';

export const AWS_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** One provider operation's budget and context. */
export type AwsOp = ApiOp;

export interface AwsJsonClientOptions extends ApiClientOptions {
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
    return withRetries(() => this.#once(op, operation, input, schema), retryOptions(op, this.#o, `${this.#o.label}: ${operation}`));
  }

  async #once<T>(op: AwsOp, operation: string, input: object, schema: z.ZodType<T>): Promise<T> {
    op.signal.throwIfAborted();
    const remaining = timeLeft(op, this.#o.now(), this.#o.label, operation);
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
    const response = await sendRequest(op, this.#o, { method: 'POST', url, headers, body, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.#o.label, target: operation });
    op.logger.debug('aws request', { service: this.#o.service, operation, status: response.status, requestId: response.headers['x-amzn-requestid'] });
    return this.#interpret(operation, response, schema);
  }

  #interpret<T>(operation: string, response: HttpResponse, schema: z.ZodType<T>): T {
    const { status } = response;
    const json = parseJsonBody(response.body);
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
