/**
 * `npm run bench`: webhook ingest (signature check + zod validation + durable
 * enqueue into the SQLite queue file) against a bare Hono route that answers
 * 202 and does nothing else, same machine, same run. See bench/README.md.
 *
 *   npm run bench                 the comparison (~60 s)
 *   npm run bench -- --diagnose   plus closed-loop runs that take parts away (~60 s more)
 *
 * Servers run in child processes (bench/ingest-server.ts); this process is the
 * load generator (bench/load.ts). Prints numbers; exits 0 unless it crashes.
 */
import { benchBurst, formatBurst } from './burst.ts';
import { BURST_DEVICES } from './burst-devices.ts';
import { benchDevices, formatDevices } from './devices.ts';
import { benchLambda, formatLambda } from './lambda.ts';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { WEBHOOK_PATH } from '../lib/intake/app.ts';
import { QUEUE_FILE } from './ingest-server.ts';
import type { BreakdownStep, FromServer, LoggerKind, ServerMode, Storage, ToServer } from './ingest-server.ts';
import { closedLoop, EventPool, openLoop, summarize } from './load.ts';
import type { LoadResult, OpenLoopResult } from './load.ts';

const CONNECTIONS = 32;
const WARMUP_S = 1;
/**
 * The closed loop runs in rounds: each round gives every server ROUND_S
 * seconds, one after the other, so a change in the machine's speed (a shared
 * host) hits all of them alike. Throughput ratios are taken per round, and
 * the median is reported.
 */
const ROUNDS = 7;
const ROUND_S = 2;
const RATE = 200;
const OPEN_S = 10;
const OPEN_WARMUP_S = 0.5;
/** The whole ingest run is abandoned (children killed, exit 1) after this long (~85 s normally, ~150 s with --diagnose). */
const HARD_LIMIT_MS = process.argv.includes('--diagnose') ? 300_000 : 180_000;
/** Other processes using more than this many cores during a measured phase get a warning. */
const NOISE_CORES = 0.25;

const SERVER_ENTRY = fileURLToPath(new URL('./ingest-server.ts', import.meta.url));
const DIAGNOSE = process.argv.includes('--diagnose');

type Message<T extends FromServer['type']> = Extract<FromServer, { type: T }>;

/** One server child process and its IPC channel. */
class ServerProcess {
  readonly label: string;
  readonly child: ChildProcess;
  readonly #inbox: FromServer[] = [];
  readonly #waiting: Array<() => void> = [];
  #exited = false;
  port = 0;

