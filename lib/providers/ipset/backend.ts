/**
 * ipset as a KernelSetBackend: reads a set with `ipset list <set>`, writes a
 * batch as lines on `ipset restore`.
 *
 * Verified against ipset 7.17 (Debian 12) on Linux 6.x:
 * - `restore` is not a transaction: it applies lines in order and stops at
 *   the first that fails ("Error in line N: …"); the lines before it are in
 *   effect, the ones after it were not tried.
 * - `add` of a present entry fails ("it's already added") unless `-exist` is
 *   given, which rewrites its timeout and comment: `-exist` is used only to
 *   extend the relay's own entries. `del -exist` of an absent entry succeeds
 *   (an entry that expired meanwhile does not stop the batch).
 * - `-exist` may be given on the line itself (`add -exist set ip …`).
 * - A timeout or comment on a set created without that extension fails
 *   ("Timeout cannot be used: set was created without timeout support").
 * - Timeouts above 2147483 seconds are refused.
 * - `forceadd` is not shown by `ipset list` (7.17 on Linux 6.18), so a set
 *   created with it cannot be told apart; the check below only catches
 *   versions that print it.
 */
import { normalizeAddress } from '../../ip/address.ts';
import { firstErrorLine, type HostCommandRunner } from '../host-command.ts';
import type { AddOp, ApplyOutcome, Family, KernelSetBackend, RemoveOp, SetElement, SetView } from '../nftables/kernel-set.ts';
import type { ProviderContext } from '../types.ts';
import type { IpsetOptions } from './config.ts';
import { IpsetCommandError, IpsetOutputError, IpsetSetMissingError, IpsetSetUnusableError } from './errors.ts';

/** The longest timeout the kernel accepts (UINT_MAX/2 ms in seconds). */
export const IPSET_MAX_TIMEOUT_SECONDS = 2_147_483;

/** One set as `ipset list` prints it. */
export interface IpsetListing {
  name: string;
  type: string;
  /** Header words, e.g. family inet hashsize 1024 … timeout 0 comment. */
  header: string[];
  references: number;
  entries: number;
  members: Array<{ address: string; timeout?: number; comment?: string }>;
}

/** Splits a line into words; a double-quoted word keeps its spaces and loses its quotes. */
export function words(line: string): string[] {
  const out: string[] = [];
  const pattern = /"([^"]*)"|(\S+)/g;
  for (let match = pattern.exec(line); match !== null; match = pattern.exec(line)) out.push(match[1] ?? match[2]!);
  return out;
}

/** Parses the plain output of `ipset list [-t] <set>`. */
export function parseIpsetList(stdout: string): IpsetListing {
  const lines = stdout.split('\n');
  const field = (name: string) => lines.find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1).trim();
  const name = field('Name');
  const type = field('Type');
  const header = field('Header');
  if (name === undefined || type === undefined || header === undefined) {
    throw new IpsetOutputError('ipset list printed no Name/Type/Header lines: the relay does not understand this ipset version');
  }
  const references = Number(field('References') ?? '0');
  const entries = Number(field('Number of entries') ?? '0');
  const members: IpsetListing['members'] = [];
  const start = lines.findIndex((line) => line.trim() === 'Members:');
  if (start >= 0) {
    for (const line of lines.slice(start + 1)) {
      if (line.trim() === '') break;
      const [address, ...rest] = words(line);
      if (address === undefined) continue;
      const member: IpsetListing['members'][number] = { address };
      for (let index = 0; index < rest.length; index++) {
        if (rest[index] === 'timeout') member.timeout = Number(rest[++index]);
        else if (rest[index] === 'comment') member.comment = rest[++index] ?? '';
      }
      members.push(member);
    }
  }
  return { name, type, header: words(header), references: Number.isFinite(references) ? references : 0, entries, members };
}

/** What the header says about the set. */
export function headerFacts(header: readonly string[]) {
  const value = (key: string) => {
    const index = header.indexOf(key);
    return index >= 0 ? header[index + 1] : undefined;
  };
  return {
    family: value('family'),
    timeouts: header.includes('timeout'),
    comments: header.includes('comment'),
    netmask: value('netmask'),
    forceadd: header.includes('forceadd'),
  };
}

/** Why this set cannot be used as configured, or undefined when it can. */
export function ipsetProblem(listing: IpsetListing, family: Family, timeouts: boolean): string | undefined {
  const wantedFamily = family === 4 ? 'inet' : 'inet6';
  const facts = headerFacts(listing.header);
  const where = `ipset ${listing.name}`;
  const fix = `ipset create <name> hash:ip family ${wantedFamily}${timeouts ? ' timeout 0' : ''} comment`;
  if (listing.type !== 'hash:ip') return `${where} is of type ${listing.type}; it must be hash:ip (${fix})`;
  if (facts.family !== wantedFamily) {
    return `${where} has family ${facts.family ?? 'unknown'}; the ${family === 4 ? 'ipv4Set' : 'ipv6Set'} must have family ${wantedFamily} (${fix})`;
  }
  const hostMask = family === 4 ? '32' : '128';
  if (facts.netmask !== undefined && facts.netmask !== hostMask) {
    return `${where} has netmask ${facts.netmask}: it stores networks, not single addresses; recreate it without netmask (${fix})`;
  }
  if (facts.forceadd) {
    return `${where} has forceadd: when full, each add would evict a random entry, possibly yours; recreate it without forceadd (${fix})`;
  }
  if (timeouts && !facts.timeouts) {
    return `${where} was created without timeout support, so its entries cannot expire by themselves: recreate it with timeout (${fix}), or set elementTimeout: none`;
  }
  return undefined;
}

