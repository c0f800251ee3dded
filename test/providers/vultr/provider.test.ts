import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { VultrApplied } from '../../../lib/providers/vultr/provider.ts';
import {
  ATTACKER_SSH,
  ATTACKER_WEB,
  INSTANCE_A,
  INSTANCE_B,
  OFFICE_SSH,
  RELAY_DESCRIPTION,
  SCRUBBER_HTTPS,
  VPN_SSH,
  noFlags,
  setup,
} from './harness.ts';

async function caught(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

/** A prepared lockdown group admitting the management allowance (v4 /24 for SSH, v6 every tcp port). */
function withPreparedGroup(extra: Record<string, unknown> = {}, sim = {}) {
  const harness = setup({}, sim);
  const lockdown = harness.simulator.addGroup('lockdown (prepared)', [
    { ip_type: 'v4', protocol: 'tcp', port: '22', subnet: '203.0.113.0', subnet_size: 24, notes: 'office' },
    { ip_type: 'v6', protocol: 'tcp', port: '1:65535', subnet: '2001:db8::', subnet_size: 32, notes: 'vpn' },
  ]);
  const provider = harness.make({ lockdownGroup: lockdown, ...extra });
  return { ...harness, provider, lockdown };
}

function relayGroups(simulator: ReturnType<typeof setup>['simulator']) {
  return simulator.groups().filter((group) => group.description === RELAY_DESCRIPTION);
}

describe('vultr: the relay\'s own lockdown group', () => {
  it('creates the group with the management and keep rules, swaps both instances onto it and back, and leaves the account as it was', async () => {
    // Prepare
    const { simulator, provider, ctx, web } = setup();
    const before = simulator.accountState();
    const reachableBefore = simulator.admit(INSTANCE_A, OFFICE_SSH);

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const [relay] = relayGroups(simulator);
    const during = {
      a: simulator.instance(INSTANCE_A).firewall_group_id,
      b: simulator.instance(INSTANCE_B).firewall_group_id,
      office: [INSTANCE_A, INSTANCE_B].map((id) => simulator.admit(id, OFFICE_SSH)),
      vpn: simulator.admit(INSTANCE_A, VPN_SSH),
      scrubber: simulator.admit(INSTANCE_B, SCRUBBER_HTTPS),
      attackerWeb: [INSTANCE_A, INSTANCE_B].map((id) => simulator.admit(id, ATTACKER_WEB)),
      attackerSsh: simulator.admit(INSTANCE_A, ATTACKER_SSH),
    };
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(reachableBefore).toBe(true);
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toBe(`instance ${INSTANCE_A} (web-a): group ${web}; instance ${INSTANCE_B} (web-b): no firewall group`);
    expect(activation.confirmed).toBe(true);
    expect(relay).toBeDefined();
    expect(relay!.relayOwned).toBe(true);
    expect(relay!.rules.map((rule) => [rule.ip_type, rule.protocol, rule.port, `${rule.subnet}/${rule.subnet_size}`, rule.notes])).toEqual([
      ['v4', 'tcp', '22', '203.0.113.10/32', 'admin ssh'],
      ['v6', 'tcp', '22', '2001:db8:100::/48', 'admin ssh'],
      ['v4', 'tcp', '443', '198.51.100.0/24', 'flowtriq-relay keep'],
    ]);
    expect(activation.applied).toEqual({
      lockdownGroupId: relay!.id,
      relayOwned: true,
      instances: [
        { instance: INSTANCE_A, previous: web, confirmedAt: expect.any(String) },
        { instance: INSTANCE_B, previous: '', confirmedAt: expect.any(String) },
      ],
    } satisfies VultrApplied);
    expect(during).toEqual({ a: relay!.id, b: relay!.id, office: [true, true], vpn: true, scrubber: true, attackerWeb: [false, false], attackerSsh: false });
    expect(restore.outcome).toBe('restored');
    expect(simulator.accountState({ withoutRelayGroups: true })).toEqual(before);
    expect(simulator.admit(INSTANCE_A, OFFICE_SSH)).toBe(true);
    expect(simulator.admit(INSTANCE_A, ATTACKER_WEB)).toBe(true);
    expect(simulator.group(relay!.id)).toMatchObject({ rule_count: 3, instance_count: 0 });
    expect(simulator.writes).toEqual([
      'POST /firewalls {"description":"flowtriq-relay lockdown (vt)"}',
      expect.stringMatching(/^POST \/firewalls\/.+\/rules \{"ip_type":"v4","protocol":"tcp","subnet":"203\.0\.113\.10","subnet_size":32,"notes":"admin ssh","port":"22"\}$/),
      expect.stringMatching(/^POST \/firewalls\/.+\/rules .*"2001:db8:100::".*$/),
      expect.stringMatching(/^POST \/firewalls\/.+\/rules .*"198\.51\.100\.0".*$/),
      `PATCH /instances/${INSTANCE_A} {"firewall_group_id":"${relay!.id}"}`,
      `PATCH /instances/${INSTANCE_B} {"firewall_group_id":"${relay!.id}"}`,
      `PATCH /instances/${INSTANCE_A} {"firewall_group_id":"${web}"}`,
      `PATCH /instances/${INSTANCE_B} {"firewall_group_id":""}`,
    ]);
    expect(noFlags(simulator)).toEqual({});
  });

  it('keeps its group for the next attack and reuses it without writing a rule', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const first = await provider.snapshot(ctx);
    await provider.deactivate(first, await provider.activate(first, ctx), ctx);
    const writesAfterFirst = simulator.writes.length;

    // Act
    const second = await provider.snapshot(ctx);
    const activation = await provider.activate(second, ctx);
    const restore = await provider.deactivate(second, activation, ctx);

    // Assess
    expect(second.state).toMatchObject({ lockdownMode: 'relay', lockdownGroupId: relayGroups(simulator)[0]!.id });
    expect(relayGroups(simulator)).toHaveLength(1);
    expect(simulator.counters).toMatchObject({ groupCreates: 1, ruleCreates: 3, ruleDeletes: 0 });
    expect(simulator.writes.slice(writesAfterFirst).every((write) => write.startsWith('PATCH /instances/'))).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(noFlags(simulator)).toEqual({});
  });

  it('brings its group to the configured rules when the configuration changed, touching no other group', async () => {
    // Prepare
    const { simulator, provider, make, ctx, clock } = setup();
    const first = await provider.snapshot(ctx);
    await provider.deactivate(first, await provider.activate(first, ctx), ctx);
    clock.advance(60_000);
    const changed = make({ management: [{ protocol: 'tcp', ports: 2222, sources: ['203.0.113.10'] }] });

    // Act
    const snapshot = await changed.snapshot(ctx);
    await changed.activate(snapshot, ctx);

    // Assess
    const relay = relayGroups(simulator)[0]!;
    expect(relay.rules.map((rule) => `${rule.protocol} ${rule.port} ${rule.subnet}/${rule.subnet_size}`)).toEqual(['tcp 443 198.51.100.0/24', 'tcp 2222 203.0.113.10/32']);
    expect(simulator.admit(INSTANCE_A, { ...OFFICE_SSH, port: 2222 })).toBe(true);
    expect(simulator.admit(INSTANCE_A, OFFICE_SSH)).toBe(false);
    expect(simulator.counters).toMatchObject({ ruleCreates: 4, ruleDeletes: 2 });
    expect(noFlags(simulator)).toEqual({});
  });

  it('removes rules no longer configured first when adding would overflow the group', async () => {
    // Prepare
    const { simulator, provider, make, ctx, clock } = setup({}, { maxRuleCount: 3 });
    const first = await provider.snapshot(ctx);
    await provider.deactivate(first, await provider.activate(first, ctx), ctx);
    clock.advance(60_000);
    const changed = make({ keep: [{ protocol: 'udp', ports: '53', sources: ['198.51.100.53'] }] });
    const writesBefore = simulator.writes.length;

    // Act
    const snapshot = await changed.snapshot(ctx);
    const activation = await changed.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(relayGroups(simulator)[0]!.rules.map((rule) => `${rule.protocol} ${rule.port}`)).toEqual(['tcp 22', 'tcp 22', 'udp 53']);
    const ruleWrites = simulator.writes.slice(writesBefore).filter((write) => write.includes('/rules'));
    expect(ruleWrites.map((write) => write.split(' ')[0])).toEqual(['DELETE', 'POST']);
    expect(noFlags(simulator)).toEqual({});
  });

  it('refuses a lockdown that needs more rules than the group holds, moving no instance', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({}, { maxRuleCount: 2 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('needs 3 firewall rules');
    expect(error.message).toContain('holds at most 2');
    expect(simulator.counters.instancePatches).toBe(0);
    expect(simulator.counters.ruleCreates).toBe(0);
  });

  it('finds its group across pages (a crash never makes two) and reads every page of rules', async () => {
    // Prepare
    const { simulator, provider, make, ctx, clock } = setup({}, { pageSizeCap: 2 });
    for (let i = 0; i < 5; i += 1) simulator.addGroup(`customer ${i}`);
    const first = await provider.snapshot(ctx);
    await provider.deactivate(first, await provider.activate(first, ctx), ctx);
    clock.advance(60_000);
    const restarted = make();

    // Act
    const snapshot = await restarted.snapshot(ctx);
    const activation = await restarted.activate(snapshot, ctx);

    // Assess
    expect(snapshot.state).toMatchObject({ lockdownGroupId: relayGroups(simulator)[0]!.id });
    expect(activation.confirmed).toBe(true);
    expect(relayGroups(simulator)).toHaveLength(1);
    expect(simulator.counters).toMatchObject({ groupCreates: 1, ruleCreates: 3 });
    expect(simulator.log.filter((line) => line === 'GET /firewalls').length).toBeGreaterThanOrEqual(8);
    expect(noFlags(simulator)).toEqual({});
  });

  it('after a crash before the rules were written, finds its group again and adds only what is missing', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    simulator.failWhen('POST', /^\/firewalls\/[^/]+\/rules$/, 500, { error: 'Internal error', status: 500 });
    const snapshot = await provider.snapshot(ctx);
    const crashed = await caught(provider.activate(snapshot, ctx));

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(crashed.retryable).toBe(true);
    expect(crashed.message).toContain('reads the state again');
    expect(activation.confirmed).toBe(true);
    expect(relayGroups(simulator)).toHaveLength(1);
    expect(relayGroups(simulator)[0]!.rules).toHaveLength(3);
    expect(noFlags(simulator)).toEqual({});
  });
});

