import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { SwitchActivation } from '../../../lib/providers/types.ts';
import { rule } from '../../simulators/hetzner/robot.ts';
import { setup } from './harness.ts';

const OPERATOR_RULES = {
  input: [
    rule({ name: 'web', ip_version: 'ipv4', protocol: 'tcp', dst_port: '443', action: 'accept' }),
    rule({ name: 'office', ip_version: 'ipv4', src_ip: '192.0.2.0/24', action: 'accept' }),
  ],
  output: [rule({ name: 'Allow all', action: 'accept' })],
};

function withServer(options: Record<string, unknown> = {}, sim = {}) {
  const harness = setup(options, sim);
  harness.simulator.addServer(1001, { status: 'disabled', filter_ipv6: false, whitelist_hos: true, rules: OPERATOR_RULES });
  return harness;
}

async function caught(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

describe('hetzner-robot: snapshot → activate → restore', () => {
  it('activates the lockdown, waits out "in process", confirms, and restores the account field for field', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const before = simulator.read(1001);

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = simulator.read(1001);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toContain('server 1001: disabled, 2 input/1 output rules');
    expect(activation.confirmed).toBe(true);
    expect(activation.confirmedAt).toBeDefined();
    expect(during.status).toBe('active');
    expect(during.rules.input.map((r) => r.name)).toEqual(['ssh admin', 'tcp replies', 'dns replies']);
    expect(during.rules.input[0]).toMatchObject({ src_ip: '203.0.113.0/24', ip_version: 'ipv4', protocol: 'tcp', dst_port: '22' });
    expect(during.rules.output).toEqual(before.rules.output);
    expect(during.whitelist_hos).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(simulator.read(1001)).toEqual(before);
    expect(simulator.posts).toHaveLength(2);
    expect(simulator.counters.unneededPosts).toBe(0);
    expect(simulator.counters.postsWhileInProcess).toBe(0);
    expect(simulator.counters.malformedForms).toBe(0);
  });

  it('polls every pollInterval while Robot reports "in process"', async () => {
    // Prepare
    const { provider, ctx, sleeps, simulator } = withServer({ pollInterval: '5s' }, { applyDelayMs: 12_000 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(sleeps).toEqual([5_000, 5_000, 5_000]);
    expect(simulator.counters.gets).toBe(1 + 1 + 3);
  });

  it('keeps the server\'s own rules and only switches the status on when inputRules is absent', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer({ inputRules: undefined, filterIpv6: true });
    const before = simulator.read(1001);

    // Act
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const during = simulator.read(1001);
    await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(during.status).toBe('active');
    expect(during.rules).toEqual(before.rules);
    expect(during.filter_ipv6).toBe(true);
    expect(simulator.read(1001)).toEqual(before);
  });

  it('reports an unconfirmed activation with recheckAfterMs and, called again, only polls', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withServer({ waitFor: '10s', pollInterval: '5s' }, { applyDelayMs: 120_000 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const first = await provider.activate(snapshot, ctx);
    clock.advance(60_000);
    const second = await provider.activate(snapshot, ctx);
    clock.advance(60_000);
    const third = await provider.activate(snapshot, ctx);

    // Assess
    expect(first).toMatchObject({ confirmed: false, recheckAfterMs: 5_000 });
    expect(first.summary).toContain('still applying');
    expect(second.confirmed).toBe(false);
    expect(third.confirmed).toBe(true);
    expect(simulator.posts).toHaveLength(1);
    expect(simulator.counters.postsWhileInProcess).toBe(0);
    expect(simulator.counters.unneededPosts).toBe(0);
  });

  it('reports a restore still "in process" as pending, then restored without a second post', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withServer({ waitFor: '0s' }, { applyDelayMs: 30_000 });
    const before = simulator.read(1001);
    const snapshot = await provider.snapshot(ctx);
    const pendingActivation = await provider.activate(snapshot, ctx);
    clock.advance(31_000);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const first = await provider.deactivate(snapshot, activation, ctx);
    clock.advance(31_000);
    const second = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(pendingActivation.confirmed).toBe(false);
    expect(first).toMatchObject({ outcome: 'pending', recheckAfterMs: 10_000 });
    expect(second.outcome).toBe('restored');
    expect(simulator.posts).toHaveLength(2);
    expect(simulator.read(1001)).toEqual(before);
  });

  it('is idempotent: activate and deactivate twice write once each', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const again = await provider.activate(snapshot, ctx);
    const restored = await provider.deactivate(snapshot, activation, ctx);
    const restoredAgain = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(again.confirmed).toBe(true);
    expect(restored.outcome).toBe('restored');
    expect(restoredAgain.outcome).toBe('restored');
    expect(simulator.posts).toHaveLength(2);
    expect(simulator.counters.unneededPosts).toBe(0);
  });

  it('restores after a crash between the post and its record (activation undefined)', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const before = simulator.read(1001);
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.read(1001)).toEqual(before);
  });

  it('restores nothing when it never activated (crash before the post)', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.posts).toHaveLength(0);
  });

  it('survives the JSON round trip of the stored snapshot and activation', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const before = simulator.read(1001);
    const snapshot = JSON.parse(JSON.stringify(await provider.snapshot(ctx)));
    const activation = JSON.parse(JSON.stringify(await provider.activate(snapshot, ctx))) as SwitchActivation;

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.read(1001)).toEqual(before);
  });
});

