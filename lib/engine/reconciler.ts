/**
 * The only code that calls providers. For one integration at a time, under
 * that integration's lease (so writes to one device are serialised across
 * workers, the sweeper and processes), it reads the due blocks, plans, calls
 * the provider in batches and records every outcome.
 */
import { randomUUID } from 'node:crypto';
import { describeError } from '../errors.ts';
import type { Logger } from '../log/types.ts';
import {
  completeAdd,
  completeRemove,
  inFlight,
  markInFlight,
  planReconcile,
  rebaseFacts,
  type OpOutcome,
} from '../planner/plan-reconcile.ts';
import { ProviderError } from '../providers/errors.ts';
import { planDrift } from '../planner/plan-drift.ts';
import type { BlockEntry, BlocklistProvider, EntryResult, SwitchProvider } from '../providers/types.ts';
import type { BlockCompletion, BlockRecord } from '../model/types.ts';
import type { EngineDeps } from './types.ts';

export interface ReconcilerOptions {
  /** Identifies this process in leases. */
  owner?: string;
  /** How long a lease lasts unless renewed; must exceed opTimeoutMs. */
  leaseMs?: number;
  /** Deadline of one provider call. */
  opTimeoutMs?: number;
  /** Most blocks read per round. */
  batchLimit?: number;
  /** Rounds per lease before yielding. */
  maxRounds?: number;
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
  conflicts: number;
  rounds: number;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Reconciler {
  readonly #deps: EngineDeps;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #opTimeoutMs: number;
  readonly #batchLimit: number;
  readonly #maxRounds: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(deps: EngineDeps, options: ReconcilerOptions = {}) {
    this.#deps = deps;
    this.#owner = options.owner ?? `relay-${randomUUID()}`;
    this.#opTimeoutMs = options.opTimeoutMs ?? 60_000;
    this.#leaseMs = options.leaseMs ?? this.#opTimeoutMs * 2;
    this.#batchLimit = options.batchLimit ?? 2_000;
    this.#maxRounds = options.maxRounds ?? 10;
    this.#sleep = options.sleep ?? delay;
  }

