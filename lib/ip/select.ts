/**
 * Chooses which candidate sources to block, and says why each other one was
 * skipped. Pure: same input, same output.
 *
 * For each candidate, in this order (the first failing rule is the reason):
 * 1. the address must parse strictly (`address.ts`) — this is what keeps
 *    strings like `1.2.3.4; /system reset` away from device commands;
 * 2. unscored sources pass only with `acceptUnscored`; scored ones need
 *    `confidence >= minConfidence` (a score that is not a finite number fails);
 * 3. the never-block list must allow it;
 * 4. at most `maxIps - alreadyHeld` are selected: highest confidence first
 *    (unscored last), then highest count, then input order; the rest are
 *    skipped with reason `cap`.
 *
 * Candidates are merged by canonical address first, so `::ffff:1.2.3.4` and
 * `1.2.3.4` are one source carrying the better score of the two. Output
 * addresses are canonical (`address.ts`) and unique.
 *
 * `alreadyHeld` only counts: if the candidates repeat addresses the incident
 * already holds, remove those first or they use up the cap a second time.
 */
import { normalizeAddress } from './address.ts';
import type { IpAddress } from './address.ts';
import type { SourceCandidate } from './extract.ts';
import type { NeverBlockList } from './never-block.ts';

/** The `blocking` policy, per incident. */
export interface SelectionPolicy {
  /** 0–100; scored sources below this are skipped. */
  minConfidence: number;
  /** Select sources that carry no confidence score. */
  acceptUnscored: boolean;
  /** Most addresses one incident may hold. */
  maxIps: number;
}

/** Input of {@link selectIps}. */
export interface SelectIpsInput {
  candidates: readonly SourceCandidate[];
  policy: SelectionPolicy;
  neverBlock: Pick<NeverBlockList, 'check'>;
  /** Addresses the incident already holds; they count against `maxIps`. */
  alreadyHeld: number;
}

/** A candidate that was not selected. */
export interface SkippedIp {
  /** Canonical address, or the raw string (shortened) when it did not parse. */
  ip: string;
  reason: string;
  /** Refused by the never-block list (the audit trail counts these). */
  neverBlock?: true;
}

/** Output of {@link selectIps}. */
export interface IpSelection {
  /** Canonical, unique addresses to block, best first. */
  selected: string[];
  skipped: SkippedIp[];
}

/** The reason given to sources that lost to the per-incident cap. */
export const CAP_REASON = 'cap';

const MAX_SHOWN_LENGTH = 100;

interface Merged {
  canonical: string;
  address: IpAddress;
  count?: number;
  confidence?: number;
  order: number;
}

/** Raw text safe to carry in a log line: bounded length. */
function shown(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : String(raw);
  return text.length > MAX_SHOWN_LENGTH ? `${text.slice(0, MAX_SHOWN_LENGTH)}…` : text;
}

function room(maxIps: number, alreadyHeld: number): number {
  const held = Number.isFinite(alreadyHeld) ? Math.max(0, alreadyHeld) : Number.POSITIVE_INFINITY;
  const free = Math.floor(maxIps - held);
  return Number.isFinite(free) ? Math.max(0, free) : 0;
}

/** Selects the sources to block; see the module comment for the rules. */
export function selectIps(input: SelectIpsInput): IpSelection {
  const { policy, neverBlock } = input;
  const skipped: SkippedIp[] = [];
  const invalidSeen = new Set<string>();
  const merged = new Map<string, Merged>();

  for (const candidate of input.candidates) {
    const normalized = normalizeAddress(candidate.ip);
    if (!normalized.ok) {
      const ip = shown(candidate.ip);
      if (!invalidSeen.has(ip)) {
        invalidSeen.add(ip);
        skipped.push({ ip, reason: `invalid address: ${normalized.reason}` });
      }
      continue;
    }
    const current = merged.get(normalized.canonical);
    if (!current) {
      const entry: Merged = { canonical: normalized.canonical, address: normalized.address, order: merged.size };
      if (candidate.count !== undefined) entry.count = candidate.count;
      if (candidate.confidence !== undefined) entry.confidence = candidate.confidence;
      merged.set(normalized.canonical, entry);
      continue;
    }
    const confidence = candidate.confidence;
    if (confidence !== undefined && (current.confidence === undefined || confidence > current.confidence)) {
      current.confidence = confidence;
    }
    if (candidate.count !== undefined && (current.count === undefined || candidate.count > current.count)) {
      current.count = candidate.count;
    }
  }

  const eligible: Merged[] = [];
  for (const entry of merged.values()) {
    const { confidence } = entry;
    if (confidence === undefined) {
      if (!policy.acceptUnscored) {
        skipped.push({ ip: entry.canonical, reason: 'unscored (acceptUnscored is off)' });
        continue;
      }
    } else if (typeof confidence !== 'number' || !Number.isFinite(confidence)) {
      skipped.push({ ip: entry.canonical, reason: 'invalid confidence score' });
      continue;
    } else if (!(confidence >= policy.minConfidence)) {
      skipped.push({ ip: entry.canonical, reason: `confidence ${confidence} below minimum ${policy.minConfidence}` });
      continue;
    }
    const verdict = neverBlock.check(entry.address);
    if (!verdict.ok) {
      skipped.push({ ip: entry.canonical, reason: verdict.reason, neverBlock: true });
      continue;
    }
    eligible.push(entry);
  }

  const score = (entry: Merged) => entry.confidence ?? -1;
  const volume = (entry: Merged) =>
    typeof entry.count === 'number' && Number.isFinite(entry.count) ? entry.count : -1;
  eligible.sort((a, b) => score(b) - score(a) || volume(b) - volume(a) || a.order - b.order);

  const limit = room(policy.maxIps, input.alreadyHeld);
  const selected = eligible.slice(0, limit).map((entry) => entry.canonical);
  for (const entry of eligible.slice(limit)) skipped.push({ ip: entry.canonical, reason: CAP_REASON });
  return { selected, skipped };
}
