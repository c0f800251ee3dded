/**
 * The never-block list: addresses the relay refuses to send to any firewall,
 * whatever Flowtriq reports.
 *
 * Order of checks (the first hit gives the reason):
 * 1. the node's own addresses, then (with `protectNodeSubnet`) its /24 or /64;
 * 2. the operator's `blocking.neverBlock` prefixes;
 * 3. the built-in IANA special-purpose ranges ({@link BUILTIN_NEVER_BLOCK}).
 *
 * Embedded IPv4:
 * - IPv4-mapped `::ffff:a.b.c.d` is checked as `a.b.c.d` (it is that host),
 *   and additionally against the operator's IPv6 prefixes.
 * - NAT64 `64:ff9b::/96` and 6to4 `2002::/16` are blocked only if their
 *   embedded IPv4 address is itself blockable (full check: node, operator,
 *   built-in). 6to4 is deprecated but still routed; a 6to4 source whose
 *   embedded IPv4 is public is as blockable as the IPv4 host behind it, and one
 *   wrapping a private or reserved address is refused like that address.
 *
 * IPv6 beyond the registry: every address outside `2000::/3` (the only block
 * IANA allocates as global unicast) is refused as reserved. Such sources are
 * bogons; a block on them cannot help and risks hitting something internal.
 *
 * Teredo (`2001::/32`) lies inside `2001::/23` (IETF protocol assignments) and
 * is refused with the whole /23; so are the few globally reachable services
 * in that /23 (PCP/TURN anycast, AMT, AS112-v6, ORCHIDv2): none is a plausible
 * DDoS source worth a block, and the whole range is one easy rule.
 */
import { formatAddress, isIpv4Mapped, parseAddress, unmapAddress } from './address.ts';
import type { IpAddress } from './address.ts';
import { cidrLast, cidrOf, formatCidr, parseCidr } from './cidr.ts';
import type { Cidr } from './cidr.ts';
import { InvalidNeverBlockEntryError } from './errors.ts';

/** Outcome of a check: `ok` means the address may be blocked. */
export type NeverBlockResult = { ok: true } | { ok: false; reason: string };

/** A compiled never-block list. */
export interface NeverBlockList {
  /** May this address be blocked? A string that is not a valid address is never ok. */
  check(ip: string | IpAddress): NeverBlockResult;
}

/** What {@link createNeverBlockList} builds the list from. */
export interface NeverBlockOptions {
  /** Operator prefixes or addresses (`blocking.neverBlock`). Invalid entries throw. */
  extra?: readonly string[];
  /** The node's own addresses (`node.ip_address`). Invalid entries throw. */
  nodeIps?: readonly string[];
  /** Also protect the node's /24 (IPv4) or /64 (IPv6). */
  protectNodeSubnet?: boolean;
}

/** One built-in range. `embeddedIpv4` ranges defer to the IPv4 address they carry. */
export interface BuiltinRange {
  readonly cidr: string;
  readonly label: string;
  readonly embeddedIpv4?: 'low32' | '6to4';
}

/** IANA IPv4 special-purpose ranges that are never blocked. Most specific first. */
export const BUILTIN_NEVER_BLOCK_V4: readonly BuiltinRange[] = [
  { cidr: '0.0.0.0/8', label: 'this network' },
  { cidr: '10.0.0.0/8', label: 'private' },
  { cidr: '100.64.0.0/10', label: 'CGNAT shared address space' },
  { cidr: '127.0.0.0/8', label: 'loopback' },
  { cidr: '169.254.0.0/16', label: 'link-local' },
  { cidr: '172.16.0.0/12', label: 'private' },
  { cidr: '192.0.0.0/24', label: 'IETF protocol assignments' },
  { cidr: '192.0.2.0/24', label: 'documentation' },
  { cidr: '192.88.99.0/24', label: '6to4 relay anycast' },
  { cidr: '192.168.0.0/16', label: 'private' },
  { cidr: '198.18.0.0/15', label: 'benchmarking' },
  { cidr: '198.51.100.0/24', label: 'documentation' },
  { cidr: '203.0.113.0/24', label: 'documentation' },
  { cidr: '224.0.0.0/4', label: 'multicast' },
  { cidr: '255.255.255.255/32', label: 'broadcast' },
  { cidr: '240.0.0.0/4', label: 'reserved' },
];

/**
 * IANA IPv6 special-purpose ranges, first match wins. `::ffff:0:0/96` is not
 * listed: mapped addresses are checked as IPv4. Everything outside `2000::/3`
 * not listed here is refused as reserved.
 */
export const BUILTIN_NEVER_BLOCK_V6: readonly BuiltinRange[] = [
  { cidr: '::/128', label: 'unspecified' },
  { cidr: '::1/128', label: 'loopback' },
  { cidr: '64:ff9b::/96', label: 'NAT64', embeddedIpv4: 'low32' },
  { cidr: '64:ff9b:1::/48', label: 'NAT64 local-use' },
  { cidr: '100::/64', label: 'discard-only' },
  { cidr: '2001:db8::/32', label: 'documentation' },
  { cidr: '2001::/23', label: 'IETF protocol assignments, incl. Teredo' },
  { cidr: '2002::/16', label: '6to4', embeddedIpv4: '6to4' },
  { cidr: '3fff::/20', label: 'documentation' },
  { cidr: 'fc00::/7', label: 'unique local' },
  { cidr: 'fe80::/10', label: 'link-local' },
  { cidr: 'ff00::/8', label: 'multicast' },
];

interface Range {
  readonly start: bigint;
  readonly end: bigint;
  readonly reason: string;
  readonly embeddedIpv4?: 'low32' | '6to4';
  readonly name?: string;
}

