/**
 * A SQLite store seeded the way the one-box relay would leave it mid-attack:
 * two active incidents, blocks on two blocklist integrations (one failing,
 * with its next retry), a switch on hold-down after its incident ended, a
 * switch someone else changed (a notice), and audit entries. Every string
 * that would come from a webhook or a device is a parameter, so the XSS
 * test can put markup in all of them.
 */
import type { QueueStats } from '../../lib/queue/types.ts';
import { SWITCH_KEY, type AuditEntry, type BlockKey } from '../../lib/model/types.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import type { HealthResult, RuntimeStatus, StatusDeps } from '../../lib/status/types.ts';

export const NOW = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface SeedStrings {
  incidentA: string;
  incidentB: string;
  /** The incident that held the switch now on hold-down (ended). */
  incidentOld: string;
  titleA: string;
  titleB: string;
  familyA: string;
  familyB: string;
  severityA: string;
  severityB: string;
  nodeNameA: string;
  nodeNameB: string;
  nodeIpA: string;
  nodeIpB: string;
  /** Integration ids. */
  fw: string;
  cf: string;
  scrub: string;
  bgp: string;
  lastError: string;
  switchError: string;
  noticeMessage: string;
  foundSummary: string;
  setSummary: string;
  healthDetail: string;
  auditDetail: string;
}

export const PLAIN: SeedStrings = {
  incidentA: 'inc-alpha-0001',
  incidentB: 'inc-bravo-0002',
  incidentOld: 'inc-old-0003',
  titleA: 'UDP flood on edge-1',
  titleB: 'SYN flood on edge-2',
  familyA: 'udp_flood',
  familyB: 'syn_flood',
  severityA: 'high',
  severityB: 'critical',
  nodeNameA: 'edge-1',
  nodeNameB: 'edge-2',
  nodeIpA: '198.51.100.10',
  nodeIpB: '198.51.100.20',
  fw: 'edge-fw',
  cf: 'cloudflare-zone',
  scrub: 'scrub-bgp',
  bgp: 'transit-flowspec',
  lastError: 'RouterOS answered 503 Service Unavailable',
  switchError: 'flowspec rule changed by someone else during the attack; left alone',
  noticeMessage: 'unused',
  foundSummary: 'advertisement off',
  setSummary: 'advertise 198.51.100.0/24 to scrubbing',
  healthDetail: 'token lacks Zone.Firewall scope',
  auditDetail: 'added 2 addresses',
};

/** The blocked addresses: A holds 1 and 2 on both blocklists; B holds 3 (failing) on fw and 4 on cf. */
export const ADDRESSES = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'] as const;
export const RETRY_AT = NOW + 2 * MINUTE;
export const HOLD_DOWN_ENDS_AT = NOW + 14 * MINUTE;