  /**
   * Brings the integration's due blocks to their wanted state. Waits up to
   * `waitMs` for the lease when another reconciler holds it; after releasing,
   * looks once more so that an intent recorded while it held the lease is not
   * left for the sweeper.
   */
  async reconcile(
    integration: string,
    options: { waitMs?: number; /** What asked: an incident uuid, or 'sweeper'. Logged with every action. */ trigger?: string } = {},
  ): Promise<ReconcileSummary> {
    const { store, now } = this.#deps;
    const summary: ReconcileSummary = {
      integration,
      busy: false,
      orphaned: false,
      added: 0,
      removed: 0,
      failed: 0,
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
    const lease = `reconcile#${integration}`;
    const deadline = now() + (options.waitMs ?? 0);
    for (let pass = 0; pass < 5; pass += 1) {
      while (!(await store.acquireLease(lease, this.#owner, now(), this.#leaseMs))) {
        if (now() >= deadline) {
          summary.busy = true;
          return summary;
        }
        await this.#sleep(25);
      }
      try {
        await this.#rounds(provider, lease, summary, options.trigger);
      } finally {
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
    const { store, now, logger } = this.#deps;
    const provider = this.#deps.providers.get(integration);
    if (!provider || provider.kind !== 'blocklist' || !provider.list) return { checked: false, reasserted: 0, removed: 0 };
    const lease = `reconcile#${integration}`;
    if (!(await store.acquireLease(lease, this.#owner, now(), this.#leaseMs))) return { checked: false, reasserted: 0, removed: 0 };
    let reasserted = 0;
    let removed = 0;
    try {
      const device = await provider.list(this.#ctx(logger));
      const plan = planDrift(await store.listBlocks({ integration }), device, now());
      if (plan.reassert.length > 0) {
        const { conflicts } = await store.complete(plan.reassert, now());
        reasserted = plan.reassert.length - conflicts.length;
        logger.warn('drift: blocks missing from the device; re-asserting', { integration, ipCount: reasserted });
      }
      if (plan.removeStale.length > 0) {
        const entries = plan.removeStale.map((entry) => ({ ...entry, expiresAt: now(), incidents: [] }));
        const results = await provider.remove(entries, this.#ctx(logger));
        removed = results.filter((result) => result.ok).length;
        logger.warn('drift: removed managed entries no incident holds', { integration, ipCount: removed, failed: entries.length - removed });
      }
    } finally {
      await store.releaseLease(lease, this.#owner);
    }
    if (reasserted > 0) await this.reconcile(integration, { trigger: 'drift' });
    return { checked: true, reasserted, removed };
  }

  async #rounds(
    provider: BlocklistProvider | SwitchProvider,
    lease: string,
    summary: ReconcileSummary,
    trigger: string | undefined,
  ) {
    const logger = trigger ? this.#deps.logger.child({ trigger }) : this.#deps.logger;
    const { store, now } = this.#deps;
    for (let round = 0; round < this.#maxRounds; round += 1) {
      const due = await store.dueBlocks(provider.id, now(), this.#batchLimit);
      if (due.length === 0) return;
      summary.rounds += 1;
      const plan = planReconcile(due, now());
      const completions: BlockCompletion[] = [...plan.settle];
      if (provider.kind === 'blocklist') {
        await this.#blocklist(provider, lease, plan.add, 'add', completions, summary, logger);
        await this.#blocklist(provider, lease, plan.remove, 'remove', completions, summary, logger);
      } else {
        await this.#switch(provider, lease, plan.add, plan.remove, completions, summary, logger);
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
  ) {
    const { now } = this.#deps;
    const size = Math.max(1, provider.maxBatch);
    for (let start = 0; start < blocks.length; start += size) {
      await this.#renew(lease);
      const chunk = await this.#markInFlight(blocks.slice(start, start + size), summary);
      if (chunk.length === 0) continue;
      const entries: BlockEntry[] = chunk.map((block) => {
        const entry: BlockEntry = { ip: block.key, expiresAt: block.expiresAt, incidents: block.holders };
        if (block.ref !== undefined) entry.ref = block.ref;
        return entry;
      });
      const started = now();
      const outcomes = await this.#call(() =>
        op === 'add' ? provider.add(entries, this.#ctx(logger)) : provider.remove(entries, this.#ctx(logger)),
      );
      const latencyMs = now() - started;
      const byIp = new Map<string, EntryResult>();
      if (Array.isArray(outcomes)) for (const result of outcomes) byIp.set(result.ip, result);
      let ok = 0;
      const errors: string[] = [];
      for (const block of chunk) {
        const outcome = toOutcome(outcomes, byIp.get(block.key));
        if (outcome.ok) ok += 1;
        else errors.push(outcome.error);
        completions.push(op === 'add' ? completeAdd(block, outcome, now()) : completeRemove(block, outcome, now()));
      }
      if (op === 'add') summary.added += ok;
      else summary.removed += ok;
      summary.failed += chunk.length - ok;
      const line = {
        integration: provider.id,
        action: op,
        incidents: unique(chunk.flatMap((block) => block.holders)).slice(0, 20),
        ipCount: chunk.length,
        succeeded: ok,
        failed: chunk.length - ok,
        outcome: ok === chunk.length ? 'ok' : ok === 0 ? 'failed' : 'partial',
        latencyMs,
        ...(errors.length > 0 ? { firstError: errors[0] } : {}),
      };
      if (ok === chunk.length) logger.info(`block ${op}`, line);
      else logger.warn(`block ${op}`, line);
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
  ) {
    const { now } = this.#deps;
    for (const [op, blocks] of [['activate', activate], ['deactivate', deactivate]] as const) {
      for (const due of blocks) {
        await this.#renew(lease);
        const ctx = { ...this.#ctx(logger), incidents: due.holders };
        const started = now();
        let outcome: OpOutcome;
        let block: BlockRecord | undefined;
        try {
          // The original state is captured and recorded before anything changes,
          // and only once: after a crash mid-activation the device may already be
          // locked down, and a new snapshot would capture the lockdown.
          const snapshot = op === 'activate' && due.snapshot == null ? await provider.snapshot(ctx) : undefined;
          [block] = await this.#markInFlight([due], summary, snapshot);
          if (!block) continue;
          if (op === 'activate') await provider.activate(ctx);
          else await provider.deactivate(block.snapshot, ctx);
          outcome = { ok: true };
        } catch (error) {
          outcome = failure(error);
        }
        const target = block ?? due;
        completions.push(op === 'activate' ? completeAdd(target, outcome, now()) : completeRemove(target, outcome, now()));
        if (outcome.ok) {
          if (op === 'activate') summary.added += 1;
          else summary.removed += 1;
        } else {
          summary.failed += 1;
        }
        const line = {
          integration: provider.id,
          action: op,
          incidents: due.holders.slice(0, 20),
          outcome: outcome.ok ? 'ok' : 'failed',
          latencyMs: now() - started,
          ...(outcome.ok ? {} : { error: outcome.error }),
        };
        if (outcome.ok) logger.info(`switch ${op}`, line);
        else logger.warn(`switch ${op}`, line);
        await this.#deps.checkpoint?.('after-provider');
      }
    }
  }

  /**
   * Records that a device call is about to happen (write-ahead). Returns the
   * blocks as stored after the mark; a block an intent changed meanwhile is
   * left out (it stays due and the next round decides again).
   */
  async #markInFlight(blocks: BlockRecord[], summary: ReconcileSummary, snapshot?: unknown): Promise<BlockRecord[]> {
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

  #ctx(logger: Logger) {
    return { signal: AbortSignal.timeout(this.#opTimeoutMs), logger };
  }

  async #call(fn: () => Promise<EntryResult[]>): Promise<EntryResult[] | OpOutcome> {
    try {
      return await fn();
    } catch (error) {
      return failure(error);
    }
  }
}

function failure(error: unknown): { ok: false; error: string; retryable: boolean } {
  if (error instanceof ProviderError) return { ok: false, error: error.message, retryable: error.retryable };
  return { ok: false, error: describeError(error), retryable: true };
}

function toOutcome(batch: EntryResult[] | OpOutcome, entry: EntryResult | undefined): OpOutcome {
  if (!Array.isArray(batch)) return batch;
  if (!entry) return { ok: false, error: 'the provider returned no result for this address', retryable: true };
  if (entry.ok) return entry.ref === undefined ? { ok: true } : { ok: true, ref: entry.ref };
  return { ok: false, error: entry.error, retryable: !entry.error.startsWith('never-block') };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
