import { afterEach, describe, expect, it } from 'vitest';
import { SWITCH_KEY, type AuditEntry } from '../../lib/model/types.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { collectStatusView, STATUS_LIMITS, switchState } from '../../lib/status/collect.ts';
import type { StatusDeps } from '../../lib/status/types.ts';
import { ADDRESSES, HOLD_DOWN_ENDS_AT, NOW, PLAIN, QUEUE_STATS, RETRY_AT, seededDeps } from './seed.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function seeded(): Promise<StatusDeps & { store: SqliteStateStore }> {
  const deps = await seededDeps();
  stores.push(deps.store);
  return deps;
}

function emptyDeps(overrides: Partial<Omit<StatusDeps, 'store'>> = {}): StatusDeps & { store: SqliteStateStore } {
  const store = SqliteStateStore.open(':memory:');
  stores.push(store);
  return {
    store,
    queue: { stats: async () => ({ visible: 0, inFlight: 0, dead: 0 }) },
    runtime: () => ({ startedAt: NOW - 1000, health: new Map() }),
    integrations: [],
    now: () => NOW,
    token: undefined,
    ...overrides,
  };
}

describe('collectStatusView over a seeded store', () => {
  it('lists both active incidents with node, vector, start, attackers and severity, newest event first', async () => {
    // Prepare
    const deps = await seeded();

    // Act
    const view = await collectStatusView(deps);

    // Assess
    expect(view.incidents.more).toBe(0);
    expect(view.incidents.items.map((incident) => incident.uuid)).toEqual([PLAIN.incidentB, PLAIN.incidentA]);
    const a = view.incidents.items.find((incident) => incident.uuid === PLAIN.incidentA)!;
    expect(a).toMatchObject({
      title: PLAIN.titleA,
      family: PLAIN.familyA,
      severity: PLAIN.severityA,
      node: { name: PLAIN.nodeNameA, ip: PLAIN.nodeIpA },
      startedAt: new Date(NOW - 20 * 60_000).toISOString(),
      attackers: 2,
      blocksHeld: 4,
      peakPps: 2_400_000,
    });
    const b = view.incidents.items.find((incident) => incident.uuid === PLAIN.incidentB)!;
    // No startedAt in the webhook: the time the relay first saw it.
    expect(b).toMatchObject({ attackers: 2, blocksHeld: 2, severity: PLAIN.severityB, startedAt: new Date(NOW - 5 * 60_000).toISOString() });
  });

  it('lists blocks per integration with status, time left and last verification, failures first', async () => {
    // Prepare
    const deps = await seeded();

    // Act
    const view = await collectStatusView(deps);

    // Assess
    expect(view.blocklists.map((list) => list.id)).toEqual([PLAIN.fw, PLAIN.cf]);
    const fw = view.blocklists[0]!;
    expect(fw.counts).toEqual({ applied: 2, failed: 1 });
    expect(fw.blocks.items.map((block) => `${block.address} ${block.status}`)).toEqual([
      `${ADDRESSES[2]} failed`,
      `${ADDRESSES[0]} applied`,
      `${ADDRESSES[1]} applied`,
    ]);
    expect(fw.blocks.items[1]).toMatchObject({ holders: 1, expiresAt: NOW + 3_600_000, timeLeftMs: 3_600_000, addedAt: NOW - 20 * 60_000 + 1000, lastAttemptAt: NOW - 30_000 });
    expect(fw.blocks.items[0]).toMatchObject({ attempts: 2, lastError: PLAIN.lastError, dueAt: RETRY_AT });
    const cf = view.blocklists[1]!;
    expect(cf.blocks.items.map((block) => block.address)).toEqual([ADDRESSES[0], ADDRESSES[1], ADDRESSES[3]]);
  });

  it('shows the switch on hold-down with its end, the switch changed by others as off plus a notice', async () => {
    // Prepare
    const deps = await seeded();

    // Act
    const view = await collectStatusView(deps);

    // Assess
    const scrub = view.switches.find((item) => item.id === PLAIN.scrub)!;
    expect(scrub).toMatchObject({
      state: 'hold-down',
      holders: { items: [], more: 0 },
      holdDownEndsAt: HOLD_DOWN_ENDS_AT,
      found: { summary: PLAIN.foundSummary, alreadyActive: false },
      activation: { summary: PLAIN.setSummary, confirmed: true },
    });
    const bgp = view.switches.find((item) => item.id === PLAIN.bgp)!;
    expect(bgp.state).toBe('off');
    expect(view.notices.items).toEqual([{ integration: PLAIN.bgp, at: NOW - 90_000, message: PLAIN.switchError }]);
  });

  it('lists the failure with its next retry, the health header and the attention lines', async () => {
    // Prepare
    const deps = await seeded();

    // Act
    const view = await collectStatusView(deps);

    // Assess
    expect(view.failures.items).toEqual([
      { integration: PLAIN.fw, kind: 'ip', key: ADDRESSES[2], status: 'failed', attempts: 2, lastError: PLAIN.lastError, lastAttemptAt: NOW - 20_000, nextRetryAt: RETRY_AT },
    ]);
    expect(view.health).toMatchObject({
      startedAt: NOW - 3 * 3_600_000,
      uptimeMs: 3 * 3_600_000,
      lastSweepAt: NOW - 15_000,
      lastDriftCheckAt: NOW - 600_000,
      queue: { waiting: QUEUE_STATS.visible, inFlight: QUEUE_STATS.inFlight, dead: QUEUE_STATS.dead, oldestAgeMs: QUEUE_STATS.oldestAgeMs },
    });
    expect(view.health.integrations.map((entry) => [entry.id, entry.health?.ok])).toEqual([
      [PLAIN.fw, true],
      [PLAIN.cf, false],
      [PLAIN.scrub, undefined],
      [PLAIN.bgp, undefined],
    ]);
    expect(view.health.attention).toEqual([
      '1 change is failing and will be retried (see Failures)',
      '2 jobs dead-lettered',
      `${PLAIN.cf}: the last health check failed`,
      '1 switch was changed by someone else and left alone (see Notices)',
    ]);
  });

  it('includes the audit trail newest first', async () => {
    // Prepare
    const deps = await seeded();

    // Act
    const view = await collectStatusView(deps);

    // Assess
    expect(view.audit.map((entry) => `${entry.action} ${entry.outcome}`)).toEqual([
      'switch.off changed-by-others',
      'incident.released ok',
      'block.add failed',
      'block.add ok',
      'block.add ok',
    ]);
    expect(view.generatedAt).toBe(NOW);
  });
});

