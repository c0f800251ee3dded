/**
 * Serves a simulated pfSense-pkg-API v1 firewall (./device.ts) over HTTP or
 * HTTPS on 127.0.0.1 with an ephemeral port. Close it after the test.
 */
import { startLoopbackServer } from '../../helpers/loopback-server.ts';
import { PfSenseV1Device, type PfSenseV1DeviceOptions } from './device.ts';

export interface PfSenseV1SimulatorOptions extends PfSenseV1DeviceOptions {
  /** Serve HTTPS with this key and certificate (e.g. from test/helpers/tls.ts). */
  tls?: { key: string; cert: string };
}

export interface PfSenseV1Simulator {
  /** e.g. `https://127.0.0.1:43567` */
  origin: string;
  device: PfSenseV1Device;
  /** Closes the server and destroys open connections (including hung requests). */
  close(): Promise<void>;
}

export async function startPfSenseV1Simulator(options: PfSenseV1SimulatorOptions = {}): Promise<PfSenseV1Simulator> {
  const device = new PfSenseV1Device(options);
  const server = await startLoopbackServer((recorded, response, raw) => {
    device
      .handle({ method: recorded.method, path: recorded.path, headers: recorded.headers, body: recorded.body })
      .then((outcome) => {
        if (outcome.kind === 'drop') {
          raw.socket.destroy();
          return;
        }
        if (outcome.kind === 'hang') return;
        response.writeHead(outcome.status, outcome.headers);
        response.end(outcome.body);
      })
      .catch(() => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('simulator error');
      });
  }, options.tls);
  return { origin: server.origin, device, close: () => server.close() };
}