describe('hetzner-robot: never turns off what was on, never overwrites others', () => {
  it('marks an already active firewall alreadyActive and leaves it untouched', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    simulator.addServer(1001, { status: 'active', rules: OPERATOR_RULES });
    const before = simulator.read(1001);

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(snapshot.summary).toContain('already active');
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(simulator.posts).toHaveLength(0);
    expect(simulator.read(1001)).toEqual(before);
  });

  it('with several servers, switches only those that were off', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({ servers: [1001, 1002] });
    simulator.addServer(1001, { status: 'active', rules: OPERATOR_RULES });
    simulator.addServer(1002, { status: 'disabled', rules: OPERATOR_RULES });
    const before1 = simulator.read(1001);
    const before2 = simulator.read(1002);

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during2 = simulator.read(1002);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(during2.status).toBe('active');
    expect(simulator.posts.map((post) => post.server)).toEqual([1002, 1002]);
    expect(restore.outcome).toBe('restored');
    expect(simulator.read(1001)).toEqual(before1);
    expect(simulator.read(1002)).toEqual(before2);
  });

  it('reports changed-by-others and writes nothing when someone edited the firewall during the attack', async () => {
    // Prepare
    const { simulator, provider, ctx, logger } = withServer();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.changeBehindRelay(1001, (fw) => {
      fw.rules.input.push(rule({ name: 'partner', ip_version: 'ipv4', src_ip: '198.51.100.7/32', action: 'accept' }));
    });
    const edited = simulator.read(1001);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('changed by someone else');
    expect(simulator.posts).toHaveLength(1);
    expect(simulator.read(1001)).toEqual(edited);
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('not restoring'))).toBe(true);
  });

  it('treats an operator switching the firewall off during the attack as changed-by-others', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.changeBehindRelay(1001, (fw) => {
      fw.status = 'disabled';
    });

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.posts).toHaveLength(1);
  });

  it('does not overwrite a change made between the snapshot and the activation', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const snapshot = await provider.snapshot(ctx);
    simulator.changeBehindRelay(1001, (fw) => {
      fw.whitelist_hos = false;
    });
    const edited = simulator.read(1001);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(activation.summary).toContain('changed by someone else');
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.posts).toHaveLength(0);
    expect(simulator.read(1001)).toEqual(edited);
  });

  it('waits for someone else\'s change in process before taking the snapshot, and refuses to guess past waitFor', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer({ waitFor: '20s', pollInterval: '10s' });
    simulator.changeBehindRelay(1001, (fw) => {
      fw.status = 'active';
    }, { inProcessMs: 15_000 });
    const slow = withServer({ waitFor: '20s', pollInterval: '10s' });
    slow.simulator.changeBehindRelay(1001, () => {}, { inProcessMs: 120_000 });

    // Act
    const snapshot = await provider.snapshot(ctx);
    const error = await caught(slow.provider.snapshot(slow.ctx));

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('in process');
  });
});

