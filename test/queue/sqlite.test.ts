import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueUnavailableError } from '../../lib/queue/errors.ts';
import { MAX_BODY_BYTES, QUEUE_SCHEMA, SqliteJobQueue } from '../../lib/queue/sqlite.ts';
import type { SqliteJobQueueOptions } from '../../lib/queue/sqlite.ts';
import type { ReceivedMessage } from '../../lib/queue/types.ts';
import { DatabaseSync } from 'node:sqlite';
import { DatabaseSchemaError, migrate } from '../../lib/sqlite/open.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { jobQueueContract } from '../contract/job-queue.contract.ts';

const MODULE_URL = pathToFileURL(join(import.meta.dirname, '..', '..', 'lib', 'queue', 'sqlite.ts')).href;

jobQueueContract('SQLite', async ({ maxReceives }) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-queue-'));
  const queue = SqliteJobQueue.open(join(dir, 'queue.db'), { maxReceives });
  return {
    queue,
    async cleanup() {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** A clock the test moves by hand. */
class ManualClock {
  ms = 1_000_000;
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

describe('SqliteJobQueue', () => {
  let dir: string;
  let path: string;
  const opened: SqliteJobQueue[] = [];

  function open(options: SqliteJobQueueOptions = {}): SqliteJobQueue {
    const queue = SqliteJobQueue.open(path, options);
    opened.push(queue);
    return queue;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-queue-'));
    path = join(dir, 'queue.db');
  });

  afterEach(async () => {
    for (const queue of opened.splice(0)) await queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits the sends of one event-loop turn together, and each is on disk when it resolves', async () => {
    // Prepare
    const queue = open();
    const reader = open();
    // Act: 50 sends in one turn, one of them a repeat of another's dedupId.
    const results = await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => queue.send({ groupId: `g${i}`, dedupId: `d${i}`, body: `b${i}` })),
      queue.send({ groupId: 'g0', dedupId: 'd0', body: 'again' }),
    ]);
    const stats = await reader.stats();
    // Assess: another connection sees all 50 (committed), the repeat was dropped.
    expect(results.filter((result) => result.duplicate)).toHaveLength(1);
    expect(results.at(-1)).toEqual({ duplicate: true });
    expect(stats.visible).toBe(50);
  });

  it('under load, holds a commit back one turn so the next turn\'s sends join it', async () => {
    // Prepare: a commit has just ended (a wide window, so a slow test machine still counts as busy).
    const queue = open({ busyWindowMs: 10_000 });
    const reader = open();
    await queue.send({ groupId: 'g0', dedupId: 'd0', body: 'first' });
    let secondDone = false;

    // Act: one send now, another one turn later.
    const second = queue.send({ groupId: 'g1', dedupId: 'd1', body: 'second' }).then((result) => {
      secondDone = true;
      return result;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const stillWaiting = !secondDone;
    const visibleMeanwhile = (await reader.stats()).visible;
    const third = queue.send({ groupId: 'g2', dedupId: 'd2', body: 'third' });
    await Promise.all([second, third]);

    // Assess: the second was not committed alone; both are on disk when they resolve.
    expect(stillWaiting).toBe(true);
    expect(visibleMeanwhile).toBe(1);
    expect((await reader.stats()).visible).toBe(3);
  });

  it('commits a send in its own turn when the queue is idle', async () => {
    // Prepare: the last commit ended well before (default window: 2 ms).
    const queue = open();
    await queue.send({ groupId: 'g0', dedupId: 'd0', body: 'earlier' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    let done = false;

    // Act
    const sent = queue.send({ groupId: 'g1', dedupId: 'd1', body: 'alone' }).then(() => {
      done = true;
    });
    await new Promise((resolve) => setImmediate(resolve));

    // Assess
    expect(done).toBe(true);
    await sent;
  });

  it('keeps the process alive until an awaited send is committed', () => {
    // Prepare: a script whose only pending work is one send.
    const script = `
      const { SqliteJobQueue } = await import(${JSON.stringify(MODULE_URL)});
      const queue = SqliteJobQueue.open(${JSON.stringify(path)});
      const result = await queue.send({ groupId: 'g', dedupId: 'd', body: 'b' });
      process.stdout.write(JSON.stringify(result));
      await queue.close();
    `;
    // Act
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    // Assess
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('{"duplicate":false}');
  });

  it('flushes sends still waiting for their turn when closed', async () => {
    // Prepare
    const queue = SqliteJobQueue.open(path);
    // Act
    const pending = queue.send({ groupId: 'g', dedupId: 'd', body: 'b' });
    await queue.close();
    const reopened = open();
    // Assess
    expect(await pending).toEqual({ duplicate: false });
    expect((await reopened.stats()).visible).toBe(1);
  });

  it('delivers queued and expired in-flight messages after a restart', async () => {
    // Prepare
    const clock = new ManualClock();
    const before = open({ now: clock.now });
    for (const [groupId, body] of [['a', 'a1'], ['a', 'a2'], ['b', 'b1']] as const) {
      await before.send({ groupId, dedupId: body, body });
    }
    await before.receive({ max: 10, visibilityMs: 1_000 });
    await before.close();

    // Act
    clock.advance(1_000);
    const after = open({ now: clock.now });
    const redelivered = await after.receive({ max: 10, visibilityMs: 1_000 });
    for (const delivered of redelivered) await after.ack(delivered.receipt);
    const rest = await after.receive({ max: 10, visibilityMs: 1_000 });

    // Assess
    expect(redelivered.map((m) => [m.body, m.receiveCount])).toEqual([
      ['a1', 2],
      ['b1', 2],
    ]);
    expect(rest.map((m) => [m.body, m.receiveCount])).toEqual([['a2', 1]]);
  });

  it('loses no acknowledged send when the process is killed', async () => {
    // Prepare
    const script = `
      const { SqliteJobQueue } = await import(${JSON.stringify(MODULE_URL)});
      const queue = SqliteJobQueue.open(${JSON.stringify(path)});
      for (let n = 0; n < 100; n += 1) await queue.send({ groupId: 'g' + (n % 10), dedupId: 'd' + n, body: 'm' + n });
      process.stdout.write('sent\\n', () => process.kill(process.pid, 'SIGKILL'));
    `;

    // Act
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });

    // Assess
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('sent\n');
    expect(child.signal).toBe('SIGKILL');
    expect(await open().stats()).toMatchObject({ visible: 100, inFlight: 0, dead: 0 });
  });

  it('never hands one message to two receivers on separate connections', async () => {
    // Prepare
    const seed = open();
    for (let n = 0; n < 200; n += 1) await seed.send({ groupId: `g${n % 40}`, dedupId: `d${n}`, body: `m${n}` });
    const workerSource = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const { SqliteJobQueue } = await import(workerData.moduleUrl);
        const queue = SqliteJobQueue.open(workerData.path);
        const bodies = [];
        for (;;) {
          const batch = await queue.receive({ max: 3, visibilityMs: 60000 });
          for (const m of batch) { bodies.push(m.body); await queue.ack(m.receipt); }
          if (batch.length === 0) {
            const stats = await queue.stats();
            if (stats.visible + stats.inFlight === 0) break;
          }
        }
        await queue.close();
        parentPort.postMessage(bodies);
      })();
    `;

    // Act
    const perWorker = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<string[]>((resolve, reject) => {
            const worker = new Worker(workerSource, { eval: true, workerData: { moduleUrl: MODULE_URL, path } });
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );

    // Assess
    const all = perWorker.flat();
    expect(all).toHaveLength(200);
    expect(new Set(all).size).toBe(200);
  });

  it('never hands one message to two concurrent receives in one process', async () => {
    // Prepare
    const first = open();
    const second = open();
    for (let n = 0; n < 30; n += 1) await first.send({ groupId: `g${n}`, dedupId: `d${n}`, body: `m${n}` });

    // Act
    const batches = await Promise.all(
      Array.from({ length: 10 }, (_, n) => (n % 2 ? first : second).receive({ max: 4, visibilityMs: 60_000, waitMs: 50 })),
    );

    // Assess
    const ids = batches.flat().map((m) => m.messageId);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
  });

  it('ignores an ack with the receipt of an earlier delivery', async () => {
    // Prepare
    const clock = new ManualClock();
    const queue = open({ now: clock.now });
    await queue.send({ groupId: 'g', dedupId: 'd', body: 'job' });
    const [first] = await queue.receive({ max: 1, visibilityMs: 1_000 });
    clock.advance(1_000);
    const [second] = await queue.receive({ max: 1, visibilityMs: 1_000 });

    // Act
    await queue.ack(first!.receipt);
    await queue.retry(first!.receipt, 0);

    // Assess
    expect(second?.receiveCount).toBe(2);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 1, dead: 0 });
    await queue.ack(second!.receipt);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 0, dead: 0 });
  });

  it('keeps a group blocked while a retried message waits out its delay', async () => {
    // Prepare
    const clock = new ManualClock();
    const queue = open({ now: clock.now });
    await queue.send({ groupId: 'g', dedupId: 'd1', body: 'first' });
    await queue.send({ groupId: 'g', dedupId: 'd2', body: 'second' });
    const [first] = await queue.receive({ max: 1, visibilityMs: 60_000 });

    // Act
    await queue.retry(first!.receipt, 5_000);
    clock.advance(4_999);
    const during = await queue.receive({ max: 10, visibilityMs: 60_000 });
    clock.advance(1);
    const after = await queue.receive({ max: 10, visibilityMs: 60_000 });

    // Assess
    expect(during).toEqual([]);
    expect(after.map((m) => [m.body, m.receiveCount])).toEqual([['first', 2]]);
  });

  it('dead-letters a message on the receive after its last allowed one', async () => {
    // Prepare
    const queue = open({ maxReceives: 3 });
    await queue.send({ groupId: 'g', dedupId: 'd', body: 'poison' });
    const counts: number[] = [];
    for (let n = 0; n < 3; n += 1) {
      const [delivered] = await queue.receive({ max: 1, visibilityMs: 60_000 });
      counts.push(delivered!.receiveCount);
      await queue.retry(delivered!.receipt, 0);
    }

    // Act
    const fourth = await queue.receive({ max: 1, visibilityMs: 60_000 });

    // Assess
    expect(counts).toEqual([1, 2, 3]);
    expect(fourth).toEqual([]);
    expect(await queue.deadLetters(10)).toMatchObject([{ groupId: 'g', dedupId: 'd', body: 'poison', receiveCount: 3 }]);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 0, dead: 1 });
  });

  it('delivers the next message of a group in the same receive that dead-letters its head', async () => {
    // Prepare
    const queue = open({ maxReceives: 1 });
    await queue.send({ groupId: 'g', dedupId: 'd1', body: 'poison' });
    await queue.send({ groupId: 'g', dedupId: 'd2', body: 'next' });
    await queue.send({ groupId: 'h', dedupId: 'd3', body: 'other' });
    const [poison] = await queue.receive({ max: 1, visibilityMs: 60_000 });
    await queue.retry(poison!.receipt, 0);

    // Act
    const received = await queue.receive({ max: 10, visibilityMs: 60_000 });

    // Assess
    expect(received.map((m) => m.body)).toEqual(['next', 'other']);
    expect((await queue.deadLetters(10)).map((m) => m.body)).toEqual(['poison']);
  });

  it('finds the heads behind a long blocked group and keeps that group in order', async () => {
    // Prepare: 500 messages of one group, its head in flight, then two other groups.
    const queue = open();
    for (let n = 0; n < 500; n += 1) await queue.send({ groupId: 'busy', dedupId: `b${n}`, body: `busy-${n}` });
    await queue.send({ groupId: 'x', dedupId: 'x', body: 'x-0' });
    await queue.send({ groupId: 'y', dedupId: 'y', body: 'y-0' });
    const [head] = await queue.receive({ max: 1, visibilityMs: 60_000 });

    // Act
    const others = await queue.receive({ max: 10, visibilityMs: 60_000 });
    await queue.ack(head!.receipt);
    const next = await queue.receive({ max: 10, visibilityMs: 60_000 });

    // Assess
    expect(head?.body).toBe('busy-0');
    expect(others.map((m) => m.body)).toEqual(['x-0', 'y-0']);
    expect(next.map((m) => m.body)).toEqual(['busy-1']);
  });

  it('ignores an ack or retry with a handle it never issued', async () => {
    // Prepare
    const queue = open();
    await queue.send({ groupId: 'g', dedupId: 'd', body: 'job' });
    const [delivered] = await queue.receive({ max: 1, visibilityMs: 60_000 });
    const seq = delivered!.receipt.split('.')[0];

    // Act
    for (const handle of ['', 'nonsense', `${seq}`, `${seq}.`, `${seq}.forged`, `dead:${seq}`, `-1.x`, `1e3.x`, '99999999999999999999.x']) {
      await queue.ack(handle);
      await queue.retry(handle, 0);
    }

    // Assess
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 1, dead: 0 });
  });

  it('keeps no index on the message table, so a send writes no randomly placed page', async () => {
    // Prepare
    await open().close();
    const db = new DatabaseSync(path);

    // Act
    const indexes = db.prepare("SELECT name FROM pragma_index_list('messages')").all();
    db.close();

    // Assess: the rowid (send order) is the only key; heads are found by a scan, acks by seq.
    expect(indexes).toEqual([]);
  });

  it('moves messages of a version 1 file to the new table without reusing a message id', async () => {
    // Prepare: a file at schema version 1, one message queued, the sequence past it (deleted rows).
    const db = new DatabaseSync(path);
    migrate(db, { ...QUEUE_SCHEMA, migrations: QUEUE_SCHEMA.migrations.slice(0, 1) });
    db.exec(`INSERT INTO messages (seq, id, group_id, dedup_id, body, sent_at, visible_at, receive_count, receipt)
             VALUES (7, 'old-uuid', 'g', 'd-old', 'queued before the upgrade', 1, 1, 1, 'old-receipt')`);
    db.exec("UPDATE sqlite_sequence SET seq = 40 WHERE name = 'messages'");
    db.close();

    // Act
    const queue = open();
    await queue.send({ groupId: 'h', dedupId: 'd-new', body: 'sent after' });
    const received = await queue.receive({ max: 10, visibilityMs: 60_000 });

    // Assess
    expect(received.map((m) => [m.messageId, m.body, m.receiveCount])).toEqual([
      ['7', 'queued before the upgrade', 2],
      ['41', 'sent after', 1],
    ]);
  });

  it('accepts a send with a dedupId again once the window has passed', async () => {
    // Prepare
    const clock = new ManualClock();
    const queue = open({ now: clock.now, dedupWindowMs: 10_000 });
    const first = await queue.send({ groupId: 'g', dedupId: 'd', body: 'one' });
    clock.advance(9_999);
    const inside = await queue.send({ groupId: 'g', dedupId: 'd', body: 'two' });

    // Act
    clock.advance(1);
    const outside = await queue.send({ groupId: 'g', dedupId: 'd', body: 'three' });

    // Assess
    expect([first.duplicate, inside.duplicate, outside.duplicate]).toEqual([false, true, false]);
    expect(await queue.stats()).toMatchObject({ visible: 2 });
  });

  it('accepts a body of exactly 256 KiB', async () => {
    // Prepare
    const queue = open();
    const body = 'x'.repeat(MAX_BODY_BYTES);

    // Act
    await queue.send({ groupId: 'g', dedupId: 'd', body });

    // Assess
    const [delivered] = await queue.receive({ max: 1, visibilityMs: 1_000 });
    expect(delivered?.body).toBe(body);
  });

  it('answers a long poll as soon as a message is sent', async () => {
    // Prepare
    const queue = open();
    const started = performance.now();
    const polling = queue.receive({ max: 1, visibilityMs: 1_000, waitMs: 10_000 });

    // Act
    setTimeout(() => void queue.send({ groupId: 'g', dedupId: 'd', body: 'wake' }), 20);
    const received: ReceivedMessage[] = await polling;

    // Assess
    expect(received.map((m) => m.body)).toEqual(['wake']);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('answers a long poll when another connection sends', async () => {
    // Prepare
    const receiver = open();
    const sender = open();
    const polling = receiver.receive({ max: 1, visibilityMs: 1_000, waitMs: 10_000 });

    // Act
    setTimeout(() => void sender.send({ groupId: 'g', dedupId: 'd', body: 'elsewhere' }), 20);
    const received = await polling;

    // Assess
    expect(received.map((m) => m.body)).toEqual(['elsewhere']);
  });

  it('ends a pending long poll empty when closed', async () => {
    // Prepare
    const queue = SqliteJobQueue.open(path);
    const polling = queue.receive({ max: 1, visibilityMs: 1_000, waitMs: 10_000 });

    // Act
    await queue.close();

    // Assess
    expect(await polling).toEqual([]);
    await expect(queue.send({ groupId: 'g', dedupId: 'd', body: 'late' })).rejects.toBeInstanceOf(QueueUnavailableError);
  });

  it('refuses to open a state store file as a queue', async () => {
    // Prepare
    await SqliteStateStore.open(path).close();

    // Act
    const attempt = () => SqliteJobQueue.open(path);

    // Assess
    expect(attempt).toThrow(DatabaseSchemaError);
  });
});

describe('SqliteJobQueue: oldest message', () => {
  it('reports the age of the oldest message not yet done, and none when empty', async () => {
    // Prepare
    let now = 1_800_000_000_000;
    const queue = SqliteJobQueue.open(':memory:', { now: () => now });
    try {
      const empty = await queue.stats();
      await queue.send({ groupId: 'g-1', dedupId: 'd-1', body: '{}' });
      now += 5_000;
      await queue.send({ groupId: 'g-2', dedupId: 'd-2', body: '{}' });
      now += 2_000;

      // Act
      const waiting = await queue.stats();

      // Assess
      expect(empty.oldestAgeMs).toBeUndefined();
      expect(waiting).toEqual({ visible: 2, inFlight: 0, dead: 0, oldestAgeMs: 7_000 });
    } finally {
      await queue.close();
    }
  });
});
