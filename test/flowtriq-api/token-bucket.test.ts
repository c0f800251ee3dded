import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../lib/flowtriq-api/token-bucket.ts';

describe('TokenBucket', () => {
  it('allows a full burst, then says how long until the next token', () => {
    // Prepare
    let clock = 0;
    const bucket = new TokenBucket({ capacity: 1000, intervalMs: 60_000, now: () => clock });

    // Act
    const burst = Array.from({ length: 1000 }, () => bucket.take().ok);
    const refused = bucket.take();

    // Assess
    expect(burst.every(Boolean)).toBe(true);
    expect(refused).toEqual({ ok: false, retryAfterMs: 60 });
  });

  it('refills continuously and never beyond its capacity', () => {
    // Prepare
    let clock = 0;
    const bucket = new TokenBucket({ capacity: 2, intervalMs: 60_000, now: () => clock });
    bucket.take();
    bucket.take();

    // Act
    clock += 30_000;
    const afterHalfInterval = [bucket.take().ok, bucket.take().ok];
    clock += 10 * 60_000;
    const afterLongIdle = [bucket.take().ok, bucket.take().ok, bucket.take().ok];

    // Assess
    expect(afterHalfInterval).toEqual([true, false]);
    expect(afterLongIdle).toEqual([true, true, false]);
  });

  it('ignores a clock that goes backwards', () => {
    // Prepare
    let clock = 100_000;
    const bucket = new TokenBucket({ capacity: 1, intervalMs: 60_000, now: () => clock });
    bucket.take();

    // Act
    clock = 0;
    const result = bucket.take();

    // Assess
    expect(result).toEqual({ ok: false, retryAfterMs: 60_000 });
  });

  it('rejects a capacity below one', () => {
    // Act
    const act = () => new TokenBucket({ capacity: 0, intervalMs: 60_000 });

    // Assess
    expect(act).toThrow(RangeError);
  });
});