describe('hetzner-robot: errors', () => {
  it('treats 403 RATE_LIMIT_EXCEEDED as retryable with a long pause and sends nothing during it', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withServer();
    simulator.exhaustRateLimit();

    // Act
    const first = await caught(provider.snapshot(ctx));
    const second = await caught(provider.snapshot(ctx));
    clock.advance(3_600_000);
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(first.retryable).toBe(true);
    expect(first.status).toBe(403);
    expect(first.retryAfterMs).toBe(600_000);
    expect(first.message).toContain('RATE_LIMIT_EXCEEDED');
    expect(first.message).not.toMatch(/credential|password/i);
    expect(second.retryable).toBe(true);
    expect(simulator.counters.requestsWhileRateLimited).toBe(1);
    expect(snapshot.alreadyActive).toBe(false);
  });

  it('explains a 401: the webservice user, not the Robot login; then stops sending', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({}, {}, { username: 'alice@example.com', password: 'hunter2-secret' });
    simulator.addServer(1001);

    // Act
    const first = await caught(provider.snapshot(ctx));
    const second = await caught(provider.snapshot(ctx));

    // Assess
    expect(first.retryable).toBe(false);
    expect(first.status).toBe(401);
    expect(first.message).toContain('webservice user');
    expect(first.message).toContain('#ws+');
    expect(first.message).toContain('does not start with #ws+');
    expect(first.message).not.toContain('hunter2-secret');
    expect(second.message).toBe(first.message);
    expect(simulator.counters.authFailures).toBe(1);
  });

  it('names the fix for SERVER_NOT_FOUND', async () => {
    // Prepare
    const { provider, ctx } = setup({ servers: [4242] });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('SERVER_NOT_FOUND');
    expect(error.message).toContain('options.servers');
  });

  it('names the fix for FIREWALL_NOT_AVAILABLE', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    simulator.addServer(1001, {}, { available: false });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('FIREWALL_NOT_AVAILABLE');
  });

  it('maps FIREWALL_IN_PROCESS on a post to a retryable error without repeating the post', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const snapshot = await provider.snapshot(ctx);
    simulator.failNext(200, { firewall: simulator.read(1001) });
    simulator.failNext(409, { error: { status: 409, code: 'FIREWALL_IN_PROCESS', message: 'in process' } });

    // Act
    const error = await caught(provider.activate(snapshot, ctx));

    // Assess
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('FIREWALL_IN_PROCESS');
    expect(simulator.posts).toHaveLength(0);
    expect(simulator.counters.requests).toBe(1 + 2);
  });

  it('maps INVALID_INPUT with the fields Robot named', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    const snapshot = await provider.snapshot(ctx);
    simulator.failNext(200, { firewall: simulator.read(1001) });
    simulator.failNext(400, { error: { status: 400, code: 'INVALID_INPUT', message: 'invalid input', missing: null, invalid: ['rules[input][0][dst_port]'] } });

    // Act
    const error = await caught(provider.activate(snapshot, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('invalid: rules[input][0][dst_port]');
  });

  it('retries a GET that met Robot maintenance (503)', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    simulator.failNext(503, { error: { status: 503, code: 'MAINTENANCE', message: 'maintenance' } });

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(simulator.counters.gets).toBe(1);
    expect(simulator.counters.requests).toBe(2);
  });

  it('refuses a 200 that is not a firewall object, naming what was wrong', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();
    simulator.failNext(200, { firewall: { server_number: 1001, status: 'on' } });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("not with Robot's firewall object");
    expect(error.message).toContain('firewall.status');
  });

  it('health check reads every server once', async () => {
    // Prepare
    const { simulator, provider, ctx } = withServer();

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(true);
    expect(health.detail).toContain('server 1001: disabled');
    expect(simulator.counters.requests).toBe(1);
  });
});