describe('vultr: a prepared lockdown group', () => {
  it('uses it without writing a rule and restores the account field for field', async () => {
    // Prepare
    const { simulator, provider, ctx, lockdown } = withPreparedGroup();
    const before = simulator.accountState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = [simulator.instance(INSTANCE_A).firewall_group_id, simulator.instance(INSTANCE_B).firewall_group_id];
    const reachable = [simulator.admit(INSTANCE_A, OFFICE_SSH), simulator.admit(INSTANCE_B, VPN_SSH), simulator.admit(INSTANCE_A, ATTACKER_WEB)];
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(during).toEqual([lockdown, lockdown]);
    expect(reachable).toEqual([true, true, false]);
    expect(activation.applied).toMatchObject({ lockdownGroupId: lockdown, relayOwned: false });
    expect(restore.outcome).toBe('restored');
    expect(simulator.accountState()).toEqual(before);
    expect(simulator.counters).toMatchObject({ groupCreates: 0, ruleCreates: 0, ruleDeletes: 0, instancePatches: 4 });
    expect(noFlags(simulator)).toEqual({});
  });

  it('refuses to activate with a group that does not admit the management allowance (it would lock the operator out)', async () => {
    // Prepare
    const { simulator, make, ctx } = setup();
    const partial = simulator.addGroup('lockdown (incomplete)', [{ ip_type: 'v4', protocol: 'tcp', port: '22', subnet: '203.0.113.0', subnet_size: 24 }]);
    const provider = make({ lockdownGroup: partial });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx));
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`options.lockdownGroup ${partial} does not admit the management allowance (tcp 22 from 2001:db8:100::/48)`);
    expect(error.message).toContain('lock you out');
    expect(simulator.counters.instancePatches).toBe(0);
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('does not admit the management allowance');
    expect(noFlags(simulator)).toEqual({});
  });

  it('reports alreadyActive when the operator put every instance on it, and leaves an instance already on it alone', async () => {
    // Prepare
    const all = withPreparedGroup();
    all.simulator.moveInstance(INSTANCE_A, all.lockdown);
    all.simulator.moveInstance(INSTANCE_B, all.lockdown);
    const one = withPreparedGroup();
    one.simulator.moveInstance(INSTANCE_A, one.lockdown);

    // Act
    const allSnapshot = await all.provider.snapshot(all.ctx);
    const oneSnapshot = await one.provider.snapshot(one.ctx);
    const activation = await one.provider.activate(oneSnapshot, one.ctx);
    const restore = await one.provider.deactivate(oneSnapshot, activation, one.ctx);

    // Assess
    expect(allSnapshot.alreadyActive).toBe(true);
    expect(oneSnapshot.alreadyActive).toBe(false);
    expect(oneSnapshot.summary).toContain('already on the lockdown group: left alone');
    expect((activation.applied as VultrApplied).instances[0]).toEqual({ instance: INSTANCE_A, previous: one.lockdown, skipped: 'already-locked' });
    expect(restore.outcome).toBe('restored');
    expect(one.simulator.instance(INSTANCE_A).firewall_group_id).toBe(one.lockdown);
    expect(one.simulator.instance(INSTANCE_B).firewall_group_id).toBe('');
    expect(one.simulator.writes).toEqual([
      `PATCH /instances/${INSTANCE_B} {"firewall_group_id":"${one.lockdown}"}`,
      `PATCH /instances/${INSTANCE_B} {"firewall_group_id":""}`,
    ]);
  });
});

