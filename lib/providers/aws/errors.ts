/**
 * AWS JSON 1.1 error answers and what the relay does with them.
 *
 * Shape (botocore `protocol: json`): HTTP 4xx/5xx, body
 * `{"__type":"com.amazonaws.shield#ResourceNotFoundException","message":"…"}`
 * (`Message` in some services), and/or the `x-amzn-ErrorType` header
 * `Code:http://internal.amazon.com/…`. The code is the part after `#` and
 * before `:`.
 */
import { z } from 'zod';
import { ProviderError } from '../errors.ts';

export interface AwsErrorBody {
  code: string | undefined;
  message: string | undefined;
}

const errorBody = z
  .object({
    __type: z.string().optional(),
    code: z.string().optional(),
    message: z.string().optional(),
    Message: z.string().optional(),
  })
  .loose();

/** The error code and message of an AWS JSON error answer (either may be missing). */
export function parseAwsError(json: unknown, headerType: string | undefined): AwsErrorBody {
  const parsed = errorBody.safeParse(json);
  const raw = headerType ?? (parsed.success ? (parsed.data.__type ?? parsed.data.code) : undefined);
  const code = raw === undefined ? undefined : (raw.split(':')[0] ?? raw).split('#').pop();
  const message = parsed.success ? (parsed.data.message ?? parsed.data.Message) : undefined;
  return { code: code === '' ? undefined : code, message };
}

/** Codes worth another try (with backoff) besides any 5xx. */
export const RETRYABLE_CODES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'InternalErrorException',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'WAFInternalErrorException',
  'WAFServiceLinkedRoleErrorException',
]);

/** The credentials themselves were refused (not a missing permission). */
const CREDENTIAL_CODES = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'InvalidAccessKeyId',
]);

const ACCESS_DENIED_CODES = new Set(['AccessDeniedException', 'AccessDenied', 'WAFAccessDeniedException']);

/**
 * An AWS API answered with an error the relay does not retry blindly.
 * `awsCode` lets the caller act on the specific ones (WAFOptimisticLockException,
 * InvalidOperationException, ResourceNotFoundException).
 */
export class AwsApiError extends ProviderError {
  /** The AWS error code, e.g. `WAFOptimisticLockException`. */
  readonly awsCode: string | undefined;
  readonly operation: string;
  constructor(message: string, options: { code: string | undefined; operation: string; status: number; retryable?: boolean; retryAfterMs?: number }) {
    super(message, {
      retryable: options.retryable ?? false,
      status: options.status,
      ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}),
    });
    this.awsCode = options.code;
    this.operation = options.operation;
  }
}

export type AwsErrorClass = 'retry' | 'credentials' | 'access-denied' | 'other';

export function classifyAwsError(status: number, code: string | undefined): AwsErrorClass {
  if (code !== undefined && ACCESS_DENIED_CODES.has(code)) return 'access-denied';
  if (code !== undefined && CREDENTIAL_CODES.has(code)) return 'credentials';
  if (status >= 500 || status === 429 || (code !== undefined && RETRYABLE_CODES.has(code))) return 'retry';
  return 'other';
}

/** The fix for credentials AWS refused, by code. */
export function credentialsFix(code: string | undefined): string {
  switch (code) {
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'RequestExpired':
      return code === 'RequestExpired'
        ? "the request's X-Amz-Date is more than 15 minutes off AWS's clock: synchronise this host's clock (NTP)"
        : 'the temporary credentials (AWS_SESSION_TOKEN) have expired: export fresh ones (aws configure export-credentials) and restart the relay, or use the role of the worker';
    case 'InvalidSignatureException':
    case 'SignatureDoesNotMatch':
      return 'AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID (or a proxy changed the request): set the pair that IAM issued together';
    case 'MissingAuthenticationToken':
    case 'MissingAuthenticationTokenException':
    case 'IncompleteSignature':
    case 'IncompleteSignatureException':
      return 'the request reached AWS unsigned or with a broken signature: a proxy between the relay and AWS must pass the Authorization and X-Amz-* headers unchanged';
    default:
      return 'AWS does not know AWS_ACCESS_KEY_ID (deleted or deactivated key, or a session token missing for temporary credentials): set valid credentials (with AWS_SESSION_TOKEN for temporary ones)';
  }
}
