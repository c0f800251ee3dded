import { describe, expect, it } from 'vitest';
import { GcpAuthError, GcpPermissionError, GcpRuleChangedError } from '../../../lib/providers/gcp/errors.ts';
import { CLEAN, OFFICE, OFFICE_V6, TAGS, caught, lockdown, misbehaviour } from './harness.ts';

const ssh = (source: string) => ({ source, protocol: 'tcp' as const, port: 22, tags: TAGS });
const web = (source: string) => ({ source, protocol: 'tcp' as const, port: 443, tags: TAGS });

describe('gcp-firewall lockdown: snapshot → activate → restore', () => {
  it('locks the tagged VMs down to the management allowance and restores the project field for field', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    const before = simulator.account();
    const reachableBefore = simulator.admit(ssh(OFFICE));

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = {
      office: simulator.admit(ssh(OFFICE)),
      officeV6: simulator.admit(ssh(OFFICE_V6)),
      strangerSsh: simulator.admit(ssh('198.51.100.7')),
      strangerWeb: simulator.admit(web('198.51.100.7')),
      strangerV6: simulator.admit(web('2001:db8:99::1')),
      untaggedSsh: simulator.admit({ ...ssh('198.51.100.7'), tags: ['db'] }),
    };
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(reachableBefore).toBe(true);
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toContain('0 of 4 rules present');
    expect(activation.confirmed).toBe(true);
    expect(during).toEqual({ office: true, officeV6: true, strangerSsh: false, strangerWeb: false, strangerV6: false, untaggedSsh: true });
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(simulator.admit(ssh(OFFICE))).toBe(true);
    expect(simulator.admit(web('198.51.100.7'))).toBe(true);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('creates every rule disabled, enables the allow rules before the deny rules, and restores deny first', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    const [allowV4, allowV6, denyV4, denyV6] = provider.rules.map((rule) => rule.name);

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    await provider.deactivate(snapshot, activation, ctx);

    // Assess
    const log = simulator.writeLog.map((entry) => `${entry.method} ${entry.rule} ${JSON.stringify(entry.body)}`);
    expect(simulator.writeLog.slice(0, 4).every((entry) => entry.method === 'POST' && (entry.body as { disabled: boolean }).disabled === true)).toBe(true);
    expect(log.slice(4, 8)).toEqual([
      `PATCH ${allowV4} {"disabled":false}`,
      `PATCH ${allowV6} {"disabled":false}`,
      `PATCH ${denyV4} {"disabled":false}`,
      `PATCH ${denyV6} {"disabled":false}`,
    ]);
    expect(log.slice(8)).toEqual([`DELETE ${denyV4} null`, `DELETE ${denyV6} null`, `DELETE ${allowV4} null`, `DELETE ${allowV6} null`]);
  });

  it('writes relay rules with targetTags, priority P for allow and P+1 for deny, one address family each', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown({ priority: 500, keep: [{ protocol: 'icmp', sources: ['192.0.2.0/24', '2001:db8:20::/48'] }] });

    // Act
    await provider.activate(await provider.snapshot(ctx), ctx);

    // Assess
    const rules = provider.rules.map((rule) => simulator.rule(rule.name)!);
    expect(rules.map((rule) => [rule.priority, rule.allowed ?? rule.denied, rule.sourceRanges, rule.targetTags, rule.disabled])).toEqual([
      [500, [{ IPProtocol: 'tcp', ports: ['22'] }], ['203.0.113.10/32'], TAGS, false],
      [500, [{ IPProtocol: 'tcp', ports: ['22'] }], ['2001:db8:10::/48'], TAGS, false],
      [500, [{ IPProtocol: 'icmp' }], ['192.0.2.0/24'], TAGS, false],
      [500, [{ IPProtocol: '58' }], ['2001:db8:20::/48'], TAGS, false],
      [501, [{ IPProtocol: 'all' }], ['0.0.0.0/0'], TAGS, false],
      [501, [{ IPProtocol: 'all' }], ['::/0'], TAGS, false],
    ]);
    expect(rules.every((rule) => rule.name.startsWith('flowtriq-relay-') && rule.description.startsWith('flowtriq-relay lockdown'))).toBe(true);
    expect(simulator.admit({ source: '192.0.2.9', protocol: 'icmp', tags: TAGS })).toBe(true);
    expect(simulator.admit({ source: '198.51.100.9', protocol: 'icmp', tags: TAGS })).toBe(false);
  });

  it('disables rules that existed disabled before the attack instead of deleting them', async () => {
    // Prepare: the rules are there, disabled, from an earlier attack the relay did not finish cleaning (or created by hand).
    const { simulator, provider, ctx } = lockdown();
    for (const rule of provider.rules) simulator.addRule({ ...rule.insert });
    const before = simulator.account();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const on = provider.rules.every((rule) => simulator.rule(rule.name)?.disabled === false);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.summary).toContain('4 of 4 rules present, 0 enabled');
    expect(on).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(simulator.writeLog.every((entry) => entry.method === 'PATCH')).toBe(true);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('says alreadyActive when every rule is enabled and unchanged before the attack', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    for (const rule of provider.rules) simulator.addRule({ ...rule.insert, disabled: false });

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(snapshot.summary).toContain('already active');
    expect(simulator.counters.writes).toBe(0);
  });

  it('leaves a rule that was already enabled before the attack enabled after it', async () => {
    // Prepare: the operator enabled the management allow rule by hand.
    const { simulator, provider, ctx } = lockdown();
    const first = provider.rules[0]!;
    simulator.addRule({ ...first.insert, disabled: false });
    const before = simulator.account();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(activation.summary).toContain(`already enabled before, left alone: ${first.name}`);
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(simulator.writeLog.some((entry) => entry.rule === first.name)).toBe(false);
  });
});