describe('vultr: changes made by others', () => {
  it('leaves an instance someone moved during the attack where it is, restores the others, and reports changed-by-others', async () => {
    // Prepare
    const { simulator, provider, ctx, logger } = setup();
    const other = simulator.addGroup('maintenance');
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.moveInstance(INSTANCE_A, other);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain(`instance ${INSTANCE_A}: moved by someone else to group ${other}`);
    expect(restore.summary).toContain(`instance ${INSTANCE_B}: back on no firewall group`);
    expect(simulator.instance(INSTANCE_A).firewall_group_id).toBe(other);
    expect(simulator.instance(INSTANCE_B).firewall_group_id).toBe('');
    expect(simulator.writes.filter((write) => write.startsWith(`PATCH /instances/${INSTANCE_A}`))).toHaveLength(1);
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('not moving it back'))).toBe(true);
    expect(noFlags(simulator)).toEqual({});
  });

  it('counts an instance someone already moved back to its own group as restored, without writing', async () => {
    // Prepare
    const { simulator, provider, ctx, web } = setup();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.moveInstance(INSTANCE_A, web);
    const writes = simulator.writes.length;

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.writes.slice(writes)).toEqual([`PATCH /instances/${INSTANCE_B} {"firewall_group_id":""}`]);
  });

  it('does not move an instance moved between the snapshot and the activation, and reports it at restore', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const other = simulator.addGroup('maintenance');
    const snapshot = await provider.snapshot(ctx);
    simulator.moveInstance(INSTANCE_A, other);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect((activation.applied as VultrApplied).instances[0]).toMatchObject({ instance: INSTANCE_A, skipped: 'changed-by-others' });
    expect(activation.summary).toContain('moved by someone else since the snapshot');
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.instance(INSTANCE_A).firewall_group_id).toBe(other);
    expect(simulator.writes.some((write) => write.startsWith(`PATCH /instances/${INSTANCE_A}`))).toBe(false);
  });
});

