import { describe, expect, it } from 'vitest';
import { MAGIC_TRANSIT_PERMISSION } from '../../../lib/providers/cloudflare/magic-transit.ts';
import { ACCOUNT, failure, setupMagicTransit, writes } from './harness.ts';

const MIN = 60_000;

describe('cloudflare-magic-transit: snapshot / activate / restore', () => {
  it('advertises a withdrawn prefix, waits for Cloudflare to apply it, withdraws it afterwards, and leaves the account as it was', async () => {
    // Prepare
    const harness = setupMagicTransit({ sim: { advertiseDelayMs: 3 * MIN, withdrawDelayMs: 15 * MIN } });
    const { provider, simulator, ctx, clock, ids } = harness;
    const before = simulator.accountState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const first = await provider.activate(snapshot, ctx);
    clock.advance(30_000);
    const recheck = await provider.activate(snapshot, ctx);
    clock.advance(3 * MIN);
    const confirmed = await provider.activate(snapshot, ctx);
    const during = simulator.onDemand(ids[0]!.prefixId, ids[0]!.bgpPrefixId);
    clock.advance(30 * MIN);
    const withdrawing = await provider.deactivate(snapshot, confirmed, ctx);
    clock.advance(15 * MIN);
    const restored = await provider.deactivate(snapshot, confirmed, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toContain('203.0.113.0/24');
    expect(snapshot.state).toMatchObject({ accountId: ACCOUNT, api: 'bgp-prefixes', prefixes: [{ advertised: false, modifiedAt: null, onDemandEnabled: true, onDemandLocked: false }] });
    expect(first).toMatchObject({ confirmed: false, recheckAfterMs: 30_000, applied: { prefixes: [{ advertisedByRelay: true }] } });
    expect(recheck).toMatchObject({ confirmed: false, recheckAfterMs: 30_000 });
    expect(confirmed).toMatchObject({ confirmed: true, applied: { prefixes: [{ advertisedByRelay: true, advertisedModifiedAt: during.advertised_modified_at }] } });
    expect(confirmed.confirmedAt).toBeDefined();
    expect(confirmed.recheckAfterMs).toBeUndefined();
    expect(during.advertised).toBe(true);
    expect(withdrawing).toMatchObject({ outcome: 'pending', recheckAfterMs: 30_000 });
    expect(restored.outcome).toBe('restored');
    expect(simulator.onDemand(ids[0]!.prefixId, ids[0]!.bgpPrefixId).advertised).toBe(false);
    expect(writes(harness).map((entry) => entry.body)).toEqual(['{"on_demand":{"advertised":true}}', '{"on_demand":{"advertised":false}}']);
    expect(simulator.counters).toMatchObject({ unneededWrites: 0, refusedWrites: 0, requestsWhileBlocked: 0 });
    // Field for field, but advertised_modified_at: Cloudflare moves it on every flip.
    const after = simulator.accountState();
    const strip = (state: typeof before) => JSON.parse(JSON.stringify(state).replace(/"advertised_modified_at":("[^"]*"|null)/g, '"advertised_modified_at":"*"')) as unknown;
    expect(strip(after)).toEqual(strip(before));
  });

  it('sends the documented PATCH to the BGP prefix with a Bearer token and a JSON body', async () => {
    // Prepare
    const { provider, ctx, requests, ids } = setupMagicTransit();

    // Act
    await provider.activate(await provider.snapshot(ctx), ctx);

    // Assess
    const patch = requests.find((request) => request.method === 'PATCH')!;
    expect(patch.url).toBe(`https://api.cloudflare.com/client/v4/accounts/${ACCOUNT}/addressing/prefixes/${ids[0]!.prefixId}/bgp/prefixes/${ids[0]!.bgpPrefixId}`);
    expect(patch.body).toBe('{"on_demand":{"advertised":true}}');
    expect(patch.headers).toMatchObject({ Authorization: expect.stringMatching(/^Bearer simToken_/), 'Content-Type': 'application/json' });
  });

  it('drives the deprecated bgp/status endpoint when options.api is bgp-status', async () => {
    // Prepare
    const harness = setupMagicTransit({ api: 'bgp-status', sim: { advertiseDelayMs: 0, withdrawDelayMs: 0 } });
    const { provider, ctx, simulator, ids } = harness;

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(writes(harness).map((entry) => `${entry.path} ${entry.body}`)).toEqual([
      `/accounts/${ACCOUNT}/addressing/prefixes/${ids[0]!.prefixId}/bgp/status {"advertised":true}`,
      `/accounts/${ACCOUNT}/addressing/prefixes/${ids[0]!.prefixId}/bgp/status {"advertised":false}`,
    ]);
    expect(simulator.counters.unneededWrites).toBe(0);
  });

  it('reports alreadyActive when every prefix already is advertised, and never writes even if called', async () => {
    // Prepare
    const harness = setupMagicTransit({ count: 2 });
    const { provider, ctx, simulator, ids } = harness;
    for (const id of ids) simulator.setAdvertised(id.prefixId, id.bgpPrefixId, true);
    const before = simulator.accountState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(activation).toMatchObject({ confirmed: true, applied: { prefixes: [{ advertisedByRelay: false, left: 'pre-advertised' }, { advertisedByRelay: false, left: 'pre-advertised' }] } });
    expect(restore.outcome).toBe('restored');
    expect(writes(harness)).toEqual([]);
    expect(simulator.accountState()).toEqual(before);
  });

  it('with several prefixes, advertises only those not advertised and withdraws only those it advertised', async () => {
    // Prepare
    const harness = setupMagicTransit({ count: 2, sim: { advertiseDelayMs: 0, withdrawDelayMs: 0 } });
    const { provider, ctx, simulator, ids } = harness;
    const [on, off] = ids as [(typeof ids)[0], (typeof ids)[0]];
    simulator.setAdvertised(on.prefixId, on.bgpPrefixId, true);
    const onBefore = simulator.onDemand(on.prefixId, on.bgpPrefixId);

    // Act
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(activation.applied).toMatchObject({
      prefixes: [
        { prefixId: on.prefixId, advertisedByRelay: false, left: 'pre-advertised' },
        { prefixId: off.prefixId, advertisedByRelay: true },
      ],
    });
    expect(restore.outcome).toBe('restored');
    expect(writes(harness).map((entry) => entry.path.endsWith(off.bgpPrefixId))).toEqual([true, true]);
    expect(simulator.onDemand(on.prefixId, on.bgpPrefixId)).toEqual(onBefore);
    expect(simulator.onDemand(off.prefixId, off.bgpPrefixId).advertised).toBe(false);
  });

  it('fails clearly when Cloudflare has not advertised the prefix within confirmTimeout, without asking again', async () => {
    // Prepare
    const harness = setupMagicTransit({ extra: { confirmTimeout: '5m' }, sim: { advertiseDelayMs: 60 * MIN } });
    const { provider, ctx, clock } = harness;
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    clock.advance(4 * MIN);
    const stillWaiting = await provider.activate(snapshot, ctx);
    clock.advance(2 * MIN);
    const error = await failure(provider.activate(snapshot, ctx));

    // Assess
    expect(stillWaiting.confirmed).toBe(false);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/still not advertised 6 min after the relay asked \(options\.confirmTimeout 5 min\)/);
    expect(writes(harness)).toHaveLength(1);
  });

  it('fails clearly when the prefix is still advertised withdrawTimeout after the relay asked, writing once', async () => {
    // Prepare
    const harness = setupMagicTransit({ extra: { withdrawTimeout: '20m' }, sim: { advertiseDelayMs: 0, withdrawDelayMs: 90 * MIN } });
    const { provider, ctx, clock } = harness;
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const first = await provider.deactivate(snapshot, activation, ctx);
    clock.advance(10 * MIN);
    const second = await provider.deactivate(snapshot, activation, ctx);
    clock.advance(11 * MIN);
    const error = await failure(provider.deactivate(snapshot, activation, ctx));

    // Assess
    expect(first.outcome).toBe('pending');
    expect(second.outcome).toBe('pending');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/still advertised 21 min after the relay asked to withdraw it \(options\.withdrawTimeout 20 min\)/);
    expect(writes(harness)).toHaveLength(2);
    expect(harness.simulator.counters.unneededWrites).toBe(0);
  });

  it('leaves a prefix someone withdrew and re-advertised during the attack, and says so', async () => {
    // Prepare
    const harness = setupMagicTransit({ sim: { advertiseDelayMs: 0 } });
    const { provider, ctx, simulator, clock, ids } = harness;
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const activation = await provider.activate(snapshot, ctx);
    clock.advance(MIN);
    simulator.setAdvertised(ids[0]!.prefixId, ids[0]!.bgpPrefixId, false);
    clock.advance(MIN);
    simulator.setAdvertised(ids[0]!.prefixId, ids[0]!.bgpPrefixId, true);
    const theirs = simulator.onDemand(ids[0]!.prefixId, ids[0]!.bgpPrefixId);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('changed by someone else');
    expect(simulator.onDemand(ids[0]!.prefixId, ids[0]!.bgpPrefixId)).toEqual(theirs);
    expect(writes(harness)).toHaveLength(1);
    expect(harness.logger.lines.some((line) => line.level === 'warn')).toBe(true);
  });

  it('reports changed-by-others, writing nothing, when someone withdrew the prefix during the attack', async () => {
    // Prepare
    const harness = setupMagicTransit({ sim: { advertiseDelayMs: 0 } });
    const { provider, ctx, simulator, clock, ids } = harness;
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const activation = await provider.activate(snapshot, ctx);
    clock.advance(MIN);
    simulator.setAdvertised(ids[0]!.prefixId, ids[0]!.bgpPrefixId, false);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('withdrawn by someone else');
    expect(writes(harness)).toHaveLength(1);
  });

  it('cancels its own advertisement when the attack ends before Cloudflare applied it', async () => {
    // Prepare
    const harness = setupMagicTransit({ sim: { advertiseDelayMs: 5 * MIN } });
    const { provider, ctx, simulator, clock, ids } = harness;
    const before = simulator.accountState();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);
    clock.advance(10 * MIN);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.accountState()).toEqual(before);
    expect(simulator.pending(ids[0]!.prefixId, ids[0]!.bgpPrefixId)).toBeUndefined();
    expect(simulator.counters.unneededWrites).toBe(0);
  });

  it('without an activation record (a crash), withdraws a prefix it finds advertised', async () => {
    // Prepare
    const harness = setupMagicTransit({ sim: { advertiseDelayMs: 0, withdrawDelayMs: 0 } });
    const { provider, ctx, simulator, ids } = harness;
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.onDemand(ids[0]!.prefixId, ids[0]!.bgpPrefixId).advertised).toBe(false);
  });

  it('refuses a locked prefix and a prefix that is not on-demand, before writing anything', async () => {
    // Prepare
    const locked = setupMagicTransit();
    locked.simulator.setFlags(locked.ids[0]!.prefixId, locked.ids[0]!.bgpPrefixId, { on_demand_locked: true });
    const notOnDemand = setupMagicTransit();
    notOnDemand.simulator.setFlags(notOnDemand.ids[0]!.prefixId, notOnDemand.ids[0]!.bgpPrefixId, { on_demand_enabled: false });

    // Act
    const lockedError = await failure(locked.provider.snapshot(locked.ctx));
    const notOnDemandError = await failure(notOnDemand.provider.snapshot(notOnDemand.ctx));

    // Assess
    expect(lockedError.retryable).toBe(false);
    expect(lockedError.message).toMatch(/on_demand_locked: true.*contact Cloudflare support/);
    expect(notOnDemandError.retryable).toBe(false);
    expect(notOnDemandError.message).toMatch(/not enabled for on-demand advertisement \(on_demand_enabled: false\)/);
    expect(writes(locked)).toEqual([]);
    expect(writes(notOnDemand)).toEqual([]);
  });

  it('refuses at activation a prefix locked since the snapshot, writing nothing', async () => {
    // Prepare
    const harness = setupMagicTransit();
    const snapshot = await harness.provider.snapshot(harness.ctx);
    harness.simulator.setFlags(harness.ids[0]!.prefixId, harness.ids[0]!.bgpPrefixId, { on_demand_locked: true });

    // Act
    const error = await failure(harness.provider.activate(snapshot, harness.ctx));

    // Assess
    expect(error.message).toContain('on_demand_locked: true');
    expect(writes(harness)).toEqual([]);
    expect(harness.simulator.counters.refusedWrites).toBe(0);
  });

  it('leaves an always-on (not on-demand) prefix that is advertised alone instead of refusing it', async () => {
    // Prepare
    const harness = setupMagicTransit();
    harness.simulator.setAdvertised(harness.ids[0]!.prefixId, harness.ids[0]!.bgpPrefixId, true);
    harness.simulator.setFlags(harness.ids[0]!.prefixId, harness.ids[0]!.bgpPrefixId, { on_demand_enabled: false });

    // Act
    const snapshot = await harness.provider.snapshot(harness.ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
  });

  it('names the token permission to add when Cloudflare answers 403 Authentication error', async () => {
    // Prepare
    const harness = setupMagicTransit({ token: 'zoneOnlyToken' });
    harness.simulator.setToken('zoneOnlyToken', ['Zone Settings Write']);

    // Act
    const error = await failure(harness.provider.snapshot(harness.ctx));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(403);
    expect(error.message).toContain('10000 "Authentication error"');
    expect(error.message).toContain(MAGIC_TRANSIT_PERMISSION);
    expect(error.message).toContain(`account ${ACCOUNT}`);
    expect(error.message).not.toContain('zoneOnlyToken');
  });

  it('a read-only token snapshots but fails at activation naming the write permission', async () => {
    // Prepare
    const harness = setupMagicTransit({ token: 'readOnly' });
    harness.simulator.setToken('readOnly', ['IP Prefixes: BGP On Demand Read']);
    const snapshot = await harness.provider.snapshot(harness.ctx);

    // Act
    const error = await failure(harness.provider.activate(snapshot, harness.ctx));

    // Assess
    expect(error.message).toContain('IP Prefixes: BGP On Demand Write');
    expect(error.retryable).toBe(false);
  });

  it('names options.accountId and the prefix ids when Cloudflare does not know the prefix', async () => {
    // Prepare
    const harness = setupMagicTransit({ count: 1 });
    const other = setupMagicTransit({ count: 2 });
    const { createCloudflareMagicTransitProvider } = await import('../../../lib/providers/cloudflare/provider.ts');
    const { cloudflareMagicTransitOptionsSchema } = await import('../../../lib/providers/cloudflare/config.ts');
    const provider = createCloudflareMagicTransitProvider(
      { id: 'mt2', options: cloudflareMagicTransitOptionsSchema.parse({ accountId: ACCOUNT, prefixes: [other.ids[1]!] }), holdDownMs: 0 },
      harness.deps,
    );

    // Act
    const error = await failure(provider.snapshot(harness.ctx));

    // Assess
    expect(error.status).toBe(404);
    expect(error.message).toContain('check options.accountId and options.prefixes[].prefixId/bgpPrefixId');
  });
  it('health check reads every prefix and reports one that cannot be switched', async () => {
    // Prepare
    const harness = setupMagicTransit({ count: 2 });
    const good = await harness.provider.healthCheck(harness.ctx);
    harness.simulator.setFlags(harness.ids[1]!.prefixId, harness.ids[1]!.bgpPrefixId, { on_demand_locked: true });

    // Act
    const bad = await harness.provider.healthCheck(harness.ctx);

    // Assess
    expect(good).toEqual({ ok: true, detail: expect.stringMatching(/^203\.0\.113\.0\/24 \(bgp prefix [0-9a-f]{32}\): withdrawn; 198\.51\.100\.0\/24 .*: withdrawn$/) });
    expect(bad.ok).toBe(false);
    expect(bad.detail).toContain('on_demand_locked: true');
    expect(writes(harness)).toEqual([]);
  });
});
