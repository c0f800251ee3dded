/**
 * The only code that calls providers. For one integration at a time, under
 * that integration's lease (so writes to one device are serialised across
 * processes), it reads the due blocks, plans, calls the provider in batches
 * and records every outcome.
 *
 * ## One writer per device, batches coalesced
 *
 * Inside a process each integration has one writer: a pass (reconcile or
 * drift repair) runs only after the previous one finished, so no write is
 * ever sent twice at once (the lease alone cannot do that: it is re-entrant
 * for its owner, and every worker of a process shares the owner). Requests
 * that arrive while a pass runs are merged into the one pass that runs next,
 * which reads everything due by then: the adds and removes of many incidents
 * go out as one batch, net of each other (a block is one record per address,
 * its holders decide whether it is wanted).
 *
 * ## Leases that expire in seconds
 *
 * A lease names its owner and lasts `leaseMs` (10 s); while a pass holds it, a
 * heartbeat renews it every `leaseMs / 3`. A process that dies stops renewing
 * and another takes over within seconds; a process that loses the lease (a
 * stalled event loop, a store outage) aborts its device call instead of
 * writing beside the new holder.
 */
import { randomUUID } from 'node:crypto';
import { describeError } from '../errors.ts';
import type { Logger } from '../log/types.ts';
import {
  completeAdd,
  completeRemove,
  inFlight,
  markAbsentBeforeWrite,
  markInFlight,
  planReconcile,
  rebaseFacts,
  type OpOutcome,
} from '../planner/plan-reconcile.ts';
import { ProviderError } from '../providers/errors.ts';
import { appendAudit, batchAudit, groupOutcome } from './audit.ts';
import { SerialLock } from '../util/serial-lock.ts';
import { planDrift } from '../planner/plan-drift.ts';
import type {
  BlockEntry,
  BlocklistProvider,
  EntryResult,
  IncidentFacts,
  ProviderContext,
  SwitchActivation,
  SwitchContext,
  SwitchProvider,
  SwitchSnapshot,
} from '../providers/types.ts';
import { switchRecord } from '../planner/plan-switch.ts';
import { SAMPLE_INCIDENT_PREFIX, type BlockCompletion, type BlockRecord, type SwitchRecord } from '../model/types.ts';
import type { EngineDeps } from './types.ts';

export interface ReconcilerOptions {
  /** Identifies this process in leases. */
  owner?: string;
  /** How long a lease lasts unless the heartbeat renews it (default 10 s). */
  leaseMs?: number;
  /** How often the heartbeat renews a held lease (default leaseMs / 3). */
  heartbeatMs?: number;
  /** Deadline of one provider call. */
  opTimeoutMs?: number;
  /** Most blocks read per round. */
  batchLimit?: number;
  /** Rounds per lease before yielding. */
  maxRounds?: number;
  /**
   * Long-running processes (one-box): after a pass, wake up when the
   * integration's next block falls due within a minute (a deferred commit,
   * a retry's backoff) instead of waiting for the sweeper. Off in Lambda.
   */
  wakeUp?: boolean;
  sleep?: (ms: number) => Promise<void>;
}

