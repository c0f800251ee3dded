/**
 * Failure modes of a Transport request. Messages name the method and the
 * origin (scheme, host, port) only: never the path or query (webhook URLs
 * often carry a token in the path), never request bodies or headers.
 */
import { RelayError, describeError } from '../errors.ts';

/** The whole-request deadline (connect, headers and body) passed. */
export class TransportTimeoutError extends RelayError {
  readonly timeoutMs: number;
  constructor(target: string, timeoutMs: number) {
    super('transport_timeout', `${target}: no complete response within ${timeoutMs}ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The connection could not be made or broke before a complete response:
 * refused, reset, DNS failure, unreachable, TLS handshake (not verification)
 * failure. `systemCode` is the underlying code, e.g. `ECONNREFUSED`.
 */
export class TransportConnectionError extends RelayError {
  readonly systemCode?: string;
  constructor(target: string, description: string, options: { systemCode?: string; cause?: unknown } = {}) {
    super('transport_connection', `${target}: ${description}`, { cause: options.cause });
    if (options.systemCode !== undefined) this.systemCode = options.systemCode;
  }
}

/**
 * The server's certificate was not accepted: untrusted issuer, expired,
 * wrong host name, or it did not match the configured SHA-256 pin.
 * Retrying cannot help; the CA bundle, pin or server certificate must change.
 */
export class TlsVerificationError extends RelayError {
  /** OpenSSL/Node reason, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`, or `PIN_MISMATCH`. */
  readonly reason: string;
  constructor(target: string, reason: string, detail: string, options?: { cause?: unknown }) {
    super('tls_verification', `${target}: server certificate rejected (${reason}): ${detail}`, options);
    this.reason = reason;
  }
}

/** The response body grew past `maxResponseBytes`; the request was aborted. */
export class ResponseTooLargeError extends RelayError {
  readonly limit: number;
  constructor(target: string, limit: number) {
    super('response_too_large', `${target}: response body exceeds the limit of ${limit} bytes`);
    this.limit = limit;
  }
}

/**
 * The request itself is unusable before anything is sent: not an absolute
 * http(s) URL, a pin that is neither hex nor base64 SHA-256, or a CA/pin on
 * a plain http:// URL. A programming or configuration error; never retry.
 */
export class InvalidRequestError extends RelayError {
  constructor(message: string) {
    super('transport_request_invalid', message);
  }
}

/**
 * The device relay refused the request (a target no `via: vpc` integration
 * names, a redirect, an invalid request). A configuration problem: never retry.
 */
export class DeviceRelayRefusedError extends RelayError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('device_relay_refused', `device relay refused: ${message}`);
    this.reason = reason;
  }
}

/** The device relay Lambda could not be invoked, or crashed. Retryable. */
export class DeviceRelayUnavailableError extends RelayError {
  readonly status?: number;
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super('device_relay_unavailable', `device relay unavailable: ${message}`, { cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
  }
}

/** How a failed Transport request is to be treated by its caller. */
export interface TransportFailure {
  /**
   * `tls`: the certificate was rejected; `request`: the request is unusable
   * or was refused by the device relay (configuration); `too_large`: the
   * response passed its size limit; `transient`: a timeout, a connection
   * failure, an unavailable device relay, or any other Transport's failure.
   */
  kind: 'tls' | 'request' | 'too_large' | 'transient';
  /** Only transient failures are worth retrying; the others need a configuration change. */
  retryable: boolean;
  /** The failure's own message; `Name: message` for an error that is not a Transport failure. */
  description: string;
}

/** Classifies any error thrown by `Transport.request` (one rule for every provider). */
export function classifyTransportFailure(error: unknown): TransportFailure {
  if (error instanceof TlsVerificationError) return { kind: 'tls', retryable: false, description: error.message };
  if (error instanceof InvalidRequestError || error instanceof DeviceRelayRefusedError) {
    return { kind: 'request', retryable: false, description: error.message };
  }
  if (error instanceof ResponseTooLargeError) return { kind: 'too_large', retryable: false, description: error.message };
  if (error instanceof TransportTimeoutError || error instanceof TransportConnectionError || error instanceof DeviceRelayUnavailableError) {
    return { kind: 'transient', retryable: true, description: error.message };
  }
  // Another Transport's failure: assume it is transient.
  return { kind: 'transient', retryable: true, description: describeError(error) };
}
