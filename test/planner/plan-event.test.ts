import { describe, expect, it } from 'vitest';
import { planEvent } from '../../lib/planner/plan-event.ts';
import type { ApplyPlan, IntegrationView } from '../../lib/planner/types.ts';
import { SWITCH_KEY, type IncidentRecord } from '../../lib/model/types.ts';
import { attackEvent, fixture } from '../helpers/events.ts';

const T0 = Date.parse('2025-03-10T14:22:00Z');
const HOUR = 3_600_000;
const blocklist: IntegrationView = { id: 'fw', kind: 'blocklist', match: {}, ttlMs: HOUR };
const scrub: IntegrationView = { id: 'scrub', kind: 'switch', match: { minSeverity: 'critical' }, ttlMs: 2 * HOUR };

function incident(overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    uuid: 'inc-1',
    status: 'active',
    lastEventAt: T0,
    lastEventType: 'attack_start',
    firstSeenAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function apply(plan: ReturnType<typeof planEvent>): ApplyPlan {
  expect(plan.action).toBe('apply');
  return plan as ApplyPlan;
}

describe('planEvent', () => {
  it('holds every selected IP on every matching blocklist integration with the integration TTL', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 });
    const other: IntegrationView = { id: 'fw2', kind: 'blocklist', match: {}, ttlMs: 60_000 };
    // Act
    const plan = apply(planEvent({ event, incident: undefined, integrations: [blocklist, other], ips: ['45.0.0.1', '45.0.0.2'], now: T0 + 5 }));
    // Assess
    expect(plan.hold).toEqual([
      { integration: 'fw', key: '45.0.0.1', kind: 'ip', incident: 'inc-1', expiresAt: T0 + 5 + HOUR },
      { integration: 'fw', key: '45.0.0.2', kind: 'ip', incident: 'inc-1', expiresAt: T0 + 5 + HOUR },
      { integration: 'fw2', key: '45.0.0.1', kind: 'ip', incident: 'inc-1', expiresAt: T0 + 5 + 60_000 },
      { integration: 'fw2', key: '45.0.0.2', kind: 'ip', incident: 'inc-1', expiresAt: T0 + 5 + 60_000 },
    ]);
    expect(plan.releaseAll).toBe(false);
    expect(plan.incident).toMatchObject({ uuid: 'inc-1', status: 'active', lastEventAt: T0, lastEventType: 'attack_start' });
  });

  it('records the incident facts from the documented payload', () => {
    // Act
    const plan = apply(planEvent({ event: fixture('attack_start'), incident: undefined, integrations: [], ips: [], now: T0 }));
    // Assess
    expect(plan.incident).toMatchObject({
      uuid: 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70',
      id: 147,
      title: 'UDP Flood on web-prod-1',
      family: 'udp_flood',
      severity: 'critical',
      node: { id: 1, name: 'web-prod-1', ip: '203.0.113.10' },
      startedAt: '2025-03-10T14:22:00Z',
      spoofed: false,
      firstSeenAt: T0,
    });
  });

  it('holds only the first N selected addresses on an integration that takes an incident\'s top attackers', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 });
    const reporter: IntegrationView = { id: 'abuse', kind: 'blocklist', match: {}, ttlMs: HOUR, maxIps: 2 };
    // Act
    const plan = apply(planEvent({ event, incident: undefined, integrations: [reporter, blocklist], ips: ['45.0.0.1', '45.0.0.2', '45.0.0.3'], now: T0 }));
    // Assess
    expect(plan.hold.filter((h) => h.integration === 'abuse').map((h) => h.key)).toEqual(['45.0.0.1', '45.0.0.2']);
    expect(plan.hold.filter((h) => h.integration === 'fw')).toHaveLength(3);
  });

  it('keeps the highest peak rates any event of the incident reported', () => {
    // Prepare: the start reports the peaks, the update a lower pps, the end none.
    const start = fixture('attack_start_with_sources');
    const update = { ...start, event_type: 'attack_update' as const, timestamp: new Date(T0 + 60_000).toISOString(), incident: { ...start.incident!, peak_pps: 1, peak_bps: 9e12 } };
    const end = { event_type: 'attack_end' as const, timestamp: new Date(T0 + 120_000).toISOString(), incident: { uuid: start.incident!.uuid } };
    // Act
    const first = apply(planEvent({ event: start, incident: undefined, integrations: [], ips: [], now: T0 })).incident;
    const second = apply(planEvent({ event: update, incident: first, integrations: [], ips: [], now: T0 + 60_000 })).incident;
    const last = apply(planEvent({ event: end, incident: second, integrations: [], ips: [], now: T0 + 120_000 })).incident;
    // Assess
    expect(first.peakPps).toBe(910_000);
    expect(last).toMatchObject({ peakPps: 910_000, peakBps: 9e12, status: 'ended' });
  });

  it('holds a switch integration once, needing no attacker IPs', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0, severity: 'critical' });
    // Act
    const plan = apply(planEvent({ event, incident: undefined, integrations: [scrub], ips: [], now: T0 }));
    // Assess
    expect(plan.hold).toEqual([{ integration: 'scrub', key: SWITCH_KEY, kind: 'switch', incident: 'inc-1', expiresAt: T0 + 2 * HOUR }]);
  });

  it('does not re-hold a switch the incident already holds, so updates never extend its TTL', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_update', uuid: 'inc-1', at: T0 + 1000, severity: 'critical' });
    // Act
    const plan = apply(planEvent({ event, incident: incident(), integrations: [scrub], ips: [], heldSwitches: new Set(['scrub']), now: T0 + 1000 }));
    // Assess
    expect(plan.hold).toEqual([]);
    expect(plan.matched).toEqual(['scrub']);
  });

  it('skips integrations whose match rules do not select the incident, saying why', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0, severity: 'high' });
    // Act
    const plan = apply(planEvent({ event, incident: undefined, integrations: [blocklist, scrub], ips: ['45.0.0.1'], now: T0 }));
    // Assess
    expect(plan.matched).toEqual(['fw']);
    expect(plan.unmatched).toEqual([{ integration: 'scrub', reason: 'severity high is below match.minSeverity critical' }]);
    expect(plan.hold.every((intent) => intent.integration === 'fw')).toBe(true);
  });

  it('skips per-IP blocking when sources are spoofed but still holds switches', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0, severity: 'critical', spoofed: true });
    // Act
    const plan = apply(planEvent({ event, incident: undefined, integrations: [blocklist, scrub], ips: ['45.0.0.1'], now: T0 }));
    // Assess
    expect(plan.hold.map((intent) => intent.integration)).toEqual(['scrub']);
    expect(plan.ipBlockingSkipped).toMatch(/spoof/);
  });

  it('reads spoofing_detected from the top level too', () => {
    // Prepare
    const event = { ...attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 }), spoofing_detected: true };
    // Act
    const plan = apply(planEvent({ event, incident: undefined, integrations: [blocklist], ips: ['45.0.0.1'], now: T0 }));
    // Assess
    expect(plan.hold).toEqual([]);
  });

  it('ignores an event older than the newest applied one', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_update', uuid: 'inc-1', at: T0 - 1000 });
    // Act
    const plan = planEvent({ event, incident: incident(), integrations: [blocklist], ips: ['45.0.0.1'], now: T0 });
    // Assess
    expect(plan).toMatchObject({ action: 'ignore', reason: expect.stringContaining('stale') });
  });

  it('re-applies an event with the same timestamp (a re-delivery finishes crashed work)', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 });
    // Act
    const plan = apply(planEvent({ event, incident: incident(), integrations: [blocklist], ips: ['45.0.0.1'], now: T0 }));
    // Assess
    expect(plan.hold).toHaveLength(1);
  });

  it('ends the incident and releases everything on attack_end', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_end', uuid: 'inc-1', at: T0 + 60_000 });
    // Act
    const plan = apply(planEvent({ event, incident: incident(), integrations: [blocklist], ips: [], now: T0 + 60_000 }));
    // Assess
    expect(plan.releaseAll).toBe(true);
    expect(plan.hold).toEqual([]);
    expect(plan.incident).toMatchObject({ status: 'ended', lastEventType: 'attack_end', endedAt: event.timestamp });
  });

  it('records an attack_end for an unknown incident so a late start is ignored', () => {
    // Prepare
    const end = attackEvent({ type: 'attack_end', uuid: 'inc-9', at: T0 + 60_000 });
    const start = attackEvent({ type: 'attack_start', uuid: 'inc-9', at: T0 });
    // Act
    const endPlan = apply(planEvent({ event: end, incident: undefined, integrations: [blocklist], ips: [], now: T0 }));
    const startPlan = planEvent({ event: start, incident: endPlan.incident, integrations: [blocklist], ips: ['45.0.0.1'], now: T0 });
    // Assess
    expect(endPlan.incident.status).toBe('ended');
    expect(startPlan.action).toBe('ignore');
  });

  it('treats attack_end as final: a newer update after it changes nothing', () => {
    // Prepare
    const ended = incident({ status: 'ended', lastEventType: 'attack_end' });
    const update = attackEvent({ type: 'attack_update', uuid: 'inc-1', at: T0 + 60_000 });
    // Act
    const plan = planEvent({ event: update, incident: ended, integrations: [blocklist], ips: ['45.0.0.1'], now: T0 });
    // Assess
    expect(plan).toMatchObject({ action: 'ignore', reason: expect.stringContaining('ended') });
  });

  it('re-applies a re-delivered attack_end so a crash mid-release is finished', () => {
    // Prepare
    const ended = incident({ status: 'ended', lastEventType: 'attack_end', lastEventAt: T0 + 60_000 });
    const end = attackEvent({ type: 'attack_end', uuid: 'inc-1', at: T0 + 60_000 });
    // Act
    const plan = apply(planEvent({ event: end, incident: ended, integrations: [blocklist], ips: [], now: T0 }));
    // Assess
    expect(plan.releaseAll).toBe(true);
  });

  it('answers a test event with a test plan and an unknown type with ignore', () => {
    // Act / Assess
    expect(planEvent({ event: fixture('test'), incident: undefined, integrations: [], ips: [], now: T0 })).toEqual({ action: 'test' });
    expect(planEvent({ event: fixture('unknown_type'), incident: undefined, integrations: [], ips: [], now: T0 }).action).toBe('ignore');
  });

  it('keeps the first-seen time and earlier facts across updates', () => {
    // Prepare
    const previous = incident({ firstSeenAt: T0 - 5, title: 'first title', node: { id: 1, name: 'edge-1', ip: '192.0.2.10' } });
    const update = attackEvent({ type: 'attack_update', uuid: 'inc-1', at: T0 + 1000 });
    // Act
    const plan = apply(planEvent({ event: update, incident: previous, integrations: [], ips: [], now: T0 + 2000 }));
    // Assess
    expect(plan.incident.firstSeenAt).toBe(T0 - 5);
    expect(plan.incident.lastEventAt).toBe(T0 + 1000);
    expect(plan.incident.updatedAt).toBe(T0 + 2000);
  });
});
