/**
 * The never-block guard in front of a blocklist provider: the last place a
 * protected address (the node itself, private ranges, operator exceptions)
 * can be stopped before it reaches a firewall.
 *
 * - `add`: every entry whose address fails `check` is answered
 *   `{ ok: false, error: 'never-block: <reason>' }` and logged as a warning;
 *   the inner provider sees only the rest, and is not called at all when
 *   nothing is left. A `check` that throws counts as a refusal (fail closed).
 * - `remove`: passed through unchanged; removing is always safe, and it must
 *   stay possible to lift a block that predates a never-block rule.
 */
import { describeError } from '../errors.ts';
import type { Logger } from '../log/types.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from './types.ts';

/** May this address be blocked? Same shape as `NeverBlockList.check` (lib/ip/never-block.ts). */
export type NeverBlockCheck = (ip: string) => { ok: true } | { ok: false; reason: string };

/** Prefix of the per-entry error for refused addresses; the reconciler treats it as not retryable. */
export const NEVER_BLOCK_ERROR_PREFIX = 'never-block: ';

/** Wraps `provider` so no never-block address ever reaches its `add`. */
export function guardBlocklist(provider: BlocklistProvider, check: NeverBlockCheck, logger: Logger): BlocklistProvider {
  return new GuardedBlocklistProvider(provider, check, logger);
}

class GuardedBlocklistProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly #inner: BlocklistProvider;
  readonly #check: NeverBlockCheck;
  readonly #logger: Logger;

  /** Present exactly when the inner provider can list (drift repair checks for it). */
  readonly list?: (ctx: ProviderContext) => Promise<DeviceEntry[]>;

  constructor(inner: BlocklistProvider, check: NeverBlockCheck, logger: Logger) {
    this.#inner = inner;
    this.#check = check;
    this.#logger = logger;
    if (inner.list) this.list = (ctx) => inner.list!(ctx);
  }

  get id(): string {
    return this.#inner.id;
  }
  get type(): string {
    return this.#inner.type;
  }
  get maxBatch(): number {
    return this.#inner.maxBatch;
  }
  get maxIpsPerEvent(): number | undefined {
    return this.#inner.maxIpsPerEvent;
  }
  get refreshOnHold(): boolean | undefined {
    return this.#inner.refreshOnHold;
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const results: Array<EntryResult | undefined> = [];
    const allowed: BlockEntry[] = [];
    for (const entry of entries) {
      const refusal = this.#refusal(entry.ip);
      if (refusal === undefined) {
        allowed.push(entry);
        results.push(undefined);
        continue;
      }
      this.#logger.warn('never-block: refused to block', { integration: this.id, ip: entry.ip, reason: refusal });
      results.push({ ip: entry.ip, ok: false, error: NEVER_BLOCK_ERROR_PREFIX + refusal });
    }
    if (allowed.length === 0) return results as EntryResult[];

    const inner = await this.#inner.add(allowed, ctx);
    const byIp = new Map<string, EntryResult>();
    for (const result of inner) byIp.set(result.ip, result);
    return entries.map(
      (entry, index) =>
        results[index] ??
        byIp.get(entry.ip) ?? { ip: entry.ip, ok: false, error: 'the provider returned no result for this address' },
    );
  }

  remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#inner.remove(entries, ctx);
  }

  healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    return this.#inner.healthCheck(ctx);
  }

  /** The reason this address must not be blocked, or undefined when it may be. */
  #refusal(ip: string): string | undefined {
    try {
      const verdict = this.#check(ip);
      return verdict.ok ? undefined : verdict.reason;
    } catch (error) {
      return `the never-block check failed (${describeError(error)})`;
    }
  }
}
