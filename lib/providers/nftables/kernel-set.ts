/**
 * What the `nftables` and `ipset` providers share: keeping the relay's
 * elements in a pair of kernel sets (one IPv4, one IPv6) that the operator's
 * own rule drops from. The backends (./backend.ts for nft, ../ipset/backend.ts)
 * only read a set and write a batch; the decisions are taken here, always
 * against the set as read just before the write.
 *
 * ## Ownership
 *
 * The relay's elements carry its mark (nft: the element comment; ipset: the
 * entry comment, when the set was created with the `comment` extension).
 * Everything else is the operator's and is never written to or removed:
 *
 * - add: an address not in the set is created (never "add or update": an
 *   element that turned up meanwhile makes the write fail instead of being
 *   changed; the set is then read again). An address already there under the
 *   relay's mark is left as it is, or its timeout is extended when it would
 *   run out well before the relay wants. An address there without the mark is
 *   answered `{ ok: true, foreign: true }`: nothing is written.
 * - remove: deletes the relay's element for each address and nothing else; an
 *   address that is gone already, or is now held by an element without the
 *   mark, is answered ok and left alone.
 * - A set that cannot carry a mark (an ipset created without `comment`): the
 *   relay's ownership is then only what it recorded. add reports any present
 *   address as foreign (also one the relay itself added before a crash: it is
 *   never removed by the relay and the kernel's timeout ends it); list reports
 *   no element as the relay's (drift repair removes nothing); remove deletes
 *   the address the relay recorded adding, and, when the relay sets timeouts,
 *   never an element without one (the relay's always have one).
 *
 * ## Rounds
 *
 * read → decide → write, at most `rounds` times: a write that fails because
 * the set changed between the read and the write (an element added or expired
 * meanwhile) is followed by a fresh read, so the outcome is decided against
 * the truth. nft batches are one transaction (all or nothing); `ipset restore`
 * stops at its first failing line, and the lines before it are in effect.
 */
import { normalizeAddress } from '../../ip/address.ts';
import type { BlockEntry, DeviceEntry, EntryResult, ProviderContext } from '../types.ts';

export type Family = 4 | 6;

/** One element of a set as read, address in canonical form. */
export interface SetElement {
  ip: string;
  family: Family;
  /** Carries the relay's mark. */
  owned: boolean;
  /** Seconds until the kernel drops it; undefined when it has no timeout. */
  expiresIn?: number;
}

/** The sets of the families asked for, as read. */
export interface SetView {
  elements: Map<string, SetElement>;
  /** False when a set cannot carry the relay's mark (ownership is then only what the relay recorded). */
  markable: boolean;
}

export interface AddOp {
  /** create: not in the set; refresh: the relay's element, timeout extended. */
  kind: 'create' | 'refresh';
  ip: string;
  family: Family;
  /** Undefined: no timeout (elementTimeout none). */
  timeoutSeconds?: number;
}

export interface RemoveOp {
  ip: string;
  family: Family;
}

export type ApplyOutcome =
  | { ok: true }
  | {
      ok: false;
      /** The tool's message, for the entry results. */
      error: string;
      /** How many leading ops are in effect despite the failure (nft: 0; ipset: the lines before the failing one). */
      applied: number;
      /** The failure looks like a race with another writer or the kernel's timeout (read again and retry). */
      race: boolean;
    };

export interface KernelSetBackend {
  /** Reads the sets of these families. Throws a ProviderError when a set is missing or unusable. */
  read(families: ReadonlySet<Family>, ctx: ProviderContext): Promise<SetView>;
  applyAdds(ops: readonly AddOp[], ctx: ProviderContext): Promise<ApplyOutcome>;
  applyRemoves(ops: readonly RemoveOp[], ctx: ProviderContext): Promise<ApplyOutcome>;
}

export interface KernelSetPolicy {
  /** Elements get a timeout equal to what is left of the block's TTL. */
  timeouts: boolean;
  /** The longest timeout the tool accepts (longer TTLs are cut to it; drift repair re-adds after). */
  maxTimeoutSeconds: number;
  now: () => number;
}

/** The relay's element is extended when it would expire more than this much before the relay wants. */
export const REFRESH_SLACK_SECONDS = 60;
/** read → write rounds per call. */
export const ROUNDS = 3;

/** Seconds from now until expiresAt, rounded up, at least 1, at most max. */
export function timeoutSeconds(expiresAt: number, now: number, max: number): number {
  const seconds = Number.isFinite(expiresAt) ? Math.ceil((expiresAt - now) / 1000) : max;
  return Math.min(max, Math.max(1, seconds));
}

interface Target {
  ip: string;
  family: Family;
  positions: number[];
  timeoutSeconds?: number;
}

type Settlement = { ok: true; foreign?: true } | { ok: false; error: string };

/** A batch: validation results plus the distinct addresses (duplicates in the batch share one). */
class Batch {
  readonly targets: Target[] = [];
  readonly #results: Array<EntryResult | undefined>;
  readonly #entries: readonly BlockEntry[];

  constructor(entries: readonly BlockEntry[], policy: KernelSetPolicy | undefined) {
    this.#entries = entries;
    this.#results = new Array<EntryResult | undefined>(entries.length);
    const now = policy?.now() ?? 0;
    const byIp = new Map<string, Target>();
    entries.forEach((entry, position) => {
      const parsed = normalizeAddress(String(entry.ip));
      if (!parsed.ok) {
        this.#results[position] = { ip: String(entry.ip), ok: false, error: `not an IP address (${parsed.reason}); nothing written` };
        return;
      }
      const wanted = policy?.timeouts ? timeoutSeconds(entry.expiresAt, now, policy.maxTimeoutSeconds) : undefined;
      const known = byIp.get(parsed.canonical);
      if (known) {
        known.positions.push(position);
        if (wanted !== undefined) known.timeoutSeconds = Math.max(known.timeoutSeconds ?? 0, wanted);
        return;
      }
      const target: Target = { ip: parsed.canonical, family: parsed.address.family, positions: [position] };
      if (wanted !== undefined) target.timeoutSeconds = wanted;
      byIp.set(parsed.canonical, target);
      this.targets.push(target);
    });
  }

