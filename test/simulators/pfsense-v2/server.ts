/**
 * Serves a {@link PfSenseV2Simulator} on 127.0.0.1 (HTTP, or HTTPS with a
 * given certificate), and offers the same simulator as an in-process
 * Transport for runs that only need counters and the virtual clock (the
 * bench), without sockets. Both go through `handleAsync` (one serial
 * worker; real-time answers in real-time mode).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { TransportConnectionError, TransportTimeoutError } from '../../../lib/transport/errors.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { startLoopbackServer } from '../../helpers/loopback-server.ts';
import type { SimOutcome } from './envelope.ts';
import { PfSenseV2Simulator, type PfSenseV2SimulatorOptions, type SimRequest } from './simulator.ts';

export interface RunningPfSenseV2Simulator {
  /** e.g. `https://127.0.0.1:43567` */
  origin: string;
  sim: PfSenseV2Simulator;
  close(): Promise<void>;
}

/** Starts the simulator behind a loopback HTTP(S) server. Close it after the test. */
export async function startPfSenseV2Simulator(
  options: PfSenseV2SimulatorOptions & { tls?: { key: string; cert: string } } = {},
): Promise<RunningPfSenseV2Simulator> {
  const { tls, ...simOptions } = options;
  const sim = new PfSenseV2Simulator(simOptions);
  const server = await startLoopbackServer((recorded, response, raw) => {
    void sim
      .handleAsync({
        method: recorded.method,
        path: recorded.path,
        headers: flatHeaders(recorded.headers),
        body: recorded.body,
      })
      .then((outcome) => {
        if (outcome.kind === 'reset') {
          raw.socket.destroy();
          return;
        }
        if (outcome.kind === 'hang') return; // the client's deadline ends it; close() destroys the socket
        response.writeHead(outcome.status, outcome.headers);
        response.end(outcome.body);
      });
  }, tls);
  // The helper keeps every request too; the simulator has its own log.
  server.requests.length = 0;
  return { origin: server.origin, sim, close: () => server.close() };
}

/**
 * The simulator as a Transport, called in-process. Device-down outcomes
 * become the Transport errors a real connection would produce.
 */
export function simulatorTransport(sim: PfSenseV2Simulator): Transport {
  return {
    async request(request: HttpRequest): Promise<HttpResponse> {
      request.signal?.throwIfAborted();
      const url = new URL(request.url);
      const target = `${request.method.toUpperCase()} ${url.origin}`;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
      const body = request.body === undefined ? '' : typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
      const simRequest: SimRequest = { method: request.method, path: `${url.pathname}${url.search}`, headers, body };
      const outcome: SimOutcome = await sim.handleAsync(simRequest);
      if (outcome.kind === 'reset') throw new TransportConnectionError(target, 'connection reset (ECONNRESET)', { systemCode: 'ECONNRESET' });
      if (outcome.kind === 'hang') throw new TransportTimeoutError(target, request.timeoutMs);
      return { status: outcome.status, headers: { ...outcome.headers }, body: new Uint8Array(Buffer.from(outcome.body, 'utf8')) };
    },
  };
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