/** A failed restore: the line that failed and the tool's message. */
const LINE_ERROR = /Error in line (\d+):\s*(.*)/;
/** The set changed under the write (an entry added meanwhile). */
const RACE = /already added|it's not added/;
const MISSING = /given name does not exist/;

export class IpsetBackend implements KernelSetBackend {
  readonly #options: IpsetOptions;
  readonly #run: HostCommandRunner;
  /** Whether each set carried the comment extension when last read. */
  readonly #markable = new Map<Family, boolean>();
  /** Whether each set had timeout support when last read. */
  readonly #setTimeouts = new Map<Family, boolean>();

  constructor(options: IpsetOptions, run: HostCommandRunner) {
    this.#options = options;
    this.#run = run;
  }

  setName(family: Family): string {
    return family === 4 ? this.#options.ipv4Set : this.#options.ipv6Set;
  }

  get timeouts(): boolean {
    return this.#options.elementTimeout === 'ttl';
  }

  missing(family: Family): IpsetSetMissingError {
    return new IpsetSetMissingError(this.setName(family), family === 4 ? 'inet' : 'inet6', this.timeouts);
  }

  /** Lists one set (`terse`: header only) and checks that it suits the relay. */
  async listSet(family: Family, ctx: ProviderContext, terse = false): Promise<IpsetListing> {
    const name = this.setName(family);
    const result = await this.#ipset(['list', ...(terse ? ['-t'] : []), name], undefined, ctx);
    if (result.code !== 0) {
      if (MISSING.test(result.stderr)) throw this.missing(family);
      throw new IpsetCommandError(`ipset could not list ${name}: ${firstErrorLine(result.stderr)}`);
    }
    const listing = parseIpsetList(result.stdout);
    const problem = ipsetProblem(listing, family, this.timeouts);
    if (problem) throw new IpsetSetUnusableError(problem);
    const facts = headerFacts(listing.header);
    this.#markable.set(family, facts.comments);
    this.#setTimeouts.set(family, facts.timeouts);
    return listing;
  }

  async read(families: ReadonlySet<Family>, ctx: ProviderContext): Promise<SetView> {
    const elements = new Map<string, SetElement>();
    let markable = true;
    for (const family of [4, 6] as const) {
      if (!families.has(family)) continue;
      const listing = await this.listSet(family, ctx);
      markable &&= this.#markable.get(family) === true;
      for (const member of listing.members) {
        const parsed = normalizeAddress(member.address);
        if (!parsed.ok || parsed.address.family !== family) continue;
        const element: SetElement = { ip: parsed.canonical, family, owned: member.comment === this.#options.comment };
        if (member.timeout !== undefined && Number.isFinite(member.timeout) && member.timeout > 0) element.expiresIn = member.timeout;
        elements.set(element.ip, element);
      }
    }
    return { elements, markable };
  }

  /** The `ipset restore` lines for these adds. */
  addLines(ops: readonly AddOp[]): string[] {
    return ops.map((op) => {
      const set = this.setName(op.family);
      const parts = [op.kind === 'refresh' ? 'add -exist' : 'add', set, op.ip];
      if (op.timeoutSeconds !== undefined) parts.push('timeout', String(Math.min(IPSET_MAX_TIMEOUT_SECONDS, op.timeoutSeconds)));
      else if (this.#hasTimeouts(op.family)) parts.push('timeout', '0');
      if (this.#markable.get(op.family) === true) parts.push('comment', `"${this.#options.comment}"`);
      return parts.join(' ');
    });
  }

  removeLines(ops: readonly RemoveOp[]): string[] {
    return ops.map((op) => `del -exist ${this.setName(op.family)} ${op.ip}`);
  }

  /** elementTimeout none on a set with timeout support: entries are written with timeout 0 (permanent) so the set's default does not apply. */
  #hasTimeouts(family: Family): boolean {
    return this.#setTimeouts.get(family) === true;
  }

  applyAdds(ops: readonly AddOp[], ctx: ProviderContext): Promise<ApplyOutcome> {
    return this.#restore(this.addLines(ops), ctx);
  }

  applyRemoves(ops: readonly RemoveOp[], ctx: ProviderContext): Promise<ApplyOutcome> {
    return this.#restore(this.removeLines(ops), ctx);
  }

  async #restore(lines: string[], ctx: ProviderContext): Promise<ApplyOutcome> {
    const result = await this.#ipset(['restore'], `${lines.join('\n')}\n`, ctx);
    if (result.code === 0) return { ok: true };
    const failed = LINE_ERROR.exec(result.stderr);
    const line = failed ? Number(failed[1]) : 0;
    const message = failed ? failed[2]!.trim() : firstErrorLine(result.stderr) || `ipset exited with ${result.code}`;
    // Lines before the failing one are in effect; unknown line: assume none (the next read tells).
    const applied = line >= 1 && line <= lines.length ? line - 1 : 0;
    return { ok: false, error: `ipset restore stopped at line ${line || '?'}: ${message}`, applied, race: RACE.test(message) };
  }

  #ipset(args: string[], stdin: string | undefined, ctx: ProviderContext) {
    return this.#run({
      command: 'ipset',
      args,
      ...(stdin === undefined ? {} : { stdin }),
      timeoutMs: this.#options.timeout,
      signal: ctx.signal,
    });
  }
}