describe('gcp-firewall lockdown: operations', () => {
  it('polls each operation PENDING → RUNNING → DONE and never writes while one is running', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = lockdown({ pollInterval: '2s' }, { pendingMs: 1_000, runningMs: 3_000 });
    const before = simulator.account();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(sleeps.every((ms) => ms === 2_000)).toBe(true);
    expect(sleeps).toHaveLength(2 * simulator.counters.writes);
    expect(simulator.account()).toEqual(before);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('reports an activation not yet applied with recheckAfterMs and, called again, continues without a second write meanwhile', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = lockdown({ pollInterval: '2s', waitFor: '0s' }, { pendingMs: 5_000, runningMs: 5_000 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const first = await provider.activate(snapshot, ctx);
    const second = await provider.activate(snapshot, ctx);
    let last = second;
    for (let i = 0; i < 20 && !last.confirmed; i += 1) {
      clock.advance(10_000);
      last = await provider.activate(snapshot, ctx);
    }

    // Assess
    expect(first).toMatchObject({ confirmed: false, recheckAfterMs: 2_000 });
    expect(second.confirmed).toBe(false);
    expect(second.summary).toContain('still running');
    expect(last.confirmed).toBe(true);
    expect(simulator.counters.writes).toBe(8);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('reports a restore not yet applied as pending, then restored', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = lockdown({ pollInterval: '2s', waitFor: '0s' }, { pendingMs: 5_000, runningMs: 5_000 });
    const before = simulator.account();
    const snapshot = await provider.snapshot(ctx);
    let activation = await provider.activate(snapshot, ctx);
    while (!activation.confirmed) {
      clock.advance(10_000);
      activation = await provider.activate(snapshot, ctx);
    }

    // Act
    const outcomes: string[] = [];
    let restore = await provider.deactivate(snapshot, activation, ctx);
    outcomes.push(restore.outcome);
    while (restore.outcome === 'pending' && outcomes.length < 30) {
      clock.advance(10_000);
      restore = await provider.deactivate(snapshot, activation, ctx);
      outcomes.push(restore.outcome);
    }

    // Assess
    expect(outcomes[0]).toBe('pending');
    expect(outcomes.at(-1)).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });
});

describe('gcp-firewall lockdown: crashes and repeats', () => {
  it('activate called again after a crash changes nothing and confirms', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const writes = simulator.counters.writes;

    // Act
    const again = await provider.activate(snapshot, ctx);

    // Assess
    expect(again.confirmed).toBe(true);
    expect(simulator.counters.writes).toBe(writes);
  });

  it('restores exactly with activation undefined (crash between the change and its record)', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    const before = simulator.account();
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
  });

  it('restores exactly after a crash in the middle of the activation (only some rules created)', async () => {
    // Prepare: the relay created two rules and enabled one, then crashed.
    const { simulator, provider, ctx } = lockdown();
    const before = simulator.account();
    const snapshot = await provider.snapshot(ctx);
    simulator.addRule({ ...provider.rules[0]!.insert, disabled: false });
    simulator.addRule({ ...provider.rules[1]!.insert });

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
  });

  it('a second deactivate is a no-op', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    await provider.deactivate(snapshot, activation, ctx);
    const writes = simulator.counters.writes;

    // Act
    const again = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(again.outcome).toBe('restored');
    expect(simulator.counters.writes).toBe(writes);
  });
});

