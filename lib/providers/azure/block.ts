/**
 * `azure-nsg` in `block` mode: a blocklist over relay-owned Inbound Deny
 * rules of one network security group.
 *
 * Attacker addresses go into `flowtriq-relay-<integration id>-block` (IPv4,
 * at the band's first priority) and `…-block-v6` (IPv6, the next priority):
 * Azure refuses IPv4 and IPv6 prefixes in one rule
 * (ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies). The
 * customer's rules are never written; every address in these rules is the
 * relay's (`list()` reports them all `owned`), except a range someone put
 * there by hand, which is kept and not listed.
 *
 * Every change: GET the rule → compute (the rule as read ± the batch) → PUT
 * the whole rule back (every field as read, only the prefixes changed) with
 * If-Match of the etag read; a 412 (someone wrote to the NSG meanwhile)
 * reads again and recomputes, up to 5 times. When the last address goes,
 * the rule is DELETEd (Azure needs at least one prefix). Each write is
 * followed to Succeeded before the next; one still running after
 * options.waitFor answers the entries `deferred` (written, not yet applied)
 * and nothing more is written until it has finished. Nothing is written
 * when nothing would change.
 */
import { normalizeAddress } from '../../ip/address.ts';
import { ProviderError } from '../errors.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import type { AzureArmClient, AzureOp } from './client.ts';
import { AZURE_NSG_TYPE, type AzureNsgBlockOptions, relayRuleNames } from './config.ts';
import { AzurePreconditionFailedError, AzurePriorityTakenError } from './errors.ts';
import { type RuleBody, type SecurityRule, bandClashes, blockEntries, blockRuleBody, describeClashes, describeNsg, rulesByName } from './model.ts';

/** Tries of one change when the NSG keeps changing under it (412). */
const MAX_PRECONDITION_RETRIES = 5;
/** One PUT per batch and family; a rule holds up to options.maxAddresses. */
export const AZURE_BLOCK_MAX_BATCH = 500;

export interface AzureBlockSettings {
  id: string;
  options: AzureNsgBlockOptions;
  client: AzureArmClient;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface Change {
  /** The addresses the rule should hold; undefined: nothing to write. */
  next: string[] | undefined;
  results: Map<number, EntryResult>;
  /** Entries the write changes (the others were already as wanted). */
  changed: Set<number>;
}

export class AzureNsgBlockProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = AZURE_NSG_TYPE;
  readonly id: string;
  readonly maxBatch = AZURE_BLOCK_MAX_BATCH;
  readonly #s: AzureBlockSettings;
  readonly #rules: Record<4 | 6, { name: string; priority: number }>;
  readonly #names: Set<string>;

  constructor(settings: AzureBlockSettings) {
    this.#s = settings;
    this.id = settings.id;
    const names = relayRuleNames(settings.id);
    const from = settings.options.priorityBand.from;
    this.#rules = { 4: { name: names.block, priority: from }, 6: { name: names.blockV6, priority: from + 1 } };
    this.#names = new Set([names.block, names.blockV6]);
  }

