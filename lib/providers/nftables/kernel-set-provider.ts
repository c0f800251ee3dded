/**
 * The blocklist provider over a pair of kernel sets that the `nftables` and
 * `ipset` integrations share: add, remove and list go through ./kernel-set.ts
 * against the integration's backend; each integration adds its own health
 * check.
 */
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import { type KernelSetBackend, type KernelSetPolicy, addEntries, listEntries, removeEntries } from './kernel-set.ts';

export interface KernelSetSettings {
  /** `options.elementTimeout`: `ttl` gives every element a kernel timeout. */
  elementTimeout: string;
  /** The longest timeout the tool accepts. */
  maxTimeoutSeconds: number;
  now?: (() => number) | undefined;
}

export abstract class KernelSetProvider<Backend extends KernelSetBackend> implements BlocklistProvider {
  readonly kind = 'blocklist';
  abstract readonly type: string;
  abstract readonly maxBatch: number;
  /** Elements carry kernel timeouts: a block touched again is added again, which extends its timeout. */
  readonly refreshOnHold = true;
  readonly id: string;
  readonly #backend: Backend;
  readonly #policy: KernelSetPolicy;

  constructor(id: string, backend: Backend, settings: KernelSetSettings) {
    this.id = id;
    this.#backend = backend;
    this.#policy = {
      timeouts: settings.elementTimeout === 'ttl',
      maxTimeoutSeconds: settings.maxTimeoutSeconds,
      now: settings.now ?? Date.now,
    };
  }

  protected get backend(): Backend {
    return this.#backend;
  }

  protected get policy(): KernelSetPolicy {
    return this.#policy;
  }

  add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return addEntries(this.backend, entries, this.policy, ctx);
  }

  remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return removeEntries(this.backend, entries, this.policy, ctx);
  }

  list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    return listEntries(this.backend, ctx);
  }

  abstract healthCheck(ctx: ProviderContext): Promise<HealthResult>;
}
