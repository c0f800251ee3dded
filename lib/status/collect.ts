/**
 * Builds the status page's view from the store (through `relay status`'s
 * collectStatus), the queue and what the process knows in memory. Every
 * list is bounded, and so is every string, so a large incident or a long
 * device error cannot make the page or the JSON unbounded.
 */
import { collectStatus, type StatusReport } from '../cli/status.ts';
import { SWITCH_KEY, type BlockRecord, type IncidentRecord } from '../model/types.ts';
import type { BlockStatus } from '../planner/types.ts';
import { switchRecord } from '../planner/plan-switch.ts';
import type {
  BlocklistView,
  BlockView,
  Bounded,
  FailureView,
  IncidentView,
  IntegrationHealthView,
  NoticeView,
  StatusDeps,
  StatusIntegration,
  StatusView,
  SwitchState,
  SwitchView,
} from './types.ts';

/** The bounds of the view. */
export const STATUS_LIMITS = {
  incidents: 200,
  /** Blocks listed per blocklist integration (counts cover all of them). */
  blocksPerIntegration: 500,
  switchHolders: 20,
  failures: 100,
  notices: 50,
  audit: 50,
  /** Longest string kept from a webhook or a device (longer ones end with …). */
  text: 500,
} as const;

type ReportBlock = StatusReport['blocks'][number];

/** The order blocks are listed in: what needs a look first. */
const STATUS_ORDER: Record<BlockStatus, number> = { failed: 0, pending: 1, removing: 2, applied: 3, removed: 4 };

export function clip(value: string, max: number = STATUS_LIMITS.text): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

function clipOptional(value: string | undefined): string | undefined {
  return value === undefined ? undefined : clip(value);
}

function bounded<T>(all: readonly T[], max: number): Bounded<T> {
  return { items: all.slice(0, max), more: Math.max(0, all.length - max) };
}

/** Copies the fields that are set (JSON stays free of `undefined` keys). */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

export async function collectStatusView(deps: StatusDeps): Promise<StatusView> {
  const now = deps.now();
  const [report, audit] = await Promise.all([
    collectStatus(deps.store, deps.queue, now),
    deps.store.listAudit({ limit: STATUS_LIMITS.audit }),
  ]);
  const runtime = deps.runtime();

  const configured = new Map<string, StatusIntegration>(deps.integrations.map((integration) => [integration.id, integration]));
  const byIntegration = new Map<string, ReportBlock[]>();
  for (const block of report.blocks) {
    const list = byIntegration.get(block.integration) ?? [];
    list.push(block);
    byIntegration.set(block.integration, list);
  }

  const blocklists: BlocklistView[] = [];
  const switches: SwitchView[] = [];
  const seen = new Set<string>();
  const integrationOrder: StatusIntegration[] = [...deps.integrations];
  // Blocks of integrations no longer configured are still shown (the relay still owns them).
  for (const [id, blocks] of [...byIntegration].sort(([a], [b]) => a.localeCompare(b))) {
    if (!configured.has(id)) integrationOrder.push({ id, type: '?', kind: blocks.some((block) => block.kind === 'switch') ? 'switch' : 'blocklist' });
  }
  for (const integration of integrationOrder) {
    if (seen.has(integration.id)) continue;
    seen.add(integration.id);
    const blocks = byIntegration.get(integration.id) ?? [];
    const isConfigured = configured.has(integration.id);
    if (integration.kind === 'switch') {
      switches.push(switchView(integration, isConfigured, blocks.find((block) => block.key === SWITCH_KEY), now));
    } else {
      blocklists.push(blocklistView(integration, isConfigured, blocks.filter((block) => block.kind === 'ip'), now));
    }
  }

  const incidents = bounded(
    [...report.incidents].sort((a, b) => b.lastEventAt - a.lastEventAt).map((incident) => incidentView(incident, report.blocks)),
    STATUS_LIMITS.incidents,
  );

  const failures = bounded(
    report.blocks
      .filter((block) => block.lastError !== undefined && block.dueAt !== undefined)
      .sort((a, b) => (b.lastAttemptAt ?? b.updatedAt) - (a.lastAttemptAt ?? a.updatedAt))
      .map(
        (block): FailureView =>
          defined({
            integration: block.integration,
            kind: block.kind,
            key: block.key,
            status: block.status,
            attempts: block.attempts,
            lastError: clip(block.lastError!),
            lastAttemptAt: block.lastAttemptAt,
            nextRetryAt: block.dueAt!,
          }),
      ),
    STATUS_LIMITS.failures,
  );

  const notices = bounded(
    [...report.notices].sort((a, b) => b.at - a.at).map((notice): NoticeView => ({ ...notice, message: clip(notice.message) })),
    STATUS_LIMITS.notices,
  );

  const health: IntegrationHealthView[] = deps.integrations.map((integration) => {
    const result = runtime.health.get(integration.id);
    return result === undefined ? { ...integration } : { ...integration, health: { ...result, detail: clip(result.detail) } };
  });

  const attention: string[] = [];
  const failing = failures.items.length + failures.more;
  if (failing > 0) attention.push(`${failing} ${failing === 1 ? 'change is' : 'changes are'} failing and will be retried (see Failures)`);
  if (report.queue.dead > 0) attention.push(`${report.queue.dead} job${report.queue.dead === 1 ? '' : 's'} dead-lettered`);
  for (const entry of health) {
    if (entry.health && !entry.health.ok) attention.push(`${entry.id}: the last health check failed`);
  }
  const noticeCount = notices.items.length + notices.more;
  if (noticeCount > 0) attention.push(`${noticeCount} switch${noticeCount === 1 ? ' was' : 'es were'} changed by someone else and left alone (see Notices)`);

  return {
    generatedAt: now,
    health: defined({
      startedAt: runtime.startedAt,
      uptimeMs: Math.max(0, now - runtime.startedAt),
      lastSweepAt: runtime.lastSweepAt,
      lastDriftCheckAt: runtime.lastDriftCheckAt,
      queue: defined({
        waiting: report.queue.visible,
        inFlight: report.queue.inFlight,
        dead: report.queue.dead,
        oldestAgeMs: report.queue.oldestAgeMs,
      }),
      integrations: health,
      attention,
    }),
    incidents,
    blocklists,
    switches,
    failures,
    notices,
    audit: audit.slice(0, STATUS_LIMITS.audit).map((entry) => (entry.detail === undefined ? entry : { ...entry, detail: clip(entry.detail) })),
  };
}