export interface ReconcileSummary {
  integration: string;
  /** Another holder kept the lease for the whole wait. */
  busy: boolean;
  /** Blocks are due but the integration is no longer configured. */
  orphaned: boolean;
  added: number;
  removed: number;
  failed: number;
  /** Entries written whose commit the provider held back on purpose (retried soon, not failures). */
  deferred: number;
  conflicts: number;
  rounds: number;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Blocks due within this long get a wake-up timer (wakeUp); later ones are the sweeper's. */
const WAKE_HORIZON_MS = 60_000;
/** A wake-up never fires sooner than this (no busy loop while another process holds the lease). */
const MIN_WAKE_MS = 100;

/** A request for a pass that has not started yet; later requests merge into it. */
interface PendingPass {
  deadline: number;
  triggers: string[];
  promise: Promise<ReconcileSummary>;
}

/** The in-process writer of one integration. */
interface Writer {
  lock: SerialLock;
  pending?: PendingPass;
  /** Passes queued or running (for idle()). */
  active: number;
}

/** A held lease, renewed in the background until stopped. */
interface Heartbeat {
  /** Aborts when the lease is lost. */
  signal: AbortSignal;
  stop(): void;
}

export class Reconciler {
  readonly #deps: EngineDeps;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  readonly #writers = new Map<string, Writer>();
  readonly #wakeUp: boolean;
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  readonly #opTimeoutMs: number;
  readonly #batchLimit: number;
  readonly #maxRounds: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(deps: EngineDeps, options: ReconcilerOptions = {}) {
    this.#deps = deps;
    this.#owner = options.owner ?? `relay-${randomUUID()}`;
    this.#opTimeoutMs = options.opTimeoutMs ?? 60_000;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#heartbeatMs = Math.max(1, options.heartbeatMs ?? Math.floor(this.#leaseMs / 3));
    this.#wakeUp = options.wakeUp ?? false;
    this.#batchLimit = options.batchLimit ?? 2_000;
    this.#maxRounds = options.maxRounds ?? 10;
    this.#sleep = options.sleep ?? delay;
  }