  get #label(): string {
    return this.#s.client.label;
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#apply(entries, ctx, 'add');
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#apply(entries, ctx, 'remove');
  }

  /** Every single address of the relay's block rules (all the relay's). */
  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    const op = this.#op(ctx);
    const entries: DeviceEntry[] = [];
    for (const family of [4, 6] as const) {
      const rule = await this.#s.client.getRule(op, this.#rules[family].name);
      if (rule) for (const ip of blockEntries(rule.properties).addresses) entries.push({ ip, owned: true });
    }
    return entries;
  }

  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    try {
      const nsg = await this.#s.client.getNsg(this.#op(ctx));
      const rules = rulesByName(nsg);
      const counts = ([4, 6] as const).map((family) => {
        const rule = rules.get(this.#rules[family].name);
        return rule ? `IPv${family} rule: ${blockEntries(rule.properties).addresses.length} addresses` : `IPv${family} rule: none`;
      });
      const band = this.#band();
      const clashes = bandClashes(nsg, band, this.#names);
      const detail = `${describeNsg(nsg, this.#names)}; block mode, ${counts.join(', ')} (at most ${this.#s.options.maxAddresses})`;
      if (clashes.length > 0) return { ok: false, detail: `${detail}; ${describeClashes(clashes, band)}` };
      return { ok: true, detail };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  async #apply(entries: BlockEntry[], ctx: ProviderContext, action: 'add' | 'remove'): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const results = new Map<number, EntryResult>();
    const byFamily: Record<4 | 6, { index: number; ip: string }[]> = { 4: [], 6: [] };
    entries.forEach((entry, index) => {
      const parsed = normalizeAddress(entry.ip);
      if (!parsed.ok) {
        results.set(index, { ip: entry.ip, ok: false, error: `${this.#label}: ${entry.ip} is not an IP address (${parsed.reason})` });
        return;
      }
      byFamily[parsed.address.family].push({ index, ip: parsed.canonical });
    });
    for (const family of [4, 6] as const) {
      const batch = byFamily[family];
      if (batch.length === 0) continue;
      const done = await this.#change(op, ctx, family, (current, total) => (action === 'add' ? this.#plusBatch(entries, batch, current, total) : this.#minusBatch(entries, batch, current)));
      for (const [index, result] of done) results.set(index, result);
    }
    return entries.map((entry, index) => results.get(index) ?? { ip: entry.ip, ok: false, error: `${this.#label}: no result` });
  }

  #plusBatch(entries: BlockEntry[], batch: { index: number; ip: string }[], current: string[], total: number): Change {
    const results = new Map<number, EntryResult>();
    const changed = new Set<number>();
    const next = [...current];
    let count = total;
    for (const { index, ip } of batch) {
      const original = entries[index]!.ip;
      if (next.includes(ip)) {
        results.set(index, { ip: original, ok: true });
        continue;
      }
      if (count >= this.#s.options.maxAddresses) {
        results.set(index, {
          ip: original,
          ok: false,
          error: `${this.#label}: the relay's block rules are full (${count} of ${this.#s.options.maxAddresses} addresses, options.maxAddresses; an NSG holds 4,000 source prefixes in all); not added`,
        });
        continue;
      }
      next.push(ip);
      count += 1;
      changed.add(index);
      results.set(index, { ip: original, ok: true });
    }
    return { next: next.length === current.length ? undefined : next, results, changed };
  }

  #minusBatch(entries: BlockEntry[], batch: { index: number; ip: string }[], current: string[]): Change {
    const drop = new Set(batch.map((item) => item.ip));
    const results = new Map<number, EntryResult>(batch.map(({ index }) => [index, { ip: entries[index]!.ip, ok: true }]));
    const changed = new Set(batch.filter(({ ip }) => current.includes(ip)).map(({ index }) => index));
    const next = current.filter((ip) => !drop.has(ip));
    return { next: next.length === current.length ? undefined : next, results, changed };
  }

  /**
   * Reads the family's rule, computes, writes with If-Match, and follows the
   * operation; a 412 starts over from the read.
   */
  async #change(op: AzureOp, ctx: ProviderContext, family: 4 | 6, compute: (current: string[], total: number) => Change): Promise<Map<number, EntryResult>> {
    const { name, priority } = this.#rules[family];
    const until = this.#s.now() + this.#s.options.waitFor;
    for (let attempt = 1; ; attempt += 1) {
      const rule = await this.#ready(op, name, until);
      if (rule === 'busy') {
        throw new ProviderError(`${this.#label}: Azure is still applying an earlier change to rule ${name}; the relay writes nothing until it has finished and tries again`, {
          retryable: true,
          retryAfterMs: this.#s.options.pollInterval,
        });
      }
      const { addresses, others } = rule ? blockEntries(rule.properties) : { addresses: [], others: [] };
      const other = family === 4 ? 6 : 4;
      const otherCount = await this.#count(op, this.#rules[other].name);
      const change = compute(addresses, addresses.length + otherCount);
      if (change.next === undefined) return change.results;
      try {
        let operation;
        if (change.next.length === 0 && others.length === 0) {
          ctx.logger.info('azure-nsg: removing the empty block rule', { integration: this.id, rule: name });
          operation = (await this.#s.client.deleteRule(op, name, rule?.etag)).operation;
        } else if (rule === undefined) {
          await this.#checkPriority(op, priority);
          ctx.logger.info('azure-nsg: creating the block rule', { integration: this.id, rule: name, addresses: change.next.length });
          operation = (await this.#s.client.putRule(op, name, blockRuleBody(priority, family, change.next), undefined)).operation;
        } else {
          ctx.logger.info('azure-nsg: updating the block rule', { integration: this.id, rule: name, addresses: change.next.length });
          operation = (await this.#s.client.putRule(op, name, withPrefixes(rule, [...change.next, ...others]), rule.etag)).operation;
        }
        if (operation && (await this.#s.client.settle(op, operation, until)) === 'pending') return this.#deferredAll(change);
        return change.results;
      } catch (error) {
        if (!(error instanceof AzurePreconditionFailedError)) throw error;
        if (attempt >= MAX_PRECONDITION_RETRIES) {
          throw new ProviderError(`${this.#label}: rule ${name} kept changing under the relay (412 PreconditionFailed ${attempt} times); it will be retried`, {
            retryable: true,
            retryAfterMs: this.#s.options.pollInterval,
            cause: error,
          });
        }
      }
    }
  }

  /** The rule once no operation of Azure is running on it; 'busy' if one still is at `until`. */
  async #ready(op: AzureOp, name: string, until: number): Promise<SecurityRule | undefined | 'busy'> {
    for (;;) {
      const rule = await this.#s.client.getRule(op, name);
      const state = rule?.properties.provisioningState ?? 'Succeeded';
      if (state === 'Succeeded' || state === 'Failed') return rule;
      if (this.#s.now() + this.#s.options.pollInterval > until) return 'busy';
      await this.#s.sleep(this.#s.options.pollInterval, op.signal);
    }
  }

  async #count(op: AzureOp, name: string): Promise<number> {
    const rule = await this.#s.client.getRule(op, name);
    return rule ? blockEntries(rule.properties).addresses.length : 0;
  }

  async #checkPriority(op: AzureOp, priority: number): Promise<void> {
    const nsg = await this.#s.client.getNsg(op);
    const clashes = bandClashes(nsg, { from: priority, to: priority }, this.#names);
    if (clashes.length > 0) throw new AzurePriorityTakenError(`${this.#label}: ${describeClashes(clashes, { from: priority, to: priority })}`);
  }

  #deferredAll(change: Change): Map<number, EntryResult> {
    const wait = this.#s.options.pollInterval;
    const results = new Map<number, EntryResult>();
    for (const [index, result] of change.results) {
      const applying = result.ok && change.changed.has(index);
      results.set(index, applying ? { ip: result.ip, ok: false, deferred: true, retryAfterMs: wait, error: 'Azure is still applying the change' } : result);
    }
    return results;
  }

  #band(): { from: number; to: number } {
    return { from: this.#rules[4].priority, to: this.#rules[6].priority };
  }

  #op(ctx: ProviderContext): AzureOp {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#s.now() + this.#s.options.waitFor + 8 * this.#s.options.timeout };
  }
}

/** The rule as read, every field kept, with new source prefixes (a PUT replaces the whole rule). */
function withPrefixes(rule: SecurityRule, prefixes: string[]): RuleBody {
  const { provisioningState: _state, sourceAddressPrefix: _single, sourceAddressPrefixes: _list, ...kept } = rule.properties;
  return { ...(kept as unknown as RuleBody), sourceAddressPrefixes: prefixes };
}