describe('vultr: idempotency and crashes', () => {
  it('activate twice and deactivate twice write nothing the second time', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const first = await provider.activate(snapshot, ctx);
    const writesAfterActivate = simulator.writes.length;
    const second = await provider.activate(snapshot, ctx);
    const writesAfterSecond = simulator.writes.length;
    await provider.deactivate(snapshot, second, ctx);
    const writesAfterRestore = simulator.writes.length;
    const again = await provider.deactivate(snapshot, second, ctx);

    // Assess
    expect(first.confirmed && second.confirmed).toBe(true);
    expect(second.applied).toEqual({ ...(first.applied as VultrApplied), instances: expect.any(Array) });
    expect(writesAfterSecond).toBe(writesAfterActivate);
    expect(simulator.writes.length).toBe(writesAfterRestore);
    expect(again.outcome).toBe('restored');
    expect(noFlags(simulator)).toEqual({});
  });

  it('restores exactly when a crash came between the change and its record (activation undefined)', async () => {
    // Prepare
    const { simulator, provider, make, ctx } = setup();
    const before = simulator.accountState({ withoutRelayGroups: true });
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const restarted = make();

    // Act
    const restore = await restarted.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.accountState({ withoutRelayGroups: true })).toEqual(before);
    expect(noFlags(simulator)).toEqual({});
  });

  it('after a PATCH that landed but whose answer was lost, activate again finishes without a redundant write', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    simulator.failWhen('PATCH', new RegExp(`^/instances/${INSTANCE_B}$`), 500, { error: 'Internal error', status: 500 }, { afterApplying: true });
    const snapshot = await provider.snapshot(ctx);
    const crashed = await caught(provider.activate(snapshot, ctx));

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(crashed.retryable).toBe(true);
    expect(simulator.log.filter((line) => line === `PATCH /instances/${INSTANCE_B}`)).toHaveLength(2);
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(noFlags(simulator)).toEqual({});
  });

  it('restores with activation undefined when the crash came before the relay group existed', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const before = simulator.accountState();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.accountState()).toEqual(before);
    expect(simulator.writes).toEqual([]);
  });

  it('refuses a stored snapshot that is not one of its own', async () => {
    // Prepare
    const { provider, ctx } = setup();

    // Act
    const error = await caught(provider.deactivate({ state: { servers: [] }, alreadyActive: false, summary: '' }, undefined, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('not a vultr snapshot');
  });

  it('fails loudly, naming the manual fix, when Vultr ignores the move out of every group', async () => {
    // Prepare
    const { simulator, provider, ctx, web } = setup({}, { ignoreDetach: true });
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const error = await caught(provider.deactivate(snapshot, activation, ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`instance ${INSTANCE_B}: Vultr accepted the move back to no firewall group but still shows it on the lockdown group`);
    expect(error.message).toContain('by hand');
    expect(simulator.instance(INSTANCE_A).firewall_group_id).toBe(web);
  });
});

describe('vultr: API failures', () => {
  it('waits out a 429 on a read as Retry-After asks', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = setup();
    simulator.exhaustRateLimit();

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.state).toMatchObject({ instances: [{ instance: INSTANCE_A }, { instance: INSTANCE_B }] });
    expect(sleeps).toEqual([1_000]);
    expect(simulator.flags.rateLimited).toBe(1);
  });

  it('repeats a write refused with 429 after Retry-After, and only then', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = setup();
    simulator.failWhen('PATCH', new RegExp(`^/instances/${INSTANCE_A}$`), 429, { error: 'Rate limit exceeded.', status: 429 }, { headers: { 'retry-after': '2' } });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(sleeps).toEqual([2_000]);
    expect(simulator.log.filter((line) => line === `PATCH /instances/${INSTANCE_A}`)).toHaveLength(2);
    expect(noFlags(simulator)).toEqual({});
  });

  it('does not repeat a write whose outcome is unknown (5xx), and reads again next time', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    simulator.failWhen('PATCH', new RegExp(`^/instances/${INSTANCE_A}$`), 503, { error: 'Service unavailable', status: 503 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx));
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(503);
    expect(error.message).toContain('"Service unavailable"');
    expect(simulator.log.filter((line) => line === `PATCH /instances/${INSTANCE_A}`)).toHaveLength(2);
    expect(activation.confirmed).toBe(true);
  });

  it('names secrets.apiKey on 401 and never shows the key', async () => {
    // Prepare
    const { provider, ctx } = setup({}, {}, 'WRONGKEY0123456789ABCDEFGHIJKLMNOPQRS');

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(401);
    expect(error.message).toContain('secrets.apiKey');
    expect(error.message).toContain('Access Control');
    expect(error.message).not.toContain('WRONGKEY');
  });

  it('names options.instances for an instance the account does not have', async () => {
    // Prepare
    const { make, ctx } = setup();
    const provider = make({ instances: ['00000000-0000-4000-8000-000000000000'] });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(404);
    expect(error.message).toContain('instance 00000000-0000-4000-8000-000000000000 does not exist in this Vultr account: check options.instances');
  });

  it('refuses an answer that is not Vultr\'s (a proxy in the way)', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    simulator.failWhen('GET', /^\/instances\//, 200, '<html>captive portal</html>');

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('not with an instance object');
    expect(error.message).toContain('api.vultr.com directly');
  });
});