  constructor(label: string, args: string[], secret: string) {
    this.label = label;
    const devNull = openSync('/dev/null', 'w');
    try {
      this.child = fork(SERVER_ENTRY, args, {
        execPath: process.execPath,
        // e.g. BENCH_SERVER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers.
        execArgv: process.env.BENCH_SERVER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [],
        env: { ...process.env, BENCH_WEBHOOK_SECRET: secret },
        // stdout (the request log lines, with the real logger) to /dev/null; stderr visible.
        stdio: ['ignore', devNull, 'inherit', 'ipc'],
      });
    } finally {
      closeSync(devNull);
    }
    this.child.on('message', (message: FromServer) => {
      this.#inbox.push(message);
      this.#wake();
    });
    this.child.on('exit', () => {
      this.#exited = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  /** The next message of `type`; an error after `timeoutMs` or if the child exits first. */
  async next<T extends FromServer['type']>(type: T, timeoutMs = 15_000): Promise<Message<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#inbox.findIndex((message) => message.type === type);
      if (index >= 0) return this.#inbox.splice(index, 1)[0] as Message<T>;
      if (this.#exited) throw new Error(`${this.label}: server process exited before sending "${type}"`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`${this.label}: no "${type}" from the server process within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(message: ToServer): void {
    this.child.send(message);
  }

  async ready(): Promise<this> {
    this.port = (await this.next('ready')).port;
    return this;
  }

  async usage(): Promise<Message<'usage'>> {
    this.send({ type: 'usage' });
    return this.next('usage', 5_000);
  }

  async stop(): Promise<Message<'stopped'>> {
    this.send({ type: 'stop' });
    const stopped = await this.next('stopped', 10_000);
    await this.exited(5_000);
    return stopped;
  }

  /** Waits for the child to exit; kills it (this child only) if it does not. */
  async exited(timeoutMs: number): Promise<void> {
    if (this.#exited || this.child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), timeoutMs).unref());
    if ((await Promise.race([gone, timer])) === 'late') this.kill();
  }

  kill(): void {
    if (!this.#exited && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Busy and total CPU time of the whole machine (Linux /proc/stat), to spot other processes. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

interface PhaseUsage {
  /** Server CPU, in cores (user + system). */
  cpu: number;
  /** Of which in the kernel (syscalls: socket writes, file writes, fsync). */
  system: number;
  /** Fraction of the time the server's event loop was busy (includes blocking calls such as fsync). */
  busy: number;
  /** Cores used by processes other than this generator and this server (NaN when unknown). */
  others: number;
}

/** Runs `load` and reports the server's CPU and event-loop use, and other processes' CPU, meanwhile. */
async function measure<T extends LoadResult>(server: ServerProcess, load: () => Promise<T>): Promise<{ result: T; usage: PhaseUsage }> {
  const before = await server.usage();
  const machineBefore = machineCpu();
  const result = await load();
  const machineAfter = machineCpu();
  const after = await server.usage();
  const wallMs = after.at - before.at;
  const active = after.elu.active - before.elu.active;
  const idle = after.elu.idle - before.elu.idle;
  const cpu = (after.user - before.user + after.system - before.system) / 1000 / wallMs;
  let others = NaN;
  if (machineBefore && machineAfter) {
    const machine = ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * availableParallelism();
    others = Math.max(0, machine - cpu - result.generatorCpu);
  }
  return {
    result,
    usage: { cpu, system: (after.system - before.system) / 1000 / wallMs, busy: active / (active + idle), others },
  };
}

interface Round {
  rps: number;
  seconds: number;
  usage: PhaseUsage;
}

interface Target {
  label: string;
  server: ServerProcess;
  /** Stores events (so gets fresh, never repeated ones) and has a queue file to count. */
  stores: boolean;
  dir: string;
  open: boolean;
  closed?: LoadResult;
  closedUsage?: PhaseUsage;
  rounds: Round[];
  openResult?: OpenLoopResult;
  openUsage?: PhaseUsage;
  /** Every response and error of every phase (warm-ups too). */
  all: { responses: number; ok: number; non202: number; errors: number; madeLate: number };
}

function tally(target: Target, result: LoadResult): void {
  target.all.responses += result.responses;
  target.all.ok += result.statuses['202'] ?? 0;
  target.all.non202 += result.non202;
  target.all.errors += result.errors;
}

/** Several closed-loop runs of one server as one: totals, throughput over the whole time, pooled latencies. */
function pooled(runs: LoadResult[], latencies: number[]): LoadResult {
  const responses = runs.reduce((n, r) => n + r.responses, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const statuses: Record<string, number> = {};
  for (const run of runs) for (const [status, n] of Object.entries(run.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  return {
    responses,
    seconds,
    rps: responses / seconds,
    latency: summarize(latencies),
    statuses,
    non202: runs.reduce((n, r) => n + r.non202, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    generatorCpu: runs.reduce((n, r) => n + r.generatorCpu * r.seconds, 0) / seconds,
  };
}

/** Time-weighted mean of the rounds' usage. */
function pooledUsage(rounds: Round[]): PhaseUsage {
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0);
  const mean = (pick: (u: PhaseUsage) => number) => rounds.reduce((n, r) => n + pick(r.usage) * r.seconds, 0) / seconds;
  return { cpu: mean((u) => u.cpu), system: mean((u) => u.system), busy: mean((u) => u.busy), others: Math.max(...rounds.map((r) => r.usage.others)) };
}

/** Per-round throughput ratios of `target` to `baseline`, and their median. */
function roundRatios(target: Target, baseline: Target): { each: number[]; median: number } {
  const each = target.rounds.map((round, i) => round.rps / baseline.rounds[i]!.rps);
  const sorted = [...each].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { each, median };
}

// ---- formatting -----------------------------------------------------------

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const ms = (n: number) => (!Number.isFinite(n) ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)}%` : '-');
const cores = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
function row(label: string, cells: string[], widths: number[]): string {
  return label.padEnd(36) + cells.map((cell, i) => cell.padStart(widths[i] ?? 12)).join('');
}

// ---- main -----------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const secret = randomBytes(32).toString('hex');
  const root = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const servers: ServerProcess[] = [];
  const hardStop = setTimeout(() => {
    console.error(`bench: over ${HARD_LIMIT_MS / 1000} s, giving up`);
    for (const server of servers) server.kill();
    process.exit(1);
  }, HARD_LIMIT_MS);
  hardStop.unref();

  try {
    const blank = () => ({ responses: 0, ok: 0, non202: 0, errors: 0, madeLate: 0 });
    const spawn = (label: string, args: string[]) => {
      const server = new ServerProcess(label, args, secret);
      servers.push(server);
      return server;
    };
    const makeTarget = (label: string, name: string, mode: ServerMode, logger: LoggerKind, storage: Storage, open: boolean): Target => {
      const dir = join(root, name);
      mkdirSync(dir);
      const server = spawn(label, [mode, logger, dir, storage]);
      return { label, server, stores: mode === 'ingest' && storage !== 'memory' && storage !== 'none', dir, open, all: blank(), rounds: [] };
    };
    const targets: Target[] = [
      makeTarget('bare 202 route', 'bare', 'bare', 'silent', 'full', true),
      makeTarget('relay ingest', 'ingest', 'ingest', 'silent', 'full', true),
      makeTarget('ingest, real logger', 'ingest-logged', 'ingest', 'real', 'full', true),
    ];
    if (DIAGNOSE) {
      targets.push(
        makeTarget('bare + read body', 'bare-read', 'bare-read', 'silent', 'full', false),
        makeTarget('ingest, in-memory queue', 'ingest-memory', 'ingest', 'silent', 'memory', false),
        makeTarget('ingest, no queue at all', 'ingest-none', 'ingest', 'silent', 'none', false),
        makeTarget('ingest, sync NORMAL', 'ingest-normal', 'ingest', 'silent', 'normal', false),
      );
    }
    await Promise.all(targets.map((target) => target.server.ready()));
    const [bare, ingest, logged] = targets as [Target, Target, Target];
    process.stderr.write(`bench: ${targets.length} servers up; closed loop, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${ROUNDS} rounds of ${ROUND_S} s each ...\n`);

    // Closed loop: a warm-up each, then ROUNDS rounds in which every server
    // runs ROUND_S seconds in turn. Routes that store nothing reuse one pool;
    // each storing route gets fresh events, sized from its own warm-up so none repeats.
    const sharedPool = new EventPool(secret, 20_000, true);
    const base = (target: Target) => ({ url: `http://127.0.0.1:${target.server.port}`, path: WEBHOOK_PATH, connections: CONNECTIONS });
    const pools = new Map<Target, EventPool>();
    /** The fastest rate seen so far per server: sizes the next round's fresh events. */
    const best = new Map<Target, number>();
    for (const target of targets) {
      const warmPool = target.stores ? new EventPool(secret, 15_000, false) : sharedPool;
      const warm = await closedLoop({ ...base(target), seconds: WARMUP_S, record: false, pool: warmPool });
      tally(target, warm);
      pools.set(target, target.stores ? warmPool : sharedPool);
      best.set(target, warm.rps);
    }
    const latencies = new Map<Target, number[]>(targets.map((target) => [target, []]));
    const results = new Map<Target, LoadResult[]>(targets.map((target) => [target, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const target of targets) {
        const pool = pools.get(target)!;
        // Fresh events for this round, signed before it starts: room for 3x the fastest rate seen.
        if (target.stores) pool.refill(Math.max(5_000, Math.ceil(best.get(target)! * ROUND_S * 3)));
        const { result, usage } = await measure(target.server, () =>
          closedLoop({ ...base(target), seconds: ROUND_S, pool, latencies: latencies.get(target)! }),
        );
        tally(target, result);
        best.set(target, Math.max(best.get(target)!, result.rps));
        results.get(target)!.push(result);
        target.rounds.push({ rps: result.rps, seconds: result.seconds, usage });
      }
    }
    for (const target of targets) {
      target.closed = pooled(results.get(target)!, latencies.get(target)!);
      target.closedUsage = pooledUsage(target.rounds);
      if (target.stores) target.all.madeLate += pools.get(target)!.madeLate;
    }

    // Open loop at a fixed rate.
    process.stderr.write(`bench: open loop, ${RATE} req/s, ${OPEN_WARMUP_S}+${OPEN_S} s each ...\n`);
    for (const target of targets.filter((t) => t.open)) {
      const pool = new EventPool(secret, Math.ceil(RATE * (OPEN_S + OPEN_WARMUP_S)), !target.stores);
      const { result, usage } = await measure(target.server, () =>
        openLoop({
          host: '127.0.0.1',
          port: target.server.port,
          path: WEBHOOK_PATH,
          rate: RATE,
          seconds: OPEN_S,
          warmupSeconds: OPEN_WARMUP_S,
          pool,
        }),
      );
      target.openResult = result;
      target.openUsage = usage;
      tally(target, result);
      if (target.stores) target.all.madeLate += pool.madeLate;
    }

    // Stop the servers; then count the messages in the queue files ourselves.
    const stopped = await Promise.all(targets.map((target) => target.server.stop()));
    const inFile = targets.map((target) => {
      if (!target.stores) return NaN;
      const db = new DatabaseSync(join(target.dir, QUEUE_FILE), { readOnly: true });
      try {
        return Number((db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n);
      } finally {
        db.close();
      }
    });

    // Where the time goes: each step of one ingest, timed in-process.
    process.stderr.write('bench: per-step breakdown ...\n');
    const breakdownDir = join(root, 'breakdown');
    mkdirSync(breakdownDir);
    const breakdownProcess = spawn('breakdown', ['breakdown', 'real', breakdownDir]);
    const breakdown = (await breakdownProcess.next('breakdown', 30_000)).steps;
    await breakdownProcess.exited(5_000);

    report({ targets, bare, ingest, logged, stopped, inFile, breakdown, seconds: (Date.now() - started) / 1000 });
  } finally {
    for (const server of servers) server.kill();
    rmSync(root, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
}

function report(input: {
  targets: Target[];
  bare: Target;
  ingest: Target;
  logged: Target;
  stopped: Array<Message<'stopped'>>;
  inFile: number[];
  breakdown: BreakdownStep[];
  seconds: number;
}): void {
  const { targets, bare, ingest, logged, stopped, inFile, breakdown } = input;
  const c = (t: Target) => t.closed!;
  const o = (t: Target) => t.openResult!;
  const out: string[] = [];
  out.push(
    `ingest benchmark (${availableParallelism()} cores, Node ${process.version}, 127.0.0.1; servers and load generator in separate processes)`,
    `closed loop: ${CONNECTIONS} connections, ${WARMUP_S} s warm-up, then ${ROUNDS} rounds in which each server runs ${ROUND_S} s in turn (autocannon); open loop: ${RATE} req/s for ${OPEN_S} s after ${OPEN_WARMUP_S} s warm-up`,
    'relay ingest = HMAC check + zod + enqueue into the SQLite queue file (WAL, synchronous FULL), silentLogger;',
    'last column = the same with the relay\'s real JSON logger (one line per request, stdout to /dev/null)',
    '',
  );
  const w = [16, 15, 8, 21, 8];
  const three = (cells: string[]) => [cells[0]!, cells[1]!, '', cells[2]!, ''];
  const main3 = [bare, ingest, logged];
  out.push(row('', ['bare 202 route', 'relay ingest', 'ratio', 'ingest, real logger', 'ratio'], w));
  out.push(
    row('throughput (req/s), all rounds', [int(c(bare).rps), int(c(ingest).rps), ratio(c(ingest).rps, c(bare).rps), int(c(logged).rps), ratio(c(logged).rps, c(bare).rps)], w),
  );
  const ingestRounds = roundRatios(ingest, bare);
  const loggedRounds = roundRatios(logged, bare);
  out.push(
    row('throughput ratio, median of rounds', ['', '', ingestRounds.median.toFixed(2), '', loggedRounds.median.toFixed(2)], w),
    row('  each round', ['', '', '', ingestRounds.each.map((r) => r.toFixed(2)).join(' '), ''], [16, 15, 8, 30, 8]),
    row('  bare route req/s, each round', ['', '', '', bare.rounds.map((r) => int(r.rps)).join(' '), ''], [16, 15, 8, 30, 8]),
  );
  const p5099 = (r: LoadResult) => `${ms(r.latency.p50)} / ${ms(r.latency.p99)}`;
  out.push(
    row('p50 / p99 (ms)', [p5099(c(bare)), p5099(c(ingest)), ratio(c(ingest).latency.p99, c(bare).latency.p99), p5099(c(logged)), ratio(c(logged).latency.p99, c(bare).latency.p99)], w),
  );
  out.push(row('server CPU µs per request', three(main3.map((t) => int((t.closedUsage!.cpu * 1e6) / c(t).rps))), w));
  out.push(row('server CPU / event loop busy', three(main3.map((t) => `${pct(t.closedUsage!.cpu)} / ${pct(t.closedUsage!.busy)}`)), w));
  out.push(row('load generator CPU / others (cores)', three(main3.map((t) => `${pct(c(t).generatorCpu)} / ${cores(t.closedUsage!.others)}`)), w));
  const pmm = (r: OpenLoopResult) => `${ms(r.latency.p50)}/${ms(r.latency.p99)}/${ms(r.latency.max)}`;
  out.push(
    row(`at ${RATE} req/s: p50/p99/max (ms)`, [pmm(o(bare)), pmm(o(ingest)), ratio(o(ingest).latency.p99, o(bare).latency.p99), pmm(o(logged)), ratio(o(logged).latency.p99, o(bare).latency.p99)], w),
  );
  out.push(row(`at ${RATE} req/s: achieved / errors`, three(main3.map((t) => `${int(o(t).rps)} / ${o(t).errors + o(t).non202}`)), w));
  out.push(row(`at ${RATE} req/s: others (cores)`, three(main3.map((t) => cores(t.openUsage!.others))), w));
  out.push(
    `  ratio = ingest / bare. Open-loop latency runs from handing the request to node:http to the last byte of the answer;`,
    `  the scheduler was at most ${main3.map((t) => ms(o(t).lagMax)).join(' / ')} ms late. "others" = CPU used by processes other than this benchmark.`,
  );

  if (targets.length > 3) {
    out.push('', 'diagnostics (closed loop, same load; each takes one part away or adds one):');
    for (const t of targets.slice(3)) {
      const u = t.closedUsage!;
      out.push(
        `  ${t.label.padEnd(26)} ${int(c(t).rps).padStart(7)} req/s (${roundRatios(t, bare).median.toFixed(2)}× bare, median of rounds)  p50/p99 ${p5099(c(t))} ms  server ${int((u.cpu * 1e6) / c(t).rps)} µs CPU/req, loop busy ${pct(u.busy)}, others ${cores(u.others)}`,
      );
    }
  }
  out.push('');

  // Durability and correctness.
  for (const [i, t] of targets.entries()) {
    const s = stopped[i]!;
    const stored = t.stores ? `; ${int(inFile[i]!)} messages in its ${QUEUE_FILE}` : '';
    out.push(
      `${t.label.padEnd(24)} ${int(t.all.responses).padStart(7)} responses: ${int(t.all.ok)} × 202, non-202 ${t.all.non202}, errors/timeouts ${t.all.errors}; server sent ${int(s.accepted)} × 202 + ${s.other} other${stored}` +
        (t.all.madeLate > 0 ? `; ${int(t.all.madeLate)} events signed during timing (pool ran out)` : ''),
    );
  }
  const storing = targets.map((t, i) => (t.stores ? i : -1)).filter((i) => i >= 0);
  // Every 202 must be on disk. A few more on disk is fine: events committed just
  // before the server stopped, whose answer never went out (the sender retries).
  const durable = storing.every((i) => inFile[i]! >= stopped[i]!.accepted);
  const unanswered = storing.reduce((n, i) => n + Math.max(0, inFile[i]! - stopped[i]!.accepted), 0);
  const non202 = targets.reduce((n, t, i) => n + t.all.non202 + stopped[i]!.other, 0);
  const errors = targets.reduce((n, t) => n + t.all.errors, 0);
  out.push(
    `queue files: ${durable ? `every 202 the ingest servers sent is a message on disk (${unanswered} more committed but unanswered at shutdown)` : 'LOST: fewer messages on disk than 202s sent'}. non-202 responses: ${non202}; errors/timeouts: ${errors}.`,
    '  (the client can count a few 202s fewer than the server: autocannon drops its in-flight requests when a run ends)',
    '',
  );

  const throughputRatio = ingestRounds.median;
  const p99 = o(ingest).latency.p99;
  const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  out.push(
    `targets: throughput ≥ 0.5× bare (median of rounds): ${throughputRatio.toFixed(2)}× ${verdict(throughputRatio >= 0.5)}; p99 < 10 ms at ${RATE} req/s: ${ms(p99)} ms ${verdict(p99 < 10)}   (relay ingest, silentLogger)`,
  );
  const loggedRatio = loggedRounds.median;
  out.push(
    `         throughput ≥ 0.5× bare (median of rounds): ${loggedRatio.toFixed(2)}× ${verdict(loggedRatio >= 0.5)}; p99 < 10 ms at ${RATE} req/s: ${ms(o(logged).latency.p99)} ms ${verdict(o(logged).latency.p99 < 10)}   (with the real logger)`,
  );
  const noisy = targets.flatMap((t) => [t.closedUsage?.others ?? 0, t.openUsage?.others ?? 0]).reduce((a, b) => Math.max(a, b), 0);
  if (noisy > NOISE_CORES) {
    out.push(
      `WARNING: other processes used up to ${noisy.toFixed(2)} of ${availableParallelism()} cores during a measured phase; these numbers are distorted. Rerun on a quiet machine.`,
    );
  }
  out.push('', 'where one ingest spends its time (in-process, no HTTP; mean µs per operation):');
  for (const step of breakdown) out.push(`  ${step.name.padEnd(72)} ${step.meanUs.toFixed(1).padStart(8)}`);
  out.push('', `total bench time ${input.seconds.toFixed(1)} s`);
  console.log(out.join('\n'));
}

try {
  const only = process.argv.slice(2).find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
  if (!only || only === 'ingest') await main();
  if (!only || only === 'devices') {
    console.error('bench: device adapters vs per-IP on the simulators ...');
    console.log(`\n${formatDevices(await benchDevices())}`);
  }
  if (!only || only === 'burst') {
    console.error('bench: burst of 40 incidents through the one-box relay on real-time simulators ...');
    console.log(`\n${formatBurst(await benchBurst(BURST_DEVICES))}`);
  }
  if (!only || only === 'lambda') {
    console.error('bench: Lambda bundles and cold init ...');
    console.log(`\n${formatLambda(await benchLambda())}`);
  }
} catch (error) {
  console.error('bench crashed:', error);
  process.exitCode = 1;
}