  settle(target: Target, outcome: Settlement): void {
    for (const position of target.positions) {
      const ip = this.#entries[position]!.ip;
      this.#results[position] = outcome.ok
        ? { ip, ok: true, ...(outcome.foreign ? { foreign: true as const } : {}) }
        : { ip, ok: false, error: outcome.error };
    }
  }

  results(): EntryResult[] {
    return this.#entries.map((entry, position) => this.#results[position] ?? { ip: entry.ip, ok: false, error: 'internal error: no result' });
  }
}

function familiesOf(targets: readonly Target[]): Set<Family> {
  return new Set(targets.map((target) => target.family));
}

/** Reads for a round after the first: a failure then ends the call with per-entry errors (earlier rounds' results stand). */
async function readOrFail(
  backend: KernelSetBackend,
  pending: readonly Target[],
  round: number,
  ctx: ProviderContext,
): Promise<SetView | { failed: string }> {
  if (round === 1) return backend.read(familiesOf(pending), ctx);
  try {
    return await backend.read(familiesOf(pending), ctx);
  } catch (error) {
    return { failed: `could not read the set again after a failed write: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Adds the entries the relay wants blocked (see the module comment). */
export async function addEntries(
  backend: KernelSetBackend,
  entries: readonly BlockEntry[],
  policy: KernelSetPolicy,
  ctx: ProviderContext,
): Promise<EntryResult[]> {
  const batch = new Batch(entries, policy);
  return inRounds(
    backend,
    batch,
    ctx,
    (target, present, view) => {
      if (!present) return addOp('create', target);
      if (!view.markable || !present.owned) {
        batch.settle(target, { ok: true, foreign: true });
        return undefined;
      }
      if (needsRefresh(present, target)) return addOp('refresh', target);
      batch.settle(target, { ok: true });
      return undefined;
    },
    (ops) => backend.applyAdds(ops, ctx),
  );
}

/** Removes the relay's elements for these addresses (see the module comment). */
export async function removeEntries(
  backend: KernelSetBackend,
  entries: readonly BlockEntry[],
  policy: KernelSetPolicy,
  ctx: ProviderContext,
): Promise<EntryResult[]> {
  const batch = new Batch(entries, undefined);
  return inRounds(
    backend,
    batch,
    ctx,
    (target, present, view): RemoveOp | undefined => {
      if (!present) {
        batch.settle(target, { ok: true });
        return undefined;
      }
      if (view.markable ? present.owned : !policy.timeouts || present.expiresIn !== undefined) return { ip: target.ip, family: target.family };
      ctx.logger.warn('left alone: the element is not the relay\'s', { ip: target.ip });
      batch.settle(target, { ok: true });
      return undefined;
    },
    (ops) => backend.applyRemoves(ops, ctx),
  );
}

/**
 * The rounds add and remove share (see the module comment): read the pending
 * addresses, let `decide` settle each one needing no write or name its write,
 * apply the writes; after a write that lost a race, read again.
 */
async function inRounds<Op>(
  backend: KernelSetBackend,
  batch: Batch,
  ctx: ProviderContext,
  decide: (target: Target, present: SetElement | undefined, view: SetView) => Op | undefined,
  apply: (ops: Op[]) => Promise<ApplyOutcome>,
): Promise<EntryResult[]> {
  let pending = batch.targets;
  let lastError = 'not attempted';
  for (let round = 1; round <= ROUNDS && pending.length > 0; round++) {
    const view = await readOrFail(backend, pending, round, ctx);
    if ('failed' in view) {
      lastError = view.failed;
      break;
    }
    const ops: Array<{ op: Op; target: Target }> = [];
    for (const target of pending) {
      const op = decide(target, view.elements.get(target.ip), view);
      if (op !== undefined) ops.push({ op, target });
    }
    pending = [];
    if (ops.length === 0) break;
    const outcome = await apply(ops.map((entry) => entry.op));
    if (outcome.ok) {
      for (const { target } of ops) batch.settle(target, { ok: true });
      break;
    }
    ops.slice(0, outcome.applied).forEach(({ target }) => batch.settle(target, { ok: true }));
    pending = ops.slice(outcome.applied).map(({ target }) => target);
    lastError = outcome.error;
    ctx.logger.warn('set write failed', { error: outcome.error, round, pending: pending.length, readingAgain: outcome.race });
    if (!outcome.race) break;
  }
  for (const target of pending) batch.settle(target, { ok: false, error: lastError });
  return batch.results();
}

/** Every element of both sets, `owned` when it carries the relay's mark. */
export async function listEntries(backend: KernelSetBackend, ctx: ProviderContext): Promise<DeviceEntry[]> {
  const view = await backend.read(new Set<Family>([4, 6]), ctx);
  return [...view.elements.values()].map((element) => ({ ip: element.ip, owned: view.markable && element.owned }));
}

function addOp(kind: AddOp['kind'], target: Target): AddOp {
  const op: AddOp = { kind, ip: target.ip, family: target.family };
  if (target.timeoutSeconds !== undefined) op.timeoutSeconds = target.timeoutSeconds;
  return op;
}

function needsRefresh(present: SetElement, target: Target): boolean {
  if (target.timeoutSeconds === undefined || present.expiresIn === undefined) return false;
  return present.expiresIn + REFRESH_SLACK_SECONDS < target.timeoutSeconds;
}
