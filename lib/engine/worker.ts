/**
 * Processes one queued event: plan, record intents, reconcile the touched
 * integrations. Safe to run again after a crash at any point: every step is
 * idempotent and the intent is recorded before any provider is called.
 */
import type { FlowtriqEvent } from '../event/types.ts';
import { describeError } from '../errors.ts';
import type { AuditEntry } from '../model/types.ts';
import { appendAudit } from './audit.ts';
import { eventKey } from '../planner/event-key.ts';
import { planEvent } from '../planner/plan-event.ts';
import type { IntegrationView, SkippedIp } from '../planner/types.ts';
import { decodeJob } from './job.ts';
import type { Reconciler } from './reconciler.ts';
import type { EngineDeps } from './types.ts';

/** Finds the attacker IPs of an event (payload, else the Flowtriq API) and filters them. */
export interface SourceSelector {
  select(
    event: FlowtriqEvent,
    /** Canonical IPs the incident already holds: neither re-held nor counted twice against the cap. */
    held: ReadonlySet<string>,
  ): Promise<{ selected: string[]; skipped: SkippedIp[]; origin: 'payload' | 'api' | 'none' }>;
}

export interface WorkerDeps extends EngineDeps {
  integrations: readonly IntegrationView[];
  reconciler: Reconciler;
  sources: SourceSelector;
  /** How long a worker waits for an integration's lease before leaving the work to the sweeper. */
  leaseWaitMs?: number;
  /**
   * Hand the device work to the integration's writer and return once the
   * intent is recorded (one-box: the writer batches a burst). Lambda workers
   * wait instead: a frozen sandbox would leave the work to the sweeper.
   */
  reconcileInBackground?: boolean;
  /** Each integration's health-check result on a Flowtriq `test` event (one-box: the status page shows them). */
  onHealthResult?: (integration: string, result: { ok: boolean; detail: string }, at: number) => void;
}

export type JobOutcome =
  | { outcome: 'applied'; incident: string; held: number; released: boolean; integrations: string[] }
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'duplicate' }
  | { outcome: 'tested'; healthy: number; unhealthy: number };

export async function processJob(body: string, deps: WorkerDeps): Promise<JobOutcome> {
  const { event, delivery } = decodeJob(body);
  return processEvent(event, deps, delivery);
}

