import { describe, expect, it } from 'vitest';
import { DigitalOceanAuthError, DigitalOceanNotFoundError, DigitalOceanScopeError, DigitalOceanStoredStateError, DigitalOceanWriteUnclearError } from '../../../lib/providers/digitalocean/errors.ts';
import type { DoApplied } from '../../../lib/providers/digitalocean/provider.ts';
import type { HttpRequest, Transport } from '../../../lib/transport/types.ts';
import { DEFAULT_TOKEN, rules } from '../../simulators/digitalocean/api.ts';
import { CAREFUL, MANAGEMENT_SOURCE, OPERATOR_INBOUND, carelessness, caught, inboundKeys, keysOf, setup, writes } from './harness.ts';

const ATTACKER = '192.0.2.77';
const LOCKDOWN_KEYS = keysOf([rules.tcp('22', `${MANAGEMENT_SOURCE}/32`), rules.tcp('443', '198.51.100.0/24')]);
const OPERATOR_KEYS = keysOf(OPERATOR_INBOUND);

/** A transport that breaks the connection on the first request matching `when`, as a crash between two writes would. */
function breakOnce(inner: Transport, when: (request: HttpRequest) => boolean): Transport {
  let broken = false;
  return {
    request: (request) => {
      if (!broken && when(request)) {
        broken = true;
        return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      }
      return inner.request(request);
    },
  };
}