function incidentView(incident: IncidentRecord, blocks: readonly ReportBlock[]): IncidentView {
  const addresses = new Set<string>();
  let blocksHeld = 0;
  let switchCount = 0;
  for (const block of blocks) {
    if (!block.holders.includes(incident.uuid)) continue;
    if (block.kind === 'ip') {
      addresses.add(block.key);
      blocksHeld += 1;
    } else switchCount += 1;
  }
  const node = incident.node
    ? defined({ id: incident.node.id, name: clipOptional(incident.node.name), ip: clipOptional(incident.node.ip) })
    : undefined;
  return defined({
    uuid: clip(incident.uuid),
    id: incident.id,
    title: clipOptional(incident.title),
    family: clipOptional(incident.family),
    severity: clipOptional(incident.severity),
    node,
    spoofed: incident.spoofed,
    startedAt: clip(incident.startedAt ?? new Date(incident.firstSeenAt).toISOString()),
    firstSeenAt: incident.firstSeenAt,
    lastEventAt: incident.lastEventAt,
    peakPps: incident.peakPps,
    peakBps: incident.peakBps,
    attackers: addresses.size,
    blocksHeld,
    switches: switchCount,
  });
}

function blocklistView(integration: StatusIntegration, configured: boolean, blocks: ReportBlock[], now: number): BlocklistView {
  const counts: BlocklistView['counts'] = {};
  for (const block of blocks) counts[block.status] = (counts[block.status] ?? 0) + 1;
  const sorted = [...blocks].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || a.key.localeCompare(b.key));
  return {
    id: integration.id,
    type: integration.type,
    configured,
    counts,
    blocks: bounded(
      sorted.map(
        (block): BlockView =>
          defined({
            address: clip(block.key),
            status: block.status,
            holders: block.holders.length,
            foreign: block.foreign === true,
            expiresAt: block.expiresAt,
            timeLeftMs: block.expiresAt - now,
            addedAt: block.addedAt,
            lastAttemptAt: block.lastAttemptAt,
            dueAt: block.dueAt,
            attempts: block.attempts,
            lastError: clipOptional(block.lastError),
          }),
      ),
      STATUS_LIMITS.blocksPerIntegration,
    ),
  };
}

export function switchState(block: BlockRecord & { status: BlockStatus }, now: number): SwitchState {
  switch (block.status) {
    case 'failed':
      return 'failed';
    case 'applied':
      return 'on';
    case 'pending':
      return 'turning-on';
    case 'removed':
      return 'off';
    case 'removing': {
      const record = switchRecord(block.snapshot);
      const holding =
        block.holders.length === 0 && record.quietSince !== undefined && block.actual === 'present' && block.dueAt !== undefined && block.expiresAt > now;
      return holding ? 'hold-down' : 'restoring';
    }
  }
}

function switchView(integration: StatusIntegration, configured: boolean, block: ReportBlock | undefined, now: number): SwitchView {
  if (block === undefined) return { id: integration.id, type: integration.type, configured, state: 'off', holders: { items: [], more: 0 } };
  const record = switchRecord(block.snapshot);
  const state = switchState(block, now);
  return defined({
    id: integration.id,
    type: integration.type,
    configured,
    state,
    holders: bounded(block.holders.map((holder) => clip(holder)), STATUS_LIMITS.switchHolders),
    holdDownEndsAt: state === 'hold-down' ? block.dueAt : undefined,
    expiresAt: state === 'off' ? undefined : block.expiresAt,
    found: record.snapshot ? { summary: clip(String(record.snapshot.summary)), alreadyActive: record.snapshot.alreadyActive === true } : undefined,
    activation: record.activation
      ? defined({
          summary: clip(String(record.activation.summary)),
          confirmed: record.activation.confirmed === true,
          confirmedAt: record.activation.confirmedAt === undefined ? undefined : clip(String(record.activation.confirmedAt)),
        })
      : undefined,
    lastAttemptAt: block.lastAttemptAt,
    nextAttemptAt: block.dueAt,
    lastError: clipOptional(block.lastError),
  });
}
