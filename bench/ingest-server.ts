/**
 * The server under test for `npm run bench`, in its own process (spawned by
 * bench/run.ts with an IPC channel; stdout goes to /dev/null).
 *
 *   node bench/ingest-server.ts bare   <logger> <dir>            a Hono route that answers 202 and does nothing else
 *   node bench/ingest-server.ts bare-read <logger> <dir>         the same, but it reads the body first (c.req.arrayBuffer(), diagnostics)
 *   node bench/ingest-server.ts ingest <logger> <dir> [storage]  the relay intake (createIntakeApp) on a SqliteJobQueue
 *   node bench/ingest-server.ts breakdown real <dir>             no server: times each step of one ingest in-process
 *
 * [storage] (diagnostics only): `full` (default: the file <dir>/queue.db with
 * the relay's defaults, WAL + synchronous FULL), `normal` (the same file with
 * synchronous NORMAL), `memory` (an in-memory queue: no disk at all), `none`
 * (no queue: every send succeeds at once; the ceiling of HTTP + checks).
 *
 * <logger> is `silent` (silentLogger) or `real` (the relay's Powertools JSON
 * logger, one line per request, to stdout). The webhook secret comes from
 * BENCH_WEBHOOK_SECRET. Servers listen on 127.0.0.1 on a free port, served
 * by @hono/node-server exactly as the one-box runtime serves the intake.
 *
 * IPC, parent -> child: {type:'usage'} | {type:'stop'}
 *       child -> parent: {type:'ready', port} | {type:'usage', ...} | {type:'stopped', ...} | {type:'breakdown', ...}
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Hono } from 'hono';
import { parseEvent } from '../lib/event/schema.ts';
import { encodeJobJson } from '../lib/engine/job.ts';
import { createServer, type RequestListener } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createIntakeApp, WEBHOOK_PATH } from '../lib/intake/app.ts';
import { createIngest, maxBodyBytes, type IntakeOptions } from '../lib/intake/ingest.ts';
import { createNodeListener } from '../lib/intake/node-listener.ts';
import { createLogger, silentLogger } from '../lib/log/logger.ts';
import type { Logger } from '../lib/log/types.ts';
import { eventDedupId, eventGroupId } from '../lib/planner/event-key.ts';
import { SqliteJobQueue } from '../lib/queue/sqlite.ts';
import { verifyFlowtriq } from '../lib/signature/flowtriq.ts';
import { makeEvent } from './load.ts';

export type ServerMode = 'bare' | 'bare-read' | 'ingest';
export type LoggerKind = 'silent' | 'real';
export type Storage = 'full' | 'normal' | 'memory' | 'none';
export const QUEUE_FILE = 'queue.db';

/** Parent -> child. */
export type ToServer = { type: 'usage' } | { type: 'stop' };
/** Child -> parent. */
export type FromServer =
  | { type: 'ready'; port: number }
  | { type: 'usage'; user: number; system: number; elu: EventLoopUtilization; at: number }
  | { type: 'stopped'; accepted: number; other: number; queued: number | undefined }
  | { type: 'breakdown'; steps: BreakdownStep[] };

export interface BreakdownStep {
  name: string;
  /** Mean microseconds per operation. */
  meanUs: number;
  ops: number;
}

function reply(message: FromServer): void {
  process.send?.(message);
}

function makeLogger(kind: LoggerKind): Logger {
  return kind === 'real' ? createLogger({ level: 'INFO' }) : silentLogger;
}