/** `key` identifies the delivery (the sha256 of its body); the same delivery acts once. */
export async function processEvent(event: FlowtriqEvent, deps: WorkerDeps, key: string = eventKey(event)): Promise<JobOutcome> {
  const { store, now } = deps;
  const logger = deps.logger.child({ incident: event.incident?.uuid, eventType: event.event_type });
  if (await store.wasProcessed(key)) {
    logger.info('event already processed; re-delivery acts once', { outcome: 'duplicate' });
    return { outcome: 'duplicate' };
  }

  if (event.event_type === 'test') {
    const result = await runHealthChecks(deps);
    await store.markProcessed(key, now());
    return result;
  }

  const uuid = event.incident?.uuid;
  const incident = uuid === undefined ? undefined : await store.getIncident(uuid);
  const isBlockingEvent = event.event_type === 'attack_start' || event.event_type === 'attack_update';
  const holdings = isBlockingEvent && uuid !== undefined ? await store.listHoldings(uuid) : [];
  const held = new Set(holdings.filter((h) => h.kind === 'ip').map((h) => h.key));
  const plannable = isBlockingEvent && !(incident && (incident.status === 'ended' || Date.parse(event.timestamp) < incident.lastEventAt));
  const sources = plannable
    ? await deps.sources.select(event, held)
    : { selected: [], skipped: [], origin: 'none' as const };

  const heldSwitches = new Set(holdings.filter((h) => h.kind === 'switch').map((h) => h.integration));
  const plan = planEvent({
    event,
    incident,
    integrations: deps.integrations,
    ips: sources.selected,
    heldSwitches,
    now: now(),
  });
  await deps.checkpoint?.('before-intent');
  if (plan.action === 'ignore') {
    logger.info('event ignored', { outcome: 'ignored', reason: plan.reason });
    await store.markProcessed(key, now());
    return { outcome: 'ignored', reason: plan.reason };
  }
  if (plan.action === 'test') return runHealthChecks(deps);

  // Intent first: the incident record, then the holdings. Nothing has touched a device yet.
  await store.putIncident(plan.incident);
  const touched = new Set(plan.hold.map((intent) => intent.integration));
  const audit: AuditEntry[] = [];
  if (plan.releaseAll) {
    const released = await store.listHoldings(plan.incident.uuid);
    for (const holding of released) touched.add(holding.integration);
    await store.release(plan.incident.uuid, now());
    for (const integration of new Set(released.map((holding) => holding.integration))) {
      const count = released.filter((holding) => holding.integration === integration).length;
      audit.push({ at: now(), action: 'incident.released', integration, incident: plan.incident.uuid, count, outcome: 'ok', detail: `${event.event_type}: let go of what the incident held` });
    }
  } else if (plan.hold.length > 0) {
    await store.hold(plan.hold, now());
  }
  const refused = sources.skipped.filter((skip) => skip.neverBlock).length;
  if (refused > 0) {
    audit.push({ at: now(), action: 'never-block.refused', incident: plan.incident.uuid, count: refused, outcome: 'ok', detail: sources.skipped.find((skip) => skip.neverBlock)?.reason ?? 'never-block' });
  }
  await appendAudit(store, logger, audit);
  logger.info('intent recorded', {
    outcome: 'recorded',
    ipCount: sources.selected.length,
    ipOrigin: sources.origin,
    skippedIps: sources.skipped.length,
    ...(sources.skipped.length > 0 ? { skippedSample: sources.skipped.slice(0, 5) } : {}),
    holds: plan.hold.length,
    released: plan.releaseAll,
    matched: plan.matched,
    ...(plan.unmatched.length > 0 ? { unmatched: plan.unmatched } : {}),
    ...(plan.ipBlockingSkipped ? { ipBlockingSkipped: plan.ipBlockingSkipped } : {}),
  });
  await deps.checkpoint?.('after-intent');

  for (const integration of touched) {
    const pass = deps.reconciler
      .reconcile(integration, { waitMs: deps.leaseWaitMs ?? 10_000, trigger: plan.incident.uuid })
      .then(
        () => undefined,
        // The intent is recorded and due: the sweeper finishes it.
        (error: unknown) => logger.error('reconcile failed; the sweeper will retry', { integration, error: describeError(error) }),
      );
    if (!deps.reconcileInBackground) await pass;
  }
  await store.markProcessed(key, now());
  await deps.checkpoint?.('before-ack');
  return {
    outcome: 'applied',
    incident: plan.incident.uuid,
    held: plan.hold.length,
    released: plan.releaseAll,
    integrations: [...touched],
  };
}

async function runHealthChecks(deps: WorkerDeps): Promise<JobOutcome> {
  let healthy = 0;
  let unhealthy = 0;
  for (const provider of deps.providers.values()) {
    const started = deps.now();
    try {
      const result = await provider.healthCheck({ signal: AbortSignal.timeout(15_000), logger: deps.logger });
      if (result.ok) healthy += 1;
      else unhealthy += 1;
      deps.onHealthResult?.(provider.id, { ok: result.ok, detail: result.detail }, deps.now());
      deps.logger[result.ok ? 'info' : 'warn']('health check', {
        integration: provider.id,
        outcome: result.ok ? 'ok' : 'failed',
        detail: result.detail,
        latencyMs: deps.now() - started,
      });
    } catch (error) {
      unhealthy += 1;
      deps.onHealthResult?.(provider.id, { ok: false, detail: describeError(error) }, deps.now());
      deps.logger.warn('health check', {
        integration: provider.id,
        outcome: 'failed',
        detail: describeError(error),
        latencyMs: deps.now() - started,
      });
    }
  }
  return { outcome: 'tested', healthy, unhealthy };
}
