/**
 * The RouterOS REST simulator's front ends: an HTTP(S) server on 127.0.0.1
 * and an in-process Transport (for benchmarks: same device, same serial
 * queue, no sockets). Both serve requests strictly one at a time, as the
 * RouterOS www service does.
 *
 * Hooks: `setDown('refused' | 'unavailable' | 'hang' | false)` for a device
 * that is off (connection refused), answering 503, or accepting and never
 * answering; `realDelayFactor` makes each request also take its virtual cost
 * (times the factor) in real time, so a one-box relay can run against it over
 * loopback HTTP at, say, 35 ms per request + 1 ms per entry
 * (`{ cost: { requestMs: 35, entryMs: 1 }, realDelayFactor: 1 }`); `port`
 * pins the port so a relay config can name the URL in advance.
 *
 * Both front ends report a write that arrives while a byte-identical write is
 * still queued or being served (`device.duplicateWrites`, reason `in-flight`).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import {
  ResponseTooLargeError,
  TransportConnectionError,
  TransportTimeoutError,
} from '../../../lib/transport/errors.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { type DeviceOptions, RouterOsDevice, type SimRequest, type SimResponse, writeKey } from './device.ts';

export interface RouterOsSimulatorOptions extends DeviceOptions {
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
  /** Wait `costMs × factor` in real time per request (0, the default, never sleeps). */
  realDelayFactor?: number;
  /** Listen on this port of 127.0.0.1 (default: an ephemeral one). */
  port?: number;
}

export type DownMode = 'refused' | 'unavailable' | 'hang' | false;

export class RouterOsSimulator {
  readonly device: RouterOsDevice;
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly #realDelayFactor: number;
  readonly #scheme: 'http' | 'https';
  #port = 0;
  #down: DownMode = false;
  #queue: Promise<unknown> = Promise.resolve();
  /** Write identity → how many such requests are queued or being served. */
  readonly #pendingWrites = new Map<string, number>();
  /** Requests being served right now (never more than one). */
  #active = 0;
  /** The most requests ever served at the same time. */
  maxConcurrent = 0;

  private constructor(options: RouterOsSimulatorOptions) {
    this.device = new RouterOsDevice(options);
    this.#realDelayFactor = options.realDelayFactor ?? 0;
    this.#scheme = options.tls ? 'https' : 'http';
    const listener = (raw: http.IncomingMessage, response: http.ServerResponse) => this.#onRequest(raw, response);
    this.#server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, listener) : http.createServer(listener);
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('tlsClientError', () => {});
  }

  /** A simulator reachable only through `transport()` (no socket is opened). */
  static inProcess(options: Omit<RouterOsSimulatorOptions, 'tls'> = {}): RouterOsSimulator {
    return new RouterOsSimulator(options);
  }

  /** Starts a simulator on 127.0.0.1 with an ephemeral port. */
  static async start(options: RouterOsSimulatorOptions = {}): Promise<RouterOsSimulator> {
    const simulator = new RouterOsSimulator(options);
    await simulator.#listen(options.port ?? 0);
    return simulator;
  }

  get origin(): string {
    return `${this.#scheme}://127.0.0.1:${this.#port}`;
  }

  /** Takes the device down in one of three ways, or brings it back (`false`). */
  async setDown(mode: DownMode): Promise<void> {
    const was = this.#down;
    this.#down = mode;
    if (mode === 'refused' && was !== 'refused') {
      this.#dropConnections();
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    } else if (mode !== 'refused' && was === 'refused') {
      await this.#listen(this.#port);
    }
  }

  /** A Transport that reaches this simulator without sockets (ignores TLS options). */
  transport(): Transport {
    return { request: (request) => this.#inProcess(request) };
  }

  async close(): Promise<void> {
    this.#dropConnections();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.closeAllConnections();
  }

  async #listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  /** Queues a request behind every earlier one. */
  #serve(request: SimRequest): Promise<SimResponse> {
    const key = writeKey(request);
    let inFlightDuplicate = false;
    if (key !== undefined) {
      const pending = this.#pendingWrites.get(key) ?? 0;
      if (pending > 0) {
        inFlightDuplicate = true;
        this.device.flagInFlight(request);
      }
      this.#pendingWrites.set(key, pending + 1);
    }
    const done = () => {
      if (key === undefined) return;
      const left = (this.#pendingWrites.get(key) ?? 1) - 1;
      if (left > 0) this.#pendingWrites.set(key, left);
      else this.#pendingWrites.delete(key);
    };
    const run = async (): Promise<SimResponse> => {
      this.#active += 1;
      this.maxConcurrent = Math.max(this.maxConcurrent, this.#active);
      try {
        if (this.#down === 'unavailable') {
          this.device.counters.unavailable += 1;
          return {
            status: 503,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ error: 503, message: 'Service Unavailable' }),
            costMs: 0,
          };
        }
        const response = this.device.handle(request, { inFlightDuplicate });
        if (this.#realDelayFactor > 0 && response.costMs > 0) {
          await new Promise((resolve) => setTimeout(resolve, response.costMs * this.#realDelayFactor));
        }
        return response;
      } finally {
        this.#active -= 1;
        done();
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #onRequest(raw: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('end', () => {
      if (this.#down === 'hang') return; // accepted, never answered
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(raw.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      void this.#serve({
        method: raw.method ?? 'GET',
        path: raw.url ?? '/',
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }).then(
        (answer) => {
          if (response.destroyed) return;
          response.writeHead(answer.status, answer.headers);
          response.end(answer.body);
        },
        () => {
          if (!response.destroyed) response.destroy();
        },
      );
    });
  }

  async #inProcess(request: HttpRequest): Promise<HttpResponse> {
    const url = new URL(request.url);
    const target = `${request.method.toUpperCase()} ${url.origin}`;
    request.signal?.throwIfAborted();
    if (this.#down === 'refused') {
      throw new TransportConnectionError(target, 'connection refused', { systemCode: 'ECONNREFUSED' });
    }
    if (this.#down === 'hang') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, request.timeoutMs);
        request.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(request.signal?.reason);
        });
      });
      throw new TransportTimeoutError(target, request.timeoutMs);
    }
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
    const body = request.body === undefined ? '' : typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
    const answer = await this.#serve({ method: request.method, path: `${url.pathname}${url.search}`, headers, body });
    const bytes = Buffer.from(answer.body, 'utf8');
    if (request.maxResponseBytes !== undefined && bytes.byteLength > request.maxResponseBytes) {
      throw new ResponseTooLargeError(target, request.maxResponseBytes);
    }
    return { status: answer.status, headers: answer.headers, body: new Uint8Array(bytes) };
  }
}
