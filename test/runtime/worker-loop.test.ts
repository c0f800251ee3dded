import { afterEach, describe, expect, it } from 'vitest';
import { PoisonJobError, RetryableJobError } from '../../lib/engine/errors.ts';
import { decodeJob } from '../../lib/engine/job.ts';
import { SqliteJobQueue } from '../../lib/queue/sqlite.ts';
import type { ReceivedMessage } from '../../lib/queue/types.ts';
import { WorkerLoop, type WorkerLoopOptions } from '../../lib/runtime/worker-loop.ts';
import { ManualClock } from '../helpers/clock.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

/** Polls `condition` every 5 ms for at most `timeoutMs` (real time). */
async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise a test opens by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Tracks whether a promise has settled yet. */
function track(promise: Promise<unknown>) {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

const running: { loop: WorkerLoop; queue: SqliteJobQueue; release: () => void }[] = [];

afterEach(async () => {
  for (const { loop, queue, release } of running.splice(0)) {
    release();
    await loop.stop();
    await queue.close();
  }
});

/** A real in-memory queue on a manual clock and a loop over it (not started). */
function setup(handle: WorkerLoopOptions['handle'], options: { concurrency?: number; release?: () => void } = {}) {
  const clock = new ManualClock();
  const queue = SqliteJobQueue.open(':memory:', { now: clock.now, pollIntervalMs: 5 });
  const logger = new RecordingLogger();
  const loop = new WorkerLoop({
    queue,
    handle,
    logger,
    pollWaitMs: 10,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
  });
  running.push({ loop, queue, release: options.release ?? (() => undefined) });
  const send = async (count: number, groups: 'distinct' | 'same' = 'distinct') => {
    for (let index = 0; index < count; index += 1) {
      await queue.send({ groupId: groups === 'same' ? 'g' : `g${index}`, dedupId: `d${index}`, body: `job-${index}` });
    }
  };
  return { clock, queue, logger, loop, send };
}

describe('WorkerLoop', () => {
  it('hands every message to the handler and acks it', async () => {
    // Prepare
    const handled: string[] = [];
    const { queue, loop, send } = setup(async (message) => {
      handled.push(message.body);
    });
    await send(5);
    // Act
    loop.start();
    await loop.idle(2_000);
    // Assess
    expect(handled.sort()).toEqual(['job-0', 'job-1', 'job-2', 'job-3', 'job-4']);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 0, dead: 0 });
  });

  it('starts only once when start() is called twice (still one handler at a time with concurrency 1)', async () => {
    // Prepare
    let active = 0;
    let maxActive = 0;
    let done = 0;
    const { loop, send } = setup(
      async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(10);
        active -= 1;
        done += 1;
      },
      { concurrency: 1 },
    );
    await send(4);
    // Act
    loop.start();
    loop.start();
    await loop.idle(2_000);
    // Assess
    expect(done).toBe(4);
    expect(maxActive).toBe(1);
  });

  it('retries a failed job later with exponential backoff until it succeeds', async () => {
    // Prepare
    const receiveCounts: number[] = [];
    const { clock, queue, logger, loop, send } = setup(async (message) => {
      receiveCounts.push(message.receiveCount);
      if (message.receiveCount < 3) throw new Error('device busy');
    });
    await send(1);
    // Act
    loop.start();
    await waitFor(() => logger.lines.some((line) => line.level === 'warn'));
    const afterFirstFailure = await queue.stats();
    clock.advance(1_000);
    await waitFor(() => logger.lines.filter((line) => line.level === 'warn').length === 2);
    clock.advance(2_000);
    await loop.idle(2_000);
    // Assess
    expect(afterFirstFailure).toMatchObject({ visible: 0, inFlight: 1, dead: 0 });
    expect(receiveCounts).toEqual([1, 2, 3]);
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    expect(warnings.map((line) => line.message)).toEqual(['job failed; it will be retried', 'job failed; it will be retried']);
    expect(warnings.map((line) => line.attributes)).toMatchObject([
      { group: 'g0', receiveCount: 1, retryInMs: 1_000, error: 'Error: device busy' },
      { group: 'g0', receiveCount: 2, retryInMs: 2_000, error: 'Error: device busy' },
    ]);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 0, dead: 0 });
  });

  it('does not redeliver a failed job before its backoff has passed', async () => {
    // Prepare
    let calls = 0;
    const { clock, logger, loop, send } = setup(async () => {
      calls += 1;
      if (calls === 1) throw new Error('transient');
    });
    await send(1);
    loop.start();
    await waitFor(() => logger.lines.some((line) => line.level === 'warn'));
    // Act
    clock.advance(999);
    await sleep(80);
    const callsBeforeBackoff = calls;
    clock.advance(1);
    await loop.idle(2_000);
    // Assess
    expect(callsBeforeBackoff).toBe(1);
    expect(calls).toBe(2);
  });

  it('acks a poison job (it is gone, not dead-lettered) and logs it as an error', async () => {
    // Prepare
    let calls = 0;
    const { queue, logger, loop } = setup(async (message: ReceivedMessage) => {
      calls += 1;
      return decodeJob(message.body);
    });
    await queue.send({ groupId: 'g', dedupId: 'd', body: 'this is not json' });
    // Act
    loop.start();
    await loop.idle(2_000);
    // Assess
    expect(calls).toBe(1);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 0, dead: 0 });
    const errors = logger.lines.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      message: 'dropping a job that can never succeed',
      attributes: { error: 'job body is not JSON' },
    });
    expect(errors[0]!.attributes.messageId).toEqual(expect.any(String));
    expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(0);
  });

  it('keeps processing other jobs after a poison job', async () => {
    // Prepare
    const handled: string[] = [];
    const { loop, send } = setup(async (message) => {
      if (message.body === 'job-0') throw new PoisonJobError('bad body');
      handled.push(message.body);
    });
    await send(3, 'same');
    // Act
    loop.start();
    await loop.idle(2_000);
    // Assess
    expect(handled).toEqual(['job-1', 'job-2']);
  });

  it('waits exactly the delay a RetryableJobError asks for', async () => {
    // Prepare
    let calls = 0;
    const { clock, queue, logger, loop, send } = setup(async () => {
      calls += 1;
      if (calls === 1) throw new RetryableJobError('rate limited', 5_000);
    });
    await send(1);
    loop.start();
    await waitFor(() => logger.lines.some((line) => line.level === 'warn'));
    // Act
    clock.advance(4_999);
    await sleep(80);
    const callsJustBefore = calls;
    const statsJustBefore = await queue.stats();
    clock.advance(1);
    await loop.idle(2_000);
    // Assess
    expect(callsJustBefore).toBe(1);
    expect(statsJustBefore).toMatchObject({ visible: 0, inFlight: 1, dead: 0 });
    expect(calls).toBe(2);
    expect(logger.lines.find((line) => line.level === 'warn')?.attributes).toMatchObject({
      retryInMs: 5_000,
      error: 'RetryableJobError: rate limited',
    });
  });

  it.each([1, 3])('never runs more than concurrency=%i handlers at once, and uses all of them', async (concurrency) => {
    // Prepare
    let active = 0;
    let maxActive = 0;
    let done = 0;
    const { loop, send } = setup(
      async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(15);
        active -= 1;
        done += 1;
      },
      { concurrency },
    );
    await send(9);
    // Act
    loop.start();
    await loop.idle(2_000);
    // Assess
    expect(done).toBe(9);
    expect(maxActive).toBe(concurrency);
  });

  it('stop() waits for in-flight jobs to finish and be acked', async () => {
    // Prepare — fewer jobs than the concurrency, so the loop itself is free to stop at once
    const release = gate();
    let started = 0;
    let finished = 0;
    const { queue, loop, send } = setup(
      async () => {
        started += 1;
        await release.opened;
        finished += 1;
      },
      { concurrency: 4, release: release.open },
    );
    await send(2);
    loop.start();
    await waitFor(() => started === 2);
    // Act
    const stopping = loop.stop();
    const stopState = track(stopping);
    await sleep(60);
    const settledWhileInFlight = stopState.settled;
    release.open();
    await stopping;
    // Assess
    expect(settledWhileInFlight).toBe(false);
    expect(finished).toBe(2);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 0, dead: 0 });
  });

  it('receives nothing more after stop()', async () => {
    // Prepare
    const handled: string[] = [];
    const { queue, loop, send } = setup(async (message) => {
      handled.push(message.body);
    });
    loop.start();
    await loop.stop();
    // Act
    await send(1);
    await sleep(60);
    // Assess
    expect(handled).toEqual([]);
    expect(await queue.stats()).toMatchObject({ visible: 1, inFlight: 0, dead: 0 });
  });

  it('idle() resolves only once in-flight work is done and the queue is drained', async () => {
    // Prepare
    const release = gate();
    let finished = 0;
    const { queue, loop, send } = setup(
      async () => {
        await release.opened;
        finished += 1;
      },
      { release: release.open },
    );
    await send(2, 'same');
    loop.start();
    // Act
    const idle = loop.idle(2_000);
    const idleState = track(idle);
    await sleep(60);
    const settledWhileBusy = idleState.settled;
    release.open();
    await idle;
    // Assess
    expect(settledWhileBusy).toBe(false);
    expect(finished).toBe(2);
    expect(await queue.stats()).toMatchObject({ visible: 0, inFlight: 0, dead: 0 });
  });

  it('idle() rejects when the queue is not drained in time', async () => {
    // Prepare — the loop is never started, so the message stays waiting
    const { loop, send } = setup(async () => undefined);
    await send(1);
    // Act
    const idle = loop.idle(60);
    // Assess
    await expect(idle).rejects.toThrow('worker loop did not become idle in time');
  });
});
