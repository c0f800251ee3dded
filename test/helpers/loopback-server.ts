import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type LoopbackHandler = (
  request: RecordedRequest,
  response: http.ServerResponse,
  raw: http.IncomingMessage,
) => void;

export interface LoopbackServer {
  /** Origin, e.g. `https://127.0.0.1:43567`. */
  origin: string;
  port: number;
  /** Every request that reached the handler, in order. */
  requests: RecordedRequest[];
  /** Closes the server and destroys any connection still open. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP(S) server on 127.0.0.1 with an ephemeral port. The handler
 * sees the request body already read. Pass `tls` for HTTPS.
 */
export async function startLoopbackServer(
  handler: LoopbackHandler,
  tls?: { key: string; cert: string },
): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const listener = (raw: http.IncomingMessage, response: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('end', () => {
      const recorded: RecordedRequest = {
        method: raw.method ?? '',
        path: raw.url ?? '',
        headers: raw.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      handler(recorded, response, raw);
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Client-side TLS rejections surface here as handshake errors; they are expected.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
