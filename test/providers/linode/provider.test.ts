import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { SwitchActivation } from '../../../lib/providers/types.ts';
import { TransportConnectionError } from '../../../lib/transport/errors.ts';
import { rule } from '../../simulators/linode/api.ts';
import { CLEAN, FIREWALL_ID, misbehaviour, setup } from './harness.ts';

async function caught(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

const OUTSIDER_HTTPS = { source: '198.51.100.99', protocol: 'TCP' as const, port: 443 };
const OUTSIDER_SSH = { source: '198.51.100.99', protocol: 'TCP' as const, port: 22 };

describe('linode: snapshot → activate → restore', () => {
  it('locks down, keeps the management allowance reachable throughout, and restores the account field for field', async () => {
    // Prepare
    const { simulator, under, provider, ctx } = setup();
    const before = under.account();
    const rulesBefore = simulator.rules(FIREWALL_ID);
    const reachable: boolean[] = [under.managementReachable()];
    const outsiderBefore = simulator.admit(FIREWALL_ID, OUTSIDER_HTTPS);

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = simulator.rules(FIREWALL_ID);
    reachable.push(under.managementReachable());
    const outsiderDuring = [simulator.admit(FIREWALL_ID, OUTSIDER_HTTPS), simulator.admit(FIREWALL_ID, OUTSIDER_SSH)];
    const restore = await provider.deactivate(snapshot, activation, ctx);
    reachable.push(under.managementReachable());

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toContain(`firewall ${FIREWALL_ID} "web-fw": enabled, attached to 1 (linode 4001), 3 inbound (policy ACCEPT)/1 outbound (policy ACCEPT) rules, version 1`);
    expect((snapshot.state as { firewalls: Array<{ rules: unknown }> }).firewalls[0]!.rules).toEqual(rulesBefore);
    expect(activation.confirmed).toBe(true);
    expect(activation.applied).toEqual({
      firewalls: [{ id: FIREWALL_ID, fingerprint: during.fingerprint, version: 2, confirmedAt: expect.any(String) }],
    });
    expect(during.inbound).toEqual([
      { action: 'ACCEPT', protocol: 'TCP', ports: '22', addresses: { ipv4: ['203.0.113.10/32'] }, label: 'relay-mgmt-1', description: 'ops VPN ssh' },
    ]);
    expect(during.inbound_policy).toBe('DROP');
    expect(during.outbound).toEqual(rulesBefore.outbound);
    expect(during.outbound_policy).toBe(rulesBefore.outbound_policy);
    expect(under.isOn()).toBe(false);
    expect(outsiderBefore).toBe(true);
    expect(outsiderDuring).toEqual([false, false]);
    expect(reachable).toEqual([true, true, true]);
    expect(restore.outcome).toBe('restored');
    expect(under.account()).toEqual(before);
    expect(simulator.puts).toHaveLength(2);
    expect(misbehaviour(simulator)).toEqual(CLEAN);
  });

  it('is idempotent: activate and deactivate twice write once each', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const again = await provider.activate(snapshot, ctx);
    const restored = await provider.deactivate(snapshot, activation, ctx);
    const restoredAgain = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(again.applied).toEqual({ firewalls: [expect.objectContaining({ fingerprint: (activation.applied as { firewalls: Array<{ fingerprint: string }> }).firewalls[0]!.fingerprint })] });
    expect(restored.outcome).toBe('restored');
    expect(restoredAgain.outcome).toBe('restored');
    expect(simulator.puts).toHaveLength(2);
    expect(misbehaviour(simulator)).toEqual(CLEAN);
  });

  it('restores after a crash between the write and its record (activate again, then deactivate with activation undefined)', async () => {
    // Prepare
    const { simulator, under, provider, ctx } = setup();
    const before = under.account();
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const reactivated = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(reactivated.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(under.account()).toEqual(before);
    expect(simulator.puts).toHaveLength(2);
    expect(misbehaviour(simulator)).toEqual(CLEAN);
  });

  it('writes nothing when it never activated (crash before the write)', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.puts).toHaveLength(0);
  });

  it('survives the JSON round trip of the stored snapshot and activation', async () => {
    // Prepare
    const { under, provider, ctx } = setup();
    const before = under.account();
    const snapshot = JSON.parse(JSON.stringify(await provider.snapshot(ctx)));
    const activation = JSON.parse(JSON.stringify(await provider.activate(snapshot, ctx))) as SwitchActivation;

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(under.account()).toEqual(before);
  });

  it('puts back rule-set references and rules without ports or labels exactly as they were', async () => {
    // Prepare
    const { simulator, under, provider, ctx } = setup();
    simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
      rules.inbound.unshift({ ruleset: 77 }, rule({ action: 'ACCEPT', protocol: 'IPENCAP', addresses: { ipv4: ['192.0.2.0/24'] } }));
      rules.outbound.push({ ruleset: 78 });
    });
    const before = under.account();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(under.account()).toEqual(before);
    expect(misbehaviour(simulator)).toEqual(CLEAN);
  });
});

