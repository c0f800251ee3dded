import { describe, expect, it } from 'vitest';
import { RetryableCall, withRetries } from '../../lib/providers/api-retry.ts';
import { ProviderError } from '../../lib/providers/errors.ts';

function clock() {
  let now = 1_000_000;
  const waits: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
    waits,
  };
}

describe('withRetries', () => {
  it('tries again after a retryable failure with jittered exponential backoff, then returns the result', async () => {
    // Prepare
    const c = clock();
    let calls = 0;
    // Act
    const result = await withRetries(
      async () => {
        calls += 1;
        if (calls < 4) throw new RetryableCall('HTTP 503');
        return 'ok';
      },
      { deadline: c.now() + 60_000, signal: new AbortController().signal, now: c.now, sleep: c.sleep, random: () => 0.5, label: 'api' },
    );
    // Assess
    expect(result).toBe('ok');
    expect(c.waits).toEqual([250, 500, 1000]);
  });

  it('never waits less than the Retry-After the API gave', async () => {
    const c = clock();
    let calls = 0;
    await withRetries(
      async () => {
        calls += 1;
        if (calls === 1) throw new RetryableCall('HTTP 429', { retryAfterMs: 7_000, status: 429 });
        return 'ok';
      },
      { deadline: c.now() + 60_000, signal: new AbortController().signal, now: c.now, sleep: c.sleep, random: () => 0.1, label: 'api' },
    );
    expect(c.waits).toEqual([7_000]);
  });

  it('stops at once on a failure that is not retryable', async () => {
    const c = clock();
    const failure = new ProviderError('HTTP 403: token lacks Zone Settings Write', { retryable: false, status: 403 });
    await expect(
      withRetries(async () => {
        throw failure;
      }, { deadline: c.now() + 60_000, signal: new AbortController().signal, now: c.now, sleep: c.sleep, label: 'api' }),
    ).rejects.toBe(failure);
    expect(c.waits).toEqual([]);
  });

  it('gives up when the next wait would pass the deadline, with a retryable error carrying the Retry-After', async () => {
    // Prepare
    const c = clock();
    // Act
    const attempt = withRetries(
      async () => {
        throw new RetryableCall('HTTP 429 (rate limited)', { retryAfterMs: 300_000, status: 429 });
      },
      { deadline: c.now() + 50_000, signal: new AbortController().signal, now: c.now, sleep: c.sleep, label: 'cloudflare' },
    );
    // Assess
    await expect(attempt).rejects.toMatchObject({ retryable: true, status: 429, retryAfterMs: 300_000 });
    await expect(attempt).rejects.toThrow(/^cloudflare: HTTP 429 \(rate limited\) \(gave up after 1 attempt; it will be retried\)$/);
    expect(c.waits).toEqual([]);
  });
});
