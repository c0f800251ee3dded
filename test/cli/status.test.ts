import { afterEach, describe, expect, it } from 'vitest';
import { collectStatus, formatStatus, type StatusReport } from '../../lib/cli/status.ts';
import { SqliteJobQueue } from '../../lib/queue/sqlite.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { SWITCH_KEY, type BlockKind, type IncidentRecord } from '../../lib/model/types.ts';
import { type StateStore } from '../../lib/state/types.ts';
import { ManualClock } from '../helpers/clock.ts';
import { publicIps } from '../helpers/events.ts';

const T0 = Date.parse('2025-03-10T14:22:00Z');
const HOUR = 3_600_000;

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const resource of open.splice(0)) await resource.close();
});

function openStore(): SqliteStateStore {
  const store = SqliteStateStore.open(':memory:');
  open.push(store);
  return store;
}

function emptyQueue() {
  return { stats: async () => ({ visible: 0, inFlight: 0, dead: 0 }) };
}

function incident(uuid: string, overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  return { uuid, status: 'active', lastEventAt: T0, lastEventType: 'attack_start', firstSeenAt: T0, updatedAt: T0, ...overrides };
}

async function hold(store: StateStore, incidentUuid: string, integration: string, key: string, options: { kind?: BlockKind; expiresAt?: number } = {}) {
  await store.hold(
    [{ integration, key, incident: incidentUuid, kind: options.kind ?? 'ip', expiresAt: options.expiresAt ?? T0 + HOUR }],
    T0,
  );
}

/** Records a provider outcome on the block, as the reconciler would. */
async function complete(
  store: StateStore,
  integration: string,
  key: string,
  outcome: { actual: 'present' | 'absent'; lastError?: string; foreign?: true },
) {
  const [block] = await store.getBlocks([{ integration, key }]);
  if (!block) throw new Error(`no block ${integration}/${key}`);
  const failed = outcome.lastError !== undefined;
  const { conflicts } = await store.complete(
    [
      {
        integration,
        key,
        expectVersion: block.version,
        actual: outcome.actual,
        dueAt: failed ? T0 + 60_000 : null,
        attempts: failed ? block.attempts + 1 : 0,
        lastError: outcome.lastError ?? null,
        lastAttemptAt: T0,
        ...(outcome.actual === 'present' && !failed ? { addedAt: T0 } : {}),
        ...(outcome.foreign ? { foreign: true } : {}),
      },
    ],
    T0,
  );
  expect(conflicts).toEqual([]);
}

function statusOf(report: StatusReport, integration: string, key: string): string | undefined {
  return report.blocks.find((block) => block.integration === integration && block.key === key)?.status;
}

/** Parses `  <integration>: 1 applied, 2 failed` into { applied: 1, failed: 2 }. */
function countsLine(text: string, integration: string): Record<string, number> {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`  ${integration}: `));
  if (!line) throw new Error(`no counts line for ${integration} in:\n${text}`);
  return Object.fromEntries(
    line
      .slice(`  ${integration}: `.length)
      .split(', ')
      .map((part) => {
        const [count, status] = part.split(' ');
        return [status, Number(count)];
      }),
  );
}

