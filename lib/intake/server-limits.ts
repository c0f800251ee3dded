/**
 * Limits for the one-box Node server, so a slow or greedy client cannot hold
 * the relay's connections. Node's defaults let a client keep a connection for
 * 60 s before finishing its headers and 300 s before finishing its body, and
 * accept any number of connections; the `server` section of the config sets
 * all four limits instead (lib/config/schema.ts, docs/CONFIG.md).
 *
 * Decisions:
 * - Node's own mechanisms do the cutting: `headersTimeout` (request line and
 *   headers), `requestTimeout` (the whole request: a body trickled one byte at
 *   a time is cut too, because the request stays incomplete until its last
 *   byte), `keepAliveTimeout` (idle connection between requests; Node closes
 *   it about 1 s later, its keepAliveTimeoutBuffer, left as is) and
 *   `maxConnections` (a connection beyond the cap is closed as soon as it is
 *   accepted, before a byte is read; Node emits 'drop'). A connection that
 *   never sends a byte counts as one still sending its headers. All of this
 *   was checked on Node 24 by test/intake/server-limits.test.ts.
 * - Node checks the two request timeouts only every
 *   `connectionsCheckingInterval` (30 s by default), which would let a 10 s
 *   limit hold a connection for 40 s. The interval is set to a quarter of the
 *   shorter timeout (at most 1 s), so a limit is enforced within 25 % of its
 *   value. Node reads the interval when the server starts listening, so this
 *   must run before `listen()`; it throws otherwise instead of half-applying.
 * - Every refusal is logged with the client's address and never with what the
 *   client sent (a parse error carries the raw bytes, which may hold the
 *   signature header): the reason, the status answered and Node's error code.
 *   A 'clientError' listener replaces Node's default answer, so it writes the
 *   same minimal responses Node would (408, 431, 413, 400) and closes the
 *   socket at once rather than waiting for a slow client to read.
 * - A connection flood must not become a log flood: at most
 *   REFUSAL_LOG_BURST refusal lines are written per second; the next line
 *   written after that carries `suppressed`, the number left out.
 * - Behind a reverse proxy the address is the proxy's (usually 127.0.0.1);
 *   forwarded headers are not trusted, since anyone can send them.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RelayConfig } from '../config/schema.ts';
import type { Logger } from '../log/types.ts';

/** The limits, in milliseconds and connections, as the config's `server` section holds them. */
export type ServerLimits = Pick<RelayConfig['server'], 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'maxConnections'>;

/** Refusal lines written per second at most; the rest are counted. */
export const REFUSAL_LOG_BURST = 20;

/** Node's minimal answers when it refuses a request itself (the same bytes Node writes without a listener). */
const ANSWERS = {
  408: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
  413: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
  431: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  400: 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
} as const;

