/** `relay status`: active incidents, blocks per integration, failures, notices, queue. */
import { blockStatus } from '../planner/plan-reconcile.ts';
import { switchRecord } from '../planner/plan-switch.ts';
import type { QueueStats } from '../queue/types.ts';
import type { BlockRecord, IncidentRecord } from '../model/types.ts';
import type { StateStore } from '../state/types.ts';

export interface StatusReport {
  incidents: IncidentRecord[];
  blocks: (BlockRecord & { status: ReturnType<typeof blockStatus> })[];
  /**
   * Switches the relay let go of without restoring, because someone else
   * changed what it had set during the attack (kept until the retention
   * period purges them).
   */
  notices: { integration: string; at: number; message: string }[];
  queue: QueueStats;
}

export async function collectStatus(store: StateStore, queue: { stats(): Promise<QueueStats> }, now: number): Promise<StatusReport> {
  const incidents = await store.listIncidents({ status: 'active' });
  const all = await store.listBlocks({ includeSettled: true });
  const blocks = all
    .filter((block) => !(block.actual === 'absent' && block.dueAt === undefined && block.holders.length === 0))
    .map((block) => ({ ...block, status: blockStatus(block, now) }));
  const notices = all
    .filter((block) => block.kind === 'switch' && block.actual === 'absent' && block.dueAt === undefined && block.lastError !== undefined)
    .map((block) => ({ integration: block.integration, at: block.lastAttemptAt ?? block.updatedAt, message: block.lastError! }));
  return { incidents, blocks, notices, queue: await queue.stats() };
}

/** One line about a switch: what it found, what it set and when that was confirmed. */
function switchDetail(block: BlockRecord): string {
  const record = switchRecord(block.snapshot);
  const parts: string[] = [];
  if (record.snapshot) parts.push(record.snapshot.alreadyActive ? `already active before the relay (${record.snapshot.summary}): never turned off by the relay` : `found: ${record.snapshot.summary}`);
  if (record.activation) {
    parts.push(
      record.activation.confirmed
        ? `set: ${record.activation.summary}${record.activation.confirmedAt ? ` (confirmed ${record.activation.confirmedAt})` : ''}`
        : `set: ${record.activation.summary} (not confirmed yet)`,
    );
  }
  if (record.quietSince !== undefined && block.dueAt !== undefined) parts.push(`hold-down: restores at ${new Date(block.dueAt).toISOString()} unless an incident needs it again`);
  return parts.length > 0 ? `  ${parts.join('; ')}` : '';
}

export function formatStatus(report: StatusReport, now: number): string {
  const lines: string[] = [];
  lines.push(`Active incidents: ${report.incidents.length}`);
  for (const incident of report.incidents) {
    lines.push(
      `  ${incident.uuid}  ${incident.severity ?? '?'}  ${incident.family ?? '?'}  node ${incident.node?.name ?? incident.node?.ip ?? '?'}  since ${incident.startedAt ?? new Date(incident.firstSeenAt).toISOString()}`,
    );
  }
  const byIntegration = new Map<string, StatusReport['blocks']>();
  for (const block of report.blocks) {
    const list = byIntegration.get(block.integration) ?? [];
    list.push(block);
    byIntegration.set(block.integration, list);
  }
  lines.push(`Blocks: ${report.blocks.length}`);
  for (const [integration, blocks] of byIntegration) {
    const counts = new Map<string, number>();
    for (const block of blocks) counts.set(block.status, (counts.get(block.status) ?? 0) + 1);
    lines.push(`  ${integration}: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}`);
    for (const block of blocks.slice(0, 50)) {
      const expires = Math.round((block.expiresAt - now) / 1000);
      lines.push(
        `    ${block.key.padEnd(39)} ${block.status.padEnd(8)} expires in ${expires}s  held by ${block.holders.length}${block.foreign ? '  present, not ours (the operator listed it; never removed)' : ''}${block.kind === 'switch' ? switchDetail(block) : ''}${block.lastError ? `  last error: ${block.lastError}` : ''}`,
      );
    }
    if (blocks.length > 50) lines.push(`    … ${blocks.length - 50} more (use --json)`);
  }
  const failures = report.blocks.filter((block) => block.status === 'failed');
  lines.push(`Failures: ${failures.length}`);
  if (report.notices.length > 0) {
    lines.push(`Notices: ${report.notices.length}`);
    for (const notice of report.notices) lines.push(`  ${notice.integration}  ${new Date(notice.at).toISOString()}  ${notice.message}`);
  }
  lines.push(`Queue: ${report.queue.visible} waiting, ${report.queue.inFlight} in flight, ${report.queue.dead} dead-lettered`);
  return lines.join('\n');
}
