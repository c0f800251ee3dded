import { describe, expect, it } from 'vitest';
import { AzureAuthError, AzurePriorityTakenError } from '../../../lib/providers/azure/errors.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { HttpRequest } from '../../../lib/transport/types.ts';
import { CLIENT_SECRET } from '../../simulators/azure/arm.ts';
import { CLEAN, addOperatorRules, expectClean, lockdownSetup } from './harness.ts';

const ALLOW_1 = 'flowtriq-relay-az-allow-1';
const ALLOW_2 = 'flowtriq-relay-az-allow-2';
const ALLOW_3 = 'flowtriq-relay-az-allow-3';
const DENY = 'flowtriq-relay-az-deny-all';
const MGMT = { source: '203.0.113.10', protocol: 'tcp' as const, port: 22 };
const MGMT_V6 = { source: '2001:db8:a::5', protocol: 'tcp' as const, port: 22 };
const ATTACKER_WEB = { source: '198.51.100.66', protocol: 'tcp' as const, port: 443 };

function withNsg(options: Record<string, unknown> = {}, sim = {}) {
  const h = lockdownSetup(options, sim);
  addOperatorRules(h.simulator);
  return h;
}

async function caught<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected a ${type.name}`);
}

describe('azure-nsg lockdown: snapshot → activate → restore', () => {
  it('locks the NSG down to the management allowance and keep rules, and restores the account field for field', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const before = simulator.account();
    const reachableBefore = simulator.admit(MGMT);

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = {
      names: simulator.ruleNames(),
      mgmt: simulator.admit(MGMT),
      mgmtV6: simulator.admit(MGMT_V6),
      keep: simulator.admit({ source: '192.0.2.7', protocol: 'tcp', port: 443 }),
      attacker: simulator.admit(ATTACKER_WEB),
      mgmtOtherPort: simulator.admit({ source: '203.0.113.10', protocol: 'tcp', port: 80 }),
      vnet: simulator.admit({ source: '10.0.1.5', protocol: 'tcp', port: 443 }),
    };
    const priorities = [ALLOW_1, ALLOW_2, ALLOW_3, DENY].map((name) => (simulator.rule(name) as { properties: { priority: number } }).properties.priority);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toContain('NSG nsg-web: 4 rules (3 inbound of yours, 0 of the relay), attached to 1 network interface and 1 subnet');
    expect(activation.confirmed).toBe(true);
    expect(during.names).toEqual(['allow-https', 'allow-ssh-office', 'deny-rdp', 'allow-out-dns', ALLOW_1, ALLOW_2, ALLOW_3, DENY]);
    expect(priorities).toEqual([100, 101, 102, 199]);
    expect(during).toMatchObject({ mgmt: true, mgmtV6: true, keep: true, attacker: false, mgmtOtherPort: false, vnet: false });
    expect(reachableBefore).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(simulator.admit(MGMT)).toBe(true);
    expect(simulator.admit(ATTACKER_WEB)).toBe(true);
    expect(expectClean(simulator)).toEqual(CLEAN);
  });

  it('writes the Allow rules before the Deny and removes the Deny first, each with If-Match', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    await provider.deactivate(snapshot, activation, ctx);

    // Assess
    const writes = simulator.requests.filter((request) => request.method !== 'GET').map((request) => `${request.method} ${request.path.split('/').pop()}${request.ifMatch ? ' if-match' : ''}`);
    expect(writes).toEqual([
      `PUT ${ALLOW_1}`,
      `PUT ${ALLOW_2}`,
      `PUT ${ALLOW_3}`,
      `PUT ${DENY}`,
      `DELETE ${DENY} if-match`,
      `DELETE ${ALLOW_3} if-match`,
      `DELETE ${ALLOW_2} if-match`,
      `DELETE ${ALLOW_1} if-match`,
    ]);
  });

  it('records each rule as read back, with its etag', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    const applied = activation.applied as { rules: { name: string; etag?: string; content: { sources: string[] } }[] };
    expect(applied.rules.map((rule) => rule.name)).toEqual([ALLOW_1, ALLOW_2, ALLOW_3, DENY]);
    expect(applied.rules.every((rule) => rule.etag === simulator.etag)).toBe(true);
    expect(applied.rules[0]!.content.sources).toEqual(['203.0.113.10/32']);
    expect(applied.rules[1]!.content.sources).toEqual(['2001:db8:a::/48']);
  });

  it('follows each long-running operation to Succeeded (Retry-After) before the next write', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = withNsg({}, { operationDelayMs: 25_000 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(sleeps.every((ms) => ms === 10_000)).toBe(true);
    expect(sleeps).toHaveLength(8 * 3);
    expect(simulator.counters.writesWhileOperationPending).toBe(0);
    expect(expectClean(simulator)).toEqual(CLEAN);
  });

  it('reports "not confirmed" when Azure takes longer than waitFor, and only looks until the operation has finished', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withNsg({ waitFor: '15s' }, { operationDelayMs: 60_000 });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const first = await provider.activate(snapshot, ctx);
    const putsAfterFirst = simulator.counters.puts;
    const second = await provider.activate(snapshot, ctx);
    const putsAfterSecond = simulator.counters.puts;
    clock.advance(60_000);
    let activation = await provider.activate(snapshot, ctx);
    for (let i = 0; i < 10 && !activation.confirmed; i += 1) {
      clock.advance(60_000);
      activation = await provider.activate(snapshot, ctx);
    }

    // Assess
    expect(first.confirmed).toBe(false);
    expect(first.recheckAfterMs).toBe(5_000);
    expect(second.confirmed).toBe(false);
    expect(putsAfterFirst).toBe(1);
    expect(putsAfterSecond).toBe(1);
    expect(activation.confirmed).toBe(true);
    expect(simulator.counters.puts).toBe(4);
    expect(simulator.counters.writesWhileOperationPending).toBe(0);
  });

  it('waits while someone else\'s change to the NSG is being applied before writing', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = withNsg();
    const snapshot = await provider.snapshot(ctx);
    simulator.startForeignOperation(12_000);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(sleeps).toEqual([5_000, 5_000, 5_000]);
    expect(simulator.counters.writesWhileOperationPending).toBe(0);
  });
});

describe('azure-nsg lockdown: the customer\'s rules and the band', () => {
  it('refuses to activate, naming the rule, when a priority of the band is used by a rule that is not the relay\'s', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    simulator.addRule('legacy-allow', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '8080', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Allow', priority: 150, direction: 'Inbound' });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx), AzurePriorityTakenError);
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(error.message).toContain('"legacy-allow" (priority 150)');
    expect(error.message).toContain('options.priorityBand');
    expect(error.retryable).toBe(false);
    expect(simulator.counters.puts).toBe(0);
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('legacy-allow');
  });

  it('ignores Outbound rules in the band (priorities are unique per direction)', async () => {
    // Prepare
    const { provider, ctx } = withNsg();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
  });

  it('says alreadyActive when the relay\'s lockdown rules were put in place by hand before the attack', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const first = await provider.snapshot(ctx);
    await provider.activate(first, ctx);
    const byHand = simulator.account();

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(snapshot.summary).toContain('already in place');
    expect(simulator.account()).toEqual(byHand);
  });

  it('never removes a relay-named rule that was there before the snapshot', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    simulator.addRule(ALLOW_1, { description: 'flowtriq-relay lockdown: admin VPN', protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '22', sourceAddressPrefixes: ['203.0.113.10/32'], destinationAddressPrefix: '*', access: 'Allow', priority: 100, direction: 'Inbound' });
    const before = simulator.account();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(simulator.requests.some((request) => request.method === 'PUT' && request.path.endsWith(ALLOW_1))).toBe(false);
  });
});

describe('azure-nsg lockdown: changes made by others', () => {
  it('leaves a relay rule someone edited during the attack, removes the others, and reports changed-by-others', async () => {
    // Prepare
    const { simulator, provider, ctx, logger } = withNsg();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.editRule(ALLOW_1, { sourceAddressPrefixes: ['203.0.113.10/32', '198.51.100.200/32'] });
    const edited = simulator.rule(ALLOW_1)!['properties'];

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain(`${ALLOW_1} was changed by someone else`);
    expect(simulator.ruleNames()).toEqual(['allow-https', 'allow-ssh-office', 'deny-rdp', 'allow-out-dns', ALLOW_1]);
    expect(simulator.rule(ALLOW_1)!['properties']).toEqual(edited);
    expect(simulator.admit(MGMT)).toBe(true);
    expect(logger.lines.some((line) => line.level === 'warn' && line.attributes['rule'] === ALLOW_1)).toBe(true);
    expect(expectClean(simulator)).toEqual(CLEAN);
  });

  it('removes nothing when the Deny itself was changed (the Allow rules keep the operator in)', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.editRule(DENY, { destinationPortRange: '0-1023', sourceAddressPrefix: '*' });
    const during = simulator.account();

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.account()).toEqual(during);
    expect(simulator.admit(MGMT)).toBe(true);
    expect(simulator.counters.deletes).toBe(0);
  });

  it('reads again and compares again when the NSG changes between its read and a delete (412)', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    // The simulator's Transport calls handle(): someone adds a rule right before the first DELETE lands.
    const original = simulator.handle.bind(simulator);
    let raced = false;
    simulator.handle = (request: HttpRequest) => {
      if (!raced && request.method === 'DELETE') {
        raced = true;
        simulator.addRule('added-meanwhile', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '25', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Allow', priority: 500, direction: 'Inbound' });
      }
      return original(request);
    };

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.counters.preconditionFailures).toBe(1);
    expect(simulator.ruleNames()).toEqual(['allow-https', 'allow-ssh-office', 'deny-rdp', 'allow-out-dns', 'added-meanwhile']);
  });
});

describe('azure-nsg lockdown: crashes', () => {
  it('activate called again after a crash changes nothing; deactivate without an activation record still restores exactly', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const before = simulator.account();
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const writes = simulator.counters.puts;

    // Act
    const again = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, undefined, ctx);
    const twice = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(again.confirmed).toBe(true);
    expect(simulator.counters.puts).toBe(writes);
    expect(restore.outcome).toBe('restored');
    expect(twice.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(expectClean(simulator)).toEqual(CLEAN);
  });

  it('restores exactly after a crash in the middle of activation (only some rules written)', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withNsg({ waitFor: '0s' }, { operationDelayMs: 30_000 });
    const before = simulator.account();
    const snapshot = await provider.snapshot(ctx);
    const partial = await provider.activate(snapshot, ctx);
    clock.advance(30_000);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);
    let outcome = restore;
    for (let i = 0; i < 5 && outcome.outcome === 'pending'; i += 1) {
      clock.advance(30_000);
      outcome = await provider.deactivate(snapshot, undefined, ctx);
    }

    // Assess
    expect(partial.confirmed).toBe(false);
    expect(simulator.counters.puts).toBe(1);
    expect(outcome.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(simulator.counters.writesWhileOperationPending).toBe(0);
  });
});

describe('azure-nsg lockdown: sign-in, throttling, health', () => {
  it('signs in once and reuses the token until shortly before it expires', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withNsg();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const afterActivate = simulator.counters.tokenRequests;
    clock.advance(56 * 60_000);
    await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(afterActivate).toBe(1);
    expect(simulator.counters.tokenRequests).toBe(2);
  });

  it('renews the token once on a 401 and carries on', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    await provider.snapshot(ctx);
    simulator.expireTokens();

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(simulator.counters.tokenRequests).toBe(2);
    expect(simulator.counters.authFailures).toBe(1);
  });

  it('names the secret to fix on a wrong client secret, without revealing it', async () => {
    // Prepare
    const { provider, ctx } = lockdownSetup({}, {}, 'wrong-secret-value');

    // Act
    const error = await caught(provider.snapshot(ctx), AzureAuthError);

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('secrets.clientSecret');
    expect(error.message).toContain('AADSTS7000215');
    expect(error.message).not.toContain('wrong-secret-value');
    expect(error.message).not.toContain(CLIENT_SECRET);
  });

  it('waits as long as Retry-After asks when Azure throttles', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = withNsg();
    simulator.throttleNext(2, 17);

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(sleeps).toEqual([17_000, 17_000]);
  });

  it('names the missing permission when the role does not allow writing rules', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    simulator.permissions.delete('Microsoft.Network/networkSecurityGroups/securityRules/write');
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx), ProviderError);

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('AuthorizationFailed');
    expect(error.message).toContain('Microsoft.Network/networkSecurityGroups/securityRules/write');
    expect(simulator.ruleNames()).toEqual(['allow-https', 'allow-ssh-office', 'deny-rdp', 'allow-out-dns']);
  });

  it('reports rules, attachments and whether the lockdown is on', async () => {
    // Prepare
    const { provider, ctx } = withNsg();
    const off = await provider.healthCheck(ctx);
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const on = await provider.healthCheck(ctx);

    // Assess
    expect(off).toEqual({ ok: true, detail: 'NSG nsg-web: 4 rules (3 inbound of yours, 0 of the relay), attached to 1 network interface and 1 subnet; lockdown off' });
    expect(on.detail).toContain('4 of the relay');
    expect(on.detail).toContain('lockdown on');
  });
});
