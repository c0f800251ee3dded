/**
 * The `aws-waf-ipset` integration: a blocklist over a WAFv2 IP set that a
 * Block rule of a web ACL references (the rule and the web ACL are the
 * operator's; the relay only edits the set's addresses).
 *
 * WAF has no partial add/remove: `UpdateIPSet` replaces the whole set and
 * takes the `LockToken` of the `GetIPSet` it was computed from. So every
 * change is: GetIPSet → compute (the set as read ± the relay's addresses,
 * Description passed back unchanged: UpdateIPSet replaces every mutable
 * field) → UpdateIPSet with that LockToken. A WAFOptimisticLockException
 * (someone wrote in between) re-reads and recomputes, never re-sends stale
 * addresses. Nothing is written when nothing would change.
 *
 * Ownership (lib/providers/types.ts): an IP set entry carries no
 * description, so the relay cannot mark its entries. With `ownership:
 * shared` (default) an address already in the set when the relay adds it is
 * answered `{ ok: true, foreign: true }` and never removed, unless the
 * relay itself wrote it: before every write the addresses it adds that the
 * set did not list are recorded durably (`ctx.beforeWrite`), so an add cut
 * off by a crash after UpdateIPSet finds them present with
 * `absentBeforeWrite` and claims them. `list()` reports `owned` for
 * addresses this process added or claimed. With `ownership:
 * dedicated` the operator declares the set the relay's alone: every host
 * entry is the relay's (`owned: true`), so drift repair can clean up after
 * a crash.
 *
 * Limits: 10,000 addresses per set (`options.maxAddresses`): an addition
 * past it fails for that address only, with an error saying so. At most one
 * write per second per account and region: writes are spaced by
 * `options.writeInterval` across every aws-waf-ipset integration of the
 * process that uses the same credentials and region.
 */
import { z } from 'zod';
import { type Cidr, formatCidr, parseCidr } from '../../ip/cidr.ts';
import { formatAddress } from '../../ip/address.ts';
import type { Logger } from '../../log/types.ts';
import { ProviderError } from '../errors.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import { AwsApiError } from './errors.ts';
import type { AwsJsonClient, AwsOp } from './json11.ts';

export const AWS_WAF_IPSET_TYPE = 'aws-waf-ipset';
export const WAF_TARGET_PREFIX = 'AWSWAF_20190729';
export const wafEndpoint = (region: string): string => `https://wafv2.${region}.amazonaws.com`;
/** Tries of one add/remove when other writers keep changing the set. */
const MAX_LOCK_RETRIES = 5;

/** Spaces UpdateIPSet calls per account and region (WAF: 1 write per second). */
export class WriteSpacer {
  readonly #last = new Map<string, number>();
  /** Waits until `intervalMs` has passed since the last write for `key`, then books the write. */
  async reserve(key: string, intervalMs: number, now: () => number, sleep: (ms: number, signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    for (;;) {
      const last = this.#last.get(key);
      const wait = last === undefined ? 0 : last + intervalMs - now();
      if (wait <= 0) break;
      await sleep(wait, signal);
    }
    this.#last.set(key, now());
  }

  /**
   * Counts the interval from when the write was answered: the request may
   * reach AWS later than it was booked (signing, a busy event loop), and
   * AWS measures between the writes it receives.
   */
  finished(key: string, at: number): void {
    this.#last.set(key, Math.max(this.#last.get(key) ?? at, at));
  }
}
/** The process-wide spacer (integrations sharing credentials and region share it). */
export const sharedWafWriteSpacer = new WriteSpacer();

const getIpSetSchema = z.object({
  IPSet: z
    .object({
      Name: z.string(),
      Id: z.string(),
      ARN: z.string(),
      Description: z.string().optional(),
      IPAddressVersion: z.enum(['IPV4', 'IPV6']),
      Addresses: z.array(z.string()),
    })
    .loose(),
  LockToken: z.string().min(1),
});
type IpSet = z.output<typeof getIpSetSchema>;
const updateIpSetSchema = z.object({ NextLockToken: z.string().min(1) }).loose();

export interface WafIpSetProviderOptions {
  id: string;
  name: string;
  ipSetId: string;
  scope: 'REGIONAL' | 'CLOUDFRONT';
  region: string;
  ownership: 'shared' | 'dedicated';
  maxAddresses: number;
  writeIntervalMs: number;
  /** Key of the write spacer (account and region; the access key id stands for the account). */
  spacerKey: string;
  spacer: WriteSpacer;
  client: AwsJsonClient;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  budgetMs: number;
  logger?: Logger;
}

interface Target {
  ip: string;
  cidr: Cidr;
  key: string;
}

export class AwsWafIpSetProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = AWS_WAF_IPSET_TYPE;
  readonly id: string;
  /** One UpdateIPSet per batch and at most one write a second: big batches. */
  readonly maxBatch = 1000;
  readonly #o: WafIpSetProviderOptions;
  /** Addresses (canonical CIDR) this process wrote into the set. */
  readonly #ours = new Set<string>();

