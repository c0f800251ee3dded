/**
 * The one-box server's limits over real sockets on 127.0.0.1: a server is
 * started per test with the real one-box listener and short limits (a few
 * hundred milliseconds), and raw TCP clients misbehave against it. Each
 * assertion on timing has a floor (not cut early) and a ceiling (cut, and not
 * after Node's 30 s default checking interval).
 */
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { createIntakeApp } from '../../lib/intake/app.ts';
import { createIngest, type IntakeOptions } from '../../lib/intake/ingest.ts';
import { createNodeListener } from '../../lib/intake/node-listener.ts';
import {
  applyServerLimits,
  checkingIntervalFor,
  clientAddressOf,
  REFUSAL_LOG_BURST,
  type ServerLimits,
} from '../../lib/intake/server-limits.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';
import { fixture, TEST_SECRET } from '../helpers/events.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

const LIMITS: ServerLimits = { headersTimeout: 300, requestTimeout: 600, keepAliveTimeout: 300, maxConnections: 16 };

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

async function start(limits: Partial<ServerLimits> = {}) {
  const logger = new RecordingLogger();
  const sent: OutgoingMessage[] = [];
  const options: IntakeOptions = {
    secrets: [TEST_SECRET],
    logger,
    queue: {
      async send(message) {
        sent.push(message);
        return { duplicate: false };
      },
    },
  };
  const server = createServer(createNodeListener({ ingest: createIngest(options), app: createIntakeApp(options), maxBodyBytes: 1_024 }));
  servers.push(server);
  let requests = 0;
  server.on('request', () => (requests += 1));
  applyServerLimits(server, { ...LIMITS, ...limits }, logger);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, port, logger, sent, requests: () => requests };
}

interface Outcome {
  /** Everything the server wrote before closing. */
  data: string;
  /** From the moment the client connected to the server closing the socket. */
  closedAfterMs: number;
}

/** A raw TCP client: sends `first` once connected, then `feed` may keep writing; resolves when the server closes. */
function client(port: number, first = '', feed?: (socket: Socket) => void): { socket: Socket; outcome: Promise<Outcome> } {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let connectedAt = Date.now();
  let data = '';
  const outcome = new Promise<Outcome>((resolve) => {
    socket.on('connect', () => {
      connectedAt = Date.now();
      if (first) socket.write(first);
      feed?.(socket);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => undefined); // a reset is a close too
    socket.on('close', () => resolve({ data, closedAfterMs: Date.now() - connectedAt }));
  });
  return { socket, outcome };
}

function refusals(logger: RecordingLogger) {
  return logger.lines.filter((line) => line.message === 'request refused' || line.message === 'connection refused');
}

function signedHead(body: string, declaredLength = Buffer.byteLength(body)) {
  return (
    'POST /webhooks/flowtriq HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n' +
    `X-Flowtriq-Signature: ${signFlowtriq(TEST_SECRET, body)}\r\nContent-Length: ${declaredLength}\r\n\r\n`
  );
}

describe('applyServerLimits: headers timeout', () => {
  it('answers 408 and closes a client that sends part of its headers and stalls, after headersTimeout', async () => {
    // Prepare
    const { port, logger, requests } = await start();

    // Act
    const { outcome } = client(port, 'POST /webhooks/flowtriq HTTP/1.1\r\nHost: relay\r\nContent-Type: app');
    const { data, closedAfterMs } = await outcome;

    // Assess
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(LIMITS.headersTimeout - 5);
    expect(closedAfterMs).toBeLessThan(LIMITS.headersTimeout + 400);
    expect(requests()).toBe(0);
    expect(refusals(logger)).toEqual([
      {
        level: 'warn',
        message: 'request refused',
        attributes: { reason: 'headers_timeout', status: 408, clientAddress: '127.0.0.1', code: 'ERR_HTTP_REQUEST_TIMEOUT', limitMs: 300 },
      },
    ]);
  });

  it('closes a connection that never sends a byte after headersTimeout', async () => {
    // Prepare
    const { port, logger } = await start();

    // Act
    const { closedAfterMs } = await client(port).outcome;

    // Assess
    expect(closedAfterMs).toBeGreaterThanOrEqual(LIMITS.headersTimeout - 5);
    expect(closedAfterMs).toBeLessThan(LIMITS.headersTimeout + 400);
    expect(refusals(logger).map((line) => line.attributes.reason)).toEqual(['headers_timeout']);
  });
});

describe('applyServerLimits: request timeout', () => {
  it('answers 408 and closes a client that sends its headers then trickles the body, after requestTimeout', async () => {
    // Prepare
    const { port, logger, sent, requests } = await start();
    const body = JSON.stringify({ ...fixture('attack_end_minimal'), timestamp: new Date().toISOString() });
    let timer: NodeJS.Timeout | undefined;

    // Act: the headers at once, then one byte of the body every 50 ms (never finishing in time).
    const { outcome } = client(port, signedHead(body), (socket) => {
      let at = 0;
      timer = setInterval(() => {
        if (socket.destroyed || at >= body.length) return clearInterval(timer);
        socket.write(body[at]!);
        at += 1;
      }, 50);
    });
    const { data, closedAfterMs } = await outcome;
    clearInterval(timer);

    // Assess
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(LIMITS.requestTimeout - 5);
    expect(closedAfterMs).toBeLessThan(LIMITS.requestTimeout + 400);
    expect(requests()).toBe(1); // the headers reached the listener; the body never completed
    expect(sent).toHaveLength(0);
    expect(refusals(logger)).toEqual([
      {
        level: 'warn',
        message: 'request refused',
        attributes: { reason: 'request_timeout', status: 408, clientAddress: '127.0.0.1', code: 'ERR_HTTP_REQUEST_TIMEOUT', limitMs: 600 },
      },
    ]);
  });

  it('does not cut a request whose body arrives in time', async () => {
    // Prepare
    const { port, sent } = await start();
    const body = JSON.stringify({ ...fixture('attack_end_minimal'), timestamp: new Date().toISOString() });

    // Act: the body in two halves, 100 ms apart (well inside 600 ms).
    const { outcome } = client(port, signedHead(body) + body.slice(0, 10), (socket) => {
      setTimeout(() => socket.end(body.slice(10)), 100);
    });
    const { data } = await outcome;

    // Assess
    expect(data).toMatch(/^HTTP\/1\.1 202 /);
    expect(sent).toHaveLength(1);
  });
});

describe('applyServerLimits: keep-alive timeout', () => {
  it('closes an idle keep-alive connection after keepAliveTimeout', async () => {
    // Prepare
    const { server, port } = await start();
    server.keepAliveTimeoutBuffer = 50; // Node adds 1 s by default; keep the measurement tight

    // Act: one request, then silence on the kept-alive connection.
    let answeredAt = 0;
    const { socket, outcome } = client(port, 'GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n');
    socket.once('data', () => (answeredAt = Date.now()));
    const { data } = await outcome;
    const idleMs = Date.now() - answeredAt;

    // Assess
    expect(data).toMatch(/^HTTP\/1\.1 200 /);
    expect(idleMs).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeout - 5);
    expect(idleMs).toBeLessThan(LIMITS.keepAliveTimeout + 400);
  });
});

