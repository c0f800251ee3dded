/**
 * The behaviour every JobQueue adapter must show, as a reusable vitest suite.
 *
 * It must also pass against Amazon SQS FIFO semantics (an emulator), so:
 * visibility timeouts are whole seconds, receives long-poll with patience
 * instead of exact timing, assertions are on what is received and in which
 * order (never on elapsed time), and de-duplication is judged by delivery,
 * not by `send`'s return value (SQS cannot tell).
 *
 * The factory must hand every test its own, empty queue (receives and stats
 * see the whole queue); ids are unique per test all the same.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageTooLargeError } from '../../lib/queue/errors.ts';
import type { JobQueue, OutgoingMessage, ReceivedMessage } from '../../lib/queue/types.ts';

/** What the factory hands to each test; `cleanup` must also close the queue. */
export interface JobQueueHarness {
  queue: JobQueue;
  cleanup(): Promise<void>;
}

/** Shortest visibility SQS supports exactly (it counts whole seconds). */
const SHORT_VISIBILITY_MS = 1_000;
/** Long enough that nothing reappears during a test. */
const LONG_VISIBILITY_MS = 60_000;
/** Long-poll time per receive call. */
const POLL_MS = 1_000;
/** How long a test keeps receiving before it gives up waiting for a message. */
const PATIENCE_MS = 10_000;
const DEFAULT_MAX_RECEIVES = 5;
const LIMIT_BYTES = 256 * 1024;

function uid(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

function message(groupId: string, body: string, dedupId = uid('dedup')): OutgoingMessage {
  return { groupId, dedupId, body };
}

/** Sends messages one after another (send order is what FIFO preserves). */
async function sendAll(queue: JobQueue, messages: OutgoingMessage[]): Promise<void> {
  for (const outgoing of messages) await queue.send(outgoing);
}

interface ReceiveUntilOptions {
  visibilityMs: number;
  /** Ack each message as it arrives (default true). */
  ack?: boolean;
  max?: number;
}

/**
 * Keeps receiving until `done(received)` holds or patience runs out, and
 * returns everything received in order of arrival.
 */
async function receiveUntil(
  queue: JobQueue,
  done: (received: ReceivedMessage[]) => boolean,
  options: ReceiveUntilOptions,
): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  const giveUpAt = Date.now() + PATIENCE_MS;
  while (!done(received) && Date.now() < giveUpAt) {
    const batch = await queue.receive({ max: options.max ?? 10, visibilityMs: options.visibilityMs, waitMs: POLL_MS });
    for (const delivered of batch) {
      received.push(delivered);
      if (options.ack ?? true) await queue.ack(delivered.receipt);
    }
  }
  return received;
}

/** Receives until a message with this body arrives, without acking; returns it (undefined on timeout). */
async function receiveBody(queue: JobQueue, body: string, visibilityMs: number): Promise<ReceivedMessage | undefined> {
  const received = await receiveUntil(queue, (seen) => seen.some((m) => m.body === body), { visibilityMs, ack: false });
  return received.find((m) => m.body === body);
}

function bodies(messages: ReceivedMessage[]): string[] {
  return messages.map((m) => m.body);
}

