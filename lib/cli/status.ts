/** `relay status`: active incidents, blocks per integration, failures, queue. */
import { blockStatus } from '../planner/plan-reconcile.ts';
import type { QueueStats } from '../queue/types.ts';
import type { BlockRecord, IncidentRecord } from '../model/types.ts';
import type { StateStore } from '../state/types.ts';

export interface StatusReport {
  incidents: IncidentRecord[];
  blocks: (BlockRecord & { status: ReturnType<typeof blockStatus> })[];
  queue: QueueStats;
}

export async function collectStatus(store: StateStore, queue: { stats(): Promise<QueueStats> }, now: number): Promise<StatusReport> {
  const incidents = await store.listIncidents({ status: 'active' });
  const blocks = (await store.listBlocks()).map((block) => ({ ...block, status: blockStatus(block, now) }));
  return { incidents, blocks, queue: await queue.stats() };
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
        `    ${block.key.padEnd(39)} ${block.status.padEnd(8)} expires in ${expires}s  held by ${block.holders.length}${block.foreign ? '  present, not ours (the operator listed it; never removed)' : ''}${block.lastError ? `  last error: ${block.lastError}` : ''}`,
      );
    }
    if (blocks.length > 50) lines.push(`    … ${blocks.length - 50} more (use --json)`);
  }
  const failures = report.blocks.filter((block) => block.status === 'failed');
  lines.push(`Failures: ${failures.length}`);
  lines.push(`Queue: ${report.queue.visible} waiting, ${report.queue.inFlight} in flight, ${report.queue.dead} dead-lettered`);
  return lines.join('\n');
}
