import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../lib/providers/errors.ts';
import { IPSET_ID, entry, wafSetup } from './harness.ts';

const OPERATOR = ['198.51.100.0/24', '192.0.2.10/32'];

function withSet(options: Record<string, unknown> = {}, set: Partial<{ addresses: string[]; version: 'IPV4' | 'IPV6' }> = {}) {
  const h = wafSetup(options);
  h.simulator.addIpSet({ name: 'relay-blocks', id: IPSET_ID, description: 'operator blocks + relay', addresses: set.addresses ?? OPERATOR, ...(set.version ? { version: set.version } : {}) });
  return h;
}

describe('aws-waf-ipset: add and remove', () => {
  it('adds the relay\'s addresses as /32 and removes only them, leaving the set exactly as found', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withSet();
    const before = simulator.ipSetState(IPSET_ID);

    // Act
    const added = await provider.add([entry('203.0.113.7'), entry('203.0.113.8')], ctx);
    const during = simulator.ipSetState(IPSET_ID).Addresses;
    clock.advance(5_000);
    const removed = await provider.remove([entry('203.0.113.7'), entry('203.0.113.8')], ctx);

    // Assess
    expect(added).toEqual([{ ip: '203.0.113.7', ok: true }, { ip: '203.0.113.8', ok: true }]);
    expect(during).toEqual([...OPERATOR, '203.0.113.7/32', '203.0.113.8/32']);
    expect(removed.every((r) => r.ok)).toBe(true);
    expect(simulator.ipSetState(IPSET_ID)).toEqual(before);
    expect(simulator.counters).toMatchObject({ staleLockWrites: 0, writesTooFast: 0, unneededWrites: 0, descriptionDropped: 0, writes: 2 });
  });

  it('an address already in the set is foreign: nothing written, and it is never removed', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet({}, { addresses: ['203.0.113.7/32'] });

    // Act
    const added = await provider.add([entry('203.0.113.7')], ctx);
    const listed = await provider.list(ctx);

    // Assess
    expect(added).toEqual([{ ip: '203.0.113.7', ok: true, foreign: true }]);
    expect(listed).toEqual([{ ip: '203.0.113.7', owned: false }]);
    expect(simulator.counters.writes).toBe(0);
  });

  it('IPv6 addresses go in as /128 and match however WAF spells them', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet({}, { addresses: ['2001:DB8:0:0::1/128'], version: 'IPV6' });

    // Act
    const added = await provider.add([entry('2001:db8::1'), entry('2001:db8::2')], ctx);

    // Assess
    expect(added).toEqual([{ ip: '2001:db8::1', ok: true, foreign: true }, { ip: '2001:db8::2', ok: true }]);
    expect(simulator.ipSetState(IPSET_ID).Addresses).toEqual(['2001:DB8:0:0::1/128', '2001:db8::2/128']);
  });

  it('an address of the other family fails for that entry only, naming the fix', async () => {
    // Prepare
    const { provider, ctx } = withSet();

    // Act
    const added = await provider.add([entry('2001:db8::1'), entry('203.0.113.9')], ctx);

    // Assess
    expect(added[0]).toMatchObject({ ok: false, error: expect.stringMatching(/holds IPV4 addresses only; add an aws-waf-ipset integration with an IPV6 set/) });
    expect(added[1]).toEqual({ ip: '203.0.113.9', ok: true });
  });

  it('adding a present relay address and removing an absent one are no-ops (idempotent, no write)', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withSet();
    await provider.add([entry('203.0.113.7')], ctx);
    clock.advance(5_000);
    const writes = simulator.counters.writes;

    // Act
    const again = await provider.add([entry('203.0.113.7')], ctx);
    const absent = await provider.remove([entry('203.0.113.99')], ctx);

    // Assess
    expect(again).toEqual([{ ip: '203.0.113.7', ok: true }]);
    expect(absent).toEqual([{ ip: '203.0.113.99', ok: true }]);
    expect(simulator.counters.writes).toBe(writes);
  });
});