async function runServer(mode: ServerMode, loggerKind: LoggerKind, dir: string, storage: Storage, secret: string): Promise<void> {
  let queue: SqliteJobQueue | undefined;
  let inner: RequestListener;
  if (mode === 'bare') {
    const bare = new Hono();
    bare.post(WEBHOOK_PATH, (c) => c.body(null, 202));
    inner = getRequestListener(bare.fetch);
  } else if (mode === 'bare-read') {
    // Reads the body through the web Request (what a Hono handler does), nothing else.
    const bare = new Hono();
    bare.post(WEBHOOK_PATH, async (c) => {
      await c.req.arrayBuffer();
      return c.body(null, 202);
    });
    inner = getRequestListener(bare.fetch);
  } else {
    // By default the real file, WAL + synchronous FULL: the one-box defaults,
    // served exactly as one-box serves it (lib/intake/node-listener.ts).
    queue =
      storage === 'none'
        ? undefined
        : storage === 'memory'
          ? SqliteJobQueue.open(':memory:')
          : SqliteJobQueue.open(join(dir, QUEUE_FILE), { synchronous: storage === 'normal' ? 'NORMAL' : 'FULL' });
    const accepted = { duplicate: false };
    const options: IntakeOptions = { secrets: [secret], queue: queue ?? { send: async () => accepted }, logger: makeLogger(loggerKind) };
    inner = createNodeListener({ ingest: createIngest(options), app: createIntakeApp(options), maxBodyBytes: maxBodyBytes(options) });
  }

  // Count answers on the server side (proof for the queue count; negligible cost).
  let accepted = 0;
  let other = 0;
  const listener: RequestListener = (request, response) => {
    response.once('finish', () => {
      if (response.statusCode === 202) accepted += 1;
      else other += 1;
    });
    inner(request, response);
  };

  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await new Promise<void>((done) => {
      server.close(() => done());
      // Drop idle keep-alive connections so close() returns promptly.
      if ('closeAllConnections' in server) server.closeAllConnections();
    });
    let queued: number | undefined;
    if (queue) {
      const stats = await queue.stats();
      queued = stats.visible + stats.inFlight;
      await queue.close();
    }
    reply({ type: 'stopped', accepted, other, queued });
    process.disconnect?.();
  };

  process.on('message', (message: ToServer) => {
    if (message.type === 'usage') {
      const cpu = process.cpuUsage();
      reply({ type: 'usage', user: cpu.user, system: cpu.system, elu: performance.eventLoopUtilization(), at: performance.now() });
    } else if (message.type === 'stop') {
      void stop();
    }
  });
  // The parent went away: do not linger.
  process.on('disconnect', () => {
    void stop().finally(() => process.exit(0));
  });
  reply({ type: 'ready', port });
}

