/**
 * Strict parsing and canonical formatting of single IPv4 and IPv6 addresses.
 *
 * This parser is the gate between untrusted strings (webhook bodies, API
 * responses) and device commands, so it accepts only the textual forms the
 * RFCs define and nothing else:
 *
 * - IPv4: exactly four decimal parts 0–255, no leading zeros (`01.2.3.4` is
 *   rejected: some stacks read it as octal), no shorthand (`1.2.3`), no hex.
 * - IPv6: RFC 4291 text forms, full or `::`-compressed, optionally ending in
 *   an embedded dotted quad (`::ffff:1.2.3.4`); hex digits in either case.
 * - Rejected outright: whitespace and control characters anywhere, zone ids
 *   (`fe80::1%eth0`), prefix lengths (`10.0.0.0/8`), anything longer than the
 *   longest valid form.
 *
 * Failures are returned as `{ ok: false, reason }`, never thrown. Reasons never
 * echo the input back beyond the validated character set.
 */

/** An IP address as a number: 32 bits for IPv4, 128 bits for IPv6. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** Outcome of parsing one address. */
export type AddressParseResult = { ok: true; address: IpAddress } | { ok: false; reason: string };

/** Outcome of {@link normalizeAddress}: the policy form and its canonical text. */
export type NormalizedAddressResult =
  | { ok: true; address: IpAddress; canonical: string }
  | { ok: false; reason: string };

/** Number of bits in an address of this family. */
export function addressBits(family: 4 | 6): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The longest valid text form: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
const MAX_LENGTH = 45;
const IPV4_CHARS = /^[0-9.]+$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const DECIMAL_PART = /^[0-9]{1,3}$/;
const WHITESPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f-\u009f]/;

const MAPPED_PREFIX = 0xffffn << 32n;
const LOW_32 = 0xffff_ffffn;
const HIGH_96_MASK = ((1n << 128n) - 1n) ^ LOW_32;

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

/** Parses a strict dotted quad into a 32-bit number. */
function parseIpv4Value(text: string): { ok: true; value: bigint } | { ok: false; reason: string } {
  if (!IPV4_CHARS.test(text)) return fail('is not an IPv4 or IPv6 address');
  const parts = text.split('.');
  if (parts.length !== 4) return fail(`IPv4 needs 4 dot-separated parts, found ${parts.length}`);
  let value = 0n;
  for (const part of parts) {
    if (part === '') return fail('IPv4 has an empty part');
    if (!DECIMAL_PART.test(part)) return fail(`IPv4 part "${part}" is longer than 3 digits`);
    if (part.length > 1 && part.startsWith('0')) {
      return fail(`IPv4 part "${part}" has a leading zero (ambiguous: octal on some systems)`);
    }
    const octet = Number(part);
    if (octet > 255) return fail(`IPv4 part "${part}" is out of range 0–255`);
    value = (value << 8n) | BigInt(octet);
  }
  return { ok: true, value };
}

function parseHexGroups(groups: readonly string[]): { ok: true; values: number[] } | { ok: false; reason: string } {
  const values: number[] = [];
  for (const group of groups) {
    if (group === '') return fail('IPv6 has an empty group (a stray ":")');
    if (!HEX_GROUP.test(group)) return fail(`IPv6 group "${group}" is not 1–4 hex digits`);
    values.push(Number.parseInt(group, 16));
  }
  return { ok: true, values };
}

