import { describe, expect, it } from 'vitest';
import {
  classifyTransportFailure,
  DeviceRelayRefusedError,
  DeviceRelayUnavailableError,
  InvalidRequestError,
  ResponseTooLargeError,
  TlsVerificationError,
  TransportConnectionError,
  TransportTimeoutError,
} from '../../lib/transport/errors.ts';

describe('classifyTransportFailure', () => {
  it.each([
    ['tls', false, new TlsVerificationError('GET https://fw:443', 'PIN_MISMATCH', 'the pin does not match')],
    ['request', false, new InvalidRequestError('not an absolute https:// URL')],
    ['request', false, new DeviceRelayRefusedError('not_allowed', 'no integration is configured with via: vpc')],
    ['too_large', false, new ResponseTooLargeError('GET https://fw:443', 1_024)],
    ['transient', true, new TransportTimeoutError('GET https://fw:443', 5_000)],
    ['transient', true, new TransportConnectionError('GET https://fw:443', 'connection refused', { systemCode: 'ECONNREFUSED' })],
    ['transient', true, new DeviceRelayUnavailableError('invoke failed', { status: 503 })],
  ] as const)('treats a %s failure as retryable=%s, described by its own message', (kind, retryable, error) => {
    // Act
    const failure = classifyTransportFailure(error);
    // Assess
    expect(failure).toEqual({ kind, retryable, description: error.message });
  });

  it('treats any other error as transient and names its type', () => {
    // Act
    const failure = classifyTransportFailure(new TypeError('fetch failed'));
    // Assess
    expect(failure).toEqual({ kind: 'transient', retryable: true, description: 'TypeError: fetch failed' });
  });
});
