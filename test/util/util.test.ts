import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../lib/util/retry-after.ts';
import { SerialLock } from '../../lib/util/serial-lock.ts';
import { sleep } from '../../lib/util/sleep.ts';

describe('SerialLock', () => {
  it('runs tasks one at a time, in call order, even when one fails', async () => {
    // Prepare
    const lock = new SerialLock();
    const events: string[] = [];
    const task = (name: string, fail = false) => async () => {
      events.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    // Act
    const results = await Promise.allSettled([lock.run(task('a')), lock.run(task('b', true)), lock.run(task('c'))]);
    // Assess
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('lets a waiting caller give up when its signal aborts, without running its task', async () => {
    // Prepare
    const lock = new SerialLock();
    let release!: () => void;
    const first = lock.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    let ran = false;
    // Act
    const second = lock.run(async () => {
      ran = true;
    }, controller.signal);
    controller.abort(new Error('gave up'));
    // Assess
    await expect(second).rejects.toThrow('gave up');
    release();
    await first;
    expect(ran).toBe(false);
  });
});

describe('sleep', () => {
  it('waits, and rejects with the reason as soon as the signal aborts', async () => {
    await expect(sleep(1, new AbortController().signal)).resolves.toBeUndefined();
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, never negative, undefined when unreadable', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter(' 7 ', now)).toBe(7_000);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