export async function seedStore(store: SqliteStateStore, s: SeedStrings = PLAIN): Promise<void> {
  const start = NOW - 20 * MINUTE;
  const base = { status: 'active' as const, lastEventType: 'attack_update', updatedAt: NOW - MINUTE };
  await store.putIncident({
    ...base,
    uuid: s.incidentA,
    id: 101,
    title: s.titleA,
    family: s.familyA,
    severity: s.severityA,
    node: { id: 7, name: s.nodeNameA, ip: s.nodeIpA },
    startedAt: new Date(start).toISOString(),
    peakPps: 2_400_000,
    peakBps: 9_800_000_000,
    firstSeenAt: start,
    lastEventAt: NOW - 2 * MINUTE,
  });
  await store.putIncident({
    ...base,
    uuid: s.incidentB,
    title: s.titleB,
    family: s.familyB,
    severity: s.severityB,
    node: { name: s.nodeNameB, ip: s.nodeIpB },
    firstSeenAt: NOW - 5 * MINUTE,
    lastEventAt: NOW - MINUTE,
  });
  const [a1, a2, b3, b4] = ADDRESSES;
  const expiresAt = NOW + HOUR;
  await store.hold(
    [
      ...[a1, a2].flatMap((ip) => [s.fw, s.cf].map((integration) => ({ integration, key: ip, kind: 'ip' as const, incident: s.incidentA, expiresAt }))),
      { integration: s.fw, key: b3, kind: 'ip', incident: s.incidentB, expiresAt },
      { integration: s.cf, key: b4, kind: 'ip', incident: s.incidentB, expiresAt },
      { integration: s.scrub, key: SWITCH_KEY, kind: 'switch', incident: s.incidentOld, expiresAt },
      { integration: s.bgp, key: SWITCH_KEY, kind: 'switch', incident: s.incidentOld, expiresAt },
    ],
    start,
  );
  // The old incident ended: both switches lose their holder.
  await store.release(s.incidentOld, NOW - 2 * MINUTE);

  const version = async (key: BlockKey) => (await store.getBlocks([key]))[0]!.version;
  const applied = async (integration: string, key: string) =>
    store.complete(
      [
        {
          integration,
          key,
          expectVersion: await version({ integration, key }),
          actual: 'present',
          addedAt: start + 1000,
          dueAt: null,
          attempts: 0,
          lastError: null,
          lastAttemptAt: NOW - 30_000,
        },
      ],
      NOW - 30_000,
    );
  for (const ip of [a1, a2]) {
    await applied(s.fw, ip);
    await applied(s.cf, ip);
  }
  await applied(s.cf, b4);
  // b3 on fw: two failed attempts, retried at RETRY_AT.
  await store.complete(
    [{ integration: s.fw, key: b3, expectVersion: await version({ integration: s.fw, key: b3 }), actual: 'absent', dueAt: RETRY_AT, attempts: 2, lastError: s.lastError, lastAttemptAt: NOW - 20_000 }],
    NOW - 20_000,
  );
  // The scrub switch: on, quiet since its last holder let go, restored at HOLD_DOWN_ENDS_AT.
  await store.complete(
    [
      {
        integration: s.scrub,
        key: SWITCH_KEY,
        expectVersion: await version({ integration: s.scrub, key: SWITCH_KEY }),
        actual: 'present',
        snapshot: {
          snapshot: { state: { advertised: false }, alreadyActive: false, summary: s.foundSummary },
          activation: { applied: { advertised: true }, confirmed: true, confirmedAt: new Date(start + 5000).toISOString(), summary: s.setSummary },
          quietSince: NOW - MINUTE,
        },
        addedAt: start + 5000,
        dueAt: HOLD_DOWN_ENDS_AT,
        attempts: 0,
        lastError: null,
        lastAttemptAt: NOW - MINUTE,
      },
    ],
    NOW - MINUTE,
  );
  // The bgp switch: someone else changed it; the relay let go without restoring (a notice).
  await store.complete(
    [
      {
        integration: s.bgp,
        key: SWITCH_KEY,
        expectVersion: await version({ integration: s.bgp, key: SWITCH_KEY }),
        actual: 'absent',
        dueAt: null,
        attempts: 0,
        lastError: s.switchError,
        lastAttemptAt: NOW - 90_000,
      },
    ],
    NOW - 90_000,
  );
  const audit: AuditEntry[] = [
    { at: NOW - 19 * MINUTE, action: 'block.add', integration: s.fw, incident: s.incidentA, count: 2, outcome: 'ok', detail: s.auditDetail },
    { at: NOW - 19 * MINUTE + 1, action: 'block.add', integration: s.cf, incident: s.incidentA, count: 2, outcome: 'ok', detail: s.auditDetail },
    { at: NOW - 4 * MINUTE, action: 'block.add', integration: s.fw, incident: s.incidentB, count: 1, outcome: 'failed', detail: s.lastError },
    { at: NOW - 2 * MINUTE, action: 'incident.released', integration: s.scrub, incident: s.incidentOld, count: 1, outcome: 'ok' },
    { at: NOW - 90_000, action: 'switch.off', integration: s.bgp, count: 1, outcome: 'changed-by-others', detail: s.switchError },
  ];
  await store.appendAudit(audit);
}

export const QUEUE_STATS: QueueStats = { visible: 3, inFlight: 1, dead: 2, oldestAgeMs: 4_500 };

export function runtimeStatus(s: SeedStrings = PLAIN): RuntimeStatus {
  const health = new Map<string, HealthResult>([
    [s.fw, { ok: true, detail: 'reachable', at: NOW - 5 * MINUTE }],
    [s.cf, { ok: false, detail: s.healthDetail, at: NOW - 5 * MINUTE }],
  ]);
  return { startedAt: NOW - 3 * HOUR, lastSweepAt: NOW - 15_000, lastDriftCheckAt: NOW - 10 * MINUTE, health };
}

/** A seeded store and the deps of the status routes over it. */
export async function seededDeps(options: { strings?: SeedStrings; token?: string; now?: () => number } = {}): Promise<StatusDeps & { store: SqliteStateStore }> {
  const s = options.strings ?? PLAIN;
  const store = SqliteStateStore.open(':memory:');
  await seedStore(store, s);
  return {
    store,
    queue: { stats: async () => QUEUE_STATS },
    runtime: () => runtimeStatus(s),
    integrations: [
      { id: s.fw, type: 'routeros', kind: 'blocklist' },
      { id: s.cf, type: 'cloudflare', kind: 'blocklist' },
      { id: s.scrub, type: 'ovh', kind: 'switch' },
      { id: s.bgp, type: 'routeros', kind: 'switch' },
    ],
    now: options.now ?? (() => NOW),
    token: options.token,
  };
}
