/**
 * Classifies AWS SDK v3 errors: "the service cannot serve us right now"
 * (throttled, 5xx, network, credentials, resource missing), which callers
 * turn into an Unavailable error and retry, versus a bad request, which is a
 * bug and passes through unchanged.
 */

/** Error names every AWS service and the SDK itself use for transient or access failures. */
const COMMON_UNAVAILABLE_NAMES = [
  'ThrottlingException',
  'Throttling',
  'RequestThrottled',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'AccessDenied',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'CredentialsProviderError',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'AbortError',
  'NetworkingError',
] as const;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Builds a classifier that also treats these service-specific error names as unavailable. */
export function unavailableClassifier(serviceNames: readonly string[]): (error: unknown) => boolean {
  const names = new Set<string>([...COMMON_UNAVAILABLE_NAMES, ...serviceNames]);
  return (error: unknown) => {
    if (!(error instanceof Error)) return false;
    const e = error as Error & { code?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: number } };
    if (e.$fault === 'server') return true;
    if (names.has(e.name)) return true;
    const status = e.$metadata?.httpStatusCode;
    if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
    return typeof e.code === 'string' && NETWORK_CODES.has(e.code);
  };
}

/** `Name: message` of an SDK error, for the wrapping error's message. */
export function sdkErrorDetail(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
