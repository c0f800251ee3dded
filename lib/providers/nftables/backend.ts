/**
 * nft as a KernelSetBackend: reads a set with `nft -j list set` (JSON,
 * validated), writes a batch as one nft script on `nft -f -` (one
 * transaction: all of it is in effect or none).
 *
 * Every value written into the script is checked against a strict pattern
 * first (names: letters, digits, `_`; addresses: canonical IPv4/IPv6 text;
 * the comment: letters, digits, `_ . : -`), so nothing can break out of its
 * place. (JSON input, `nft -j -f -`, would avoid that, but nft opens
 * /dev/stdin by name in JSON mode, which fails on the socket Node gives a
 * child as its stdin.)
 *
 * Verified against nft 1.0.6 (Debian 12) on Linux 6.x:
 * - `create element` fails with "File exists" when the element is there
 *   (plain `add` would silently keep it and, on newer kernels, rewrite its
 *   timeout: it is never used).
 * - `delete element` of an absent element fails with "No such file or
 *   directory" and aborts the whole transaction.
 * - Element comments are stored and listed (`"comment"` in the JSON).
 * - An element with a timeout in a set without `flags timeout` fails with
 *   "Invalid argument".
 * - Table and set names cannot be quoted in nft's syntax, so a name that is
 *   also an nft keyword cannot be used (nor created by the operator with nft).
 */
import { z } from 'zod';
import { normalizeAddress } from '../../ip/address.ts';
import { firstErrorLine, type HostCommandRunner } from '../host-command.ts';
import type { ProviderContext } from '../types.ts';
import { MARK_RULE, NFTABLES_FAMILIES, NFT_NAME_RULE, type NftablesOptions } from './config.ts';
import { NftablesCommandError, NftablesOutputError, NftablesSetMissingError, NftablesSetUnusableError } from './errors.ts';
import type { AddOp, ApplyOutcome, Family, KernelSetBackend, RemoveOp, SetElement, SetView } from './kernel-set.ts';

const elementSchema = z.union([
  z.string(),
  z.number(),
  z.looseObject({
    elem: z.looseObject({
      val: z.unknown(),
      timeout: z.number().optional(),
      expires: z.number().optional(),
      comment: z.string().optional(),
    }),
  }),
  // prefixes and ranges (interval sets, refused before elements are looked at)
  z.looseObject({}),
]);

const setSchema = z.looseObject({
  family: z.string(),
  name: z.string(),
  table: z.string(),
  type: z.union([z.string(), z.array(z.string())]),
  flags: z.array(z.string()).optional(),
  elem: z.array(elementSchema).optional(),
});
export type NftSet = z.output<typeof setSchema>;

const ruleSchema = z.looseObject({ family: z.string(), table: z.string(), chain: z.string(), expr: z.array(z.unknown()).optional() });

const listingSchema = z.object({ nftables: z.array(z.record(z.string(), z.unknown())) });

/** Parses `nft -j list …` output into its sets and rules. */
export function parseListing(stdout: string): { sets: NftSet[]; rules: z.output<typeof ruleSchema>[] } {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new NftablesOutputError(
      `nft -j printed no JSON (${firstErrorLine(stdout) || 'empty output'}): the relay needs an nft built with JSON support (Debian's nftables package is)`,
    );
  }
  const listing = listingSchema.safeParse(json);
  if (!listing.success) throw new NftablesOutputError('nft -j printed JSON without the "nftables" array the relay expects');
  const sets: NftSet[] = [];
  const rules: z.output<typeof ruleSchema>[] = [];
  for (const item of listing.data.nftables) {
    if ('set' in item) {
      const set = setSchema.safeParse(item.set);
      if (!set.success) throw new NftablesOutputError(`nft -j listed a set the relay cannot read: ${set.error.issues[0]?.message ?? 'invalid'}`);
      sets.push(set.data);
    } else if ('rule' in item) {
      const rule = ruleSchema.safeParse(item.rule);
      if (rule.success) rules.push(rule.data);
    }
  }
  return { sets, rules };
}