/** The client's address for logs; an IPv4 address seen by a dual-stack socket loses its `::ffff:` prefix. */
export function clientAddressOf(socket: { readonly remoteAddress?: string | undefined } | undefined | null): string | undefined {
  const address = socket?.remoteAddress;
  if (address === undefined) return undefined;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** How often Node should check the request timeouts: a quarter of the shorter one, at most 1 s. */
export function checkingIntervalFor(limits: Pick<ServerLimits, 'headersTimeout' | 'requestTimeout'>): number {
  return Math.max(10, Math.min(1_000, Math.floor(Math.min(limits.headersTimeout, limits.requestTimeout) / 4)));
}

/**
 * Sets the limits on a server that is not yet listening, and logs every
 * connection it refuses or cuts with the client's address.
 */
export function applyServerLimits(server: Server, limits: ServerLimits, logger: Logger): void {
  if (server.listening) {
    throw new Error('applyServerLimits must run before server.listen(): Node reads the timeout checking interval when it starts listening');
  }
  // Durations from the config may carry a fraction of a millisecond (`1.0005` seconds): rounded.
  const ms = (name: 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout') => {
    const value = Math.round(limits[name]);
    if (!Number.isFinite(value) || value < 1) throw new RangeError(`server limit ${name} must be at least 1 ms, not ${String(limits[name])}`);
    return value;
  };
  const headersTimeout = ms('headersTimeout');
  const requestTimeout = ms('requestTimeout');
  const keepAliveTimeout = ms('keepAliveTimeout');
  if (!Number.isInteger(limits.maxConnections) || limits.maxConnections < 1) {
    throw new RangeError(`server limit maxConnections must be a whole number above 0, not ${String(limits.maxConnections)}`);
  }
  if (headersTimeout > requestTimeout) {
    throw new RangeError('server limit headersTimeout must not be longer than requestTimeout, which covers the headers too');
  }
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;
  server.keepAliveTimeout = keepAliveTimeout;
  server.maxConnections = limits.maxConnections;
  // The option of createServer(), kept as a property Node reads on 'listening' (not in @types/node).
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = checkingIntervalFor({ headersTimeout, requestTimeout });

  const log = throttledWarn(logger);

  // The request a socket is on: tells a stalled body from stalled headers, and
  // whether a response has started (then nothing more may be written).
  const current = new WeakMap<Socket, { request: IncomingMessage; response: ServerResponse }>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    current.set(request.socket, { request, response });
  });

  server.on('drop', (data) => {
    log('connection refused', {
      reason: 'max_connections',
      clientAddress: clientAddressOf(data),
      maxConnections: limits.maxConnections,
    });
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const code = typeof error.code === 'string' ? error.code : undefined;
    const onRequest = current.get(socket);
    const refusal = refusalFor(code, onRequest !== undefined && !onRequest.request.complete);
    if (refusal === undefined) {
      // The client reset or broke the connection itself: nothing to answer, nothing to report.
      socket.destroy();
      return;
    }
    const clientAddress = clientAddressOf(socket); // read before destroy(), which forgets it
    const canAnswer = socket.writable && !(onRequest?.response.headersSent ?? false);
    if (canAnswer) socket.write(ANSWERS[refusal.status]);
    socket.destroy();
    log('request refused', {
      reason: refusal.reason,
      ...(canAnswer ? { status: refusal.status } : {}),
      clientAddress,
      ...(code !== undefined ? { code } : {}),
      ...(refusal.reason === 'headers_timeout'
        ? { limitMs: limits.headersTimeout }
        : refusal.reason === 'request_timeout'
          ? { limitMs: limits.requestTimeout }
          : {}),
    });
  });
}

type Refusal = { reason: 'headers_timeout' | 'request_timeout' | 'headers_too_large' | 'chunk_extensions_too_large' | 'malformed_request'; status: keyof typeof ANSWERS };

function refusalFor(code: string | undefined, midBody: boolean): Refusal | undefined {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { reason: midBody ? 'request_timeout' : 'headers_timeout', status: 408 };
  if (code === 'HPE_HEADER_OVERFLOW') return { reason: 'headers_too_large', status: 431 };
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return { reason: 'chunk_extensions_too_large', status: 413 };
  if (code?.startsWith('HPE_')) return { reason: 'malformed_request', status: 400 };
  return undefined;
}

/** A warn logger that writes at most REFUSAL_LOG_BURST lines per second and counts the rest. */
function throttledWarn(logger: Logger) {
  let windowStart = -Infinity;
  let written = 0;
  let suppressed = 0;
  return (message: string, attributes: Record<string, unknown>) => {
    const at = Date.now();
    if (at - windowStart >= 1_000) {
      windowStart = at;
      written = 0;
    }
    if (written >= REFUSAL_LOG_BURST) {
      suppressed += 1;
      return;
    }
    written += 1;
    logger.warn(message, suppressed > 0 ? { ...attributes, suppressed } : attributes);
    suppressed = 0;
  };
}
