/**
 * The device relay's logic, runtime-free: validate the invocation, check the
 * target against the allowlist, make the request with the integration's own
 * TLS settings, bounded in time and size, never following redirects, and
 * answer in the relay protocol. It is never an open proxy: anything not
 * named by a `via: vpc` integration is refused and logged.
 */
import { describeError } from '../errors.ts';
import type { Logger } from '../log/types.ts';
import {
  ResponseTooLargeError,
  TlsVerificationError,
  TransportConnectionError,
  TransportTimeoutError,
} from '../transport/errors.ts';
import type { Transport } from '../transport/types.ts';
import {
  DEVICE_RELAY_MAX_RESPONSE_BYTES,
  DEVICE_RELAY_MAX_TIMEOUT_MS,
  DEVICE_RELAY_PROTOCOL,
  relayRequestSchema,
  type RelayErrorCode,
  type RelayResponse,
} from './protocol.ts';
import { canonicalOrigin, type RelayTarget } from './targets.ts';

export interface DeviceRelayOptions {
  targets: ReadonlyMap<string, RelayTarget>;
  transport: Transport;
  logger: Logger;
  now?: () => number;
}

/** Hop-by-hop and framing headers the relay sets itself. */
const DROPPED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'proxy-authorization', 'proxy-connection', 'te', 'trailer']);

function refuse(code: RelayErrorCode, message: string): RelayResponse {
  return { v: DEVICE_RELAY_PROTOCOL, ok: false, error: { code, message } };
}

export function createDeviceRelay(options: DeviceRelayOptions) {
  const now = options.now ?? Date.now;
  return async function relay(payload: unknown, context: { remainingMs?: number } = {}): Promise<RelayResponse> {
    const started = now();
    const parsed = relayRequestSchema.safeParse(payload);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      options.logger.warn('device relay refused an invalid invocation', { outcome: 'invalid_request' });
      return refuse('invalid_request', `${first?.path.join('.') || '(payload)'}: ${first?.message ?? 'invalid'}`);
    }
    const { integration, request } = parsed.data;
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return refuse('invalid_request', 'request.url is not an absolute URL');
    }
    const origin = canonicalOrigin(url);
    const target = options.targets.get(integration);
    const line = { integration, method: request.method, target: origin ?? url.protocol, path: url.pathname };
    if (!target || origin !== target.origin || url.username || url.password) {
      options.logger.warn('device relay refused a target no integration names', { ...line, outcome: 'forbidden_target' });
      return refuse(
        'forbidden_target',
        target
          ? `integration ${integration} may only reach ${target.origin}, not ${origin ?? url.protocol}`
          : `no integration ${integration} is configured with via: vpc`,
      );
    }

    const margin = 1_000;
    const timeoutMs = Math.max(
      1,
      Math.min(request.timeoutMs, DEVICE_RELAY_MAX_TIMEOUT_MS, (context.remainingMs ?? Number.POSITIVE_INFINITY) - margin),
    );
    const maxResponseBytes = Math.min(request.maxResponseBytes ?? DEVICE_RELAY_MAX_RESPONSE_BYTES, DEVICE_RELAY_MAX_RESPONSE_BYTES);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) => !DROPPED_HEADERS.has(name.toLowerCase())),
    );
    try {
      const response = await options.transport.request({
        method: request.method,
        url: url.toString(),
        headers,
        ...(request.bodyBase64 !== undefined ? { body: Buffer.from(request.bodyBase64, 'base64') } : {}),
        timeoutMs,
        maxResponseBytes,
        tls: target.tls,
      });
      if (response.status >= 300 && response.status < 400) {
        const location = response.headers.location ?? '';
        options.logger.warn('device relay refused to follow a redirect', { ...line, status: response.status, outcome: 'redirect_refused' });
        return refuse('redirect_refused', `${target.origin} answered ${response.status} redirecting to ${safeOrigin(location)}; the relay never follows redirects`);
      }
      options.logger.info('device relay request', {
        ...line,
        status: response.status,
        bytes: response.body.byteLength,
        outcome: 'ok',
        latencyMs: now() - started,
      });
      return {
        v: DEVICE_RELAY_PROTOCOL,
        ok: true,
        response: { status: response.status, headers: response.headers, bodyBase64: Buffer.from(response.body).toString('base64') },
      };
    } catch (error) {
      const code: RelayErrorCode =
        error instanceof TransportTimeoutError
          ? 'timeout'
          : error instanceof TlsVerificationError
            ? 'tls'
            : error instanceof ResponseTooLargeError
              ? 'response_too_large'
              : error instanceof TransportConnectionError
                ? 'connection'
                : 'invalid_request';
      options.logger.warn('device relay request failed', { ...line, outcome: code, latencyMs: now() - started, error: describeError(error) });
      return refuse(code, error instanceof Error ? error.message : String(error));
    }
  };
}

function safeOrigin(location: string): string {
  try {
    return canonicalOrigin(new URL(location)) ?? '(non-http location)';
  } catch {
    return '(a relative location)';
  }
}
