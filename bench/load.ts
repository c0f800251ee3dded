/**
 * Load-generator helpers for `npm run bench` (runs in the parent process,
 * never in the server under test):
 *
 * - `EventPool`: pre-generated, distinct, validly signed Flowtriq events
 *   (fresh incident uuid and timestamp each), built before timing starts.
 * - `closedLoop`: N keep-alive connections, each sending its next request as
 *   soon as the previous response arrives (autocannon), for a fixed time.
 * - `openLoop`: a fixed-rate scheduler on node:http with a keep-alive Agent:
 *   request i is sent at t0 + i / rate whether or not earlier ones have been
 *   answered, so a slow server cannot slow the offered load down.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { signFlowtriq } from '../lib/signature/flowtriq.ts';

/** One request: the raw body and its X-Flowtriq-Signature header. */
export interface SignedEvent {
  body: Buffer;
  signature: string;
}

/** Distinct signed events, handed out in order. */
export class EventPool {
  #events: SignedEvent[];
  readonly #secret: string;
  readonly #wrap: boolean;
  #next = 0;
  /** Events made during timing because the pre-generated ones ran out (should stay 0). */
  madeLate = 0;

  /**
   * `count` events made now. With `wrap`, the pool is reused from the start
   * when it runs out (for the bare route, which stores nothing); without, more
   * are made on demand (and counted in `madeLate`) so no event repeats.
   */
  constructor(secret: string, count: number, wrap: boolean) {
    this.#secret = secret;
    this.#wrap = wrap;
    this.#events = Array.from({ length: count }, () => makeEvent(secret));
  }

  /** Signs new events (outside any timed phase) until at least `count` are left unused. */
  refill(count: number): void {
    this.#events.splice(0, this.#next);
    this.#next = 0;
    while (this.#events.length < count) this.#events.push(makeEvent(this.#secret));
  }

  take(): SignedEvent {
    if (this.#next < this.#events.length) return this.#events[this.#next++]!;
    if (this.#wrap) {
      this.#next = 1;
      return this.#events[0]!;
    }
    this.madeLate += 1;
    return makeEvent(this.#secret);
  }
}

const FIXTURE = JSON.parse(
  readFileSync(new URL('../test/fixtures/events/attack_start.json', import.meta.url), 'utf8'),
) as { incident: Record<string, unknown> } & Record<string, unknown>;
let serial = 0;

/** The attack_start fixture as a new incident happening now, signed with `secret`. */
export function makeEvent(secret: string): SignedEvent {
  serial += 1;
  const at = new Date().toISOString();
  const event = {
    ...FIXTURE,
    timestamp: at,
    incident: { ...FIXTURE.incident, id: 100_000 + serial, uuid: randomUUID(), started_at: at },
  };
  const body = Buffer.from(JSON.stringify(event));
  return { body, signature: signFlowtriq(secret, body) };
}

/** Sorted latencies (ms) and the usual percentiles. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(latencies: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!);
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]! };
}

/** What one load phase saw, from the client side. */
export interface LoadResult {
  /** Responses received. */
  responses: number;
  /** Wall time of the phase (s). */
  seconds: number;
  /** Responses per second. */
  rps: number;
  latency: LatencySummary;
  /** Status code -> count. */
  statuses: Record<string, number>;
  /** Responses with a status other than 202. */
  non202: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** CPU the generator itself used, as a fraction of one core. */
  generatorCpu: number;
}

function cpuFraction(start: NodeJS.CpuUsage, seconds: number): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6 / seconds;
}

// autocannon ships no types; this is the part of its API used here.
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  pipelining: number;
  timeout: number;
  requests: AutocannonRequest[];
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  stop(): void;
}
type Autocannon = (options: AutocannonOptions, done: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;
// Loaded on first use, so the server process (which imports makeEvent) never loads it.
let autocannon: Autocannon | undefined;

export interface ClosedLoopOptions {
  url: string;
  path: string;
  connections: number;
  seconds: number;
  pool: EventPool;
  /** Keep latencies (false for warm-ups). */
  record?: boolean;
  /** Where recorded latencies go (default: a fresh array), so several runs can be pooled. */
  latencies?: number[];
}

/** Closed loop: `connections` keep-alive connections, one request in flight each, for `seconds`. */
export function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  autocannon ??= createRequire(import.meta.url)('autocannon') as Autocannon;
  const run = autocannon;
  const latencies: number[] = options.latencies ?? [];
  const statuses: Record<string, number> = {};
  let responses = 0;
  let non202 = 0;
  const record = options.record ?? true;
  const cpu = process.cpuUsage();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = run(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: options.path,
            headers: {},
            // Called for every request: the next distinct signed event.
            setupRequest: (req) => {
              const event = options.pool.take();
              req.body = event.body;
              req.headers = { 'content-type': 'application/json', 'x-flowtriq-signature': event.signature };
              return req;
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const seconds = (performance.now() - started) / 1000;
        resolve({
          responses,
          seconds,
          rps: responses / seconds,
          latency: summarize(latencies),
          statuses,
          non202,
          errors: result.errors + result.timeouts,
          generatorCpu: cpuFraction(cpu, seconds),
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      responses += 1;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 202) non202 += 1;
      if (record) latencies.push(ms);
    });
  });
}