/** Times each step of one ingest in-process (no HTTP), to show where the time goes. */
async function runBreakdown(dir: string, secret: string): Promise<void> {
  const steps: BreakdownStep[] = [];
  const budgetMs = 150;
  const maxOps = 20_000;
  const bodies = Array.from({ length: maxOps }, () => makeEvent(secret));
  // Runs `op` over distinct inputs for at most budgetMs ms or `limit` operations, after a short warm-up.
  const time = async (name: string, op: (i: number) => unknown, limit = maxOps) => {
    for (let i = 0; i < 200; i += 1) await op(i % bodies.length); // warm-up (JIT)
    let ops = 0;
    const start = performance.now();
    while (ops < limit && performance.now() - start < budgetMs) {
      await op((200 + ops) % bodies.length);
      ops += 1;
    }
    steps.push({ name, meanUs: ((performance.now() - start) * 1000) / ops, ops });
  };
  const decoder = () => new TextDecoder('utf-8', { fatal: true });
  const events = bodies.map((b) => parseEvent(JSON.parse(b.body.toString('utf8'))));

  await time('signature check (HMAC-SHA256)', (i) => verifyFlowtriq([secret], bodies[i]!.body, bodies[i]!.signature));
  await time('UTF-8 decode + JSON.parse', (i) => JSON.parse(decoder().decode(bodies[i]!.body)));
  const values = bodies.map((b) => JSON.parse(b.body.toString('utf8')) as unknown);
  await time('zod validation (parseEvent)', (i) => parseEvent(values[i]));
  const texts = bodies.map((b) => b.body.toString('utf8'));
  await time('dedup/group id + job from the event text', (i) => {
    const parsed = events[i]!;
    if (!parsed.ok) throw new Error('fixture does not validate');
    return [eventDedupId(parsed.event), eventGroupId(parsed.event), encodeJobJson(texts[i]!, Date.now())];
  });

  // The disk itself: append 4 KiB to a file and fdatasync it (what a WAL commit costs at least).
  const probe = openSync(join(dir, 'fsync-probe'), 'w');
  const page = Buffer.alloc(4096, 1);
  await time('disk: write 4 KiB + fdatasync (no SQLite)', () => {
    writeSync(probe, page);
    fdatasyncSync(probe);
  }, 2_000);
  closeSync(probe);

  // Each queue gets its own file; every send is a distinct message, like the intake's.
  let n = 0;
  const sendTo = (queue: SqliteJobQueue) => () => {
    n += 1;
    return queue.send({ groupId: `g-${n}`, dedupId: `d-${n}`, body: '{"v":1}'.padEnd(600, ' ') });
  };
  const full = SqliteJobQueue.open(join(mkdtempSync(join(dir, 'full-')), QUEUE_FILE));
  await time('queue.send, synchronous FULL (default)', sendTo(full), 2_000);
  await full.close();
  const normal = SqliteJobQueue.open(join(mkdtempSync(join(dir, 'normal-')), QUEUE_FILE), { synchronous: 'NORMAL' });
  await time('queue.send, synchronous NORMAL', sendTo(normal), 2_000);
  await normal.close();
  const memory = SqliteJobQueue.open(':memory:');
  await time('queue.send, in-memory (no I/O)', sendTo(memory), 2_000);
  await memory.close();

  // Reading the body: @hono/node-server turns the IncomingMessage into a web
  // Request (Headers, AbortController, Readable.toWeb) as soon as the handler
  // asks for the body; reading the Node stream directly skips all of that.
  await time('body read as @hono/node-server does (Readable.toWeb + Request)', async (i) => {
    const event = bodies[i]!;
    const request = new Request(`http://127.0.0.1${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: new Headers([
        ['content-type', 'application/json'],
        ['x-flowtriq-signature', event.signature],
      ]),
      signal: new AbortController().signal,
      body: Readable.toWeb(Readable.from([event.body], { objectMode: false })) as ReadableStream<Uint8Array>,
      duplex: 'half',
    });
    return new Uint8Array(await request.arrayBuffer());
  });
  await time('body read from the Node stream (Buffer.concat of chunks)', async (i) => {
    const chunks: Buffer[] = [];
    for await (const chunk of Readable.from([bodies[i]!.body], { objectMode: false })) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  });

  // The request log line the intake writes per request (stdout is /dev/null here).
  const realLogger = makeLogger('real');
  await time('real logger: one request line (Powertools JSON, stdout)', (i) =>
    realLogger.info('webhook', { status: 202, outcome: 'accepted', eventType: 'attack_start', incident: `incident-${i}`, latencyMs: 1 }),
  );

  // The whole intake through app.fetch with a web Request (no sockets), on an
  // in-memory queue: more than the sum of the steps above is Hono and the web Request.
  const queue = SqliteJobQueue.open(':memory:');
  const app = createIntakeApp({ secrets: [secret], queue, logger: silentLogger });
  let next = 0;
  const post = async () => {
    const event = bodies[next++ % bodies.length]!;
    const response = await app.fetch(
      new Request(`http://127.0.0.1${WEBHOOK_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-flowtriq-signature': event.signature },
        body: event.body,
      }),
    );
    await response.arrayBuffer();
  };
  await time('whole intake via app.fetch (web Request), in-memory queue, silent', post, bodies.length - 400);
  await queue.close();
  reply({ type: 'breakdown', steps });
  process.disconnect?.();
}

async function main(): Promise<void> {
  const [modeArg, loggerArg, dirArg, storageArg = 'full'] = process.argv.slice(2);
  const secret = process.env.BENCH_WEBHOOK_SECRET;
  const storages: readonly string[] = ['full', 'normal', 'memory', 'none'];
  if (!secret || !dirArg || (loggerArg !== 'silent' && loggerArg !== 'real') || !storages.includes(storageArg)) {
    console.error('usage: BENCH_WEBHOOK_SECRET=... node bench/ingest-server.ts bare|bare-read|ingest|breakdown silent|real <dir> [full|normal|memory|none]');
    process.exit(2);
  }
  if (modeArg === 'bare' || modeArg === 'bare-read' || modeArg === 'ingest') await runServer(modeArg, loggerArg, dirArg, storageArg as Storage, secret);
  else if (modeArg === 'breakdown') await runBreakdown(dirArg, secret);
  else {
    console.error(`unknown mode ${modeArg}`);
    process.exit(2);
  }
}

// Only as the entry point (bench/run.ts imports this file for its types and QUEUE_FILE).
if (import.meta.main) await main();
