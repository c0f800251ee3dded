/**
 * The `dry-run` integration: logs exactly what it would do, one line per
 * call, changes nothing and always succeeds. `options.kind` chooses whether
 * it behaves as a blocklist or a switch target.
 */
import type {
  BlockEntry,
  BlocklistProvider,
  EntryResult,
  HealthResult,
  ProviderContext,
  SwitchContext,
  SwitchProvider,
} from '../types.ts';

const HEALTH: HealthResult = { ok: true, detail: 'dry-run: changes nothing' };

/** What a dry-run switch "restores" on deactivate. */
export interface DryRunSnapshot {
  dryRun: true;
  /** ISO time of the activation. */
  activatedAt: string;
}

/** A blocklist target that logs `dry-run add` / `dry-run remove` and changes nothing. */
export class DryRunBlocklistProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = 'dry-run';
  readonly id: string;
  readonly maxBatch = 10_000;

  constructor(options: { id: string }) {
    this.id = options.id;
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#log('dry-run add', entries, ctx);
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#log('dry-run remove', entries, ctx);
  }

  async healthCheck(): Promise<HealthResult> {
    return { ...HEALTH };
  }

  #log(message: string, entries: BlockEntry[], ctx: ProviderContext): EntryResult[] {
    const ips = entries.map((entry) => entry.ip);
    ctx.logger.info(message, { integration: this.id, count: ips.length, ips });
    return ips.map((ip) => ({ ip, ok: true }));
  }
}

/** A switch target that logs `dry-run activate` / `dry-run deactivate` and changes nothing. */
export class DryRunSwitchProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = 'dry-run';
  readonly id: string;
  readonly #now: () => number;

  constructor(options: { id: string; now?: () => number }) {
    this.id = options.id;
    this.#now = options.now ?? Date.now;
  }

  /** Nothing to read on a dry run: the snapshot records when it was taken. */
  async snapshot(_ctx: SwitchContext): Promise<DryRunSnapshot> {
    return { dryRun: true, activatedAt: new Date(this.#now()).toISOString() };
  }

  async activate(ctx: SwitchContext): Promise<void> {
    ctx.logger.info('dry-run activate', { integration: this.id, incidents: ctx.incidents });
  }

  async deactivate(snapshot: unknown, ctx: SwitchContext): Promise<void> {
    const activatedAt = isDryRunSnapshot(snapshot) ? snapshot.activatedAt : undefined;
    ctx.logger.info('dry-run deactivate', { integration: this.id, incidents: ctx.incidents, activatedAt });
  }

  async healthCheck(): Promise<HealthResult> {
    return { ...HEALTH };
  }
}

function isDryRunSnapshot(value: unknown): value is DryRunSnapshot {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { dryRun?: unknown }).dryRun === true &&
    typeof (value as { activatedAt?: unknown }).activatedAt === 'string'
  );
}
