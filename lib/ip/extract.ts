/**
 * Pulls candidate attacker sources out of a Flowtriq event (or any object
 * shaped like an incident, such as a REST API response).
 *
 * Sources come from `top_src_ips` (`[{ ip, count, confidence }]`) and
 * `attacker_ips` (plain strings, confidence unknown), read from the incident
 * and from the top level of the event. Every field may be absent: Flowtriq
 * does not document any of them in webhooks. Malformed entries are dropped
 * and counted, never guessed at: an entry with a broken score must not turn
 * into an "unscored" one that policy might accept.
 *
 * Duplicates (same `ip` string) are merged: the highest known confidence wins
 * and a missing confidence loses to any score; the highest count is kept.
 * Merging here is by exact string; `select.ts` merges again after
 * canonicalisation (`::ffff:1.2.3.4` and `1.2.3.4`). Addresses are not
 * validated here; that is `select.ts`'s job.
 */
import { sourceIpSchema } from '../event/schema.ts';
import type { FlowtriqEvent } from '../event/types.ts';

/** One candidate source as reported, before any validation of the address. */
export interface SourceCandidate {
  ip: string;
  /** Packets (or flows) seen from this source, when reported. */
  count?: number;
  /** 0–100; absent when Flowtriq gave no per-source score. */
  confidence?: number;
}

/** What an event (or API response) says about its sources. */
export interface ExtractedSources {
  /** Unique by `ip` string, in first-seen order. */
  candidates: SourceCandidate[];
  /** `spoofing_detected` was true in the incident or at the top level. */
  spoofed: boolean;
  /** Some container carried `top_src_ips` or `attacker_ips` (possibly empty). */
  present: boolean;
  /** Entries dropped because they did not have the documented shape. */
  malformed: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges `next` into `current` (same ip): best known confidence, highest count. */
function mergeInto(current: SourceCandidate, next: SourceCandidate): void {
  if (next.confidence !== undefined && (current.confidence === undefined || next.confidence > current.confidence)) {
    current.confidence = next.confidence;
  }
  if (next.count !== undefined && (current.count === undefined || next.count > current.count)) {
    current.count = next.count;
  }
}

/**
 * Merges candidate lists by exact `ip` string, keeping first-seen order. Does
 * not modify its inputs.
 */
export function mergeCandidates(...lists: readonly (readonly SourceCandidate[])[]): SourceCandidate[] {
  const byIp = new Map<string, SourceCandidate>();
  for (const list of lists) {
    for (const candidate of list) {
      const current = byIp.get(candidate.ip);
      if (current) {
        mergeInto(current, candidate);
      } else {
        const copy: SourceCandidate = { ip: candidate.ip };
        if (candidate.count !== undefined) copy.count = candidate.count;
        if (candidate.confidence !== undefined) copy.confidence = candidate.confidence;
        byIp.set(candidate.ip, copy);
      }
    }
  }
  return [...byIp.values()];
}

/**
 * Reads sources from incident-like containers (each may be undefined or not an
 * object). Used for webhook events and for REST API responses alike.
 */
export function extractSourcesFrom(containers: readonly unknown[]): ExtractedSources {
  const found: SourceCandidate[] = [];
  let spoofed = false;
  let present = false;
  let malformed = 0;
  for (const container of containers) {
    if (!isRecord(container)) continue;
    if (container.spoofing_detected === true) spoofed = true;

    const top = container.top_src_ips;
    if (top !== undefined && top !== null) {
      present = true;
      if (!Array.isArray(top)) {
        malformed++;
      } else {
        for (const entry of top) {
          const parsed = sourceIpSchema.safeParse(entry);
          if (!parsed.success) {
            malformed++;
            continue;
          }
          const candidate: SourceCandidate = { ip: parsed.data.ip };
          if (parsed.data.count !== undefined) candidate.count = parsed.data.count;
          if (parsed.data.confidence !== undefined) candidate.confidence = parsed.data.confidence;
          found.push(candidate);
        }
      }
    }

    const plain = container.attacker_ips;
    if (plain !== undefined && plain !== null) {
      present = true;
      if (!Array.isArray(plain)) {
        malformed++;
      } else {
        for (const entry of plain) {
          if (typeof entry === 'string' && entry !== '') found.push({ ip: entry });
          else malformed++;
        }
      }
    }
  }
  return { candidates: mergeCandidates(found), spoofed, present, malformed };
}

/** Candidate sources of a validated webhook event: its incident first, then the top level. */
export function extractSources(event: FlowtriqEvent): ExtractedSources {
  return extractSourcesFrom([event.incident, event]);
}
