import { describe, expect, it } from 'vitest';
import { AzurePriorityTakenError } from '../../../lib/providers/azure/errors.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { HttpRequest } from '../../../lib/transport/types.ts';
import { CLEAN, addOperatorRules, blockSetup, entry, expectClean } from './harness.ts';

const BLOCK = 'flowtriq-relay-az-block';
const BLOCK_V6 = 'flowtriq-relay-az-block-v6';

function withNsg(options: Record<string, unknown> = {}, sim = {}) {
  const h = blockSetup(options, sim);
  addOperatorRules(h.simulator);
  return h;
}

function prefixes(rule: Record<string, unknown> | undefined): string[] | undefined {
  return (rule as { properties: { sourceAddressPrefixes: string[] } } | undefined)?.properties.sourceAddressPrefixes;
}

describe('azure-nsg block: add, list, remove', () => {
  it('denies attacker addresses in relay-owned rules (IPv4 and IPv6 apart) and lists them as owned', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const before = simulator.account();

    // Act
    const added = await provider.add([entry('198.51.100.7'), entry('2001:db8:bad::1'), entry('198.51.100.8')], ctx);
    const listed = await provider.list(ctx);

    // Assess
    expect(provider.maxBatch).toBe(500);
    expect(added).toEqual([
      { ip: '198.51.100.7', ok: true },
      { ip: '2001:db8:bad::1', ok: true },
      { ip: '198.51.100.8', ok: true },
    ]);
    expect(prefixes(simulator.rule(BLOCK))).toEqual(['198.51.100.7', '198.51.100.8']);
    expect(prefixes(simulator.rule(BLOCK_V6))).toEqual(['2001:db8:bad::1']);
    expect((simulator.rule(BLOCK) as { properties: { priority: number; access: string } }).properties).toMatchObject({ priority: 100, access: 'Deny', direction: 'Inbound' });
    expect((simulator.rule(BLOCK_V6) as { properties: { priority: number } }).properties.priority).toBe(101);
    expect(listed).toEqual([
      { ip: '198.51.100.7', owned: true },
      { ip: '198.51.100.8', owned: true },
      { ip: '2001:db8:bad::1', owned: true },
    ]);
    expect(simulator.admit({ source: '198.51.100.7', protocol: 'tcp', port: 443 })).toBe(false);
    expect(simulator.admit({ source: '198.51.100.9', protocol: 'tcp', port: 443 })).toBe(true);
    expect(simulator.admit({ source: '203.0.113.10', protocol: 'tcp', port: 22 })).toBe(true);
    expect(simulator.account()).not.toEqual(before);
    expect(expectClean(simulator)).toEqual(CLEAN);
  });

  it('writes nothing when the addresses are already blocked', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    await provider.add([entry('198.51.100.7')], ctx);
    const writes = simulator.counters.puts;

    // Act
    const again = await provider.add([entry('198.51.100.7')], ctx);

    // Assess
    expect(again).toEqual([{ ip: '198.51.100.7', ok: true }]);
    expect(simulator.counters.puts).toBe(writes);
  });

  it('removes addresses with If-Match, deletes the rule with the last one, and leaves the account as it was', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const before = simulator.account();
    await provider.add([entry('198.51.100.7'), entry('198.51.100.8'), entry('2001:db8:bad::1')], ctx);

    // Act
    const first = await provider.remove([entry('198.51.100.7')], ctx);
    const afterFirst = prefixes(simulator.rule(BLOCK));
    const rest = await provider.remove([entry('198.51.100.8'), entry('2001:db8:bad::1'), entry('198.51.100.99')], ctx);

    // Assess
    expect(first).toEqual([{ ip: '198.51.100.7', ok: true }]);
    expect(afterFirst).toEqual(['198.51.100.8']);
    expect(rest.every((result) => result.ok)).toBe(true);
    expect(simulator.account()).toEqual(before);
    const writes = simulator.requests.filter((request) => request.method !== 'GET');
    expect(writes.slice(2).every((request) => request.ifMatch !== undefined)).toBe(true);
    expect(expectClean(simulator)).toEqual(CLEAN);
  });

  it('keeps a range someone added to the block rule by hand, and does not list it', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    await provider.add([entry('198.51.100.7')], ctx);
    simulator.editRule(BLOCK, { sourceAddressPrefixes: ['198.51.100.7', '192.0.2.128/25'] });

    // Act
    const listed = await provider.list(ctx);
    await provider.remove([entry('198.51.100.7')], ctx);

    // Assess
    expect(listed).toEqual([{ ip: '198.51.100.7', owned: true }]);
    expect(prefixes(simulator.rule(BLOCK))).toEqual(['192.0.2.128/25']);
  });

  it('reads again and recomputes when the NSG changes between the read and the write (412)', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    await provider.add([entry('198.51.100.7')], ctx);
    const original = simulator.handle.bind(simulator);
    let raced = false;
    simulator.handle = (request: HttpRequest) => {
      if (!raced && request.method === 'PUT') {
        raced = true;
        simulator.addRule('added-meanwhile', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '25', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Allow', priority: 500, direction: 'Inbound' });
      }
      return original(request);
    };

    // Act
    const added = await provider.add([entry('198.51.100.8')], ctx);

    // Assess
    expect(added).toEqual([{ ip: '198.51.100.8', ok: true }]);
    expect(simulator.counters.preconditionFailures).toBe(1);
    expect(prefixes(simulator.rule(BLOCK))).toEqual(['198.51.100.7', '198.51.100.8']);
    expect(simulator.ruleNames()).toContain('added-meanwhile');
  });

  it('refuses an address past options.maxAddresses and an invalid address, entry by entry', async () => {
    // Prepare
    const { provider, ctx } = withNsg({ maxAddresses: 2 });

    // Act
    const results = await provider.add([entry('198.51.100.1'), entry('not-an-ip'), entry('2001:db8::1'), entry('198.51.100.3')], ctx);

    // Assess
    expect(results[0]).toEqual({ ip: '198.51.100.1', ok: true });
    expect(results[1]).toMatchObject({ ip: 'not-an-ip', ok: false });
    // IPv4 goes first: .1 and .3 fill the two places, the IPv6 address is refused.
    expect(results[3]).toEqual({ ip: '198.51.100.3', ok: true });
    expect(results[2]).toMatchObject({ ip: '2001:db8::1', ok: false });
    expect((results[2] as { error: string }).error).toContain('options.maxAddresses');
  });
});

