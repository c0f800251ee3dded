import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../lib/providers/errors.ts';
import { BLOCK, IP_A, IP_B, SECRETS, TWO_IPS, setup } from './harness.ts';

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

describe('ovh provider: snapshot / activate / restore', () => {
  it('puts a free address on permanent mitigation, polls creationPending → ok, and restores the account exactly', async () => {
    // Prepare
    const { provider, simulator, ctx, clock } = setup({}, { createDelayMs: 12_000, removeDelayMs: 8_000 });
    const before = simulator.accountState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = simulator.entry(BLOCK, IP_A);
    clock.advance(60_000);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toContain(`${IP_A}: no mitigation entry`);
    expect(activation).toMatchObject({ confirmed: true, applied: { ips: [{ ip: IP_A, ipBlock: BLOCK, created: true, entry: { state: 'ok', permanent: true, auto: false } }] } });
    expect(activation.confirmedAt).toBeDefined();
    expect(during).toEqual({ ipOnMitigation: IP_A, permanent: true, auto: false, state: 'ok' });
    expect(restore.outcome).toBe('restored');
    expect(simulator.accountState()).toEqual(before);
    expect(simulator.counters).toMatchObject({ posts: 1, deletes: 1, unneededWrites: 0, badSignatures: 0, staleTimestamps: 0, deletesOfOthersEntries: 0, unencodedPaths: 0 });
  });

  it("sends the block's slash as %2F, signed exactly as sent, with the JSON body OVH documents", async () => {
    // Prepare
    const { provider, simulator, ctx } = setup();

    // Act
    await provider.activate(await provider.snapshot(ctx), ctx);

    // Assess
    const post = simulator.log.find((entry) => entry.method === 'POST')!;
    expect(post.url).toBe('https://eu.api.ovh.com/1.0/ip/203.0.113.0%2F24/mitigation');
    expect(post.body).toBe(`{"ipOnMitigation":"${IP_A}"}`);
    expect(simulator.log.map((entry) => `${entry.method} ${entry.url.replace('https://eu.api.ovh.com/1.0', '')} ${entry.status}`)).toEqual([
      'GET /auth/time 200',
      'GET /ip/203.0.113.0%2F24 200',
      `GET /ip/203.0.113.0%2F24/mitigation/${IP_A} 404`,
      `GET /ip/203.0.113.0%2F24/mitigation/${IP_A} 404`,
      'POST /ip/203.0.113.0%2F24/mitigation 200',
      `GET /ip/203.0.113.0%2F24/mitigation/${IP_A} 200`,
      `GET /ip/203.0.113.0%2F24/mitigation/${IP_A} 200`,
      `GET /ip/203.0.113.0%2F24/mitigation/${IP_A} 200`,
      `GET /ip/203.0.113.0%2F24/mitigation/${IP_A} 200`,
    ]);
    expect(simulator.counters.badSignatures).toBe(0);
  });

  it('reports an unconfirmed activation with recheckAfterMs, and called again only polls', async () => {
    // Prepare
    const { provider, simulator, ctx, clock } = setup({ waitFor: '0s', pollInterval: '5s' }, { createDelayMs: 20_000 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const first = await provider.activate(snapshot, ctx);
    clock.advance(20_000);
    const second = await provider.activate(snapshot, ctx);

    // Assess
    expect(first).toMatchObject({ confirmed: false, recheckAfterMs: 5_000, applied: { ips: [{ created: true, entry: { state: 'creationPending' } }] } });
    expect(second).toMatchObject({ confirmed: true, applied: { ips: [{ created: true, entry: { state: 'ok' } }] } });
    expect(simulator.counters.posts).toBe(1);
    expect(simulator.counters.unneededWrites).toBe(0);
  });

  it('reports pending while OVH removes the entry, then restored once it is gone', async () => {
    // Prepare
    const { provider, simulator, ctx, clock } = setup({ waitFor: '0s' }, { createDelayMs: 0, removeDelayMs: 40_000 });
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const first = await provider.deactivate(snapshot, activation, ctx);
    const second = await provider.deactivate(snapshot, activation, ctx);
    clock.advance(40_000);
    const third = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(first).toMatchObject({ outcome: 'pending', recheckAfterMs: 5_000 });
    expect(second.outcome).toBe('pending');
    expect(third.outcome).toBe('restored');
    expect(simulator.counters.deletes).toBe(1);
    expect(simulator.counters.unneededWrites).toBe(0);
  });

  it('removes an entry the relay created when the activation record was lost (crash between POST and record)', async () => {
    // Prepare
    const { provider, simulator, ctx, clock } = setup({}, { createDelayMs: 0, removeDelayMs: 5_000 });
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    clock.advance(1_000);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.entry(BLOCK, IP_A)).toBeUndefined();
  });
});

describe('ovh provider: what was there before is never touched', () => {
  it('says alreadyActive when every address already is on permanent mitigation', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup(TWO_IPS);
    simulator.operatorEnable(BLOCK, IP_A);
    simulator.operatorEnable(BLOCK, IP_B);

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(snapshot.summary).toContain('already there: left alone');
  });

  it("creates only the missing entry beside OVH's automatic one and a pre-existing permanent one, and removes only its own", async () => {
    // Prepare
    const third = '203.0.113.12';
    const { provider, simulator, ctx, clock } = setup({ ips: [{ ip: IP_A, ipBlock: BLOCK }, { ip: IP_B, ipBlock: BLOCK }, { ip: third, ipBlock: BLOCK }] }, { createDelayMs: 0, removeDelayMs: 0 });
    simulator.autoMitigate(BLOCK, IP_A);
    simulator.operatorEnable(BLOCK, third);
    const before = simulator.accountState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    clock.advance(1_000);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(activation.applied).toMatchObject({
      ips: [
        { ip: IP_A, created: false, left: 'pre-existing' },
        { ip: IP_B, created: true },
        { ip: third, created: false, left: 'pre-existing' },
      ],
    });
    expect(restore.outcome).toBe('restored');
    expect(simulator.accountState()).toEqual(before);
    expect(simulator.counters).toMatchObject({ posts: 1, deletes: 1, deletesOfOthersEntries: 0, unneededWrites: 0 });
  });

  it('does not claim an automatic entry that appeared between snapshot and activation, nor remove it', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);
    simulator.autoMitigate(BLOCK, IP_A);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.applied).toMatchObject({ ips: [{ ip: IP_A, created: false, left: 'appeared' }] });
    expect(restore.outcome).toBe('restored');
    expect(simulator.entry(BLOCK, IP_A)).toMatchObject({ auto: true });
    expect(simulator.counters).toMatchObject({ posts: 0, deletes: 0 });
  });

  it.each([
    ['turned automatic by OVH', (sim: ReturnType<typeof setup>['simulator']) => sim.setAuto(BLOCK, IP_A, true), { auto: true }],
    ['made non-permanent by someone', (sim: ReturnType<typeof setup>['simulator']) => sim.setPermanent(BLOCK, IP_A, false), { permanent: false }],
  ])('leaves an entry %s during the attack and says changed-by-others', async (_name, change, expected) => {
    // Prepare
    const { provider, simulator, ctx, logger } = setup({}, { createDelayMs: 0 });
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    change(simulator);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('changed by someone else');
    expect(simulator.entry(BLOCK, IP_A)).toMatchObject(expected);
    expect(simulator.counters.deletes).toBe(0);
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('changed by someone else'))).toBe(true);
  });

  it('waits out an entry being removed at snapshot time, then creates its own', async () => {
    // Prepare
    const { provider, simulator, ctx, clock } = setup({ waitFor: '0s' }, { createDelayMs: 0, removeDelayMs: 30_000 });
    simulator.operatorEnable(BLOCK, IP_A);
    simulator.startRemoval(BLOCK, IP_A);
    const snapshot = await provider.snapshot(ctx);

    // Act
    const first = await provider.activate(snapshot, ctx);
    clock.advance(30_000);
    const second = await provider.activate(snapshot, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.state).toMatchObject({ ips: [{ existed: false, state: 'removalPending' }] });
    expect(first).toMatchObject({ confirmed: false, recheckAfterMs: 5_000, applied: { ips: [{ created: false, left: 'removal-pending' }] } });
    expect(second).toMatchObject({ confirmed: true, applied: { ips: [{ created: true }] } });
    expect(simulator.counters).toMatchObject({ posts: 1, unneededWrites: 0 });
  });
});