describe('applyServerLimits: connection cap', () => {
  it('closes connections beyond maxConnections at once, logs the address, and accepts again when a slot frees', async () => {
    // Prepare: two connections hold both slots.
    const { server, port, logger } = await start({ maxConnections: 2, headersTimeout: 1_500, requestTimeout: 1_500 });
    let accepted = 0;
    const bothAccepted = new Promise<void>((resolve) => server.on('connection', () => (accepted += 1) === 2 && resolve()));
    const first = client(port);
    client(port);
    await bothAccepted;

    // Act
    const refused = await client(port, 'GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n').outcome;
    first.socket.destroy();
    await first.outcome;
    await waitFor(async () => (await connectionsOf(server)) < 2);
    const later = await client(port, 'GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n').outcome;

    // Assess
    expect(refused.data).toBe('');
    expect(refused.closedAfterMs).toBeLessThan(200);
    expect(later.data).toMatch(/^HTTP\/1\.1 200 /);
    expect(refusals(logger)).toEqual([
      { level: 'warn', message: 'connection refused', attributes: { reason: 'max_connections', clientAddress: '127.0.0.1', maxConnections: 2 } },
    ]);
  });
});

describe('applyServerLimits: malformed requests', () => {
  it('answers 400 to a malformed request and logs the address and code, never the bytes sent', async () => {
    // Prepare
    const { port, logger } = await start();
    const secretLooking = signFlowtriq(TEST_SECRET, 'x');

    // Act
    const { data } = await client(port, `NOT HTTP AT ALL\r\nX-Flowtriq-Signature: ${secretLooking}\r\n\r\n`).outcome;

    // Assess
    expect(data).toMatch(/^HTTP\/1\.1 400 /);
    const [line] = refusals(logger);
    expect(line?.attributes).toMatchObject({ reason: 'malformed_request', status: 400, clientAddress: '127.0.0.1' });
    expect(String(line?.attributes.code)).toMatch(/^HPE_/);
    expect(JSON.stringify(logger.lines)).not.toContain(secretLooking.slice(7, 30));
  });

  it('answers 431 to headers over Node’s size limit', async () => {
    // Prepare
    const { port, logger } = await start();

    // Act
    const { data } = await client(port, `GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`).outcome;

    // Assess
    expect(data).toMatch(/^HTTP\/1\.1 431 /);
    expect(refusals(logger).map((line) => line.attributes.reason)).toEqual(['headers_too_large']);
  });

  it(`writes at most ${REFUSAL_LOG_BURST} refusal lines a second and counts the rest on the next line`, async () => {
    // Prepare
    const { port, logger } = await start();
    const flood = REFUSAL_LOG_BURST + 5;

    // Act: a burst of malformed requests, then one more after the second is over.
    await Promise.all(Array.from({ length: flood }, () => client(port, 'BAD\r\n\r\n').outcome));
    const duringBurst = refusals(logger).length;
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    await client(port, 'BAD\r\n\r\n').outcome;

    // Assess
    expect(duringBurst).toBe(REFUSAL_LOG_BURST);
    expect(refusals(logger)).toHaveLength(REFUSAL_LOG_BURST + 1);
    expect(refusals(logger).at(-1)?.attributes.suppressed).toBe(5);
  });
});