describe('linode: never turns off what was on, never overwrites others', () => {
  it('reports alreadyActive when the operator has the same lockdown in place (own labels)', async () => {
    // Prepare
    const { simulator, under, provider, ctx } = setup();
    under.turnOnByHand();

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(snapshot.summary).toContain('already locked down: left alone');
    expect(simulator.counters.puts).toBe(0);
  });

  it('does not report alreadyActive for a DROP policy with other allowances', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
      rules.inbound_policy = 'DROP';
    });

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
  });

  it('leaves a change made during the attack alone and reports changed-by-others', async () => {
    // Prepare
    const { simulator, under, provider, ctx, logger } = setup();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    under.changeBehindTheRelay();
    const changed = simulator.rules(FIREWALL_ID);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('changed by someone else');
    expect(simulator.rules(FIREWALL_ID)).toEqual(changed);
    expect(simulator.puts).toHaveLength(1);
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('not restoring'))).toBe(true);
    expect(under.managementReachable()).toBe(true);
  });

  it('leaves a change alone after a crash between write and record (activation undefined)', async () => {
    // Prepare
    const { simulator, under, provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    under.changeBehindTheRelay();

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.puts).toHaveLength(1);
  });

  it('does not restore when the rules were changed and changed back by hand (the fingerprint moved on)', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
      rules.inbound_policy = 'ACCEPT';
    });
    simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
      rules.inbound_policy = 'DROP';
    });

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.puts).toHaveLength(1);
  });

  it('does not lock down a firewall changed between the snapshot and the activation, and later restores nothing', async () => {
    // Prepare
    const { simulator, under, provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);
    under.changeBehindTheRelay();
    const changed = simulator.rules(FIREWALL_ID);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.applied).toEqual({ firewalls: [{ id: FIREWALL_ID, skipped: 'changed-by-others' }] });
    expect(activation.summary).toContain('changed by someone else since the snapshot');
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.rules(FIREWALL_ID)).toEqual(changed);
    expect(simulator.puts).toHaveLength(0);
  });

  it('restores the firewalls it may and reports the one someone else changed', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({ firewalls: [FIREWALL_ID, 500] });
    simulator.addFirewall({ id: 500, rules: { inbound: [rule({ action: 'ACCEPT', protocol: 'TCP', ports: '443', addresses: { ipv4: ['0.0.0.0/0'] } })] } });
    const second = simulator.firewall(500);
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
      rules.inbound = [];
    });

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('firewall 500: restored');
    expect({ ...simulator.firewall(500), updated: undefined, rules: { ...(simulator.firewall(500).rules as object), version: 0, fingerprint: '' } }).toEqual({
      ...second,
      updated: undefined,
      rules: { ...(second.rules as object), version: 0, fingerprint: '' },
    });
    expect(simulator.rules(FIREWALL_ID).inbound).toEqual([]);
  });
});

describe('linode: warnings and health', () => {
  it('warns in the log, the summary and the health check when the firewall is attached to nothing or disabled', async () => {
    // Prepare
    const { simulator, provider, ctx, logger } = setup();
    simulator.setEntities(FIREWALL_ID, []);
    simulator.setStatus(FIREWALL_ID, 'disabled');

    // Act
    const snapshot = await provider.snapshot(ctx);
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(snapshot.summary).toContain('WARNING: is attached to no Linode or NodeBalancer: its lockdown protects nothing');
    expect(snapshot.summary).toContain('WARNING: is disabled: Linode does not enforce its rules');
    expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
      expect.stringContaining(`firewall ${FIREWALL_ID} is attached to no Linode or NodeBalancer`),
      expect.stringContaining(`firewall ${FIREWALL_ID} is disabled`),
    ]);
    expect(health.ok).toBe(true);
    expect(health.detail).toContain('attached to nothing');
    expect(health.detail).toContain('WARNING: is disabled');
  });

  it('reads the paginated devices list when the firewall answer has no entities', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({}, { sim: { omitEntities: true } });
    simulator.setEntities(
      FIREWALL_ID,
      Array.from({ length: 130 }, (_, index) => ({ id: 6000 + index, type: 'linode' as const, label: `n${index}` })),
    );

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.summary).toContain('attached to 130 (linode 6000, linode 6001');
    expect(snapshot.summary).not.toContain('WARNING');
    expect(simulator.counters.gets).toBe(1 + 2 + 1);
  });

  it('reports rule counts, entities and the mode: normal before, locked down during', async () => {
    // Prepare
    const { provider, ctx } = setup();
    const before = await provider.healthCheck(ctx);
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const during = await provider.healthCheck(ctx);

    // Assess
    expect(before).toEqual({ ok: true, detail: expect.stringContaining('3 inbound (policy ACCEPT)/1 outbound (policy ACCEPT) rules, version 1, mode normal (not locked down)') });
    expect(during).toEqual({ ok: true, detail: expect.stringContaining('1 inbound (policy DROP)/1 outbound (policy ACCEPT) rules, version 2, mode locked down') });
  });

  it('answers a failed health check with the reason, never the token', async () => {
    // Prepare
    const { provider, ctx } = setup({}, { token: 'wrong-secret-token' });

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('Linode rejected secrets.token');
    expect(health.detail).not.toContain('wrong-secret-token');
  });
});