describe('vultr: health check', () => {
  it('reports the relay group not created yet, then the group, its rule count and the instances locked down', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup();
    const fresh = await provider.healthCheck(ctx);
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const requestsBefore = simulator.writes.length;

    // Act
    const during = await provider.healthCheck(ctx);

    // Assess
    expect(fresh.ok).toBe(true);
    expect(fresh.detail).toContain('does not exist yet; it is created at the first attack with 3 rules');
    expect(fresh.detail).toContain('locked down: 0/2 instances');
    expect(during.ok).toBe(true);
    expect(during.detail).toContain('(3/50 rules, 2 instances)');
    expect(during.detail).toContain('locked down: 2/2 instances');
    expect(simulator.writes.length).toBe(requestsBefore);
  });

  it('answers not ok, without throwing, when the API refuses', async () => {
    // Prepare
    const { provider, ctx } = setup({}, {}, 'WRONGKEY0123456789ABCDEFGHIJKLMNOPQRS');

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('secrets.apiKey');
  });
});

describe('vultr: pacing', () => {
  it('keeps under Vultr\'s 30 requests per second on its own, so twenty instances never meet a 429', async () => {
    // Prepare
    const { simulator, make, ctx, sleeps } = setup();
    const ids = Array.from({ length: 20 }, (_, i) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`);
    for (const id of ids) simulator.addInstance(id);
    const provider = make({ instances: ids });

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(sleeps.length).toBeGreaterThan(0);
    expect(sleeps.every((ms) => ms > 0 && ms <= 1_000)).toBe(true);
    expect(noFlags(simulator)).toEqual({});
  });
});
