/**
 * What to send to change a pfSense alias, computed from the alias as just
 * read. Pure functions; the provider does the requests.
 *
 * Addresses are compared in canonical form (`normalizeAddress`), but a
 * removal sends the spellings stored in the alias (the package's
 * `array_diff` compares strings, and an operator may have typed
 * `2001:DB8::1`). Entries that are not single IP addresses (FQDNs, nested
 * aliases) are never touched.
 */
import { normalizeAddress } from '../../../ip/address.ts';

/** Canonical address → the spellings of it stored in the alias. */
export function indexAlias(address: readonly string[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const stored of address) {
    const normalized = normalizeAddress(stored);
    if (!normalized.ok) continue;
    const spellings = index.get(normalized.canonical);
    if (spellings === undefined) index.set(normalized.canonical, [stored]);
    else if (!spellings.includes(stored)) spellings.push(stored);
  }
  return index;
}

export interface AddPlan {
  /** Missing addresses to append (the package's `append` does not de-duplicate, so never resend present ones). */
  missing: string[];
  /** Missing addresses that do not fit under a total size limit. */
  overflow: string[];
}

/**
 * @param wanted canonical addresses, unique.
 * @param totalMax the most addresses the alias may hold (packages < 2.5.4), if known.
 */
export function planAdd(wanted: readonly string[], stored: readonly string[], totalMax: number | undefined): AddPlan {
  const present = indexAlias(stored);
  const missing = wanted.filter((ip) => !present.has(ip));
  if (totalMax === undefined) return { missing, overflow: [] };
  const capacity = Math.max(0, totalMax - stored.length);
  return { missing: missing.slice(0, capacity), overflow: missing.slice(capacity) };
}

export type RemovePlan =
  /** None of the addresses is in the alias. */
  | { kind: 'none' }
  /** `PATCH {remove: true, address: send}`: the package removes every occurrence of each. */
  | { kind: 'remove'; send: string[] }
  /**
   * Plain replace `PATCH {address, detail}`: when the removal empties the
   * alias (`remove` is a no-op when the sent list equals the stored one,
   * pfrest#569), or when the alias carries per-entry details (removing
   * addresses alone would leave more details than addresses:
   * `TOO_MANY_ALIAS_DETAILS`), keeping each remaining detail with its address.
   */
  | { kind: 'replace'; address: string[]; detail: string[] };

/** @param wanted canonical addresses. */
export function planRemove(wanted: readonly string[], stored: { address: readonly string[]; detail: readonly string[] }): RemovePlan {
  const index = indexAlias(stored.address);
  const drop = new Set<string>();
  for (const ip of wanted) for (const spelling of index.get(ip) ?? []) drop.add(spelling);
  if (drop.size === 0) return { kind: 'none' };
  const kept: number[] = [];
  stored.address.forEach((address, position) => {
    if (!drop.has(address)) kept.push(position);
  });
  if (kept.length === 0) return { kind: 'replace', address: [], detail: [] };
  if (stored.detail.length > 0) {
    return {
      kind: 'replace',
      address: kept.map((position) => stored.address[position] as string),
      detail: kept.filter((position) => position < stored.detail.length).map((position) => stored.detail[position] as string),
    };
  }
  return { kind: 'remove', send: [...drop] };
}