function parseIpv6Value(text: string): { ok: true; value: bigint } | { ok: false; reason: string } {
  if (!IPV6_CHARS.test(text)) return fail('is not an IPv4 or IPv6 address');
  let hex = text;
  let embedded: bigint | undefined;
  if (text.includes('.')) {
    // An embedded dotted quad may only be the last 32 bits.
    const lastColon = text.lastIndexOf(':');
    const tail = text.slice(lastColon + 1);
    const v4 = parseIpv4Value(tail);
    if (!v4.ok) return fail(`embedded IPv4 part is invalid: ${v4.reason}`);
    embedded = v4.value;
    hex = text.slice(0, lastColon + 1);
    // "…:" + tail: drop the separator unless it is part of "::".
    if (!hex.endsWith('::')) hex = hex.slice(0, -1);
  }
  const explicitGroupsNeeded = embedded === undefined ? 8 : 6;
  const first = hex.indexOf('::');
  let groups: number[];
  if (first === -1) {
    const parsed = parseHexGroups(hex === '' ? [] : hex.split(':'));
    if (!parsed.ok) return parsed;
    if (parsed.values.length !== explicitGroupsNeeded) {
      return fail(`IPv6 needs ${explicitGroupsNeeded} groups without "::", found ${parsed.values.length}`);
    }
    groups = parsed.values;
  } else {
    if (hex.indexOf('::', first + 1) !== -1 || hex.includes(':::')) return fail('IPv6 may contain "::" only once');
    const head = hex.slice(0, first);
    const rest = hex.slice(first + 2);
    const headParsed = parseHexGroups(head === '' ? [] : head.split(':'));
    if (!headParsed.ok) return headParsed;
    const restParsed = parseHexGroups(rest === '' ? [] : rest.split(':'));
    if (!restParsed.ok) return restParsed;
    const explicit = headParsed.values.length + restParsed.values.length;
    if (explicit > explicitGroupsNeeded - 1) return fail('IPv6 has too many groups for "::" to stand for any');
    const zeros = new Array<number>(explicitGroupsNeeded - explicit).fill(0);
    groups = [...headParsed.values, ...zeros, ...restParsed.values];
  }
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  if (embedded !== undefined) value = (value << 32n) | embedded;
  return { ok: true, value };
}

/**
 * Parses one IPv4 or IPv6 address strictly. IPv4-mapped IPv6 addresses stay
 * IPv6 here; use {@link unmapAddress} or {@link normalizeAddress} to get the
 * IPv4 form used for policy checks.
 */
export function parseAddress(text: string): AddressParseResult {
  if (typeof text !== 'string') return fail('is not a string');
  if (text === '') return fail('is empty');
  if (text.length > MAX_LENGTH) return fail(`is too long (${text.length} characters) to be an IP address`);
  if (WHITESPACE_OR_CONTROL.test(text)) return fail('contains whitespace or control characters');
  if (text.includes('%')) return fail('contains a zone id ("%…"); zone ids are not accepted');
  if (text.includes('/')) return fail('contains a prefix length; expected a single address, not a CIDR');
  if (text.includes(':')) {
    const v6 = parseIpv6Value(text);
    return v6.ok ? { ok: true, address: { family: 6, value: v6.value } } : v6;
  }
  const v4 = parseIpv4Value(text);
  return v4.ok ? { ok: true, address: { family: 4, value: v4.value } } : v4;
}

/** True for an IPv6 address in `::ffff:0:0/96` (an IPv4-mapped address). */
export function isIpv4Mapped(address: IpAddress): boolean {
  return address.family === 6 && (address.value & HIGH_96_MASK) === MAPPED_PREFIX;
}

/** `::ffff:a.b.c.d` becomes `a.b.c.d`; every other address is returned as is. */
export function unmapAddress(address: IpAddress): IpAddress {
  return isIpv4Mapped(address) ? { family: 4, value: address.value & LOW_32 } : address;
}

function formatIpv4(value: bigint): string {
  const n = Number(value);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatIpv6(value: bigint): string {
  if (isIpv4Mapped({ family: 6, value })) return `::ffff:${formatIpv4(value & LOW_32)}`; // RFC 5952 §5
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/**
 * Canonical text of an address: IPv4 as a dotted quad; IPv6 per RFC 5952
 * (lower case, no leading zeros, longest zero run as `::`), with
 * IPv4-mapped addresses written `::ffff:a.b.c.d` (RFC 5952 §5).
 */
export function formatAddress(address: IpAddress): string {
  return address.family === 4 ? formatIpv4(address.value) : formatIpv6(address.value);
}

/**
 * Parses, unmaps (`::ffff:1.2.3.4` → `1.2.3.4`) and formats an address: the
 * form every policy check and every device command uses. Two inputs denote
 * the same host exactly when their `canonical` strings are equal.
 */
export function normalizeAddress(text: string): NormalizedAddressResult {
  const parsed = parseAddress(text);
  if (!parsed.ok) return parsed;
  const address = unmapAddress(parsed.address);
  return { ok: true, address, canonical: formatAddress(address) };
}