describe('aws-waf-ipset: lock tokens', () => {
  it('an admin edit between Get and Update: the relay re-reads and keeps the admin\'s change', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet();
    simulator.beforeNextUpdate(() => simulator.adminEditIpSet(IPSET_ID, (a) => [...a, '100.64.0.1/32']));

    // Act
    const added = await provider.add([entry('203.0.113.7')], ctx);

    // Assess
    expect(added).toEqual([{ ip: '203.0.113.7', ok: true }]);
    expect(simulator.counters.staleLockWrites).toBe(1);
    expect(simulator.ipSetState(IPSET_ID).Addresses).toEqual([...OPERATOR, '100.64.0.1/32', '203.0.113.7/32']);
  });

  it('an admin removal during remove is not undone', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withSet();
    await provider.add([entry('203.0.113.7')], ctx);
    clock.advance(5_000);
    simulator.beforeNextUpdate(() => simulator.adminEditIpSet(IPSET_ID, (a) => a.filter((x) => x !== '192.0.2.10/32')));

    // Act
    await provider.remove([entry('203.0.113.7')], ctx);

    // Assess
    expect(simulator.ipSetState(IPSET_ID).Addresses).toEqual(['198.51.100.0/24']);
  });

  it('keeps failing lock conflicts end in a retryable error', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet();
    for (let i = 0; i < 5; i += 1) simulator.beforeNextUpdate(() => simulator.adminEditIpSet(IPSET_ID, (a) => a));
    const hooks = () => simulator.beforeNextUpdate(() => simulator.adminEditIpSet(IPSET_ID, (a) => a));
    const original = simulator.transport.request;
    simulator.transport.request = async (request) => {
      if (String(request.headers?.['x-amz-target']).endsWith('UpdateIPSet')) hooks();
      return original(request);
    };

    // Act
    const error = await provider.add([entry('203.0.113.7')], ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/kept changing/);
  });
});

