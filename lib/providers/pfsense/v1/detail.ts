/**
 * Per-entry descriptions (`detail`) of a v1 alias, and what the package's
 * alias/entry writes do to them. Pure.
 *
 * config.xml keeps an alias's entries in two strings: `address`
 * (space-separated) and `detail` (`||`-separated). Nothing ties one to the
 * other except position: pfSense shows the i-th detail beside the i-th
 * address. The relay's ownership mark lives in `detail`, so the adapter
 * must know, before each write, whether the package will keep every
 * description beside its own address. Read in pfSense-pkg-API's code
 * (legacy branch, APIFirewallAliasEntryCreate/Delete.inc):
 *
 * - entry POST: the stored details (`explode("||")`, none when empty) get
 *   the sent details appended, padded with `Entry added <date>` up to the
 *   number of sent addresses. The new addresses get their own details only
 *   when the stored details were exactly as many as the stored addresses;
 *   with fewer, the relay's marks would land on the operator's addresses.
 * - entry DELETE: both lists go through `array_filter` (keys kept), the
 *   details at the removed addresses' positions are unset, and both are
 *   imploded again: every empty detail disappears on the way, so the
 *   details after an empty one move up to the previous address.
 * - Releases differ (pfrest#374: 1.6.0 appended one detail too many;
 *   pfrest#395: 1.6.2 made an empty alias start with an empty detail), so
 *   the adapter also checks the alias the write answers with.
 *
 * `predictAppend` and `predictDelete` model the two writes; the adapter
 * writes only when the prediction keeps every existing pair and gives each
 * new address the relay's detail.
 */

/** One entry as pfSense shows it: the address and the detail at the same position (undefined: none). */
export interface AliasPair {
  address: string;
  detail: string | undefined;
}

/** An alias's two lists, exactly as stored. */
export interface AliasLists {
  /** `address` split on spaces; empty tokens kept (a stray space shifts the pairing in the GUI too). */
  addresses: string[];
  /** `detail` split on `||`; an empty string is no detail at all. */
  details: string[];
}

/** Reads the stored `address` and `detail` values (strings, or lists from a package that sends lists). */
export function aliasLists(address: string | string[] | undefined, detail: string | string[] | undefined): AliasLists {
  const addresses = address === undefined ? [] : Array.isArray(address) ? [...address] : address === '' ? [] : address.split(' ');
  const details = detail === undefined ? [] : Array.isArray(detail) ? [...detail] : detail === '' ? [] : detail.split('||');
  return { addresses, details };
}

/** The entries as pfSense pairs them: by position. */
export function pairsOf(lists: AliasLists): AliasPair[] {
  return lists.addresses.map((address, index) => ({ address, detail: lists.details[index] }));
}

/** The lists the package stores after appending `addresses` with `details` (one per address). */
export function predictAppend(lists: AliasLists, addresses: string[], details: string[]): AliasLists {
  return {
    addresses: [...lists.addresses.filter((address) => address !== ''), ...addresses],
    details: [...lists.details, ...details],
  };
}

/** The lists the package stores after deleting every entry whose address equals one of `doomed`. */
export function predictDelete(lists: AliasLists, doomed: ReadonlySet<string>): AliasLists {
  const gone = new Set<number>();
  lists.addresses.forEach((address, index) => {
    if (address !== '' && doomed.has(address)) gone.add(index);
  });
  return {
    addresses: lists.addresses.filter((address, index) => address !== '' && !gone.has(index)),
    details: lists.details.filter((detail, index) => detail !== '' && !gone.has(index)),
  };
}

/**
 * Whether `after` holds exactly `expected`, pair for pair and in order:
 * every existing entry keeps its own detail and every new one has the
 * detail meant for it. An empty detail and none at all are the same (the
 * webConfigurator shows both as an empty description).
 */
export function samePairs(after: AliasLists, expected: AliasPair[]): boolean {
  const actual = pairsOf(after);
  if (actual.length !== expected.length) return false;
  return actual.every(
    (pair, index) => pair.address === expected[index]!.address && (pair.detail || undefined) === (expected[index]!.detail || undefined),
  );
}

/** The pairs an append is meant to leave: the existing ones (stray empty tokens aside), then the new ones. */
export function intendedAppend(lists: AliasLists, addresses: string[], details: string[]): AliasPair[] {
  return [
    ...pairsOf(lists).filter((pair) => pair.address !== ''),
    ...addresses.map((address, index) => ({ address, detail: details[index] })),
  ];
}

/** The pairs a delete is meant to leave: every other entry with its own detail. */
export function intendedDelete(lists: AliasLists, doomed: ReadonlySet<string>): AliasPair[] {
  return pairsOf(lists).filter((pair) => pair.address !== '' && !doomed.has(pair.address));
}