describe('ovh provider: errors', () => {
  it('names the missing access rule and lists all five when POST is not granted', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup();
    simulator.revokeRule('POST', '/ip/*/mitigation');
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await failure(provider.activate(snapshot, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(403);
    expect(error.message).toContain('NOT_GRANTED_CALL');
    expect(error.message).toContain('lacks the access rule "POST /ip/*/mitigation"');
    expect(error.message).toContain('GET /ip, GET /ip/*, GET /ip/*/mitigation/*, POST /ip/*/mitigation, DELETE /ip/*/mitigation/*');
    expect(error.message).toContain('https://eu.api.ovh.com/createToken/');
    expect(simulator.counters.notGranted).toBe(1);
  });

  it('says the consumer key is invalid or expired, without retrying', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup();
    simulator.expireConsumerKey();

    // Act
    const error = await failure(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('INVALID_CREDENTIAL');
    expect(error.message).toContain('does not accept the consumer key');
    expect(simulator.counters.invalidCredentials).toBe(1);
  });

  it('names a wrong application secret as the cause of an invalid signature', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup();
    simulator.applications.set(SECRETS.applicationKey, 'another-secret');

    // Act
    const error = await failure(provider.snapshot(ctx));

    // Assess
    expect(error.message).toContain('secrets.applicationSecret does not belong to secrets.applicationKey');
    expect(simulator.counters.badSignatures).toBe(1);
  });

  it('says the block is not in the account (404) before writing anything', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup({ ips: [{ ip: '192.0.2.10', ipBlock: '192.0.2.0/24' }] });

    // Act
    const error = await failure(provider.snapshot(ctx));

    // Assess
    expect(error.status).toBe(404);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('IP block 192.0.2.0/24 is not in this OVH account');
    expect(simulator.counters.posts).toBe(0);
  });

  it('signs with the server time from /auth/time and reads it again after "Query out of time"', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup({}, { serverSkewMs: 600_000 });
    await provider.snapshot(ctx);
    simulator.serverSkewMs = -900_000;

    // Act
    const activation = await provider.activate(await provider.snapshot(ctx), ctx);

    // Assess
    expect(activation.applied).toMatchObject({ ips: [{ created: true }] });
    expect(simulator.counters.staleTimestamps).toBe(1);
    expect(simulator.counters.timeRequests).toBe(2);
  });

  it('waits out a 429 Retry-After and a 5xx before retrying, sending nothing while limited and posting once', async () => {
    // Prepare
    const { provider, simulator, ctx, sleeps } = setup({}, { createDelayMs: 0 });
    const snapshot = await provider.snapshot(ctx);
    simulator.failNext({ status: 429, retryAfter: '7' }, { status: 503 });

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(sleeps[0]).toBe(7_000);
    expect(simulator.counters).toMatchObject({ requestsWhileRateLimited: 0, posts: 1, unneededWrites: 0 });
  });

  it('never puts a key, the secret or a signature in a log line or an error', async () => {
    // Prepare
    const { provider, simulator, ctx, logger } = setup();
    simulator.revokeRule('POST', '/ip/*/mitigation');
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await failure(provider.activate(snapshot, ctx));

    // Assess
    const everything = JSON.stringify(logger.lines) + error.message;
    for (const secret of Object.values(SECRETS)) expect(everything).not.toContain(secret);
    expect(everything).not.toContain('$1$');
  });

  it('health check lists the blocks and reads each entry', async () => {
    // Prepare
    const { provider, simulator, ctx } = setup();
    simulator.autoMitigate(BLOCK, IP_A);

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health).toEqual({ ok: true, detail: `${IP_A}: automatic (OVH) mitigation, ok` });
  });
});
