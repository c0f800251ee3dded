import { describe, expect, it } from 'vitest';
import { GcpRuleChangedError } from '../../../lib/providers/gcp/errors.ts';
import type { BlockEntry } from '../../../lib/providers/types.ts';
import { CLEAN, caught, block, misbehaviour } from './harness.ts';

const entries = (...ips: string[]): BlockEntry[] => ips.map((ip) => ({ ip, expiresAt: Date.parse('2026-01-02T00:00:00Z'), incidents: ['incident-1'] }));
const web = (source: string) => ({ source, protocol: 'tcp' as const, port: 443, tags: ['web'] });

describe('gcp-firewall block', () => {
  it('creates the deny rule with the attackers at first use and blocks only them', async () => {
    // Prepare
    const { simulator, provider, ctx } = block({ targetTags: ['web'] });

    // Act
    const results = await provider.add(entries('198.51.100.7', '198.51.100.8'), ctx);

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.7', ok: true }, { ip: '198.51.100.8', ok: true }]);
    expect(simulator.rule('flowtriq-relay-block-v4')).toMatchObject({
      priority: 100,
      direction: 'INGRESS',
      denied: [{ IPProtocol: 'all' }],
      sourceRanges: ['198.51.100.7/32', '198.51.100.8/32'],
      targetTags: ['web'],
      disabled: false,
    });
    expect(simulator.admit(web('198.51.100.7'))).toBe(false);
    expect(simulator.admit(web('198.51.100.9'))).toBe(true);
    expect(await provider.list(ctx)).toEqual([{ ip: '198.51.100.7', owned: true }, { ip: '198.51.100.8', owned: true }]);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('writes once per batch and not at all when nothing changes', async () => {
    // Prepare
    const { simulator, provider, ctx } = block();
    await provider.add(entries('198.51.100.7'), ctx);

    // Act
    await provider.add(entries('198.51.100.7', '198.51.100.8', '198.51.100.9'), ctx);
    await provider.add(entries('198.51.100.8'), ctx);
    await provider.remove(entries('192.0.2.77'), ctx);

    // Assess
    expect(simulator.writeLog.map((entry) => entry.method)).toEqual(['POST', 'PATCH']);
    expect(simulator.writeLog[1]!.body).toEqual({ sourceRanges: ['198.51.100.7/32', '198.51.100.8/32', '198.51.100.9/32'] });
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('disables the rule with a harmless placeholder in one write when the last address goes, and enables it again on the next add', async () => {
    // Prepare
    const { simulator, provider, ctx } = block();
    await provider.add(entries('198.51.100.7', '198.51.100.8'), ctx);

    // Act
    await provider.remove(entries('198.51.100.7'), ctx);
    await provider.remove(entries('198.51.100.8'), ctx);
    const emptied = simulator.rule('flowtriq-relay-block-v4');
    const listed = await provider.list(ctx);
    const admittedWhileEmpty = simulator.admit(web('198.51.100.8'));
    await provider.add(entries('198.51.100.20'), ctx);

    // Assess
    expect(emptied).toMatchObject({ disabled: true, sourceRanges: ['192.0.2.0/24'] });
    expect(simulator.writeLog[2]!.body).toEqual({ sourceRanges: ['192.0.2.0/24'], disabled: true });
    expect(listed).toEqual([]);
    expect(admittedWhileEmpty).toBe(true);
    expect(simulator.rule('flowtriq-relay-block-v4')).toMatchObject({ disabled: false, sourceRanges: ['198.51.100.20/32'] });
    expect(simulator.writeLog[3]!.body).toEqual({ sourceRanges: ['198.51.100.20/32'], disabled: false });
    expect(simulator.counters.enabledWithoutSources).toBe(0);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('keeps IPv6 attackers in their own rule (a rule holds one address family)', async () => {
    // Prepare
    const { simulator, provider, ctx } = block();

    // Act
    await provider.add(entries('198.51.100.7', '2001:db8:66::1'), ctx);

    // Assess
    expect(simulator.rule('flowtriq-relay-block-v4')?.sourceRanges).toEqual(['198.51.100.7/32']);
    expect(simulator.rule('flowtriq-relay-block-v6')?.sourceRanges).toEqual(['2001:db8:66::1/128']);
    expect(simulator.admit({ ...web('2001:db8:66::1'), tags: [] })).toBe(false);
    expect(await provider.list(ctx)).toEqual([{ ip: '198.51.100.7', owned: true }, { ip: '2001:db8:66::1', owned: true }]);
  });

  it('refuses addresses past the per-rule limit one by one with a clear error', async () => {
    // Prepare
    const { provider, ctx, simulator } = block({}, {}, { maxRanges: 2 });

    // Act
    const results = await provider.add(entries('198.51.100.1', '198.51.100.2', '198.51.100.3', 'not-an-ip'), ctx);

    // Assess
    expect(results.slice(0, 2)).toEqual([{ ip: '198.51.100.1', ok: true }, { ip: '198.51.100.2', ok: true }]);
    expect(results[2]).toMatchObject({ ip: '198.51.100.3', ok: false });
    expect((results[2] as { error: string }).error).toContain("holds 2 source ranges, Google's per-rule limit");
    expect(results[3]).toMatchObject({ ip: 'not-an-ip', ok: false });
    expect(simulator.rule('flowtriq-relay-block-v4')?.sourceRanges).toHaveLength(2);
  });

  it('does not write to a rule someone changed (priority) and says what to do', async () => {
    // Prepare
    const { simulator, provider, ctx } = block();
    await provider.add(entries('198.51.100.7'), ctx);
    simulator.changeBehindRelay('flowtriq-relay-block-v4', (rule) => void (rule.priority = 2000));
    const writes = simulator.counters.writes;

    // Act
    const error = await caught(provider.add(entries('198.51.100.8'), ctx));

    // Assess
    expect(error).toBeInstanceOf(GcpRuleChangedError);
    expect(error.message).toContain('changed outside the relay (priority)');
    expect(simulator.counters.writes).toBe(writes);
  });

  it('does not re-enable a rule someone disabled while it holds addresses', async () => {
    // Prepare
    const { simulator, provider, ctx } = block();
    await provider.add(entries('198.51.100.7'), ctx);
    simulator.changeBehindRelay('flowtriq-relay-block-v4', (rule) => void (rule.disabled = true));

    // Act
    const error = await caught(provider.remove(entries('198.51.100.7'), ctx));

    // Assess
    expect(error.message).toContain('was disabled outside the relay');
    expect(simulator.rule('flowtriq-relay-block-v4')?.disabled).toBe(true);
  });

  it('waits for its running operation before the next batch, and never writes meanwhile', async () => {
    // Prepare
    const { simulator, provider, ctx, clock } = block({ waitFor: '0s' }, { pendingMs: 4_000, runningMs: 4_000 });
    await provider.add(entries('198.51.100.7'), ctx);

    // Act
    const error = await caught(provider.add(entries('198.51.100.8'), ctx));
    clock.advance(10_000);
    const later = await provider.add(entries('198.51.100.8'), ctx);

    // Assess
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('still running');
    expect(later).toEqual([{ ip: '198.51.100.8', ok: true }]);
    expect(simulator.counters.writes).toBe(2);
    expect(misbehaviour(simulator.counters)).toEqual(CLEAN);
  });

  it('never touches the operator\'s rules and reports the rules in healthCheck', async () => {
    // Prepare
    const { simulator, provider, ctx } = block();
    const operator = simulator.account();
    await provider.add(entries('198.51.100.7'), ctx);

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(simulator.account().filter((rule) => !rule.name.startsWith('flowtriq-relay-'))).toEqual(operator);
    expect(health.ok).toBe(true);
    expect(health.detail).toContain('flowtriq-relay-block-v4: enabled, priority 100, 1 source range, 1 blocked');
    expect(health.detail).toContain('flowtriq-relay-block-v6: absent');
  });
});