describe('collectStatusView bounds', () => {
  it('lists at most 500 blocks per integration and counts the rest; counts cover all', async () => {
    // Prepare: 520 held addresses on one blocklist.
    const deps = emptyDeps({ integrations: [{ id: 'fw', type: 'nftables', kind: 'blocklist' }] });
    const total = STATUS_LIMITS.blocksPerIntegration + 20;
    await deps.store.hold(
      Array.from({ length: total }, (_, index) => ({
        integration: 'fw',
        key: `10.0.${Math.floor(index / 256)}.${index % 256}`,
        kind: 'ip' as const,
        incident: 'inc',
        expiresAt: NOW + 60_000,
      })),
      NOW,
    );

    // Act
    const view = await collectStatusView(deps);

    // Assess
    const fw = view.blocklists[0]!;
    expect(fw.blocks.items).toHaveLength(STATUS_LIMITS.blocksPerIntegration);
    expect(fw.blocks.more).toBe(20);
    expect(fw.counts).toEqual({ pending: total });
  });

  it('keeps the newest 50 audit entries and cuts long strings', async () => {
    // Prepare
    const deps = emptyDeps();
    const entries: AuditEntry[] = Array.from({ length: 70 }, (_, index) => ({ at: NOW - 70 + index, action: 'block.add', count: index, outcome: 'ok' }));
    await deps.store.appendAudit(entries);
    await deps.store.putIncident({
      uuid: 'x'.repeat(2000),
      status: 'active',
      title: 't'.repeat(5000),
      lastEventAt: NOW,
      lastEventType: 'attack_start',
      firstSeenAt: NOW,
      updatedAt: NOW,
    });

    // Act
    const view = await collectStatusView(deps);

    // Assess
    expect(view.audit).toHaveLength(STATUS_LIMITS.audit);
    expect(view.audit[0]!.count).toBe(69);
    const incident = view.incidents.items[0]!;
    expect(incident.title).toHaveLength(STATUS_LIMITS.text);
    expect(incident.title!.endsWith('…')).toBe(true);
    expect(incident.uuid).toHaveLength(STATUS_LIMITS.text);
  });

  it('still shows blocks of an integration that is no longer configured', async () => {
    // Prepare
    const deps = emptyDeps({ integrations: [{ id: 'fw', type: 'nftables', kind: 'blocklist' }] });
    await deps.store.hold([{ integration: 'old-fw', key: '203.0.113.9', kind: 'ip', incident: 'inc', expiresAt: NOW + 60_000 }], NOW);

    // Act
    const view = await collectStatusView(deps);

    // Assess
    expect(view.blocklists.map((list) => [list.id, list.configured, list.type])).toEqual([
      ['fw', true, 'nftables'],
      ['old-fw', false, '?'],
    ]);
  });

  it('shows a configured switch with no record as off, and names the states of a switch block', async () => {
    // Prepare
    const deps = emptyDeps({ integrations: [{ id: 'sw', type: 'ovh', kind: 'switch' }] });
    const base = { integration: 'sw', key: SWITCH_KEY, kind: 'switch' as const, expiresAt: NOW + 60_000, attempts: 0, version: 1, updatedAt: NOW };

    // Act
    const view = await collectStatusView(deps);

    // Assess
    expect(view.switches).toEqual([{ id: 'sw', type: 'ovh', configured: true, state: 'off', holders: { items: [], more: 0 } }]);
    expect(switchState({ ...base, holders: ['i'], actual: 'present', status: 'applied' }, NOW)).toBe('on');
    expect(switchState({ ...base, holders: ['i'], actual: 'absent', status: 'pending' }, NOW)).toBe('turning-on');
    expect(switchState({ ...base, holders: [], actual: 'present', dueAt: NOW, status: 'removing' }, NOW)).toBe('restoring');
    expect(switchState({ ...base, holders: [], actual: 'present', dueAt: NOW + 5, snapshot: { quietSince: NOW - 5 }, status: 'removing' }, NOW)).toBe('hold-down');
    expect(switchState({ ...base, holders: ['i'], actual: 'absent', lastError: 'x', status: 'failed' }, NOW)).toBe('failed');
  });
});