  /**
   * Brings the integration's due blocks to their wanted state. Waits up to
   * `waitMs` for the lease when another process holds it; after releasing,
   * looks once more so that an intent recorded while it held the lease is not
   * left for the sweeper. A call made while this process's writer is busy
   * with the integration joins the next pass (one batch for all of them).
   */
  reconcile(
    integration: string,
    options: { waitMs?: number; /** What asked: an incident uuid, or 'sweeper'. Logged with every action. */ trigger?: string } = {},
  ): Promise<ReconcileSummary> {
    const writer = this.#writer(integration);
    const deadline = this.#deps.now() + (options.waitMs ?? 0);
    const pending = writer.pending;
    if (pending !== undefined) {
      pending.deadline = Math.max(pending.deadline, deadline);
      if (options.trigger !== undefined && !pending.triggers.includes(options.trigger)) pending.triggers.push(options.trigger);
      return pending.promise;
    }
    const next: PendingPass = { deadline, triggers: options.trigger === undefined ? [] : [options.trigger], promise: Promise.resolve(undefined as never) };
    writer.pending = next;
    next.promise = this.#exclusive(writer, async () => {
      if (writer.pending === next) writer.pending = undefined;
      const summary = await this.#reconcilePass(integration, next.deadline, triggerLabel(next.triggers));
      await this.#scheduleWakeUp(integration);
      return summary;
    });
    return next.promise;
  }

  /** Stops the wake-up timers; passes already running finish. */
  close(): void {
    this.#closed = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** With wakeUp: a timer for the integration's next block due within WAKE_HORIZON_MS. */
  async #scheduleWakeUp(integration: string): Promise<void> {
    if (!this.#wakeUp || this.#closed) return;
    const { store, now, logger } = this.#deps;
    let next: BlockRecord | undefined;
    try {
      [next] = await store.dueBlocks(integration, now() + WAKE_HORIZON_MS, 1);
    } catch (error) {
      logger.warn('could not read the next due block; the sweeper will look', { integration, error: describeError(error) });
      return;
    }
    if (next?.dueAt === undefined) return;
    const at = Math.max(next.dueAt, now() + MIN_WAKE_MS);
    const existing = this.#timers.get(integration);
    if (existing !== undefined && existing.at <= at) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(integration);
      if (this.#closed) return;
      this.reconcile(integration, { trigger: 'retry' }).catch((error: unknown) =>
        logger.error('scheduled reconcile failed; the sweeper will retry', { integration, error: describeError(error) }),
      );
    }, at - now());
    timer.unref?.();
    this.#timers.set(integration, { at, timer });
  }

  /** Resolves when no pass of any integration is queued or running. */
  idle(): Promise<void> {
    if ([...this.#writers.values()].every((writer) => writer.active === 0)) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #notifyIdle() {
    if (![...this.#writers.values()].every((writer) => writer.active === 0)) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #writer(integration: string): Writer {
    let writer = this.#writers.get(integration);
    if (writer === undefined) {
      writer = { lock: new SerialLock(), active: 0 };
      this.#writers.set(integration, writer);
    }
    return writer;
  }

  /** Runs `task` as the integration's only pass in this process. */
  async #exclusive<T>(writer: Writer, task: () => Promise<T>): Promise<T> {
    writer.active += 1;
    try {
      return await writer.lock.run(task);
    } finally {
      writer.active -= 1;
      // After the pass's own caller has resumed: idle means the work and its follow-up are done.
      if (this.#idleWaiters.length > 0) setImmediate(() => this.#notifyIdle());
    }
  }

  async #reconcilePass(integration: string, deadline: number, trigger: string | undefined): Promise<ReconcileSummary> {
    const { store, now } = this.#deps;
    const summary: ReconcileSummary = {
      integration,
      busy: false,
      orphaned: false,
      added: 0,
      removed: 0,
      failed: 0,
      deferred: 0,
      conflicts: 0,
      rounds: 0,
    };
    const provider = this.#deps.providers.get(integration);
    if (!provider) {
      const due = await store.dueBlocks(integration, now(), 1);
      if (due.length > 0) {
        summary.orphaned = true;
        this.#deps.logger.error('integration has due blocks but is not configured', {
          integration,
          fix: 'restore the integration in the config so the relay can remove what it added',
        });
      }
      return summary;
    }
    const lease = leaseName(integration);
    for (let pass = 0; pass < 5; pass += 1) {
      while (!(await store.acquireLease(lease, this.#owner, now(), this.#leaseMs))) {
        if (now() >= deadline) {
          summary.busy = true;
          return summary;
        }
        await this.#sleep(25);
      }
      const heartbeat = this.#heartbeat(lease);
      try {
        await this.#rounds(provider, lease, summary, trigger, heartbeat.signal);
      } finally {
        heartbeat.stop();
        await store.releaseLease(lease, this.#owner);
      }
      const more = await store.dueBlocks(integration, now(), 1);
      if (more.length === 0) break;
    }
    summary.busy = false;
    return summary;
  }

  /**
   * Compares the device's list with state (providers that can list): blocks
   * that vanished are re-asserted, managed entries nobody holds are removed.
   * Runs under the integration's lease; skipped when another holds it.
   */
  async repairDrift(integration: string): Promise<{ checked: boolean; reasserted: number; removed: number }> {
    const provider = this.#deps.providers.get(integration);
    if (!provider || provider.kind !== 'blocklist' || !provider.list) return { checked: false, reasserted: 0, removed: 0 };
    const result = await this.#exclusive(this.#writer(integration), () => this.#driftPass(integration, provider));
    if (result.reasserted > 0) await this.reconcile(integration, { trigger: 'drift' });
    return result;
  }

  async #driftPass(integration: string, provider: BlocklistProvider): Promise<{ checked: boolean; reasserted: number; removed: number }> {
    const { store, now, logger } = this.#deps;
    const lease = leaseName(integration);
    if (!(await store.acquireLease(lease, this.#owner, now(), this.#leaseMs))) return { checked: false, reasserted: 0, removed: 0 };
    const heartbeat = this.#heartbeat(lease);
    let reasserted = 0;
    let removed = 0;
    try {
      const listed = now();
      const device = await provider.list!(this.#ctx(logger, heartbeat.signal)).then(
        (entries) => {
          this.#deps.metrics?.deviceRequest(integration, 'list', 'ok', (now() - listed) / 1000);
          return entries;
        },
        (error: unknown) => {
          this.#deps.metrics?.deviceRequest(integration, 'list', 'failed', (now() - listed) / 1000);
          throw error;
        },
      );
      const plan = planDrift(await store.listBlocks({ integration }), device, now());
      if (plan.reassert.length > 0) {
        const { conflicts } = await store.complete(plan.reassert, now());
        reasserted = plan.reassert.length - conflicts.length;
        logger.warn('drift: blocks missing from the device; re-asserting', { integration, ipCount: reasserted });
        this.#deps.metrics?.driftRepair(integration, 'reassert', reasserted);
        await appendAudit(store, logger, [{ at: now(), action: 'drift.reassert', integration, count: reasserted, outcome: 'ok', detail: 'blocks missing from the device, written again' }]);
      }
      if (plan.removeStale.length > 0) {
        const entries = plan.removeStale.map((entry) => ({ ...entry, expiresAt: now(), incidents: [] }));
        const results = await provider.remove(entries, this.#ctx(logger, heartbeat.signal));
        removed = results.filter((result) => result.ok).length;
        logger.warn('drift: removed relay entries no incident holds', { integration, ipCount: removed, failed: entries.length - removed });
        this.#deps.metrics?.driftRepair(integration, 'remove', removed);
        await appendAudit(store, logger, [
          {
            at: now(),
            action: 'drift.remove',
            integration,
            count: entries.length,
            outcome: removed === entries.length ? 'ok' : removed === 0 ? 'failed' : 'partial',
            detail: 'relay entries no incident holds',
          },
        ]);
      }
    } finally {
      heartbeat.stop();
      await store.releaseLease(lease, this.#owner);
    }
    return { checked: true, reasserted, removed };
  }

  async #rounds(
    provider: BlocklistProvider | SwitchProvider,
    lease: string,
    summary: ReconcileSummary,
    trigger: string | undefined,
    leaseSignal: AbortSignal,
  ) {
    const logger = trigger ? this.#deps.logger.child({ trigger }) : this.#deps.logger;
    const { store, now } = this.#deps;
    for (let round = 0; round < this.#maxRounds; round += 1) {
      const due = await store.dueBlocks(provider.id, now(), this.#batchLimit);
      if (due.length === 0) return;
      summary.rounds += 1;
      const holdDownMs = provider.kind === 'switch' ? provider.holdDownMs : 0;
      const refresh = provider.kind === 'blocklist' && provider.refreshOnHold === true;
      const plan = planReconcile(due, now(), () => holdDownMs, () => refresh);
      const completions: BlockCompletion[] = [...plan.settle];
      if (provider.kind === 'blocklist') {
        await this.#blocklist(provider, lease, plan.add, 'add', completions, summary, logger, leaseSignal);
        await this.#blocklist(provider, lease, plan.remove, 'remove', completions, summary, logger, leaseSignal);
      } else {
        await this.#switch(provider, lease, plan.add, plan.remove, completions, summary, logger, leaseSignal);
      }
      await this.#complete(completions, summary);
      if (plan.add.length === 0 && plan.remove.length === 0 && summary.conflicts === 0) return;
    }
  }

  async #blocklist(
    provider: BlocklistProvider,
    lease: string,
    blocks: BlockRecord[],
    op: 'add' | 'remove',
    completions: BlockCompletion[],
    summary: ReconcileSummary,
    logger: Logger,
    leaseSignal: AbortSignal,
  ) {
    const { now } = this.#deps;
    const size = Math.max(1, provider.maxBatch);
    for (let start = 0; start < blocks.length; start += size) {
      await this.#renew(lease);
      const before = blocks.slice(start, start + size);
      // In flight before this call: an earlier attempt may have been cut off half-way.
      const resumed = new Set(before.filter((block) => block.actual === 'unknown').map((block) => block.key));
      // Already on the device: an add extends its expiry there (refreshOnHold).
      const refresh = new Set(op === 'add' ? before.filter((block) => block.actual === 'present').map((block) => block.key) : []);
      const chunk = await this.#markInFlight(before, summary);
      if (chunk.length === 0) continue;
      const entries: BlockEntry[] = chunk.map((block) => {
        const entry: BlockEntry = { ip: block.key, expiresAt: block.expiresAt, incidents: block.holders };
        if (block.ref !== undefined) entry.ref = block.ref;
        if (resumed.has(block.key)) entry.resumed = true;
        if (refresh.has(block.key)) entry.refresh = true;
        if (block.foreign === false) entry.absentBeforeWrite = true;
        return entry;
      });
      const started = now();
      // The blocks as stored: the write-ahead below bumps their versions.
      const current = new Map(chunk.map((block) => [block.key, block]));
      const ctx: ProviderContext = {
        ...this.#ctx(logger, leaseSignal),
        incident: (uuid) => this.#incidentFacts(uuid),
        counter: (name, amount, expiresAt) => this.#deps.store.addToCounter(`${provider.id}:${name}`, amount, expiresAt),
      };
      if (op === 'add') ctx.beforeWrite = (ips) => this.#noteAbsentBeforeWrite(current, ips, summary);
      const outcomes = await this.#call(() => (op === 'add' ? provider.add(entries, ctx) : provider.remove(entries, ctx)));
      const latencyMs = now() - started;
      const byIp = new Map<string, EntryResult>();
      if (Array.isArray(outcomes)) for (const result of outcomes) byIp.set(result.ip, result);
      let ok = 0;
      let deferred = 0;
      const errors: string[] = [];
      const results: { block: BlockRecord; outcome: OpOutcome }[] = [];
      for (const original of chunk) {
        const block = current.get(original.key) ?? original;
        const outcome = toOutcome(outcomes, byIp.get(block.key));
        results.push({ block, outcome });
        if (outcome.ok) ok += 1;
        else if (outcome.deferred) deferred += 1;
        else errors.push(outcome.error);
        completions.push(op === 'add' ? completeAdd(block, outcome, now()) : completeRemove(block, outcome, now()));
      }
      const failed = chunk.length - ok - deferred;
      if (op === 'add') summary.added += ok;
      else summary.removed += ok;
      summary.failed += failed;
      summary.deferred += deferred;
      const line = {
        integration: provider.id,
        action: op,
        incidents: unique(chunk.flatMap((block) => block.holders)).slice(0, 20),
        ipCount: chunk.length,
        succeeded: ok,
        failed,
        ...(deferred > 0 ? { deferred } : {}),
        outcome: failed === 0 ? (deferred === 0 ? 'ok' : 'deferred') : ok + deferred === 0 ? 'failed' : 'partial',
        latencyMs,
        ...(errors.length > 0 ? { firstError: errors[0] } : {}),
      };
      if (failed === 0) logger.info(`block ${op}`, line);
      else logger.warn(`block ${op}`, line);
      this.#deps.metrics?.deviceRequest(provider.id, op, line.outcome, latencyMs / 1000);
      await appendAudit(this.#deps.store, logger, batchAudit(op === 'add' ? 'block.add' : 'block.remove', provider.id, results, now()));
      await this.#deps.checkpoint?.('after-provider');
    }
  }

  async #switch(
    provider: SwitchProvider,
    lease: string,
    activate: BlockRecord[],
    deactivate: BlockRecord[],
    completions: BlockCompletion[],
    summary: ReconcileSummary,
    logger: Logger,
    leaseSignal: AbortSignal,
  ) {
    const { now } = this.#deps;
    for (const [op, blocks] of [['activate', activate], ['deactivate', deactivate]] as const) {
      for (const due of blocks) {
        await this.#renew(lease);
        const ctx = { ...this.#ctx(logger, leaseSignal), incidents: due.holders };
        const started = now();
        let result: SwitchStep;
        let block: BlockRecord | undefined;
        try {
          let record = switchRecord(due.snapshot);
          // The original state is captured and recorded before anything changes,
          // and only once: after a crash mid-activation the resource may already
          // be switched on, and a new snapshot would capture that.
          let store: SwitchRecord | undefined;
          if (op === 'activate' && record.snapshot === undefined) {
            record = { ...record, snapshot: toStoredSnapshot(await provider.snapshot(ctx)) };
            store = record;
          }
          [block] = await this.#markInFlight([due], summary, store);
          if (!block) continue;
          result = op === 'activate' ? await this.#activateSwitch(provider, record, ctx) : await this.#restoreSwitch(provider, record, ctx);
        } catch (error) {
          result = { outcome: failure(error) };
        }
        const target = block ?? due;
        const completion = op === 'activate' ? completeAdd(target, result.outcome, now()) : completeRemove(target, result.outcome, now());
        if (result.record !== undefined) completion.snapshot = result.record;
        if (result.notice !== undefined) completion.lastError = result.notice;
        completions.push(completion);
        const outcome = result.outcome;
        if (outcome.ok) {
          if (op === 'activate') summary.added += 1;
          else summary.removed += 1;
        } else if (outcome.deferred) {
          summary.deferred += 1;
        } else {
          summary.failed += 1;
        }
        const line = {
          integration: provider.id,
          action: op,
          incidents: due.holders.slice(0, 20),
          outcome: outcome.ok ? 'ok' : outcome.deferred ? 'pending' : 'failed',
          latencyMs: now() - started,
          ...(result.detail !== undefined ? { detail: result.detail } : {}),
          ...(outcome.ok ? {} : { error: outcome.error }),
        };
        this.#deps.metrics?.deviceRequest(provider.id, op, line.outcome, line.latencyMs / 1000);
        if (result.notice !== undefined) logger.error(`switch ${op}: ${result.notice}`, line);
        else if (outcome.ok || outcome.deferred) logger.info(`switch ${op}`, line);
        else logger.warn(`switch ${op}`, line);
        const detail = outcome.ok ? result.detail : outcome.error;
        await appendAudit(this.#deps.store, logger, [
          {
            at: now(),
            action: op === 'activate' ? 'switch.on' : 'switch.off',
            integration: provider.id,
            ...(due.holders[0] !== undefined ? { incident: due.holders[0] } : {}),
            count: 1,
            outcome: result.notice !== undefined ? 'changed-by-others' : groupOutcome([outcome]),
            ...(detail !== undefined ? { detail } : {}),
          },
        ]);
        await this.#deps.checkpoint?.('after-provider');
      }
    }
  }

  /** Turns a switch on unless it was on before the relay came; an unconfirmed change is looked at again. */
  async #activateSwitch(provider: SwitchProvider, record: SwitchRecord, ctx: SwitchContext): Promise<SwitchStep> {
    const snapshot = record.snapshot!;
    if (snapshot.alreadyActive) {
      return {
        outcome: { ok: true },
        detail: `already active before the relay came (${snapshot.summary}); left as found and never turned off by the relay`,
      };
    }
    const activation = await provider.activate(snapshot as SwitchSnapshot, ctx);
    const stored: SwitchRecord = { ...record, activation: toStoredActivation(activation) };
    if (activation.confirmed) return { outcome: { ok: true }, record: stored, detail: activation.summary };
    return {
      outcome: { ok: false, deferred: true, retryable: true, retryAfterMs: activation.recheckAfterMs ?? 30_000, error: `not confirmed yet: ${activation.summary}` },
      record: stored,
      detail: activation.summary,
    };
  }

  /** Restores only what the relay changed; leaves alone what was on before, or what someone else changed since. */
  async #restoreSwitch(provider: SwitchProvider, record: SwitchRecord, ctx: SwitchContext): Promise<SwitchStep> {
    const snapshot = record.snapshot;
    if (snapshot === undefined) return { outcome: { ok: true }, detail: 'nothing to restore: the relay never changed it (no snapshot was taken)' };
    if (snapshot.alreadyActive) {
      return { outcome: { ok: true }, detail: `left active: it was active before the relay came (${snapshot.summary})` };
    }
    const restore = await provider.deactivate(snapshot as SwitchSnapshot, record.activation as SwitchActivation | undefined, ctx);
    switch (restore.outcome) {
      case 'restored':
        return { outcome: { ok: true }, detail: restore.summary };
      case 'changed-by-others':
        return {
          outcome: { ok: true },
          detail: restore.summary,
          notice: `changed by someone else during the attack; the relay left it as it is and restored nothing: ${restore.summary}`,
        };
      case 'pending':
        return {
          outcome: { ok: false, deferred: true, retryable: true, retryAfterMs: restore.recheckAfterMs, error: `restore not confirmed yet: ${restore.summary}` },
          record,
          detail: restore.summary,
        };
    }
  }

  /** ProviderContext.incident: the facts of an incident, as Flowtriq sent them. */
  async #incidentFacts(uuid: string): Promise<IncidentFacts | undefined> {
    const record = await this.#deps.store.getIncident(uuid);
    if (record === undefined) return undefined;
    const facts: IncidentFacts = { uuid: record.uuid, status: record.status, sample: record.uuid.startsWith(SAMPLE_INCIDENT_PREFIX) };
    if (record.family !== undefined) facts.family = record.family;
    if (record.severity !== undefined) facts.severity = record.severity;
    if (record.startedAt !== undefined) facts.startedAt = record.startedAt;
    if (record.endedAt !== undefined) facts.endedAt = record.endedAt;
    if (record.peakPps !== undefined) facts.peakPps = record.peakPps;
    if (record.peakBps !== undefined) facts.peakBps = record.peakBps;
    return facts;
  }

  /**
   * ProviderContext.beforeWrite: records durably that these addresses were
   * absent just before the provider writes them. A block an intent changed
   * meanwhile makes the call fail (retried), so nothing is written unrecorded.
   */
  async #noteAbsentBeforeWrite(current: Map<string, BlockRecord>, ips: string[], summary: ReconcileSummary): Promise<void> {
    const { store, now } = this.#deps;
    const targets = unique(ips).flatMap((ip) => current.get(ip) ?? []);
    if (targets.length === 0) return;
    const at = now();
    const { conflicts } = await store.complete(targets.map((block) => markAbsentBeforeWrite(block, at)), at);
    const lost = new Set(conflicts.map((c) => c.key));
    for (const block of targets) {
      if (!lost.has(block.key)) current.set(block.key, { ...inFlight(block, at), foreign: false });
    }
    if (conflicts.length > 0) {
      summary.conflicts += conflicts.length;
      throw new ProviderError(`${conflicts.length} block(s) changed while the call was being prepared; nothing was written, retried`, { retryable: true });
    }
  }

  /**
   * Records that a device call is about to happen (write-ahead). Returns the
   * blocks as stored after the mark; a block an intent changed meanwhile is
   * left out (it stays due and the next round decides again).
   */
  async #markInFlight(blocks: BlockRecord[], summary: ReconcileSummary, snapshot?: SwitchRecord): Promise<BlockRecord[]> {
    const { store, now } = this.#deps;
    const at = now();
    const needsMark = blocks.filter((block) => block.actual !== 'unknown' || snapshot !== undefined);
    if (needsMark.length === 0) return blocks;
    const { conflicts } = await store.complete(
      needsMark.map((block) => markInFlight(block, at, snapshot)),
      at,
    );
    summary.conflicts += conflicts.length;
    const lost = new Set(conflicts.map((c) => `${c.integration}\u0000${c.key}`));
    const marked = new Set(needsMark);
    return blocks
      .filter((block) => !lost.has(`${block.integration}\u0000${block.key}`))
      .map((block) => (marked.has(block) ? inFlight(block, at, snapshot) : block));
  }

  async #complete(completions: BlockCompletion[], summary: ReconcileSummary) {
    const { store, now } = this.#deps;
    if (completions.length === 0) return;
    let pending = completions;
    for (let attempt = 0; attempt < 5 && pending.length > 0; attempt += 1) {
      const { conflicts } = await store.complete(pending, now());
      if (conflicts.length === 0) return;
      summary.conflicts += conflicts.length;
      const lost = new Map(pending.map((c) => [`${c.integration}\u0000${c.key}`, c]));
      const fresh = await store.getBlocks(conflicts);
      // Only completions that learned something about the device need re-basing.
      pending = fresh
        .map((block) => ({ block, lost: lost.get(`${block.integration}\u0000${block.key}`) }))
        .filter((item): item is { block: BlockRecord; lost: BlockCompletion } =>
          item.lost !== undefined && item.lost.actual !== item.block.actual,
        )
        .map((item) => rebaseFacts(item.block, item.lost, now()));
    }
  }

  async #renew(lease: string) {
    const { store, now } = this.#deps;
    if (!(await store.acquireLease(lease, this.#owner, now(), this.#leaseMs))) {
      throw new Error(`lost the lease ${lease}; another reconciler took over`);
    }
  }

  #ctx(logger: Logger, leaseSignal?: AbortSignal) {
    const timeout = AbortSignal.timeout(this.#opTimeoutMs);
    return { signal: leaseSignal ? AbortSignal.any([timeout, leaseSignal]) : timeout, logger };
  }

  /** Renews the held lease every heartbeatMs until stopped; the signal aborts if the lease is lost. */
  #heartbeat(lease: string): Heartbeat {
    const { store, now, logger } = this.#deps;
    const controller = new AbortController();
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing || controller.signal.aborted) return;
      renewing = true;
      store
        .acquireLease(lease, this.#owner, now(), this.#leaseMs)
        .then((held) => {
          if (!held) {
            logger.error('lost the lease to another process; stopping this pass', { lease });
            controller.abort(new Error(`lost the lease ${lease}; another reconciler took over`));
          }
        })
        .catch((error: unknown) => logger.warn('lease heartbeat failed; retrying', { lease, error: describeError(error) }))
        .finally(() => {
          renewing = false;
        });
    }, this.#heartbeatMs);
    timer.unref?.();
    return { signal: controller.signal, stop: () => clearInterval(timer) };
  }

  async #call(fn: () => Promise<EntryResult[]>): Promise<EntryResult[] | OpOutcome> {
    try {
      return await fn();
    } catch (error) {
      return failure(error);
    }
  }
}