describe('applyServerLimits: misuse', () => {
  it('refuses to run on a server already listening, whose checking interval is fixed', async () => {
    // Prepare
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

    // Act
    const apply = () => applyServerLimits(server, LIMITS, new RecordingLogger());

    // Assess
    expect(apply).toThrow(/before server\.listen\(\)/);
  });

  it.each<[string, Partial<ServerLimits>, RegExp]>([
    ['headersTimeout longer than requestTimeout', { headersTimeout: 700, requestTimeout: 600 }, /headersTimeout must not be longer than requestTimeout/],
    ['maxConnections 0', { maxConnections: 0 }, /maxConnections must be a whole number above 0/],
    ['a zero timeout', { keepAliveTimeout: 0 }, /keepAliveTimeout must be at least 1 ms/],
    ['a timeout that is not a number', { requestTimeout: Number.NaN }, /requestTimeout must be at least 1 ms/],
    ['a fractional connection cap', { maxConnections: 1.5 }, /maxConnections must be a whole number above 0/],
  ])('refuses %s, naming the limit', (_case, limits, message) => {
    // Act
    const apply = () => applyServerLimits(createServer(), { ...LIMITS, ...limits }, new RecordingLogger());

    // Assess
    expect(apply).toThrow(message);
  });

  it('takes the config server section as it is, with its defaults (host and port are ignored)', () => {
    // Prepare: exactly what one-box passes.
    const server = createServer();
    const { server: section } = parseConfig({});

    // Act
    applyServerLimits(server, section, new RecordingLogger());

    // Assess
    expect({
      headersTimeout: server.headersTimeout,
      requestTimeout: server.requestTimeout,
      keepAliveTimeout: server.keepAliveTimeout,
      maxConnections: server.maxConnections,
      checkingInterval: (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval,
    }).toEqual({ headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 5_000, maxConnections: 256, checkingInterval: 1_000 });
  });

  it('rounds a duration that carries a fraction of a millisecond', () => {
    // Prepare
    const server = createServer();

    // Act: 1.0005 s, as the config reads `1.0005`.
    applyServerLimits(server, { ...LIMITS, headersTimeout: 1000.5, requestTimeout: 1000.5 }, new RecordingLogger());

    // Assess
    expect([server.headersTimeout, server.requestTimeout]).toEqual([1001, 1001]);
  });
});

describe('helpers', () => {
  it.each([
    [{ headersTimeout: 10_000, requestTimeout: 15_000 }, 1_000],
    [{ headersTimeout: 300, requestTimeout: 600 }, 75],
    [{ headersTimeout: 20, requestTimeout: 20 }, 10],
  ])('checks the timeouts every quarter of the shorter one, between 10 ms and 1 s (%o)', (limits, expected) => {
    // Act
    const interval = checkingIntervalFor(limits);

    // Assess
    expect(interval).toBe(expected);
  });

  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['2001:db8::1', '2001:db8::1'],
    [undefined, undefined],
  ])('reports the client address %s as %s', (remoteAddress, expected) => {
    // Act
    const address = clientAddressOf(remoteAddress === undefined ? {} : { remoteAddress });

    // Assess
    expect(address).toBe(expected);
  });
});

async function connectionsOf(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 1_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