describe('azure-nsg block: priorities and Azure\'s pace', () => {
  it('refuses to create the block rule at a priority an operator rule uses, and writes nothing', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    simulator.addRule('office-first', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '22', sourceAddressPrefix: '203.0.113.0/24', destinationAddressPrefix: '*', access: 'Allow', priority: 100, direction: 'Inbound' });

    // Act
    let error: unknown;
    try {
      await provider.add([entry('198.51.100.7')], ctx);
    } catch (caught) {
      error = caught;
    }
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(error).toBeInstanceOf(AzurePriorityTakenError);
    expect((error as Error).message).toContain('"office-first" (priority 100)');
    expect(simulator.counters.puts).toBe(0);
    expect(health.ok).toBe(false);
  });

  it('answers deferred when Azure is still applying a write after waitFor, and writes nothing more until it is done', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = withNsg({ waitFor: '0s' }, { operationDelayMs: 30_000 });

    // Act
    const first = await provider.add([entry('198.51.100.7')], ctx);
    let busy: unknown;
    try {
      await provider.add([entry('198.51.100.8')], ctx);
    } catch (error) {
      busy = error;
    }
    clock.advance(30_000);
    const later = await provider.add([entry('198.51.100.7'), entry('198.51.100.8')], ctx);
    clock.advance(30_000);
    const settled = await provider.add([entry('198.51.100.8')], ctx);

    // Assess
    expect(first).toEqual([{ ip: '198.51.100.7', ok: false, deferred: true, retryAfterMs: 5_000, error: 'Azure is still applying the change' }]);
    expect(busy).toBeInstanceOf(ProviderError);
    expect((busy as ProviderError).retryable).toBe(true);
    expect(later[0]).toEqual({ ip: '198.51.100.7', ok: true });
    expect(later[1]).toMatchObject({ ip: '198.51.100.8', ok: false, deferred: true });
    expect(settled).toEqual([{ ip: '198.51.100.8', ok: true }]);
    expect(simulator.counters.writesWhileOperationPending).toBe(0);
    expect(simulator.counters.puts).toBe(2);
  });

  it('reports the block rules in its health check', async () => {
    // Prepare
    const { provider, ctx } = withNsg();
    await provider.add([entry('198.51.100.7')], ctx);

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(true);
    expect(health.detail).toContain('block mode, IPv4 rule: 1 addresses, IPv6 rule: none (at most 1000)');
  });
});