/** One switch call's result: the outcome, the record to store, and what to log or report. */
interface SwitchStep {
  outcome: OpOutcome;
  /** Replaces the block's switch record (undefined: as the completion leaves it). */
  record?: SwitchRecord;
  detail?: string;
  /** Reported loudly and kept on the record for status (a change made behind the relay's back). */
  notice?: string;
}

function toStoredSnapshot(snapshot: SwitchSnapshot): NonNullable<SwitchRecord['snapshot']> {
  return { state: snapshot.state, alreadyActive: snapshot.alreadyActive, summary: snapshot.summary };
}

function toStoredActivation(activation: SwitchActivation): NonNullable<SwitchRecord['activation']> {
  return {
    applied: activation.applied ?? null,
    confirmed: activation.confirmed,
    ...(activation.confirmedAt !== undefined ? { confirmedAt: activation.confirmedAt } : {}),
    summary: activation.summary,
  };
}

function failure(error: unknown): { ok: false; error: string; retryable: boolean; retryAfterMs?: number } {
  if (error instanceof ProviderError) {
    return {
      ok: false,
      error: error.message,
      retryable: error.retryable,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    };
  }
  return { ok: false, error: describeError(error), retryable: true };
}

function toOutcome(batch: EntryResult[] | OpOutcome, entry: EntryResult | undefined): OpOutcome {
  if (!Array.isArray(batch)) return batch;
  if (!entry) return { ok: false, error: 'the provider returned no result for this address', retryable: true };
  if (entry.ok) {
    return { ok: true, ...(entry.ref !== undefined ? { ref: entry.ref } : {}), ...(entry.foreign ? { foreign: true as const } : {}) };
  }
  return {
    ok: false,
    error: entry.error,
    retryable: !entry.error.startsWith('never-block'),
    ...(entry.retryAfterMs !== undefined ? { retryAfterMs: entry.retryAfterMs } : {}),
    ...(entry.deferred ? { deferred: true as const } : {}),
  };
}

/** The lease that serialises writes to one integration's device across processes. */
export function leaseName(integration: string): string {
  return `reconcile#${integration}`;
}

function triggerLabel(triggers: string[]): string | undefined {
  if (triggers.length === 0) return undefined;
  if (triggers.length <= 3) return triggers.join(',');
  return `${triggers.slice(0, 3).join(',')} +${triggers.length - 3} more`;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
