/**
 * `gcp-firewall` with `mode: block`: a blocklist over one relay-owned
 * INGRESS deny rule per address family (`<prefix>-block-v4`,
 * `<prefix>-block-v6`; a rule holds IPv4 or IPv6 ranges, never both) at
 * `options.priority`, `denied: [{IPProtocol: all}]`, whose sourceRanges are
 * the attackers' addresses. The operator's own rules are never touched.
 *
 * - add/remove: read the rule, compute the new list, one write per batch
 *   and family (insert when the rule does not exist yet, else PATCH of
 *   `sourceRanges`), its Operation polled to DONE, the rule read back.
 *   Nothing is written when nothing changes.
 * - An INGRESS rule without sources applies to every source (Google
 *   defaults it to 0.0.0.0/0), so a rule is never left enabled without
 *   addresses: when the last one goes, one PATCH sets a placeholder
 *   (documentation range, ./model.ts BLOCK_PLACEHOLDER) and disables the
 *   rule; the next add replaces the placeholder and enables it again.
 * - The rule is the relay's alone: `list()` reports every single address in
 *   it as owned. A rule whose other fields (priority, network, direction,
 *   targets, protocol, …) differ from the relay's, or that someone
 *   disabled or emptied, is someone else's change: the relay writes nothing
 *   to it and says so (GcpRuleChangedError).
 * - At most 5,000 ranges per rule (Google's limit): an address past it fails
 *   on its own with an error saying so.
 */
import { formatAddress } from '../../ip/address.ts';
import { type Cidr, formatCidr, parseCidr } from '../../ip/cidr.ts';
import { ProviderError } from '../errors.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import type { GcpComputeClient, GcpOp } from './client.ts';
import { GCP_FIREWALL_TYPE, GCP_MAX_SOURCE_RANGES, type GcpBlockOptions } from './config.ts';
import { GcpRuleChangedError } from './errors.ts';
import { BLOCK_PLACEHOLDER, type BlockRulePlan, type Firewall, blockContent, canonicalRange, contentDiff, contentOf, describeRule, planBlock } from './model.ts';

export interface GcpBlockProviderOptions {
  id: string;
  options: GcpBlockOptions;
  client: GcpComputeClient;
  now: () => number;
  /** Per-rule limit (tests lower it). */
  maxRanges?: number;
}

interface Target {
  index: number;
  ip: string;
  key: string;
  cidr: Cidr;
}

