import type { HttpRequest, HttpResponse, Transport } from '../../lib/transport/types.ts';

/**
 * A minimal Transport over global fetch, for tests against loopback servers.
 * Honours `timeoutMs`, `signal` and `maxResponseBytes`; ignores `tls`.
 */
export function createFetchTransport(): Transport {
  return {
    async request(request: HttpRequest): Promise<HttpResponse> {
      const signals = [AbortSignal.timeout(request.timeoutMs)];
      if (request.signal) signals.push(request.signal);
      const init: RequestInit = {
        method: request.method,
        signal: AbortSignal.any(signals),
        redirect: 'manual',
      };
      if (request.headers) init.headers = request.headers;
      if (request.body !== undefined) init.body = request.body;
      const response = await fetch(request.url, init);
      const body = new Uint8Array(await response.arrayBuffer());
      if (request.maxResponseBytes !== undefined && body.byteLength > request.maxResponseBytes) {
        throw new Error(`response of ${body.byteLength} bytes exceeds ${request.maxResponseBytes}`);
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      return { status: response.status, headers, body };
    },
  };
}