export interface OpenLoopOptions {
  host: string;
  port: number;
  path: string;
  /** Requests per second. */
  rate: number;
  seconds: number;
  pool: EventPool;
  /** Sent at the same rate first, not recorded (connections, JIT). */
  warmupSeconds?: number;
  /** Give up on outstanding responses this long after the last send (ms). */
  drainMs?: number;
}

export interface OpenLoopResult extends LoadResult {
  sent: number;
  /** How late the scheduler sent requests (ms): the largest lag and its 99th percentile. */
  lagMax: number;
  lagP99: number;
}

/**
 * Open loop: exactly `rate * (warmupSeconds + seconds)` requests, request i
 * due at t0 + i * 1000 / rate; the warm-up ones are not recorded. Latency is measured from the moment a request is
 * handed to node:http until its response has fully arrived; the scheduler's
 * own lateness is reported separately (`lagMax`).
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const skip = Math.round(options.rate * (options.warmupSeconds ?? 0));
  const total = skip + Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const agent = new Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
  const latencies: number[] = [];
  const lags: number[] = [];
  const statuses: Record<string, number> = {};
  let responses = 0;
  let non202 = 0;
  let errors = 0;
  let outstanding = 0;
  let sent = 0;
  const events = Array.from({ length: total }, () => options.pool.take());
  const cpu = process.cpuUsage();
  const started = performance.now();

  let allDone!: () => void;
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const finishOne = () => {
    outstanding -= 1;
    if (outstanding === 0 && sent === total) allDone();
  };

  const send = (event: SignedEvent, record: boolean) => {
    outstanding += 1;
    let settled = false;
    // Exactly one outcome per request (a failing response can also fail its request).
    const settle = (status: number | undefined) => {
      if (settled) return;
      settled = true;
      if (status === undefined) errors += 1;
      else {
        responses += 1;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status !== 202) non202 += 1;
        if (record) latencies.push(performance.now() - t);
      }
      finishOne();
    };
    const t = performance.now();
    const req = request(
      {
        host: options.host,
        port: options.port,
        path: options.path,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': String(event.body.length),
          'x-flowtriq-signature': event.signature,
        },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => settle(res.statusCode ?? 0));
        res.on('error', () => settle(undefined));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => settle(undefined));
    req.end(event.body);
  };

  // The scheduler: sends everything that is due, then sleeps until the next due time.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && started + sent * interval <= now) {
        if (sent >= skip) lags.push(now - (started + sent * interval));
        send(events[sent]!, sent >= skip);
        sent += 1;
      }
      if (sent >= total) return resolve();
      setTimeout(tick, Math.max(0, started + sent * interval - performance.now()));
    };
    tick();
  });
  if (outstanding > 0) {
    const drain = new Promise<void>((resolve) => setTimeout(resolve, options.drainMs ?? 5_000).unref());
    await Promise.race([done, drain]);
  }
  const seconds = (performance.now() - started) / 1000 - (options.warmupSeconds ?? 0);
  errors += outstanding; // never answered within the drain time
  agent.destroy();
  const lag = summarize(lags);
  return {
    sent,
    responses,
    seconds,
    rps: latencies.length / seconds,
    latency: summarize(latencies),
    statuses,
    non202,
    errors,
    generatorCpu: cpuFraction(cpu, seconds),
    lagMax: lag.max,
    lagP99: lag.p99,
  };
}