describe('collectStatus', () => {
  it('derives each block status from the stored record: pending, applied, failed, removing, removed', async () => {
    // Prepare
    const store = openStore();
    const now = T0 + 1_000;
    await hold(store, 'inc-a', 'fw', '45.0.0.1');
    await complete(store, 'fw', '45.0.0.1', { actual: 'present' }); // applied
    await hold(store, 'inc-a', 'fw', '45.0.0.2'); // pending: intent recorded, no outcome yet
    await hold(store, 'inc-a', 'fw', '45.0.0.3');
    await complete(store, 'fw', '45.0.0.3', { actual: 'absent', lastError: 'device timeout' }); // failed add
    await hold(store, 'inc-b', 'fw', '45.0.0.4');
    await complete(store, 'fw', '45.0.0.4', { actual: 'present' });
    await store.release('inc-b', T0); // removing: on the device, no longer wanted
    await hold(store, 'inc-c', 'fw', '45.0.0.5');
    await store.release('inc-c', T0); // removed: never added, released, not yet settled
    await hold(store, 'inc-d', 'fw', '45.0.0.6');
    await complete(store, 'fw', '45.0.0.6', { actual: 'present' });
    await store.release('inc-d', T0);
    await complete(store, 'fw', '45.0.0.6', { actual: 'present', lastError: 'HTTP 503' }); // failed removal
    await hold(store, 'inc-a', 'fw', '45.0.0.7', { expiresAt: T0 + 500 });
    await complete(store, 'fw', '45.0.0.7', { actual: 'present' }); // expired while held: removing
    await hold(store, 'inc-a', 'scrub', SWITCH_KEY, { kind: 'switch' });
    await complete(store, 'scrub', SWITCH_KEY, { actual: 'present' }); // switch applied
    // Act
    const report = await collectStatus(store, emptyQueue(), now);
    // Assess
    expect(report.blocks.map((block) => [block.integration, block.key, block.status])).toEqual([
      ['fw', '45.0.0.1', 'applied'],
      ['fw', '45.0.0.2', 'pending'],
      ['fw', '45.0.0.3', 'failed'],
      ['fw', '45.0.0.4', 'removing'],
      ['fw', '45.0.0.5', 'removed'],
      ['fw', '45.0.0.6', 'failed'],
      ['fw', '45.0.0.7', 'removing'],
      ['scrub', SWITCH_KEY, 'applied'],
    ]);
    expect(report.blocks.find((block) => block.key === '45.0.0.3')).toMatchObject({ holders: ['inc-a'], lastError: 'device timeout' });
  });

  it('derives the status at the time given: a wanted block turns to removing once it expires', async () => {
    // Prepare
    const store = openStore();
    await hold(store, 'inc-a', 'fw', '45.0.0.1', { expiresAt: T0 + HOUR });
    await complete(store, 'fw', '45.0.0.1', { actual: 'present' });
    // Act
    const before = await collectStatus(store, emptyQueue(), T0 + HOUR - 1);
    const after = await collectStatus(store, emptyQueue(), T0 + HOUR);
    // Assess
    expect(statusOf(before, 'fw', '45.0.0.1')).toBe('applied');
    expect(statusOf(after, 'fw', '45.0.0.1')).toBe('removing');
  });

  it('leaves out blocks that are settled (removed, confirmed absent, nothing due)', async () => {
    // Prepare
    const store = openStore();
    await hold(store, 'inc-a', 'fw', '45.0.0.1');
    await complete(store, 'fw', '45.0.0.1', { actual: 'present' });
    await store.release('inc-a', T0);
    await complete(store, 'fw', '45.0.0.1', { actual: 'absent' });
    await hold(store, 'inc-b', 'fw', '45.0.0.2');
    // Act
    const report = await collectStatus(store, emptyQueue(), T0);
    // Assess
    expect(report.blocks.map((block) => block.key)).toEqual(['45.0.0.2']);
  });

  it('lists only active incidents', async () => {
    // Prepare
    const store = openStore();
    await store.putIncident(incident('inc-active'));
    await store.putIncident(incident('inc-ended', { status: 'ended', endedAt: '2025-03-10T14:40:00Z' }));
    // Act
    const report = await collectStatus(store, emptyQueue(), T0);
    // Assess
    expect(report.incidents.map((record) => record.uuid)).toEqual(['inc-active']);
  });

  it("reports the queue's counts", async () => {
    // Prepare — a real queue: one dead-lettered, one in flight, one waiting
    const clock = new ManualClock(T0);
    const queue = SqliteJobQueue.open(':memory:', { now: clock.now, maxReceives: 1 });
    open.push(queue);
    for (const id of ['1', '2', '3']) await queue.send({ groupId: `g${id}`, dedupId: id, body: `job-${id}` });
    const [first] = await queue.receive({ max: 1, visibilityMs: 60_000 });
    await queue.retry(first!.receipt, 0);
    await queue.receive({ max: 1, visibilityMs: 60_000 }); // dead-letters job-1, delivers job-2
    // Act
    const report = await collectStatus(openStore(), queue, T0);
    // Assess
    expect(report.queue).toMatchObject({ visible: 1, inFlight: 1, dead: 1 });
    expect(report.queue.oldestAgeMs).toBeGreaterThanOrEqual(0);
  });
});