/** Why this set cannot be used as configured, or undefined when it can. */
export function setProblem(set: NftSet, family: Family, timeouts: boolean, where: string): string | undefined {
  const wanted = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  const flags = set.flags ?? [];
  if (set.type !== wanted) {
    return `${where} has type ${JSON.stringify(set.type)}; it must be a set of type ${wanted} (recreate it, or point ${family === 4 ? 'ipv4Set' : 'ipv6Set'} at another set)`;
  }
  if (flags.includes('constant')) return `${where} is constant: its elements cannot change; recreate it without flags constant`;
  if (flags.includes('interval')) {
    return `${where} has flags interval; the relay needs a set of single addresses (keep your own prefixes in another set) — recreate it without flags interval`;
  }
  if (timeouts && !flags.includes('timeout')) {
    return `${where} has no timeout flag, so its elements cannot expire by themselves: recreate it with flags timeout (e.g. nft add set … '{ type ${wanted}; flags timeout; }'), or set elementTimeout: none`;
  }
  return undefined;
}

/** The single-address elements of a listed set. */
export function setElements(set: NftSet, family: Family, mark: string): SetElement[] {
  const elements: SetElement[] = [];
  for (const item of set.elem ?? []) {
    let value: unknown;
    let detail: { timeout?: number; expires?: number; comment?: string } = {};
    if (typeof item === 'string' || typeof item === 'number') value = item;
    else if ('elem' in item && item.elem !== null && typeof item.elem === 'object') {
      detail = item.elem as typeof detail;
      value = (item.elem as { val?: unknown }).val;
    }
    if (typeof value !== 'string') continue; // a prefix or a range: not a single address
    const parsed = normalizeAddress(value);
    if (!parsed.ok || parsed.address.family !== family) continue;
    const element: SetElement = { ip: parsed.canonical, family, owned: detail.comment === mark };
    if (typeof detail.timeout === 'number' && detail.timeout > 0) {
      element.expiresIn = Math.max(0, Math.floor(typeof detail.expires === 'number' ? detail.expires : detail.timeout));
    }
    elements.push(element);
  }
  return elements;
}

/** The value, when it matches its pattern; never written into a script otherwise. */
function safe(value: string, rule: RegExp, what: string): string {
  if (typeof value !== 'string' || !rule.test(value)) throw new NftablesSetUnusableError(`the ${what} ${JSON.stringify(value)} cannot be written into an nft script`);
  return value;
}

/** A canonical single address (as the batch produced it), checked again before it is written. */
function safeAddress(ip: string): string {
  const parsed = normalizeAddress(ip);
  if (!parsed.ok || parsed.canonical !== ip) throw new NftablesSetUnusableError(`${JSON.stringify(ip)} is not a canonical address and is not written`);
  return ip;
}

/** The tool's message says the set changed under the write (an element added or expired meanwhile). */
const RACE = /File exists|No such file or directory/;
/** The tool's message says a set is not there. */
const MISSING = /No such file or directory/;

export class NftablesBackend implements KernelSetBackend {
  readonly #options: NftablesOptions;
  readonly #run: HostCommandRunner;

  constructor(options: NftablesOptions, run: HostCommandRunner) {
    this.#options = options;
    this.#run = run;
  }

  setName(family: Family): string {
    return family === 4 ? this.#options.ipv4Set : this.#options.ipv6Set;
  }

  where(family: Family): string {
    return `nftables set ${this.#options.family} ${this.#options.table} ${this.setName(family)}`;
  }

  get timeouts(): boolean {
    return this.#options.elementTimeout === 'ttl';
  }

