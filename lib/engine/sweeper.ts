/**
 * The scheduled safety net (EventBridge in AWS, a timer in one-box mode):
 * removes every block whose TTL has passed even if attack_end never came,
 * retries failed adds and removals, finishes work a crash left due, and
 * purges settled records after the retention period. Idempotent.
 */
import { describeError } from '../errors.ts';
import type { Reconciler, ReconcileSummary } from './reconciler.ts';
import type { EngineDeps } from './types.ts';

/** How long the audit trail keeps entries unless configured (auditRetention). */
export const DEFAULT_AUDIT_RETENTION_MS = 30 * 86_400_000;

export interface SweepDeps extends EngineDeps {
  reconciler: Reconciler;
  retentionMs: number;
  /** How long the audit trail keeps entries (default 30 days). */
  auditRetentionMs?: number;
  /** How often to compare each listable device with state (drift repair); 0 disables it. */
  driftIntervalMs?: number;
  /** When each integration's device was last compared (kept by the caller across sweeps). */
  lastDriftCheck?: Map<string, number>;
}

export interface SweepSummary {
  integrations: ReconcileSummary[];
  errors: { integration: string; error: string }[];
  purged: number;
  drift: { integration: string; reasserted: number; removed: number }[];
}

export async function sweep(deps: SweepDeps, options: { waitMs?: number } = {}): Promise<SweepSummary> {
  const { store, now, logger } = deps;
  const due = await store.dueIntegrations(now());
  const summary: SweepSummary = { integrations: [], errors: [], purged: 0, drift: [] };
  for (const integration of due) {
    try {
      summary.integrations.push(await deps.reconciler.reconcile(integration, { waitMs: options.waitMs ?? 0, trigger: 'sweeper' }));
    } catch (error) {
      summary.errors.push({ integration, error: describeError(error) });
      logger.error('sweep of integration failed', { integration, error: describeError(error) });
    }
  }
  const interval = deps.driftIntervalMs ?? 0;
  if (interval > 0) {
    const last = deps.lastDriftCheck ?? new Map<string, number>();
    for (const [integration, provider] of deps.providers) {
      if (provider.kind !== 'blocklist' || !provider.list) continue;
      if (now() - (last.get(integration) ?? -Infinity) < interval) continue;
      // Counted as checked even when it fails: retrying every sweep could walk
      // the relay into the device's login protection.
      last.set(integration, now());
      try {
        const result = await deps.reconciler.repairDrift(integration);
        if (!result.checked) last.delete(integration); // the lease was busy: try next sweep
        if (result.reasserted + result.removed > 0) summary.drift.push({ integration, reasserted: result.reasserted, removed: result.removed });
      } catch (error) {
        summary.errors.push({ integration, error: `drift check: ${describeError(error)}` });
        logger.error('drift check failed', { integration, error: describeError(error) });
      }
    }
  }
  summary.purged = await store.purgeSettled(now() - deps.retentionMs);
  await store.purgeAudit(now() - (deps.auditRetentionMs ?? DEFAULT_AUDIT_RETENTION_MS));
  const acted = summary.integrations.filter((s) => s.added + s.removed + s.failed > 0 || s.busy || s.orphaned);
  if (acted.length > 0 || summary.errors.length > 0) {
    logger.info('sweep', {
      outcome: summary.errors.length > 0 ? 'partial' : 'ok',
      integrations: acted.map(({ integration, added, removed, failed, busy, orphaned }) => ({
        integration,
        added,
        removed,
        failed,
        busy,
        orphaned,
      })),
      purged: summary.purged,
    });
  }
  return summary;
}