export class GcpBlockProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = GCP_FIREWALL_TYPE;
  readonly id: string;
  /** One read and one write per batch and family. */
  readonly maxBatch = 1000;
  readonly #o: GcpBlockProviderOptions;
  readonly #client: GcpComputeClient;
  readonly #plans: Record<4 | 6, BlockRulePlan>;
  readonly #max: number;

  constructor(options: GcpBlockProviderOptions) {
    this.#o = options;
    this.id = options.id;
    this.#client = options.client;
    this.#plans = planBlock(options.options, options.client.project);
    this.#max = options.maxRanges ?? GCP_MAX_SOURCE_RANGES;
  }

  /** The names of the relay's rules. */
  get ruleNames(): string[] {
    return [this.#plans[4].name, this.#plans[6].name];
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#batch(entries, ctx, (plan, present, targets, results) => {
      const next = [...present];
      const seen = new Set(present);
      let room = this.#max - present.length;
      for (const target of targets) {
        if (seen.has(target.key)) {
          results[target.index] = { ip: target.ip, ok: true };
          continue;
        }
        if (room <= 0) {
          results[target.index] = {
            ip: target.ip,
            ok: false,
            error:
              `${this.#client.label}: rule ${plan.name} holds ${this.#max} source ranges, Google's per-rule limit; ${target.ip} was not added. ` +
              'Add another gcp-firewall block integration with its own ruleNamePrefix for more addresses',
          };
          continue;
        }
        room -= 1;
        seen.add(target.key);
        next.push(target.key);
        results[target.index] = { ip: target.ip, ok: true };
      }
      return next.length === present.length ? undefined : next;
    });
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#batch(entries, ctx, (_plan, present, targets, results) => {
      const drop = new Set<string>();
      for (const target of targets) {
        drop.add(target.key);
        results[target.index] = { ip: target.ip, ok: true };
      }
      const next = present.filter((range) => !drop.has(range));
      return next.length === present.length ? undefined : next;
    });
  }

  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    const op = this.#op(ctx);
    const entries: DeviceEntry[] = [];
    for (const family of [4, 6] as const) {
      const plan = this.#plans[family];
      const rule = await this.#client.getFirewall(op, plan.name);
      if (rule === undefined || rule.disabled) continue;
      for (const range of rule.sourceRanges) {
        const parsed = parseCidr(range, { hostBits: 'clear' });
        if (!parsed.ok || parsed.cidr.prefix !== (parsed.cidr.family === 4 ? 32 : 128)) continue;
        entries.push({ ip: formatAddress({ family: parsed.cidr.family, value: parsed.cidr.network }), owned: true });
      }
    }
    return entries;
  }

  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    try {
      const lines: string[] = [];
      let ok = true;
      for (const family of [4, 6] as const) {
        const plan = this.#plans[family];
        const rule = await this.#client.getFirewall(op, plan.name);
        const problem = rule === undefined ? undefined : this.#problem(plan, rule);
        if (problem !== undefined) ok = false;
        const count = rule === undefined || rule.disabled ? 0 : rule.sourceRanges.length;
        lines.push(`${rule === undefined ? `${plan.name}: absent (created at the first block)` : describeRule(rule, plan.name)}, ${count} blocked${problem ? `; ${problem}` : ''}`);
      }
      return { ok, detail: `project ${this.#client.project}, network ${this.#o.options.network}, priority ${this.#o.options.priority}: ${lines.join('; ')}` };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Per family: read the rule, let `compute` decide the new list (undefined:
   * no change) and fill the results, write once.
   */
  async #batch(
    entries: BlockEntry[],
    ctx: ProviderContext,
    compute: (plan: BlockRulePlan, present: string[], targets: Target[], results: EntryResult[]) => string[] | undefined,
  ): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const results: EntryResult[] = new Array(entries.length);
    const byFamily: Record<4 | 6, Target[]> = { 4: [], 6: [] };
    entries.forEach((entry, index) => {
      const parsed = parseCidr(entry.ip);
      if (!parsed.ok) {
        results[index] = { ip: entry.ip, ok: false, error: `${this.#client.label}: ${entry.ip} is not an IP address (${parsed.reason})` };
        return;
      }
      byFamily[parsed.cidr.family].push({ index, ip: entry.ip, key: formatCidr(parsed.cidr), cidr: parsed.cidr });
    });
    for (const family of [4, 6] as const) {
      const targets = byFamily[family];
      if (targets.length === 0) continue;
      const plan = this.#plans[family];
      const rule = await this.#client.getFirewall(op, plan.name);
      if (rule !== undefined) {
        const problem = this.#problem(plan, rule);
        if (problem !== undefined) {
          throw new GcpRuleChangedError(
            `${this.#client.label}: block rule ${plan.name} ${problem}; the relay does not write to it. ` +
              `Put it back, or delete it (gcloud compute firewall-rules delete ${plan.name} --project ${this.#client.project}) and the relay creates it again at the next block`,
            plan.name,
          );
        }
      }
      const present = rule === undefined || rule.disabled ? [] : rule.sourceRanges.map(canonicalRange);
      const next = compute(plan, present, targets, results);
      if (next === undefined) continue;
      await this.#write(op, plan, rule, next);
    }
    return results;
  }

  async #write(op: GcpOp, plan: BlockRulePlan, rule: Firewall | undefined, next: string[]): Promise<void> {
    let result;
    if (rule === undefined) {
      op.logger.info('gcp-firewall: creating block rule', { integration: this.id, rule: plan.name, ranges: next.length });
      result = await this.#client.insertFirewall(op, {
        name: plan.name,
        description: plan.description,
        network: plan.network,
        direction: 'INGRESS',
        priority: plan.priority,
        sourceRanges: next,
        ...(plan.targetTags.length > 0 ? { targetTags: plan.targetTags } : {}),
        denied: [{ IPProtocol: 'all' }],
        disabled: false,
      });
    } else if (next.length === 0) {
      // Never an enabled rule without sources: the placeholder and disabled in one write.
      op.logger.info('gcp-firewall: last address removed; disabling the block rule', { integration: this.id, rule: plan.name });
      result = await this.#client.patchFirewall(op, plan.name, { sourceRanges: [BLOCK_PLACEHOLDER[plan.family]], disabled: true });
    } else {
      op.logger.info('gcp-firewall: updating block rule', { integration: this.id, rule: plan.name, from: rule.disabled ? 0 : rule.sourceRanges.length, to: next.length });
      result = await this.#client.patchFirewall(op, plan.name, { sourceRanges: next, ...(rule.disabled ? { disabled: false } : {}) });
    }
    if (!result.done) return; // Written; the next call waits for the operation before writing again.
    const after = await this.#client.getFirewall(op, plan.name);
    const expected = next.length === 0 ? [BLOCK_PLACEHOLDER[plan.family]] : next;
    if (after === undefined || contentDiff(contentOf(after), blockContent(plan, expected)).length > 0 || after.disabled !== (next.length === 0)) {
      op.logger.warn('gcp-firewall: block rule differs from what the relay just wrote (changed by someone else meanwhile)', {
        integration: this.id,
        rule: plan.name,
        now: describeRule(after, plan.name),
      });
      throw new ProviderError(`${this.#client.label}: block rule ${plan.name} changed right after the relay wrote it (someone else is editing it); the relay reads it again and retries`, {
        retryable: true,
      });
    }
  }

  /** Why the rule is not as the relay keeps it, or undefined. */
  #problem(plan: BlockRulePlan, rule: Firewall): string | undefined {
    const changed = contentDiff(contentOf(rule), blockContent(plan, rule.sourceRanges), ['sourceRanges']);
    if (changed.length > 0) return `was changed outside the relay (${changed.join(', ')})`;
    const placeholder = canonicalRange(BLOCK_PLACEHOLDER[plan.family]);
    const ranges = rule.sourceRanges.map(canonicalRange);
    if (rule.disabled && !(ranges.length === 1 && ranges[0] === placeholder)) return 'was disabled outside the relay while it still holds addresses';
    if (!rule.disabled && ranges.length === 0) return 'is enabled without source ranges, which denies every source; disable or delete it';
    if (!rule.disabled && ranges.includes(placeholder)) return `is enabled with the placeholder ${placeholder}, which the relay only writes to a disabled rule`;
    if (ranges.some((range) => range.endsWith('/0'))) return 'denies the whole Internet (a /0 source range)';
    return undefined;
  }

  #op(ctx: ProviderContext): GcpOp {
    const budget = 2 * (3 * this.#o.options.waitFor + 4 * this.#o.options.timeout);
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#o.now() + budget };
  }
}
