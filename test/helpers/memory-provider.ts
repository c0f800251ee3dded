import type {
  BlockEntry,
  BlocklistProvider,
  DeviceEntry,
  EntryResult,
  HealthResult,
  ProviderContext,
  SwitchActivation,
  SwitchContext,
  SwitchProvider,
  SwitchRestore,
  SwitchSnapshot,
} from '../../lib/providers/types.ts';
import { ProviderError } from '../../lib/providers/errors.ts';

/**
 * A blocklist "device" kept in memory: what is on it survives relay crashes
 * (it is the device), every call is recorded, and it can be taken down.
 */
export class MemoryBlocklist implements BlocklistProvider {
  readonly kind = 'blocklist' as const;
  readonly type = 'memory';
  readonly id: string;
  readonly maxBatch: number;
  /** The relay's entries on the device. */
  readonly device = new Set<string>();
  /** The operator's own entries (never the relay's to touch). */
  readonly operator = new Set<string>();
  readonly calls: { op: 'add' | 'remove'; ips: string[]; resumed: string[] }[] = [];
  /** When set, every call fails with this (the device is unreachable). */
  down: ProviderError | undefined;
  /** Real time each call takes (to make concurrency visible). */
  delayMs = 0;
  /** Calls in progress now, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Adds of an address already listed by the relay, and removals aimed at operator entries: what a careful client never does. */
  duplicateAdds = 0;
  operatorTouched = 0;
  /** The signal of the last call (to see that a lost lease aborts it). */
  lastSignal: AbortSignal | undefined;
  #nextRef = 1;
  readonly refs = new Map<string, string>();

  constructor(id: string, options: { maxBatch?: number } = {}) {
    this.id = id;
    this.maxBatch = options.maxBatch ?? 10_000;
  }

  async #enter(op: 'add' | 'remove', entries: BlockEntry[], ctx: ProviderContext): Promise<void> {
    this.calls.push({ op, ips: entries.map((entry) => entry.ip), resumed: entries.filter((entry) => entry.resumed).map((entry) => entry.ip) });
    this.lastSignal = ctx.signal;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (this.down) throw this.down;
      ctx.signal.throwIfAborted();
    } finally {
      this.inFlight -= 1;
    }
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    await this.#enter('add', entries, ctx);
    return entries.map((entry): EntryResult => {
      if (this.operator.has(entry.ip)) return { ip: entry.ip, ok: true, foreign: true };
      if (this.device.has(entry.ip)) this.duplicateAdds += 1;
      this.device.add(entry.ip);
      const ref = this.refs.get(entry.ip) ?? `*${(this.#nextRef++).toString(16)}`;
      this.refs.set(entry.ip, ref);
      return { ip: entry.ip, ok: true, ref };
    });
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    await this.#enter('remove', entries, ctx);
    return entries.map((entry) => {
      // Asked to remove an address the relay never added here: only the operator's entry could go.
      if (this.operator.has(entry.ip) && !this.device.has(entry.ip)) this.operatorTouched += 1;
      this.device.delete(entry.ip);
      this.refs.delete(entry.ip);
      return { ip: entry.ip, ok: true };
    });
  }

  async healthCheck(): Promise<HealthResult> {
    return this.down ? { ok: false, detail: this.down.message } : { ok: true, detail: 'memory device' };
  }

  /** The relay's entries (owned) and the operator's (not owned). */
  listCalls = 0;

  async list(_ctx: ProviderContext): Promise<DeviceEntry[]> {
    this.listCalls += 1;
    if (this.down) throw this.down;
    return [
      ...[...this.device].map((ip) => ({ ip, ref: this.refs.get(ip) ?? '', owned: true })),
      ...[...this.operator].map((ip) => ({ ip, owned: false })),
    ];
  }

  addedIps(): string[] {
    return this.calls.filter((call) => call.op === 'add').flatMap((call) => call.ips);
  }
}

/** A switch "device" whose original state must come back exactly on deactivate. */
export class MemorySwitch implements SwitchProvider {
  readonly kind = 'switch' as const;
  readonly type = 'memory-switch';
  readonly id: string;
  holdDownMs = 0;
  /** The device's configuration; `lockdown` while activated. */
  state: { mode: string; rules: string[] } = { mode: 'normal', rules: ['allow 443', 'allow 22'] };
  readonly calls: { op: 'activate' | 'deactivate'; incidents: string[] }[] = [];
  down: ProviderError | undefined;
  /** activate calls that report "not confirmed yet" before the device confirms (an asynchronous provider). */
  pendingChecks = 0;

  constructor(id: string) {
    this.id = id;
  }

  get active(): boolean {
    return this.state.mode === 'lockdown';
  }

  readonly snapshots: SwitchSnapshot[] = [];

  async snapshot(_ctx: SwitchContext): Promise<SwitchSnapshot> {
    if (this.down) throw this.down;
    const snapshot = { state: structuredClone(this.state), alreadyActive: this.active, summary: `mode ${this.state.mode}` };
    this.snapshots.push(snapshot);
    return snapshot;
  }

  async activate(_snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation> {
    this.calls.push({ op: 'activate', incidents: ctx.incidents });
    if (this.down) throw this.down;
    if (!this.active) this.state = { mode: 'lockdown', rules: ['allow 22'] };
    const applied = structuredClone(this.state);
    if (this.pendingChecks > 0) {
      this.pendingChecks -= 1;
      return { applied, confirmed: false, recheckAfterMs: 1_000, summary: 'lockdown requested, not confirmed yet' };
    }
    return { applied, confirmed: true, confirmedAt: new Date(0).toISOString(), summary: 'lockdown' };
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    this.calls.push({ op: 'deactivate', incidents: ctx.incidents });
    if (this.down) throw this.down;
    const saved = snapshot.state as { mode?: string; rules?: string[] } | null | undefined;
    if (!saved?.mode || !saved.rules) throw new ProviderError('no snapshot to restore', { retryable: false });
    if (!this.active) return { outcome: 'restored', summary: 'already as found' };
    const expected = (activation?.applied as { mode: string; rules: string[] } | undefined) ?? { mode: 'lockdown', rules: ['allow 22'] };
    if (JSON.stringify(expected) !== JSON.stringify(this.state)) {
      return { outcome: 'changed-by-others', summary: `rules are ${this.state.rules.join(', ')}, not what the relay set` };
    }
    this.state = { mode: saved.mode, rules: [...saved.rules] };
    return { outcome: 'restored', summary: `mode ${saved.mode}` };
  }

  async healthCheck(): Promise<HealthResult> {
    return { ok: !this.down, detail: 'memory switch' };
  }
}