describe('aws-waf-ipset: limits', () => {
  it('refuses the overflow past 10,000 per entry, adding what fits', async () => {
    // Prepare
    const full = Array.from({ length: 9_999 }, (_, i) => `10.${Math.floor(i / 256) % 256}.${i % 256}.0/24`);
    const { simulator, provider, ctx } = withSet({}, { addresses: full });

    // Act
    const added = await provider.add([entry('203.0.113.7'), entry('203.0.113.8')], ctx);

    // Assess
    expect(added[0]).toEqual({ ip: '203.0.113.7', ok: true });
    expect(added[1]).toMatchObject({ ok: false, error: expect.stringMatching(/is full \(10000 of 10000 entries, WAF's limit\)/) });
    expect(simulator.ipSetState(IPSET_ID).Addresses).toHaveLength(10_000);
  });

  it('options.maxAddresses caps below WAF\'s limit', async () => {
    // Prepare
    const { provider, ctx } = withSet({ maxAddresses: 3 });

    // Act
    const added = await provider.add([entry('203.0.113.7'), entry('203.0.113.8')], ctx);

    // Assess
    expect(added.map((r) => r.ok)).toEqual([true, false]);
  });

  it('spaces writes at least 1 s apart per account and region, across integrations', async () => {
    // Prepare
    const { simulator, make, ctx, sleeps } = withSet();
    simulator.addIpSet({ name: 'relay-blocks', id: 'a1b2c3d4-5678-90ab-cdef-000000000002' });
    const one = make('one');
    const two = make('two', { id: 'a1b2c3d4-5678-90ab-cdef-000000000002' });

    // Act
    await one.add([entry('203.0.113.7')], ctx);
    await two.add([entry('203.0.113.8')], ctx);
    await one.add([entry('203.0.113.9')], ctx);

    // Assess
    expect(simulator.counters.writesTooFast).toBe(0);
    const writes = simulator.calls.filter((c) => c.operation === 'UpdateIPSet').map((c) => c.at);
    expect(writes).toHaveLength(3);
    expect(writes[1]! - writes[0]!).toBeGreaterThanOrEqual(1000);
    expect(writes[2]! - writes[1]!).toBeGreaterThanOrEqual(1000);
    expect(sleeps.length).toBeGreaterThan(0);
  });

  it('a ThrottlingException from WAF is retried after a wait', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet();
    simulator.failNext('UpdateIPSet', { status: 400, code: 'ThrottlingException', message: 'Rate exceeded' });

    // Act
    const added = await provider.add([entry('203.0.113.7')], ctx);

    // Assess
    expect(added).toEqual([{ ip: '203.0.113.7', ok: true }]);
    expect(simulator.ipSetState(IPSET_ID).Addresses).toContain('203.0.113.7/32');
  });
});

describe('aws-waf-ipset: ownership and errors', () => {
  it('dedicated: present addresses are the relay\'s and list() marks every host entry owned', async () => {
    // Prepare
    const { provider, ctx } = withSet({ ownership: 'dedicated' }, { addresses: ['203.0.113.7/32', '198.51.100.0/24'] });

    // Act
    const added = await provider.add([entry('203.0.113.7')], ctx);
    const listed = await provider.list(ctx);

    // Assess
    expect(added).toEqual([{ ip: '203.0.113.7', ok: true }]);
    expect(listed).toEqual([{ ip: '203.0.113.7', owned: true }]);
  });

  it('records the addresses it is about to add, before UpdateIPSet, and only those the set did not list', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet({}, { addresses: ['192.0.2.10/32', '203.0.113.9/32'] });
    const notes: { ips: string[]; writesBefore: number }[] = [];
    ctx.beforeWrite = async (ips) => void notes.push({ ips, writesBefore: simulator.counters.writes });

    // Act
    await provider.add([entry('203.0.113.7'), entry('203.0.113.9'), entry('203.0.113.8')], ctx);
    await provider.add([entry('203.0.113.7')], ctx);

    // Assess: one note, before the one write; nothing noted when nothing is written.
    expect(notes).toEqual([{ ips: ['203.0.113.7', '203.0.113.8'], writesBefore: 0 }]);
    expect(simulator.counters.writes).toBe(1);
  });

  it('writes nothing when the record before the write fails', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet();
    ctx.beforeWrite = async () => {
      throw new ProviderError('state changed meanwhile', { retryable: true });
    };

    // Act / Assess
    await expect(provider.add([entry('203.0.113.7')], ctx)).rejects.toThrow('state changed meanwhile');
    expect(simulator.counters.writes).toBe(0);
  });

  it('shared, after a crash: an address present now that was recorded absent before the relay wrote it is the relay\'s', async () => {
    // Prepare: a fresh process (nothing in memory) finds its own earlier write and an operator entry.
    const { provider, ctx } = withSet({}, { addresses: ['192.0.2.10/32', '203.0.113.7/32'] });

    // Act
    const added = await provider.add([{ ...entry('203.0.113.7'), resumed: true, absentBeforeWrite: true }, { ...entry('192.0.2.10'), resumed: true }], ctx);
    const listed = await provider.list(ctx);

    // Assess
    expect(added).toEqual([{ ip: '203.0.113.7', ok: true }, { ip: '192.0.2.10', ok: true, foreign: true }]);
    expect(listed).toEqual([
      { ip: '192.0.2.10', owned: false },
      { ip: '203.0.113.7', owned: true },
    ]);
  });

  it('shared: list() marks owned only what this process added', async () => {
    // Prepare
    const { provider, ctx } = withSet({}, { addresses: ['192.0.2.10/32'] });
    await provider.add([entry('203.0.113.7')], ctx);

    // Act
    const listed = await provider.list(ctx);

    // Assess
    expect(listed).toEqual([
      { ip: '192.0.2.10', owned: false },
      { ip: '203.0.113.7', owned: true },
    ]);
  });

  it('AccessDenied on UpdateIPSet names wafv2:UpdateIPSet', async () => {
    // Prepare
    const { simulator, provider, ctx } = withSet();
    simulator.deny('wafv2:UpdateIPSet');

    // Act
    const error = await provider.add([entry('203.0.113.7')], ctx).catch((e: unknown) => e);

    // Assess
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/grant "wafv2:UpdateIPSet"/);
  });

  it('a wrong name/id names the options to check; healthCheck reports it', async () => {
    // Prepare
    const { provider, ctx } = wafSetup();

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/no REGIONAL IP set named relay-blocks .* check options.name, options.id/);
  });
});