describe('digitalocean: snapshot → activate → restore', () => {
  it('locks the firewall down to the allowances and restores every rule, keeping management reachable throughout', async () => {
    // Prepare
    const { simulator, provider, ctx, id, requests, managementReachable } = setup();
    const before = simulator.firewall(id);
    const reachable = [managementReachable()];

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = simulator.firewall(id);
    const duringKeys = inboundKeys(simulator, id);
    reachable.push(managementReachable());
    const attackerDuring = simulator.admit(id, ATTACKER, 'tcp', 80);
    const restore = await provider.deactivate(snapshot, activation, ctx);
    reachable.push(managementReachable());
    const after = simulator.firewall(id);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toContain('web-1: succeeded, 4 inbound/2 outbound rules');
    expect(activation.confirmed).toBe(true);
    expect(activation.confirmedAt).toBeDefined();
    expect(duringKeys).toEqual(LOCKDOWN_KEYS);
    expect(during.outbound_rules).toEqual(before.outbound_rules);
    expect(during.droplet_ids).toEqual(before.droplet_ids);
    expect(during.tags).toEqual(before.tags);
    expect(attackerDuring).toBe(false);
    expect(simulator.admit(id, ATTACKER, 'tcp', 80)).toBe(true);
    expect(reachable).toEqual([true, true, true]);
    expect(restore.outcome).toBe('restored');
    expect({ ...after, inbound_rules: inboundKeys(simulator, id) }).toEqual({ ...before, inbound_rules: OPERATOR_KEYS });
    expect(carelessness(simulator)).toEqual(CAREFUL);
    expect(writes(requests).map((write) => write.method)).toEqual(['POST', 'DELETE', 'POST', 'DELETE']);
  });

  it('records exactly the rules it removed and added, and the inbound rules as read back', async () => {
    // Prepare
    const { provider, ctx } = setup();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    const applied = activation.applied as DoApplied;
    expect(applied.firewalls).toHaveLength(1);
    expect(applied.firewalls[0]!.removed).toEqual(OPERATOR_INBOUND);
    expect(applied.firewalls[0]!.added).toEqual([rules.tcp('22', `${MANAGEMENT_SOURCE}/32`), rules.tcp('443', '198.51.100.0/24')]);
    expect(keysOf(applied.firewalls[0]!.inbound ?? [])).toEqual(LOCKDOWN_KEYS);
    expect(JSON.parse(JSON.stringify(activation))).toEqual(activation);
    expect(JSON.parse(JSON.stringify(snapshot.state))).toEqual(snapshot.state);
  });

  it('writes rules as the rule endpoints want them: "all" for every port, no ports for icmp, other sources kept', async () => {
    // Prepare
    const inbound = [
      { protocol: 'tcp' as const, ports: '0', sources: { tags: ['office'], droplet_ids: [42] } },
      rules.icmp('0.0.0.0/0'),
      { protocol: 'udp' as const, ports: '8000-9000', sources: { load_balancer_uids: ['4de7ac8b-495b-4884-9a69-1050c6793cd6'] } },
    ];
    const { simulator, provider, ctx, id, requests } = setup({ inbound });
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    const restoredBody = writes(requests)[2]!;
    expect(restoredBody.method).toBe('POST');
    expect(restoredBody.body.inbound_rules).toEqual([
      { protocol: 'tcp', ports: 'all', sources: { tags: ['office'], droplet_ids: [42] } },
      { protocol: 'icmp', sources: { addresses: ['0.0.0.0/0'] } },
      { protocol: 'udp', ports: '8000-9000', sources: { load_balancer_uids: ['4de7ac8b-495b-4884-9a69-1050c6793cd6'] } },
    ]);
    expect(restore.outcome).toBe('restored');
    expect(inboundKeys(simulator, id)).toEqual(keysOf(inbound));
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('neither adds nor, on restore, removes an allowance that was already there', async () => {
    // Prepare
    const inbound = [rules.tcp('22', `${MANAGEMENT_SOURCE}/32`), rules.tcp('80', '0.0.0.0/0')];
    const { simulator, provider, ctx, id, requests } = setup({ inbound });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    await provider.deactivate(snapshot, activation, ctx);

    // Assess
    const bodies = writes(requests);
    expect(bodies[0]).toEqual({ method: 'POST', body: { inbound_rules: [{ protocol: 'tcp', ports: '443', sources: { addresses: ['198.51.100.0/24'] } }] } });
    expect(bodies[3]).toEqual({ method: 'DELETE', body: { inbound_rules: [{ protocol: 'tcp', ports: '443', sources: { addresses: ['198.51.100.0/24'] } }] } });
    expect(simulator.origins(id)[0]).toBe('seed');
    expect(inboundKeys(simulator, id)).toEqual(keysOf(inbound));
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('never removes deny rules (they only narrow what gets in)', async () => {
    // Prepare
    const deny = { ...rules.tcp('22', '198.51.100.66'), action: 'deny' as const };
    const { simulator, provider, ctx, id } = setup({ inbound: [...OPERATOR_INBOUND, deny] });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const during = simulator.firewall(id).inbound_rules;
    await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(during).toContainEqual(deny);
    expect(during).toHaveLength(3);
    expect(simulator.origins(id)).toContain('seed');
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('reports alreadyActive for a firewall that already is exactly the lockdown, and leaves it alone', async () => {
    // Prepare
    const { simulator, provider, ctx, id, requests } = setup({ inbound: [rules.tcp('443', '198.51.100.0/24'), rules.tcp('22', `${MANAGEMENT_SOURCE}/32`)] });

    // Act
    const snapshot = await provider.snapshot(ctx);
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(snapshot.summary).toContain('already locked down, left alone');
    expect(health.detail).toContain(': locked down');
    expect(writes(requests)).toEqual([]);
    expect(simulator.origins(id)).toEqual(['seed', 'seed']);
  });

  it('locks down and restores several firewalls, leaving one already locked down alone', async () => {
    // Prepare
    const { simulator, provider, ctx, ids } = setup({ count: 2 });
    simulator.removeRulesByHand(ids[1]!, () => true);
    simulator.addRuleByHand(ids[1]!, rules.tcp('22', `${MANAGEMENT_SOURCE}/32`));
    simulator.addRuleByHand(ids[1]!, rules.tcp('443', '198.51.100.0/24'));
    const before = [inboundKeys(simulator, ids[0]!), inboundKeys(simulator, ids[1]!)];

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = inboundKeys(simulator, ids[0]!);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(activation.summary).toContain(`firewall ${ids[1]}: already locked down, left alone`);
    expect(during).toEqual(LOCKDOWN_KEYS);
    expect(restore.outcome).toBe('restored');
    expect([inboundKeys(simulator, ids[0]!), inboundKeys(simulator, ids[1]!)]).toEqual(before);
    expect(simulator.origins(ids[1]!)).toEqual(['hand', 'hand']);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });
});

describe('digitalocean: asynchronous application', () => {
  it('waits for status succeeded and empty pending_changes before each next write and before confirming', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = setup({ sim: { applyDelayMs: 12_000 }, options: { pollInterval: '5s' } });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(sleeps).toEqual([5_000, 5_000, 5_000, 5_000, 5_000, 5_000]);
    expect(simulator.counters.writesWhilePending).toBe(0);
  });

  it('reports not confirmed with recheckAfterMs and, called again, continues without repeating a write', async () => {
    // Prepare
    const { simulator, provider, ctx, clock, requests } = setup({ sim: { applyDelayMs: 30_000 }, options: { waitFor: '0s', pollInterval: '5s' } });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const first = await provider.activate(snapshot, ctx);
    clock.advance(30_000);
    const second = await provider.activate(snapshot, ctx);
    clock.advance(30_000);
    const third = await provider.activate(snapshot, ctx);

    // Assess
    expect(first).toMatchObject({ confirmed: false, recheckAfterMs: 5_000 });
    expect(first.summary).toContain('still applying');
    expect(second.confirmed).toBe(false);
    expect(third.confirmed).toBe(true);
    expect(writes(requests).map((write) => write.method)).toEqual(['POST', 'DELETE']);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('writes nothing while a change made elsewhere is still being applied', async () => {
    // Prepare
    const { simulator, provider, ctx, clock, id, requests } = setup({ options: { waitFor: '10s', pollInterval: '5s' } });
    const snapshot = await provider.snapshot(ctx);
    simulator.setApplying(id, clock.now() + 60_000);

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(false);
    expect(writes(requests)).toEqual([]);
  });

  it('reports a restore still being applied as pending, then restored without another write', async () => {
    // Prepare
    const { simulator, provider, ctx, clock, requests } = setup({ sim: { applyDelayMs: 30_000 }, options: { waitFor: '0s' } });
    const snapshot = await provider.snapshot(ctx);
    let activation = await provider.activate(snapshot, ctx);
    while (!activation.confirmed) {
      clock.advance(30_000);
      activation = await provider.activate(snapshot, ctx);
    }
    const writesBefore = writes(requests).length;

    // Act
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const restore = await provider.deactivate(snapshot, activation, ctx);
      outcomes.push(restore.outcome);
      if (restore.outcome === 'restored') break;
      clock.advance(30_000);
    }

    // Assess
    expect(outcomes).toEqual(['pending', 'pending', 'restored']);
    expect(writes(requests).length - writesBefore).toBe(2);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('does not confirm while DigitalOcean reports status failed, and says so', async () => {
    // Prepare
    const { simulator, provider, ctx, id } = setup();
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    simulator.setFailed(id);

    // Act
    const again = await provider.activate(snapshot, ctx);

    // Assess
    expect(again.confirmed).toBe(false);
    expect(again.summary).toContain('status "failed"');
  });
});

describe('digitalocean: changes made by others', () => {
  it('leaves a firewall changed during the attack alone on restore and reports changed-by-others', async () => {
    // Prepare
    const { simulator, provider, ctx, id, requests, logger } = setup();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.addRuleByHand(id, rules.tcp('8080', '192.0.2.0/24'));
    const writesBefore = writes(requests).length;

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('changed by someone else');
    expect(writes(requests).length).toBe(writesBefore);
    expect(simulator.firewall(id).inbound_rules).toContainEqual(rules.tcp('8080', '192.0.2.0/24'));
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('changed by someone else'))).toBe(true);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('treats the removal of a relay rule by someone else as a change too', async () => {
    // Prepare
    const { simulator, provider, ctx, id, requests } = setup();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.removeRulesByHand(id, (rule) => rule.ports === '443');
    const writesBefore = writes(requests).length;

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(writes(requests).length).toBe(writesBefore);
  });

  it('does not lock down a firewall changed between the snapshot and the activation', async () => {
    // Prepare
    const { simulator, provider, ctx, id, requests } = setup();
    const snapshot = await provider.snapshot(ctx);
    simulator.addRuleByHand(id, rules.udp('51820', '0.0.0.0/0'));

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect((activation.applied as DoApplied).firewalls[0]).toMatchObject({ skipped: 'changed-by-others', removed: [], added: [] });
    expect(activation.summary).toContain('changed by someone else since the snapshot');
    expect(restore.outcome).toBe('changed-by-others');
    expect(writes(requests)).toEqual([]);
  });
});

describe('digitalocean: crashes and repeats', () => {
  it('is a no-op when activate and deactivate are called twice', async () => {
    // Prepare
    const { simulator, provider, ctx, requests } = setup();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const again = await provider.activate(snapshot, ctx);
    const afterActivations = writes(requests).length;
    const restore = await provider.deactivate(snapshot, activation, ctx);
    const restoreAgain = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(again.confirmed).toBe(true);
    expect(afterActivations).toBe(2);
    expect(restore.outcome).toBe('restored');
    expect(restoreAgain).toMatchObject({ outcome: 'restored', summary: expect.stringContaining('as before') });
    expect(writes(requests)).toHaveLength(4);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('finishes a lockdown cut off between its two writes when activate is called again', async () => {
    // Prepare
    const harness = setup();
    const { simulator, ctx, id } = harness;
    const snapshot = await harness.provider.snapshot(ctx);
    const { createDigitalOceanProvider } = await import('../../../lib/providers/digitalocean/provider.ts');
    const { digitalOceanOptionsSchema } = await import('../../../lib/providers/digitalocean/config.ts');
    const options = digitalOceanOptionsSchema.parse({ firewalls: [id], management: [{ protocol: 'tcp', ports: 22, sources: [`${MANAGEMENT_SOURCE}/32`] }], keep: [{ protocol: 'tcp', ports: '443', sources: ['198.51.100.0/24'] }] });
    const crashing = createDigitalOceanProvider(
      { id: 'do1', options, holdDownMs: 0 },
      { transport: breakOnce(simulator.transport, (request) => request.method === 'DELETE'), secrets: { apiToken: DEFAULT_TOKEN }, now: harness.clock.now, sleep: async () => {}, random: () => 0 },
    );
    const crashed = await caught(crashing.activate(snapshot, ctx));

    // Act
    const activation = await harness.provider.activate(snapshot, ctx);
    const restore = await harness.provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(crashed).toBeInstanceOf(DigitalOceanWriteUnclearError);
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(inboundKeys(simulator, id)).toEqual(OPERATOR_KEYS);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('restores exactly with activation undefined after a crash before the record, from the locked state', async () => {
    // Prepare
    const { simulator, provider, ctx, id, managementReachable } = setup();
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(inboundKeys(simulator, id)).toEqual(OPERATOR_KEYS);
    expect(managementReachable()).toBe(true);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('restores exactly with activation undefined when the crash came between the add and the remove', async () => {
    // Prepare
    const { simulator, provider, ctx, id, requests } = setup();
    const snapshot = await provider.snapshot(ctx);
    simulator.failNext(500, { on: 'DELETE' });
    await caught(provider.activate(snapshot, ctx));

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(writes(requests).map((write) => write.method)).toEqual(['POST', 'DELETE', 'DELETE']);
    expect(inboundKeys(simulator, id)).toEqual(OPERATOR_KEYS);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('answers restored with activation undefined when nothing was written', async () => {
    // Prepare
    const { provider, ctx, requests } = setup();
    const snapshot = await provider.snapshot(ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(writes(requests)).toEqual([]);
  });

  it('finishes a restore cut off between its two writes', async () => {
    // Prepare
    const { simulator, provider, ctx, id, requests } = setup();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.failNext(503, { on: 'DELETE' });
    const cut = await caught(provider.deactivate(snapshot, activation, ctx));

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(cut.retryable).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(writes(requests).map((write) => write.method)).toEqual(['POST', 'DELETE', 'POST', 'DELETE', 'DELETE']);
    expect(inboundKeys(simulator, id)).toEqual(OPERATOR_KEYS);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('does not repeat a write whose answer was lost after DigitalOcean made the change', async () => {
    // Prepare
    const { simulator, provider, ctx, requests } = setup();
    const snapshot = await provider.snapshot(ctx);
    simulator.failNext(502, { on: 'POST', applied: true });

    // Act
    const unclear = await caught(provider.activate(snapshot, ctx));
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(unclear).toBeInstanceOf(DigitalOceanWriteUnclearError);
    expect(unclear.retryable).toBe(true);
    expect(unclear.message).toContain('reads the firewall again');
    expect(activation.confirmed).toBe(true);
    expect(writes(requests).map((write) => write.method)).toEqual(['POST', 'DELETE']);
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });
});

describe('digitalocean: limits', () => {
  it('removes before adding when adding first would pass 50 rules, and restores the same way', async () => {
    // Prepare
    const inbound = Array.from({ length: 48 }, (_, i) => rules.tcp(String(2000 + i), '0.0.0.0/0'));
    const { simulator, provider, ctx, id, requests } = setup({ inbound });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const during = inboundKeys(simulator, id);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(during).toEqual(LOCKDOWN_KEYS);
    expect(writes(requests).map((write) => write.method)).toEqual(['DELETE', 'POST', 'DELETE', 'POST']);
    expect(restore.outcome).toBe('restored');
    expect(inboundKeys(simulator, id)).toEqual(keysOf(inbound));
    expect(carelessness(simulator)).toEqual(CAREFUL);
  });

  it('waits out a 429 on a write until ratelimit-reset and sends the write once more', async () => {
    // Prepare
    const { simulator, provider, ctx, clock, sleeps, requests } = setup();
    const snapshot = await provider.snapshot(ctx);
    const reset = String(Math.ceil((clock.now() + 20_000) / 1000));
    simulator.failNext(429, { on: 'POST', body: { id: 'too_many_requests', message: 'API rate limit exceeded.' }, headers: { 'ratelimit-reset': reset, 'ratelimit-remaining': '0' } });

    // Act
    const activation = await provider.activate(snapshot, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(sleeps).toContain(20_000);
    expect(writes(requests).map((write) => write.method)).toEqual(['POST', 'POST', 'DELETE']);
    expect(simulator.counters.requestsWhileLimited).toBe(0);
  });
});

describe('digitalocean: credentials and errors', () => {
  it('stops at a 401 with a message naming the secret and the scopes, never the token', async () => {
    // Prepare
    const { provider, ctx } = setup({ token: 'dop_v1_wrongwrongwrong' });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error).toBeInstanceOf(DigitalOceanAuthError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('secrets.apiToken');
    expect(error.message).toContain('firewall:read and firewall:update');
    expect(error.message).not.toContain('wrongwrongwrong');
  });

  it('names the missing scope firewall:update when a read-only token tries to lock down', async () => {
    // Prepare
    const { simulator, provider, ctx } = setup({ token: 'read-only' });
    simulator.tokens.set('read-only', new Set(['firewall:read', 'droplet:read', 'tag:read']));
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await caught(provider.activate(snapshot, ctx));

    // Assess
    expect(error).toBeInstanceOf(DigitalOceanScopeError);
    expect((error as DigitalOceanScopeError).scope).toBe('firewall:update');
    expect(error.message).toContain('lacks the scope firewall:update');
    expect(error.message).toContain('request_id');
  });

  it('names options.firewalls when the firewall does not exist', async () => {
    // Prepare
    const { provider, ctx } = setup({ options: { firewalls: ['00000000-0000-4000-8000-000000000000'] } });

    // Act
    const error = await caught(provider.snapshot(ctx));

    // Assess
    expect(error).toBeInstanceOf(DigitalOceanNotFoundError);
    expect(error.message).toContain('options.firewalls');
  });

  it('refuses a stored snapshot that is not its own', async () => {
    // Prepare
    const { provider, ctx } = setup();

    // Act
    const error = await caught(provider.activate({ state: { servers: [] }, alreadyActive: false, summary: '' }, ctx));

    // Assess
    expect(error).toBeInstanceOf(DigitalOceanStoredStateError);
    expect(error.message).toContain('restore the firewall rules by hand');
  });
});

describe('digitalocean: health check', () => {
  it('reports status, rule counts, attachments and the current mode', async () => {
    // Prepare
    const { provider, ctx, id } = setup();

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(true);
    expect(health.detail).toBe(`firewall ${id} (web-1: succeeded, 4 inbound/2 outbound rules, 1 droplets, tags [frontend]): open`);
  });

  it('warns when no droplet or tag is attached: a lockdown would protect nothing', async () => {
    // Prepare
    const { provider, ctx, simulator } = setup({ token: 'no-droplet-read' });
    simulator.tokens.set('no-droplet-read', new Set(['firewall:read', 'firewall:update']));

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(true);
    expect(health.detail).toContain('WARNING: no droplet or tag attached');
    expect(health.detail).toContain('droplet:read, tag:read');
  });

  it('reports a failure with the reason', async () => {
    // Prepare
    const { provider, ctx } = setup({ token: 'unknown' });

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('401');
  });
});
