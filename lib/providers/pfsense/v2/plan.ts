/**
 * What to send to change a pfSense alias, computed from the alias as just
 * read. Pure functions; the provider does the requests.
 *
 * ## The entries of an alias
 *
 * An alias stores two parallel lists: `address` (delimiter " ") and
 * `detail` (delimiter "||"), the i-th detail describing the i-th address.
 * An entry is the relay's (`owned`) when its detail is the relay's mark for
 * that very address (`isRelayDetail`, lib/providers/pfsense/mark.ts);
 * everything else is the operator's and is never changed or removed. A
 * stored alias may hold fewer details than addresses (created without
 * details, or edited outside the package); the addresses past the last
 * detail have no description and are the operator's.
 *
 * ## How the package changes the two lists (pfSense-pkg-RESTAPI, read in
 * `Core/Model.inc` `append_array_changes`/`remove_array_changes`/`validate`,
 * `Models/FirewallAlias.inc` `validate_detail`, `Core/Field.inc`)
 *
 * - Each `many` field is handled on its own. A field that is not sent keeps
 *   its stored value. A sent field is merged only when it is not identical
 *   (PHP `!==`: same values, same order) to the stored list; an identical
 *   one leaves the field unchanged (pfrest#569).
 * - `append`: `array_merge(stored, sent)`, no de-duplication.
 * - `remove`: `array_diff(stored, sent)`: every stored value equal to any
 *   sent value goes, wherever it stands.
 * - Then validation: more details than addresses is `TOO_MANY_ALIAS_DETAILS`.
 *   The model's attempt to fill missing details (`Entry added <date>`) is
 *   overwritten by the per-value validation loop in `Model::validate`, so a
 *   short detail list stays short (the simulator can model either).
 * - Stored as `implode`; read back with `explode` unless the string is PHP
 *   `empty()` (`""` or `"0"`), which reads as no details. Empty strings
 *   between delimiters survive (`"||x"` → `["", "x"]`).
 *
 * Consequences, each planned for here:
 * - Appending with details to an alias whose detail list is shorter than
 *   its address list would put the relay's marks beside operator
 *   addresses: the append first pads the detail list with empty
 *   descriptions (`""`, no description, as before) up to the addresses.
 * - A removal sends the relay entries' addresses *and* their exact marks;
 *   `array_diff` drops exactly those positions from both lists, so every
 *   other entry keeps its own description. The plan simulates the package
 *   and refuses (per address) a removal that would drop any other position.
 * - An address that also has an operator entry is never sent: `array_diff`
 *   would remove the operator's entry too.
 * - A removal of everything left (sent list identical to the stored list)
 *   would be a no-op: the plan then repeats the last value in the sent
 *   list, which changes nothing in `array_diff` but makes the lists differ.
 *   Never a whole-list replace.
 *
 * Addresses are compared in canonical form (`normalizeAddress`), but a
 * removal sends the spellings stored in the alias (`array_diff` compares
 * strings). Entries that are not single IP addresses (FQDNs, nested
 * aliases) are the operator's.
 */
import { normalizeAddress } from '../../../ip/address.ts';
import { isRelayDetail } from '../mark.ts';

/** The two parallel lists of an alias. */
export interface AliasLists {
  address: readonly string[];
  detail: readonly string[];
}

/** One entry of an alias. */
export interface AliasEntry {
  position: number;
  /** As stored. */
  address: string;
  /** Canonical form; undefined when the entry is not a single IP address. */
  ip: string | undefined;
  /** undefined past the end of the detail list. */
  detail: string | undefined;
  owned: boolean;
}

export function aliasEntries(alias: AliasLists): AliasEntry[] {
  return alias.address.map((address, position) => {
    const normalized = normalizeAddress(address);
    const detail = alias.detail[position];
    const ip = normalized.ok ? normalized.canonical : undefined;
    return { position, address, ip, detail, owned: ip !== undefined && isRelayDetail(detail, address) };
  });
}

/** Canonical address → its entries. */
function byIp(entries: readonly AliasEntry[]): Map<string, AliasEntry[]> {
  const index = new Map<string, AliasEntry[]>();
  for (const entry of entries) {
    if (entry.ip === undefined) continue;
    const list = index.get(entry.ip);
    if (list === undefined) index.set(entry.ip, [entry]);
    else list.push(entry);
  }
  return index;
}