/** Registers the JobQueue contract suite for one adapter. */
export function jobQueueContract(
  name: string,
  factory: (options: { maxReceives: number }) => Promise<JobQueueHarness>,
): void {
  describe(`JobQueue contract: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function openQueue(maxReceives = DEFAULT_MAX_RECEIVES): Promise<JobQueue> {
      const harness = await factory({ maxReceives });
      cleanups.push(() => harness.cleanup());
      return harness.queue;
    }

    it('delivers the messages of a group in send order', async () => {
      // Prepare
      const queue = await openQueue();
      const group = uid('incident');
      const sent = ['started', 'update-1', 'update-2', 'update-3', 'ended'];
      await sendAll(queue, sent.map((body) => message(group, body)));

      // Act
      const received = await receiveUntil(queue, (seen) => seen.length >= sent.length, { visibilityMs: LONG_VISIBILITY_MS });

      // Assess
      expect(bodies(received)).toEqual(sent);
      expect(received.every((m) => m.groupId === group && m.receiveCount === 1)).toBe(true);
    });

    it('keeps send order within each of several interleaved groups', async () => {
      // Prepare
      const queue = await openQueue();
      const [a, b] = [uid('incident'), uid('incident')];
      await sendAll(queue, [message(a, 'a1'), message(b, 'b1'), message(a, 'a2'), message(b, 'b2'), message(a, 'a3')]);

      // Act
      const received = await receiveUntil(queue, (seen) => seen.length >= 5, { visibilityMs: LONG_VISIBILITY_MS });

      // Assess
      expect(bodies(received.filter((m) => m.groupId === a))).toEqual(['a1', 'a2', 'a3']);
      expect(bodies(received.filter((m) => m.groupId === b))).toEqual(['b1', 'b2']);
    });

    it('delivers other groups but nothing more of a group while one of its messages is in flight', async () => {
      // Prepare
      const queue = await openQueue();
      const [busy, free] = [uid('incident'), uid('incident')];
      await sendAll(queue, [message(busy, 'busy-1'), message(busy, 'busy-2')]);
      const [inFlight] = await receiveUntil(queue, (seen) => seen.length > 0, { visibilityMs: LONG_VISIBILITY_MS, ack: false, max: 1 });
      await queue.send(message(free, 'free-1'));

      // Act
      const meanwhile = await receiveUntil(queue, (seen) => seen.some((m) => m.body === 'free-1'), {
        visibilityMs: LONG_VISIBILITY_MS,
      });

      // Assess
      expect(inFlight?.body).toBe('busy-1');
      expect(bodies(meanwhile)).toEqual(['free-1']);
    });

    it('delivers the next message of a group once the one in flight is acked', async () => {
      // Prepare
      const queue = await openQueue();
      const group = uid('incident');
      await sendAll(queue, [message(group, 'first'), message(group, 'second')]);
      const [first] = await receiveUntil(queue, (seen) => seen.length > 0, { visibilityMs: LONG_VISIBILITY_MS, ack: false, max: 1 });

      // Act
      await queue.ack(first!.receipt);
      const next = await receiveUntil(queue, (seen) => seen.length > 0, { visibilityMs: LONG_VISIBILITY_MS });

      // Assess
      expect(first?.body).toBe('first');
      expect(bodies(next)).toEqual(['second']);
    });

    it('drops a second send with the same dedupId', async () => {
      // Prepare
      const queue = await openQueue();
      const group = uid('incident');
      const dedupId = uid('event');

      // Act
      const original = await queue.send(message(group, 'original', dedupId));
      const repeat = await queue.send(message(group, 'repeat', dedupId));
      await queue.send(message(group, 'sentinel'));
      const received = await receiveUntil(queue, (seen) => seen.some((m) => m.body === 'sentinel'), {
        visibilityMs: LONG_VISIBILITY_MS,
      });

      // Assess
      expect(bodies(received)).toEqual(['original', 'sentinel']);
      expect(received[0]?.dedupId).toBe(dedupId);
      expect(original.duplicate).not.toBe(true);
      expect(repeat.duplicate).not.toBe(false);
    });

    it('removes an acked message for good', async () => {
      // Prepare
      const queue = await openQueue();
      const group = uid('incident');
      await queue.send(message(group, 'done'));
      const delivered = await receiveBody(queue, 'done', SHORT_VISIBILITY_MS);

      // Act
      await queue.ack(delivered!.receipt);
      await queue.send(message(group, 'after'));
      // Were 'done' still queued, it would be redelivered (head of its group) once its visibility ran out.
      const later = await receiveUntil(queue, (seen) => seen.some((m) => m.body === 'after'), { visibilityMs: LONG_VISIBILITY_MS });

      // Assess
      expect(bodies(later)).toEqual(['after']);
    });

    it('delivers a message again with receiveCount 2 when its visibility runs out', async () => {
      // Prepare
      const queue = await openQueue();
      const group = uid('incident');
      await queue.send(message(group, 'slow'));
      const first = await receiveBody(queue, 'slow', SHORT_VISIBILITY_MS);

      // Act
      const again = await receiveBody(queue, 'slow', LONG_VISIBILITY_MS);

      // Assess
      expect(first?.receiveCount).toBe(1);
      expect(again).toMatchObject({ messageId: first?.messageId, groupId: group, body: 'slow', receiveCount: 2 });
    });

    it('redelivers a message retried with no delay', async () => {
      // Prepare
      const queue = await openQueue();
      const group = uid('incident');
      await queue.send(message(group, 'flaky'));
      const first = await receiveBody(queue, 'flaky', LONG_VISIBILITY_MS);

      // Act
      await queue.retry(first!.receipt, 0);
      const again = await receiveBody(queue, 'flaky', LONG_VISIBILITY_MS);

      // Assess
      expect(again).toMatchObject({ messageId: first?.messageId, body: 'flaky', receiveCount: 2 });
    });

    it('hands out a new receipt for every delivery', async () => {
      // Prepare
      const queue = await openQueue();
      const groups = [uid('incident'), uid('incident'), uid('incident')];
      await sendAll(queue, groups.map((group, n) => message(group, `m${n}`)));
      const firstRound = await receiveUntil(queue, (seen) => seen.length >= 3, { visibilityMs: LONG_VISIBILITY_MS, ack: false });

      // Act
      for (const delivered of firstRound) await queue.retry(delivered.receipt, 0);
      const secondRound = await receiveUntil(queue, (seen) => seen.length >= 3, { visibilityMs: LONG_VISIBILITY_MS, ack: false });

      // Assess
      const receipts = [...firstRound, ...secondRound].map((m) => m.receipt);
      expect(receipts).toHaveLength(6);
      expect(new Set(receipts).size).toBe(6);
      expect(new Set(secondRound.map((m) => m.messageId))).toEqual(new Set(firstRound.map((m) => m.messageId)));
    });

    it('moves a message to the dead letters after maxReceives receives', async () => {
      // Prepare
      const queue = await openQueue(2);
      const group = uid('incident');
      await sendAll(queue, [message(group, 'poison'), message(group, 'next')]);
      const counts: number[] = [];
      for (let n = 0; n < 2; n += 1) {
        const delivered = await receiveBody(queue, 'poison', LONG_VISIBILITY_MS);
        counts.push(delivered?.receiveCount ?? 0);
        await queue.retry(delivered!.receipt, 0);
      }

      // Act
      const after = await receiveUntil(queue, (seen) => seen.some((m) => m.body === 'next'), { visibilityMs: LONG_VISIBILITY_MS });
      let dead: ReceivedMessage[] = [];
      const giveUpAt = Date.now() + PATIENCE_MS;
      while (!dead.some((m) => m.body === 'poison') && Date.now() < giveUpAt) {
        dead = await queue.deadLetters(10);
        if (!dead.some((m) => m.body === 'poison')) await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // Assess
      expect(counts).toEqual([1, 2]);
      expect(bodies(after)).toEqual(['next']);
      expect(dead.filter((m) => m.body === 'poison')).toMatchObject([{ groupId: group, body: 'poison' }]);
      expect((await queue.stats()).dead).toBe(1);
    });

    it('reports visible, in-flight and dead counts', async () => {
      // Prepare
      const queue = await openQueue();
      await sendAll(queue, [message(uid('incident'), 'one'), message(uid('incident'), 'two'), message(uid('incident'), 'three')]);
      const before = await queue.stats();

      // Act
      await receiveUntil(queue, (seen) => seen.length > 0, { visibilityMs: LONG_VISIBILITY_MS, ack: false, max: 1 });
      const during = await queue.stats();

      // Assess: the counts; the oldest message's age where the engine can tell it (SQLite; SQS has it only as a CloudWatch metric).
      expect(before).toMatchObject({ visible: 3, inFlight: 0, dead: 0 });
      expect(during).toMatchObject({ visible: 2, inFlight: 1, dead: 0 });
      for (const stats of [before, during]) {
        expect(Object.keys(stats).filter((key) => !['visible', 'inFlight', 'dead'].includes(key))).toEqual(stats.oldestAgeMs === undefined ? [] : ['oldestAgeMs']);
        if (stats.oldestAgeMs !== undefined) expect(stats.oldestAgeMs).toBeGreaterThanOrEqual(0);
      }
    });

    it('rejects a body larger than 256 KiB and queues nothing', async () => {
      // Prepare
      const queue = await openQueue();
      const group = uid('incident');

      // Act
      const ascii = queue.send(message(group, 'x'.repeat(LIMIT_BYTES + 1)));
      // Fewer characters than the limit, but two UTF-8 bytes each.
      const multiByte = queue.send(message(group, 'é'.repeat(LIMIT_BYTES / 2 + 1)));

      // Assess
      await expect(ascii).rejects.toBeInstanceOf(MessageTooLargeError);
      await expect(multiByte).rejects.toMatchObject({ code: 'message_too_large', bytes: LIMIT_BYTES + 2, limit: LIMIT_BYTES });
      expect(await queue.stats()).toEqual({ visible: 0, inFlight: 0, dead: 0 });
    });

    it('round-trips a large body unchanged', async () => {
      // Prepare
      const queue = await openQueue();
      const body = JSON.stringify({ ips: Array.from({ length: 5_000 }, (_, n) => `10.0.${n >> 8}.${n & 255}`), note: 'Ünïcödé ✓' });

      // Act
      await queue.send(message(uid('incident'), body));
      const delivered = await receiveBody(queue, body, LONG_VISIBILITY_MS);

      // Assess
      expect(delivered?.body).toBe(body);
    });
  });
}