describe('linode: limits, errors and retries', () => {
  it('refuses at activation a lockdown that would not fit 25 rules with the firewall\'s outbound rules, writing nothing', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({
      keep: [{ protocol: 'tcp', ports: 443, sources: ['198.51.100.0/24'] }],
    });
    simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
      rules.outbound = Array.from({ length: 24 }, (_, index) => rule({ action: 'ACCEPT', protocol: 'TCP', ports: String(1000 + index), addresses: { ipv4: ['0.0.0.0/0'] } }));
    });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('needs 2 inbound rules next to its 24 outbound rules, but Linode allows 25 rules per firewall');
    expect(simulator.counters.puts).toBe(0);
  });

  it('names the scope when the token may only read, and writes nothing', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({}, { sim: { scopes: ['firewall:read_only'] } });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(403);
    expect(error.message).toContain('it needs the scope firewall:read_write');
    expect(simulator.counters.forbidden).toBe(1);
  });

  it('names options.firewalls when a firewall does not exist', async () => {
    // Prepare
    const { provider, ctx } = setup({ firewalls: [424242] });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('firewall 424242 does not exist in this account: check options.firewalls');
  });

  it('waits as long as Retry-After asks after a 429, sending nothing before, then carries on', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = setup();
    simulator.failNext(429, { errors: [{ reason: 'Too Many Requests' }] }, { 'retry-after': '30' });

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(sleeps).toEqual([30_000]);
    expect(simulator.counters.requestsBeforeRetryAfter).toBe(0);
  });

  it('after a 429 on the write, reads again before writing again', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);
    let refused = false;
    const original = simulator.handle.bind(simulator);
    simulator.handle = (request) => {
      if (request.method === 'PUT' && !refused) {
        refused = true;
        simulator.failNext(429, { errors: [{ reason: 'Too Many Requests' }] }, { 'retry-after': '5' });
      }
      return original(request);
    };

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(simulator.puts).toHaveLength(1);
    expect(misbehaviour(simulator)).toEqual(CLEAN);
  });

  it('recognises a write whose answer was lost and does not write again', async () => {
    // Prepare
    let lost = false;
    const { simulator, provider, ctx } = setup({}, {
      intercept: (request, sim) => {
        if (request.method !== 'PUT' || lost) return undefined;
        lost = true;
        sim.handle(request);
        throw new TransportConnectionError('PUT https://api.linode.com', 'connection reset', { systemCode: 'ECONNRESET' });
      },
    });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(simulator.puts).toHaveLength(1);
    expect((activation.applied as { firewalls: Array<{ fingerprint: string }> }).firewalls[0]!.fingerprint).toBe(simulator.rules(FIREWALL_ID).fingerprint);
    expect(misbehaviour(simulator)).toEqual(CLEAN);
  });

  it('refuses an answer that is not Linode\'s rule set', async () => {
    // Prepare
    const { provider, ctx } = setup({}, {
      intercept: (request) =>
        request.url.endsWith('/rules')
          ? { status: 200, headers: { 'content-type': 'text/html' }, body: new TextEncoder().encode('<html>portal</html>') }
          : undefined,
    });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('answered 200 but not with a firewall rule set (the body is not JSON)');
  });

  it('gives up on a lasting 5xx within its budget with a retryable error', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({ timeout: '1s' });
    for (let i = 0; i < 200; i += 1) simulator.failNext(503, { errors: [{ reason: 'Service Unavailable' }] }, { 'retry-after': '10' });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('answered 503 "Service Unavailable"');
    expect(error.message).toContain('it will be retried');
  });

  it('refuses a stored snapshot that is not its own', async () => {
    // Prepare
    const { provider, ctx } = setup();

    // Act
    const error = await caught(provider.activate({ state: { servers: [] }, alreadyActive: false, summary: '' }, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('the stored snapshot is not a linode snapshot');
  });
});