describe('formatStatus', () => {
  async function scenario() {
    const store = openStore();
    await store.putIncident(
      incident('inc-a', {
        severity: 'critical',
        family: 'udp_flood',
        node: { name: 'web-prod-1', ip: '203.0.113.10' },
        startedAt: '2025-03-10T14:22:00Z',
      }),
    );
    await hold(store, 'inc-a', 'fw', '45.0.0.1');
    await complete(store, 'fw', '45.0.0.1', { actual: 'present' });
    await hold(store, 'inc-a', 'fw', '45.0.0.2');
    await hold(store, 'inc-a', 'fw', '45.0.0.3');
    await complete(store, 'fw', '45.0.0.3', { actual: 'absent', lastError: 'device timeout' });
    await hold(store, 'inc-a', 'fw', '45.0.0.4');
    await complete(store, 'fw', '45.0.0.4', { actual: 'present', lastError: 'refresh failed' }); // still applied
    await hold(store, 'inc-a', 'fw2', '45.0.0.1');
    await complete(store, 'fw2', '45.0.0.1', { actual: 'absent', lastError: 'HTTP 401 from firewall' });
    await hold(store, 'inc-a', 'scrub', SWITCH_KEY, { kind: 'switch' });
    await complete(store, 'scrub', SWITCH_KEY, { actual: 'present' });
    const queue = { stats: async () => ({ visible: 4, inFlight: 2, dead: 1 }) };
    const now = T0 + 60_000;
    return { report: await collectStatus(store, queue, now), now };
  }

  it('summarises incidents, blocks, failures and the queue', async () => {
    // Prepare
    const { report, now } = await scenario();
    // Act
    const text = formatStatus(report, now);
    // Assess
    const lines = text.split('\n');
    expect(lines[0]).toBe('Active incidents: 1');
    expect(lines[1]).toBe('  inc-a  critical  udp_flood  node web-prod-1  since 2025-03-10T14:22:00Z');
    expect(lines).toContain('Blocks: 6');
    expect(lines).toContain('Failures: 2'); // by status: an applied block with a stale error is no failure
    expect(lines.at(-1)).toBe('Queue: 4 waiting, 2 in flight, 1 dead-lettered');
  });

  it('counts blocks per integration by status', async () => {
    // Prepare
    const { report, now } = await scenario();
    // Act
    const text = formatStatus(report, now);
    // Assess
    expect(countsLine(text, 'fw')).toEqual({ applied: 2, pending: 1, failed: 1 });
    expect(countsLine(text, 'fw2')).toEqual({ failed: 1 });
    expect(countsLine(text, 'scrub')).toEqual({ applied: 1 });
  });

  it('marks a block the operator already listed as present, not ours', async () => {
    // Prepare
    const store = openStore();
    await hold(store, 'inc-a', 'fw', '45.0.0.9');
    await complete(store, 'fw', '45.0.0.9', { actual: 'present', foreign: true });
    const report = await collectStatus(store, { stats: async () => ({ visible: 0, inFlight: 0, dead: 0 }) }, T0 + 60_000);
    // Act
    const text = formatStatus(report, T0 + 60_000);
    // Assess
    expect(text.split('\n').find((line) => line.includes('45.0.0.9'))).toMatch(/applied +expires in \d+s {2}held by 1 {2}present, not ours \(the operator listed it; never removed\)$/);
  });

  it('lists each block with its status, expiry, holders and last error', async () => {
    // Prepare
    const { report, now } = await scenario();
    // Act
    const text = formatStatus(report, now);
    // Assess
    const blockLines = text.split('\n').filter((line) => line.startsWith('    '));
    expect(blockLines).toHaveLength(6);
    const failedLine = blockLines.find((line) => line.includes('45.0.0.3'));
    expect(failedLine).toMatch(/^ {4}45\.0\.0\.3 +failed +expires in 3540s {2}held by 1 {2}last error: device timeout$/);
    expect(blockLines.find((line) => line.includes(SWITCH_KEY))).toMatch(/applied +expires in 3540s {2}held by 1$/);
    expect(text).toContain('last error: HTTP 401 from firewall');
  });

  it('shows ? for unknown incident facts and the first-seen time when the start time is unknown', async () => {
    // Prepare
    const report: StatusReport = {
      incidents: [incident('inc-bare', { firstSeenAt: T0 })],
      blocks: [], notices: [],
      queue: { visible: 0, inFlight: 0, dead: 0 },
    };
    // Act
    const text = formatStatus(report, T0);
    // Assess
    expect(text.split('\n')[1]).toBe('  inc-bare  ?  ?  node ?  since 2025-03-10T14:22:00.000Z');
    expect(text).toContain('Blocks: 0');
    expect(text).toContain('Failures: 0');
  });

  it('shows the node IP when the node has no name', () => {
    // Prepare
    const report: StatusReport = {
      incidents: [incident('inc-ip', { node: { ip: '198.51.100.20' } })],
      blocks: [], notices: [],
      queue: { visible: 0, inFlight: 0, dead: 0 },
    };
    // Act
    const text = formatStatus(report, T0);
    // Assess
    expect(text).toContain('node 198.51.100.20');
  });

  it('lists at most 50 blocks per integration and says how many more there are', async () => {
    // Prepare
    const store = openStore();
    const ips = publicIps(53);
    await store.hold(
      ips.map((ip) => ({ integration: 'fw', key: ip, incident: 'inc-big', kind: 'ip' as const, expiresAt: T0 + HOUR })),
      T0,
    );
    const report = await collectStatus(store, emptyQueue(), T0);
    // Act
    const text = formatStatus(report, T0);
    // Assess
    expect(text.split('\n').filter((line) => line.startsWith('    45.'))).toHaveLength(50);
    expect(text).toContain('    … 3 more (use --json)');
    expect(countsLine(text, 'fw')).toEqual({ pending: 53 });
    expect(text).toContain('Blocks: 53');
  });
});
