import { describe, expect, it } from 'vitest';
import { RATE_LIMIT_BLOCK_MS } from '../../../lib/providers/cloudflare/client.ts';
import { envelope, envelopeError } from '../../simulators/cloudflare/api.ts';
import { ZONE, failure, setupMagicTransit, setupUnderAttack } from './harness.ts';

describe('cloudflare v4 envelope, retries and rate limit', () => {
  it('treats a 200 with success:false as a failure, naming the error code and message', async () => {
    // Prepare
    const harness = setupUnderAttack();
    harness.simulator.failNext({ status: 200, body: envelopeError(1007, 'Invalid value for zone setting security_level') });

    // Act
    const error = await failure(harness.provider.snapshot(harness.ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('answered 200 with success:false 1007 "Invalid value for zone setting security_level"');
  });

  it('rejects a 200 whose body is not the v4 envelope, and a result of the wrong shape', async () => {
    // Prepare
    const harness = setupUnderAttack();
    harness.simulator.failNext({ status: 200, body: '<html>captive portal</html>' }, { status: 200, body: envelope({ id: 'security_level', value: 42 }) });

    // Act
    const notEnvelope = await failure(harness.provider.snapshot(harness.ctx));
    const wrongShape = await failure(harness.provider.snapshot(harness.ctx));

    // Assess
    expect(notEnvelope.message).toContain("without Cloudflare's v4 envelope");
    expect(wrongShape.message).toMatch(/its result is not the security_level setting .*value:/);
    expect(wrongShape.retryable).toBe(false);
  });

  it('retries a 5xx through withRetries and succeeds', async () => {
    // Prepare
    const harness = setupUnderAttack();
    harness.simulator.failNext({ status: 502 }, { status: 503 });

    // Act
    const snapshot = await harness.provider.snapshot(harness.ctx);

    // Assess
    expect(snapshot.state).toMatchObject({ value: 'medium' });
    expect(harness.sleeps).toHaveLength(2);
    expect(harness.simulator.log.map((entry) => entry.status)).toEqual([502, 503, 200]);
  });

  it('after a 429 sends nothing for 5 minutes, gives up with retryAfterMs, then works again', async () => {
    // Prepare
    const harness = setupMagicTransit();
    harness.simulator.failNext({ status: 429, retryAfter: '300' });

    // Act
    const error = await failure(harness.provider.snapshot(harness.ctx));
    const sentWhileBlocked = harness.simulator.log.length;
    const stillBlocked = await failure(harness.provider.snapshot(harness.ctx));
    harness.clock.advance(RATE_LIMIT_BLOCK_MS);
    const snapshot = await harness.provider.snapshot(harness.ctx);

    // Assess
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(RATE_LIMIT_BLOCK_MS);
    expect(error.message).toContain('971 "Please wait and consider throttling your request speed"');
    expect(stillBlocked.retryable).toBe(true);
    expect(stillBlocked.retryAfterMs).toBeLessThanOrEqual(RATE_LIMIT_BLOCK_MS);
    expect(sentWhileBlocked).toBe(1);
    expect(harness.simulator.log).toHaveLength(2);
    expect(snapshot.alreadyActive).toBe(false);
    expect(harness.simulator.counters.requestsWhileBlocked).toBe(0);
  });

  it('waits out a 429 inside the operation budget when it is short enough, without sending during the block', async () => {
    // Prepare
    const harness = setupUnderAttack();
    const provider = (await import('../../../lib/providers/cloudflare/provider.ts')).createCloudflareUnderAttackProvider(
      { id: 'ua-long', options: { zoneId: ZONE, timeout: 120_000 }, holdDownMs: 0 },
      harness.deps,
    );
    harness.simulator.failNext({ status: 429, retryAfter: '300' });

    // Act
    const snapshot = await provider.snapshot(harness.ctx);

    // Assess
    expect(snapshot.state).toMatchObject({ value: 'medium' });
    expect(harness.sleeps).toEqual([RATE_LIMIT_BLOCK_MS]);
    expect(harness.simulator.counters.requestsWhileBlocked).toBe(0);
  });

  it('hits the real limit (1,200 requests / 5 min) in the simulator and then stays quiet', async () => {
    // Prepare
    const harness = setupUnderAttack();
    const provider = harness.provider;
    for (let i = 0; i < 1_200; i += 1) harness.simulator.handle({ method: 'GET', url: `https://api.cloudflare.com/client/v4/zones/${ZONE}/settings/security_level`, headers: { Authorization: 'Bearer simToken_0123456789abcdefghijklmnopqrstuv' }, timeoutMs: 1 });

    // Act
    const first = await failure(provider.snapshot(harness.ctx));
    const second = await failure(provider.snapshot(harness.ctx));

    // Assess
    expect(first.status).toBe(429);
    expect(second.status).toBe(429);
    expect(harness.requests).toHaveLength(1);
    expect(harness.simulator.counters.requestsWhileBlocked).toBe(0);
  });
});