  constructor(options: WafIpSetProviderOptions) {
    this.#o = options;
    this.id = options.id;
  }

  get #label(): string {
    return `${AWS_WAF_IPSET_TYPE} ${this.id}`;
  }

  #op(ctx: ProviderContext): AwsOp {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#o.now() + this.#o.budgetMs };
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const targets = entries.map((entry) => toTarget(entry.ip));
    return this.#update(op, ctx.beforeWrite, (set) => {
      const present = indexAddresses(set.IPSet.Addresses);
      const results = new Map<number, EntryResult>();
      const additions: string[] = [];
      const additionIps: string[] = [];
      const reclaimed: string[] = [];
      let count = set.IPSet.Addresses.length;
      const family = set.IPSet.IPAddressVersion === 'IPV4' ? 4 : 6;
      targets.forEach((target, index) => {
        const ip = entries[index]!.ip;
        if (typeof target === 'string') {
          results.set(index, { ip, ok: false, error: `${this.#label}: ${target}` });
          return;
        }
        if (target.cidr.family !== family) {
          results.set(index, {
            ip,
            ok: false,
            error: `${this.#label}: IP set ${this.#o.name} holds ${set.IPSet.IPAddressVersion} addresses only; add an aws-waf-ipset integration with an IPV${target.cidr.family} set for this address`,
          });
          return;
        }
        if (present.has(target.key) || additions.includes(target.key)) {
          // absentBeforeWrite: an earlier, cut-off add recorded it absent just before writing it.
          const ours =
            this.#o.ownership === 'dedicated' || this.#ours.has(target.key) || additions.includes(target.key) || entries[index]!.absentBeforeWrite === true;
          if (ours && present.has(target.key)) reclaimed.push(target.key);
          results.set(index, { ip, ok: true, ...(ours ? {} : { foreign: true as const }) });
          return;
        }
        if (count >= this.#o.maxAddresses) {
          results.set(index, {
            ip,
            ok: false,
            error:
              `${this.#label}: IP set ${this.#o.name} is full (${count} of ${this.#o.maxAddresses} entries${this.#o.maxAddresses === 10_000 ? ', WAF\'s limit' : ', options.maxAddresses'}); ` +
              'not added. Remove stale entries, or add a second IP set (another aws-waf-ipset integration, referenced by the same Block rule)',
          });
          return;
        }
        count += 1;
        additions.push(target.key);
        additionIps.push(ip);
        results.set(index, { ip, ok: true });
      });
      return {
        addresses: additions.length === 0 ? undefined : [...set.IPSet.Addresses, ...additions],
        absent: additionIps,
        done: () => {
          for (const key of [...additions, ...reclaimed]) this.#ours.add(key);
          return entries.map((_, index) => results.get(index)!);
        },
      };
    });
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const targets = entries.map((entry) => toTarget(entry.ip));
    return this.#update(op, undefined, (set) => {
      const drop = new Set<string>();
      const results: EntryResult[] = targets.map((target, index) => {
        const ip = entries[index]!.ip;
        if (typeof target === 'string') return { ip, ok: false, error: `${this.#label}: ${target}` };
        drop.add(target.key);
        return { ip, ok: true };
      });
      const kept = set.IPSet.Addresses.filter((address) => {
        const key = canonical(address);
        return key === undefined || !drop.has(key);
      });
      return {
        addresses: kept.length === set.IPSet.Addresses.length ? undefined : kept,
        done: () => {
          for (const key of drop) this.#ours.delete(key);
          return results;
        },
      };
    });
  }

  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    const set = await this.#get(this.#op(ctx));
    const entries: DeviceEntry[] = [];
    for (const address of set.IPSet.Addresses) {
      const parsed = parseCidr(address, { hostBits: 'clear' });
      if (!parsed.ok || parsed.cidr.prefix !== (parsed.cidr.family === 4 ? 32 : 128)) continue;
      const key = formatCidr(parsed.cidr);
      entries.push({
        ip: formatAddress({ family: parsed.cidr.family, value: parsed.cidr.network }),
        owned: this.#o.ownership === 'dedicated' || this.#ours.has(key),
      });
    }
    return entries;
  }

  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    try {
      const set = await this.#get(this.#op(ctx));
      return {
        ok: true,
        detail: `IP set ${set.IPSet.Name} (${set.IPSet.IPAddressVersion}, ${this.#o.scope}, ${this.#o.region}): ${set.IPSet.Addresses.length} of ${this.#o.maxAddresses} entries`,
      };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  async #get(op: AwsOp): Promise<IpSet> {
    try {
      const set = await this.#o.client.call(op, 'GetIPSet', this.#ref(), getIpSetSchema);
      if (set.IPSet.Name !== this.#o.name) {
        throw new ProviderError(`${this.#label}: GetIPSet answered for IP set ${set.IPSet.Name}, not ${this.#o.name}: check options.name and options.id`, { retryable: false });
      }
      return set;
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'WAFNonexistentItemException') {
        throw new ProviderError(
          `${this.#label}: GetIPSet: no ${this.#o.scope} IP set named ${this.#o.name} with id ${this.#o.ipSetId} in ${this.#o.region}: ` +
            'check options.name, options.id, options.scope and options.region (CLOUDFRONT sets live in us-east-1)',
          { retryable: false, ...(error.status !== undefined ? { status: error.status } : {}), cause: error },
        );
      }
      throw error;
    }
  }

  #ref() {
    return { Name: this.#o.name, Scope: this.#o.scope, Id: this.#o.ipSetId };
  }

  /**
   * Read → compute → write with the read's LockToken; on
   * WAFOptimisticLockException read and compute again. `compute` returns the
   * new address list, or undefined when nothing changes (no write), and the
   * addresses it adds that the set did not list (`absent`), which
   * `beforeWrite` records durably before the write: entries carry no mark,
   * so after a crash that record is what tells the relay's from the operator's.
   */
  async #update(
    op: AwsOp,
    beforeWrite: ((ips: string[]) => Promise<void>) | undefined,
    compute: (set: IpSet) => { addresses: string[] | undefined; absent?: string[]; done: () => EntryResult[] },
  ): Promise<EntryResult[]> {
    for (let attempt = 1; ; attempt += 1) {
      const set = await this.#get(op);
      const plan = compute(set);
      if (plan.addresses === undefined) return plan.done();
      if (beforeWrite !== undefined && plan.absent !== undefined && plan.absent.length > 0) await beforeWrite(plan.absent);
      await this.#o.spacer.reserve(this.#o.spacerKey, this.#o.writeIntervalMs, this.#o.now, this.#o.sleep, op.signal);
      try {
        await this.#o.client.call(
          op,
          'UpdateIPSet',
          {
            ...this.#ref(),
            ...(set.IPSet.Description !== undefined ? { Description: set.IPSet.Description } : {}),
            Addresses: plan.addresses,
            LockToken: set.LockToken,
          },
          updateIpSetSchema,
        );
        op.logger.info('aws-waf-ipset: IP set updated', { ipSet: this.#o.name, from: set.IPSet.Addresses.length, to: plan.addresses.length });
        return plan.done();
      } catch (error) {
        if (error instanceof AwsApiError && error.awsCode === 'WAFOptimisticLockException') {
          op.logger.info('aws-waf-ipset: IP set changed meanwhile; reading it again', { ipSet: this.#o.name, attempt });
          if (attempt >= MAX_LOCK_RETRIES) {
            throw new ProviderError(`${this.#label}: UpdateIPSet: the IP set kept changing under the relay (${attempt} lock conflicts); it will be retried`, {
              retryable: true,
              cause: error,
            });
          }
          continue;
        }
        if (error instanceof AwsApiError && error.awsCode === 'WAFLimitsExceededException') {
          throw new ProviderError(
            `${this.#label}: UpdateIPSet answered WAFLimitsExceededException (${error.message}): WAF's write rate (1 per second per account and region, shared with other tools) ` +
              'or an account limit was reached; the relay tries again later',
            { retryable: true, retryAfterMs: Math.max(2_000, this.#o.writeIntervalMs * 2), cause: error },
          );
        }
        throw error;
      } finally {
        this.#o.spacer.finished(this.#o.spacerKey, this.#o.now());
      }
    }
  }
}

function toTarget(ip: string): Target | string {
  const parsed = parseCidr(ip);
  if (!parsed.ok) return `${ip} is not an IP address (${parsed.reason})`;
  return { ip, cidr: parsed.cidr, key: formatCidr(parsed.cidr) };
}

function canonical(address: string): string | undefined {
  const parsed = parseCidr(address, { hostBits: 'clear' });
  return parsed.ok ? formatCidr(parsed.cidr) : undefined;
}

function indexAddresses(addresses: string[]): Set<string> {
  const keys = new Set<string>();
  for (const address of addresses) {
    const key = canonical(address);
    if (key !== undefined) keys.add(key);
  }
  return keys;
}