/** PHP `===` on two lists of strings. */
export function identicalLists(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

export interface AddPlan {
  /** Missing addresses to append, each with its mark (`append` does not de-duplicate: never resend present ones). */
  missing: Array<{ ip: string; detail: string }>;
  /** Already present under the relay's mark. */
  owned: string[];
  /** Present only under entries that are not the relay's: answered `foreign`, never sent. */
  foreign: string[];
  /** Missing addresses that do not fit under a total size limit. */
  overflow: string[];
  /** Empty descriptions to send before the marks so the lists stay aligned. */
  pad: number;
  /** The stored alias has more details than addresses: the package refuses every write. */
  tooManyDetails: boolean;
}

/**
 * @param wanted canonical addresses (unique) with the mark each would carry.
 * @param totalMax the most addresses the alias may hold (packages < 2.5.4), if known.
 */
export function planAdd(wanted: ReadonlyArray<{ ip: string; detail: string }>, stored: AliasLists, totalMax: number | undefined): AddPlan {
  const index = byIp(aliasEntries(stored));
  const owned: string[] = [];
  const foreign: string[] = [];
  let missing: Array<{ ip: string; detail: string }> = [];
  for (const item of wanted) {
    const entries = index.get(item.ip);
    if (entries === undefined) missing.push(item);
    else if (entries.some((entry) => entry.owned)) owned.push(item.ip);
    else foreign.push(item.ip);
  }
  let overflow: string[] = [];
  if (totalMax !== undefined) {
    const capacity = Math.max(0, totalMax - stored.address.length);
    overflow = missing.slice(capacity).map((item) => item.ip);
    missing = missing.slice(0, capacity);
  }
  return {
    missing,
    owned,
    foreign,
    overflow,
    pad: Math.max(0, stored.address.length - stored.detail.length),
    tooManyDetails: stored.detail.length > stored.address.length,
  };
}

/** The `append` body's lists for `chunk`: pads first, then one mark per address. */
export function appendLists(chunk: ReadonlyArray<{ ip: string; detail: string }>, pad: number): { address: string[]; detail: string[] } {
  return { address: chunk.map((item) => item.ip), detail: [...Array.from({ length: pad }, () => ''), ...chunk.map((item) => item.detail)] };
}

export interface RemovePlan {
  /** Per address to remove: the stored spellings and marks of its (relay-only) entries. */
  remove: Array<{ ip: string; address: string[]; detail: string[] }>;
  /** Not in the alias: nothing to do. */
  absent: string[];
  /** Also listed by the operator: kept (removing by value would take the operator's entry too). */
  operator: string[];
  /** Its mark also stands beside another address: removing it would move other descriptions. Kept. */
  conflict: string[];
}

/** @param wanted canonical addresses the relay added. */
export function planRemove(wanted: readonly string[], stored: AliasLists): RemovePlan {
  const entries = aliasEntries(stored);
  const index = byIp(entries);
  const plan: RemovePlan = { remove: [], absent: [], operator: [], conflict: [] };
  const candidates: Array<{ ip: string; entries: AliasEntry[] }> = [];
  for (const ip of new Set(wanted)) {
    const mine = index.get(ip);
    if (mine === undefined) plan.absent.push(ip);
    else if (mine.some((entry) => !entry.owned)) plan.operator.push(ip);
    else candidates.push({ ip, entries: mine });
  }
  // A mark removes every stored detail equal to it: it must stand only beside this address's own entries.
  for (const candidate of candidates) {
    const positions = new Set(candidate.entries.map((entry) => entry.position));
    const marks = new Set(candidate.entries.map((entry) => entry.detail as string));
    const elsewhere = stored.detail.some((detail, position) => marks.has(detail) && !positions.has(position));
    if (elsewhere) plan.conflict.push(candidate.ip);
    else plan.remove.push({ ip: candidate.ip, address: unique(candidate.entries.map((e) => e.address)), detail: [...marks] });
  }
  return plan;
}

/**
 * The `remove` body's lists for `chunk`, made to differ from the stored
 * lists where they would be identical (an identical list is a no-op).
 */
export function removeLists(chunk: RemovePlan['remove'], stored: AliasLists): { address: string[]; detail: string[] } {
  const address = orderLike(chunk.flatMap((item) => item.address), stored.address);
  const detail = orderLike(chunk.flatMap((item) => item.detail), stored.detail);
  if (address.length > 0 && identicalLists(address, stored.address)) address.push(address.at(-1) as string);
  if (detail.length > 0 && identicalLists(detail, stored.detail)) detail.push(detail.at(-1) as string);
  return { address, detail };
}

/**
 * What the package leaves after `remove` with these lists (array_diff on
 * each field, identical lists untouched). Used to assert, before sending,
 * that exactly the planned positions go from both lists.
 */
export function afterRemove(stored: AliasLists, sent: { address: readonly string[]; detail: readonly string[] }): { address: string[]; detail: string[] } {
  const diff = (list: readonly string[], values: readonly string[]) => {
    if (identicalLists(values, list)) return [...list];
    const drop = new Set(values);
    return list.filter((value) => !drop.has(value));
  };
  return { address: diff(stored.address, sent.address), detail: diff(stored.detail, sent.detail) };
}

/** Whether removing these lists keeps every remaining entry's description with its address. */
export function removalKeepsOthers(stored: AliasLists, sent: { address: readonly string[]; detail: readonly string[] }): boolean {
  const result = afterRemove(stored, sent);
  const gone = new Set(sent.address);
  const kept = stored.address.flatMap((_, position) => (gone.has(stored.address[position] as string) ? [] : [position]));
  const expectedAddress = kept.map((position) => stored.address[position] as string);
  const expectedDetail = kept.filter((position) => position < stored.detail.length).map((position) => stored.detail[position] as string);
  return identicalLists(result.address, expectedAddress) && identicalLists(result.detail, expectedDetail);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** `values` (unique) in the order they first appear in `list`. */
function orderLike(values: readonly string[], list: readonly string[]): string[] {
  const wanted = new Set(values);
  const out: string[] = [];
  for (const value of list) {
    if (wanted.has(value)) {
      out.push(value);
      wanted.delete(value);
    }
  }
  return [...out, ...wanted];
}