  async read(families: ReadonlySet<Family>, ctx: ProviderContext): Promise<SetView> {
    const elements = new Map<string, SetElement>();
    for (const family of [4, 6] as const) {
      if (!families.has(family)) continue;
      const set = await this.#listSet(family, ctx);
      for (const element of setElements(set, family, this.#options.comment)) elements.set(element.ip, element);
    }
    return { elements, markable: true };
  }

  async #listSet(family: Family, ctx: ProviderContext): Promise<NftSet> {
    const { family: tableFamily, table } = this.#options;
    const name = this.setName(family);
    const result = await this.#nft(['-j', 'list', 'set', tableFamily, table, name], undefined, ctx);
    if (result.code !== 0) {
      if (MISSING.test(result.stderr)) throw this.missing(family);
      throw new NftablesCommandError(`nft could not list ${this.where(family)}: ${firstErrorLine(result.stderr)}`);
    }
    const set = parseListing(result.stdout).sets.find((candidate) => candidate.name === name && candidate.table === table);
    if (!set) throw this.missing(family);
    const problem = setProblem(set, family, this.timeouts, this.where(family));
    if (problem) throw new NftablesSetUnusableError(problem);
    return set;
  }

  missing(family: Family): NftablesSetMissingError {
    return new NftablesSetMissingError(
      this.#options.family,
      this.#options.table,
      this.setName(family),
      family === 4 ? 'ipv4_addr' : 'ipv6_addr',
      this.timeouts,
    );
  }

  /** The nft script for these adds: deletes of refreshed elements first, then one create per set. */
  addBatch(ops: readonly AddOp[]): string {
    const lines: string[] = [];
    for (const family of [4, 6] as const) {
      const refresh = ops.filter((op) => op.family === family && op.kind === 'refresh').map((op) => safeAddress(op.ip));
      if (refresh.length > 0) lines.push(`delete element ${this.#setRef(family)} { ${refresh.join(', ')} }`);
    }
    const comment = safe(this.#options.comment, MARK_RULE, 'comment');
    for (const family of [4, 6] as const) {
      const elements = ops
        .filter((op) => op.family === family)
        .map((op) => `${safeAddress(op.ip)}${op.timeoutSeconds === undefined ? '' : ` timeout ${Math.max(1, Math.floor(op.timeoutSeconds))}s`} comment "${comment}"`);
      if (elements.length > 0) lines.push(`create element ${this.#setRef(family)} { ${elements.join(', ')} }`);
    }
    return `${lines.join('\n')}\n`;
  }

  removeBatch(ops: readonly RemoveOp[]): string {
    const lines: string[] = [];
    for (const family of [4, 6] as const) {
      const ips = ops.filter((op) => op.family === family).map((op) => safeAddress(op.ip));
      if (ips.length > 0) lines.push(`delete element ${this.#setRef(family)} { ${ips.join(', ')} }`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** `<family> <table> <set>`, each checked. */
  #setRef(family: Family): string {
    const { family: tableFamily, table } = this.#options;
    if (!(NFTABLES_FAMILIES as readonly string[]).includes(tableFamily)) throw new NftablesSetUnusableError(`unknown nftables family ${JSON.stringify(tableFamily)}`);
    return `${tableFamily} ${safe(table, NFT_NAME_RULE, 'table')} ${safe(this.setName(family), NFT_NAME_RULE, 'set name')}`;
  }

  applyAdds(ops: readonly AddOp[], ctx: ProviderContext): Promise<ApplyOutcome> {
    return this.#apply(this.addBatch(ops), ctx);
  }

  applyRemoves(ops: readonly RemoveOp[], ctx: ProviderContext): Promise<ApplyOutcome> {
    return this.#apply(this.removeBatch(ops), ctx);
  }

  async #apply(batch: string, ctx: ProviderContext): Promise<ApplyOutcome> {
    const result = await this.#nft(['-f', '-'], batch, ctx);
    if (result.code === 0) return { ok: true };
    const line = firstErrorLine(result.stderr) || `nft exited with ${result.code}`;
    return { ok: false, error: `nft refused the batch (nothing of it was applied): ${line}`, applied: 0, race: RACE.test(result.stderr) };
  }

  /** Lists the table without set contents: the sets as configured, and the rules that reference them. */
  async describeTable(ctx: ProviderContext): Promise<{ sets: NftSet[]; rules: z.output<typeof ruleSchema>[] } | undefined> {
    const { family, table } = this.#options;
    const result = await this.#nft(['-j', '-t', 'list', 'table', family, table], undefined, ctx);
    if (result.code !== 0) {
      if (MISSING.test(result.stderr)) return undefined;
      throw new NftablesCommandError(`nft could not list table ${family} ${table}: ${firstErrorLine(result.stderr)}`);
    }
    return parseListing(result.stdout);
  }

  #nft(args: string[], stdin: string | undefined, ctx: ProviderContext) {
    return this.#run({
      command: 'nft',
      args,
      ...(stdin === undefined ? {} : { stdin }),
      timeoutMs: this.#options.timeout,
      signal: ctx.signal,
    });
  }
}