const GLOBAL_UNICAST = mustParse('2000::/3');
const GLOBAL_UNICAST_LAST = cidrLast(GLOBAL_UNICAST);
const LOW_32 = 0xffff_ffffn;
const OK: NeverBlockResult = { ok: true };

function mustParse(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`built-in never-block range ${text} is invalid: ${parsed.reason}`);
  return parsed.cidr;
}

function toRange(cidr: Cidr, reason: string, extra?: Pick<Range, 'embeddedIpv4' | 'name'>): Range {
  return { start: cidr.network, end: cidrLast(cidr), reason, ...extra };
}

function compileBuiltins(list: readonly BuiltinRange[]): Range[] {
  return list.map((entry) => {
    const cidr = mustParse(entry.cidr);
    const name = `${entry.label} (${formatCidr(cidr)})`;
    return entry.embeddedIpv4
      ? toRange(cidr, name, { embeddedIpv4: entry.embeddedIpv4, name })
      : toRange(cidr, name);
  });
}

const BUILTIN_V4 = compileBuiltins(BUILTIN_NEVER_BLOCK_V4);
const BUILTIN_V6 = compileBuiltins(BUILTIN_NEVER_BLOCK_V6);

function find(ranges: readonly Range[], value: bigint): Range | undefined {
  for (const range of ranges) {
    if (value >= range.start && value <= range.end) return range;
  }
  return undefined;
}

/** An IPv4-mapped IPv6 prefix inside `::ffff:0:0/96` becomes the IPv4 prefix it denotes. */
function unmapCidr(cidr: Cidr): Cidr {
  if (cidr.family === 6 && cidr.prefix >= 96 && isIpv4Mapped({ family: 6, value: cidr.network })) {
    return { family: 4, network: cidr.network & LOW_32, prefix: cidr.prefix - 96 };
  }
  return cidr;
}

/**
 * Compiles the never-block list. Throws {@link InvalidNeverBlockEntryError}
 * naming the first invalid operator entry or node address.
 */
export function createNeverBlockList(options: NeverBlockOptions = {}): NeverBlockList {
  const own: (Range & { family: 4 | 6 })[] = [];
  const subnets: (Range & { family: 4 | 6 })[] = [];
  const operator4: Range[] = [];
  const operator6: Range[] = [];

  for (const entry of options.nodeIps ?? []) {
    const parsed = parseAddress(entry);
    if (!parsed.ok) {
      throw new InvalidNeverBlockEntryError(
        String(entry),
        `node address ${JSON.stringify(entry)} is invalid: ${parsed.reason}; ` +
          "the node's ip_address must be a single IPv4 or IPv6 address",
      );
    }
    const address = unmapAddress(parsed.address);
    const host = cidrOf(address, address.family === 4 ? 32 : 128);
    own.push({ ...toRange(host, `node's own address (${formatAddress(address)})`), family: address.family });
    if (options.protectNodeSubnet) {
      const subnet = cidrOf(address, address.family === 4 ? 24 : 64);
      subnets.push({ ...toRange(subnet, `node's subnet (${formatCidr(subnet)})`), family: address.family });
    }
  }
  // Own addresses before subnets, so the more specific reason wins.
  const node4 = [...own, ...subnets].filter((range) => range.family === 4);
  const node6 = [...own, ...subnets].filter((range) => range.family === 6);

  for (const entry of options.extra ?? []) {
    const parsed = parseCidr(entry);
    if (!parsed.ok) {
      throw new InvalidNeverBlockEntryError(
        String(entry),
        `blocking.neverBlock entry ${JSON.stringify(entry)} is invalid: ${parsed.reason}` +
          (parsed.reason.includes('; write ')
            ? ''
            : '; write an IPv4 or IPv6 address or prefix such as 198.51.100.0/24 or 2001:db8::/32'),
      );
    }
    const cidr = unmapCidr(parsed.cidr);
    (cidr.family === 4 ? operator4 : operator6).push(toRange(cidr, `operator never-block ${formatCidr(cidr)}`));
  }

  function checkV4(value: bigint): NeverBlockResult {
    const hit = find(node4, value) ?? find(operator4, value) ?? find(BUILTIN_V4, value);
    return hit ? { ok: false, reason: hit.reason } : OK;
  }

  function checkV6(value: bigint): NeverBlockResult {
    const hit = find(node6, value) ?? find(operator6, value);
    if (hit) return { ok: false, reason: hit.reason };
    const builtin = find(BUILTIN_V6, value);
    if (builtin?.embeddedIpv4) {
      const v4 = builtin.embeddedIpv4 === 'low32' ? value & LOW_32 : (value >> 80n) & LOW_32;
      const inner = checkV4(v4);
      if (inner.ok) return OK;
      const shown = formatAddress({ family: 4, value: v4 });
      return { ok: false, reason: `${builtin.name} embeds ${shown}: ${inner.reason}` };
    }
    if (builtin) return { ok: false, reason: builtin.reason };
    if (value < GLOBAL_UNICAST.network || value > GLOBAL_UNICAST_LAST) {
      return { ok: false, reason: 'reserved (outside global unicast 2000::/3)' };
    }
    return OK;
  }

  return {
    check(ip: string | IpAddress): NeverBlockResult {
      let address: IpAddress;
      if (typeof ip === 'string') {
        const parsed = parseAddress(ip);
        if (!parsed.ok) return { ok: false, reason: `invalid address: ${parsed.reason}` };
        address = parsed.address;
      } else {
        address = ip;
      }
      if (address.family === 4) return checkV4(address.value);
      if (isIpv4Mapped(address)) {
        const inner = checkV4(address.value & LOW_32);
        if (!inner.ok) return inner;
        const hit = find(operator6, address.value);
        return hit ? { ok: false, reason: hit.reason } : OK;
      }
      return checkV6(address.value);
    },
  };
}
