/**
 * A Transport for integrations configured with `via: vpc`: each request is
 * handed to the device relay Lambda inside the customer's VPC, which makes it
 * and returns the response. Adapters cannot tell it from the direct
 * transport: the same errors come out for the same failures. TLS settings are
 * not sent: the relay applies the integration's settings from its own config.
 */
import type { Invoke } from '../aws/lambda-invoke.ts';
import { DEVICE_RELAY_PROTOCOL, relayResponseSchema, type RelayRequest } from '../device-relay/protocol.ts';
import {
  DeviceRelayRefusedError,
  DeviceRelayUnavailableError,
  ResponseTooLargeError,
  TlsVerificationError,
  TransportConnectionError,
  TransportTimeoutError,
} from './errors.ts';
import type { HttpRequest, HttpResponse, Transport } from './types.ts';

export function createDeviceRelayTransport(options: { integration: string; invoke: Invoke }): Transport {
  return {
    async request(request: HttpRequest): Promise<HttpResponse> {
      request.signal?.throwIfAborted();
      const payload: RelayRequest = {
        v: DEVICE_RELAY_PROTOCOL,
        integration: options.integration,
        request: {
          method: request.method.toUpperCase() as RelayRequest['request']['method'],
          url: request.url,
          headers: request.headers ?? {},
          timeoutMs: request.timeoutMs,
          ...(request.body !== undefined ? { bodyBase64: Buffer.from(request.body).toString('base64') } : {}),
          ...(request.maxResponseBytes !== undefined ? { maxResponseBytes: request.maxResponseBytes } : {}),
        },
      };
      const raw = await options.invoke(JSON.stringify(payload));
      let parsed;
      try {
        parsed = relayResponseSchema.safeParse(JSON.parse(raw));
      } catch {
        throw new DeviceRelayUnavailableError('the relay answered something that is not JSON');
      }
      if (!parsed.success) throw new DeviceRelayUnavailableError('the relay answered outside its protocol');
      const answer = parsed.data;
      const target = safeTarget(request.url);
      if (answer.ok) {
        return {
          status: answer.response.status,
          headers: answer.response.headers,
          body: new Uint8Array(Buffer.from(answer.response.bodyBase64, 'base64')),
        };
      }
      const { code, message } = answer.error;
      switch (code) {
        case 'timeout':
          throw new TransportTimeoutError(target, request.timeoutMs);
        case 'connection':
          throw new TransportConnectionError(target, `via the device relay: ${message}`);
        case 'tls':
          throw new TlsVerificationError(target, 'DEVICE_RELAY', message);
        case 'response_too_large':
          throw new ResponseTooLargeError(target, request.maxResponseBytes ?? 0);
        default:
          throw new DeviceRelayRefusedError(code, message);
      }
    },
  };
}

function safeTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}
