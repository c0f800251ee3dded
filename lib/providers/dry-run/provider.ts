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
  SwitchActivation,
  SwitchContext,
  SwitchProvider,
  SwitchRestore,
  SwitchSnapshot,
} from '../types.ts';

const HEALTH: HealthResult = { ok: true, detail: 'dry-run: changes nothing' };

/** What a dry-run switch "reads": nothing but when. */
export interface DryRunState {
  dryRun: true;
  /** ISO time of the snapshot. */
  takenAt: string;
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
  readonly holdDownMs: number;
  readonly #now: () => number;

  constructor(options: { id: string; holdDownMs?: number; now?: () => number }) {
    this.id = options.id;
    this.holdDownMs = options.holdDownMs ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /** Nothing to read on a dry run: the snapshot records when it was taken. */
  async snapshot(_ctx: SwitchContext): Promise<SwitchSnapshot<DryRunState>> {
    const takenAt = new Date(this.#now()).toISOString();
    return { state: { dryRun: true, takenAt }, alreadyActive: false, summary: `dry run: nothing read (${takenAt})` };
  }

  async activate(_snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation> {
    ctx.logger.info('dry-run activate', { integration: this.id, incidents: ctx.incidents });
    const at = new Date(this.#now()).toISOString();
    return { applied: null, confirmed: true, confirmedAt: at, summary: 'dry run: nothing changed' };
  }

  async deactivate(snapshot: SwitchSnapshot, _activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const takenAt = isDryRunState(snapshot.state) ? snapshot.state.takenAt : undefined;
    ctx.logger.info('dry-run deactivate', { integration: this.id, incidents: ctx.incidents, snapshotTakenAt: takenAt });
    return { outcome: 'restored', summary: 'dry run: nothing to restore' };
  }

  async healthCheck(): Promise<HealthResult> {
    return { ...HEALTH };
  }
}

function isDryRunState(value: unknown): value is DryRunState {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { dryRun?: unknown }).dryRun === true &&
    typeof (value as { takenAt?: unknown }).takenAt === 'string'
  );
}