describe('gcp-firewall lockdown: changes made by others', () => {
  it('leaves an allow rule someone changed during the attack, restores the rest and reports changed-by-others', async () => {
    // Prepare
    const { simulator, provider, ctx, logger } = lockdown();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const allow = provider.rules[0]!.name;
    simulator.changeBehindRelay(allow, (rule) => void rule.sourceRanges!.push('198.51.100.0/24'));
    const changed = simulator.rule(allow);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain(`${allow} changed by someone else (sourceRanges)`);
    expect(simulator.rule(allow)).toEqual(changed);
    expect(provider.rules.slice(1).every((rule) => simulator.rule(rule.name) === undefined)).toBe(true);
    expect(simulator.admit(ssh(OFFICE))).toBe(true);
    expect(simulator.admit(web('198.51.100.7'))).toBe(true);
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('changed by someone else'))).toBe(true);
    expect(simulator.counters.foreignWrites).toBe(0);
  });

  it('keeps every allow rule enabled while a deny rule someone changed stays enabled, so management stays reachable', async () => {
    // Prepare: someone drops the deny rule's target tags: it now denies the whole network.
    const { simulator, provider, ctx } = lockdown();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const deny = provider.rules.find((rule) => rule.role === 'deny' && rule.family === 4)!.name;
    simulator.changeBehindRelay(deny, (rule) => void delete rule.targetTags);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('must stay reachable');
    expect(simulator.rule(deny)?.disabled).toBe(false);
    expect(provider.rules.filter((rule) => rule.role === 'allow').every((rule) => simulator.rule(rule.name)?.disabled === false)).toBe(true);
    expect(simulator.admit(ssh(OFFICE))).toBe(true);
  });

  it('refuses to activate when a relay rule was changed before the attack, before enabling anything', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    const deny = provider.rules.find((rule) => rule.role === 'deny')!;
    simulator.addRule({ ...deny.insert, priority: 10 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx));

    // Assess
    expect(error).toBeInstanceOf(GcpRuleChangedError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`gcloud compute firewall-rules delete ${deny.name}`);
    expect(snapshot.summary).toContain('changed outside the relay');
    expect(simulator.counters.writes).toBe(0);
  });
});

describe('gcp-firewall lockdown: authentication and errors', () => {
  it('asks for one token and reuses it until shortly before it expires', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = lockdown();

    // Act
    await provider.healthCheck(ctx);
    await provider.healthCheck(ctx);
    clock.advance(3_599_000 - 30_000);
    await provider.healthCheck(ctx);

    // Assess
    expect(simulator.counters.tokenRequests).toBe(2);
    expect(simulator.counters.expiredTokenUses).toBe(0);
    expect(simulator.counters.invalidAssertions).toBe(0);
  });

  it('asks for a new token once when the API refuses the cached one', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    await provider.healthCheck(ctx);
    simulator.revokeTokens();

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(true);
    expect(simulator.counters.tokenRequests).toBe(2);
    expect(simulator.counters.invalidTokenUses).toBe(1);
  });

  it('stops with a clear, secret-free error when Google rejects the key', async () => {
    // Prepare: Google knows another public key for this key id.
    const { provider, ctx, account } = lockdown({}, {}, { fresh: true });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error).toBeInstanceOf(GcpAuthError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('invalid_grant');
    expect(error.message).toContain('create a new JSON key');
    const privateKey = (JSON.parse(account.keyFile) as { private_key: string }).private_key;
    expect(error.message).not.toContain(privateKey.slice(40, 80));
  });

  it('names the role to grant on 403', async () => {
    // Prepare
    const { simulator, provider, ctx } = lockdown();
    simulator.forbid('get');

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error).toBeInstanceOf(GcpPermissionError);
    expect(error.message).toContain('roles/compute.securityAdmin');
  });

  it('waits as long as Retry-After asks on 429, then goes on', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = lockdown();
    simulator.failNext(429, { error: { code: 429, message: 'Rate Limit Exceeded', errors: [{ reason: 'rateLimitExceeded', domain: 'usageLimits', message: 'Rate Limit Exceeded' }] } }, { 'retry-after': '7' });

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(sleeps).toContain(7_000);
  });

  it('reports what it found in healthCheck', async () => {
    // Prepare
    const { provider, ctx } = lockdown();
    await provider.activate(await provider.snapshot(ctx), ctx);

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health).toEqual({ ok: true, detail: expect.stringContaining('4 of 4 relay rules present, 4 enabled (mode: locked down)') as unknown as string });
  });
});
