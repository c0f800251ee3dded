/**
 * CIDR prefixes (`10.0.0.0/8`, `2001:db8::/32`): strict parsing, containment
 * and canonical text.
 *
 * A bare address is a host prefix (/32 or /128). By default a prefix with
 * host bits set (`10.1.2.3/8`) is rejected, with a message offering both
 * readings (`10.0.0.0/8` or `10.1.2.3/32`): in a never-block list, guessing
 * which one the operator meant is worse than asking. Callers that compute
 * prefixes themselves can pass `{ hostBits: 'clear' }` to normalise instead.
 *
 * The address part goes through the strict parser in `address.ts`; an
 * IPv4-mapped IPv6 prefix (`::ffff:10.0.0.0/104`) stays an IPv6 prefix here.
 */
import { addressBits, formatAddress, parseAddress } from './address.ts';
import type { IpAddress } from './address.ts';

/** A network prefix: every address whose top `prefix` bits equal `network`'s. */
export interface Cidr {
  readonly family: 4 | 6;
  /** First address of the range; its host bits are always zero. */
  readonly network: bigint;
  readonly prefix: number;
}

/** Outcome of parsing one prefix. */
export type CidrParseResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** How {@link parseCidr} treats a prefix whose host bits are set. */
export interface ParseCidrOptions {
  /** `reject` (default) fails with a message; `clear` zeroes the host bits. */
  hostBits?: 'reject' | 'clear';
}

const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;

function hostMask(family: 4 | 6, prefix: number): bigint {
  return (1n << BigInt(addressBits(family) - prefix)) - 1n;
}

/** The prefix of length `prefix` that contains `address` (host bits cleared). */
export function cidrOf(address: IpAddress, prefix: number): Cidr {
  const bits = addressBits(address.family);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new RangeError(`prefix length ${prefix} is out of range 0–${bits}`);
  }
  return { family: address.family, network: address.value & ~hostMask(address.family, prefix), prefix };
}

/** Last address of the range. */
export function cidrLast(cidr: Cidr): bigint {
  return cidr.network | hostMask(cidr.family, cidr.prefix);
}

/** True when `address` is inside `cidr`. Families must match: no implicit unmapping. */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  return (
    address.family === cidr.family && address.value >= cidr.network && address.value <= cidrLast(cidr)
  );
}

/** Canonical text: canonical network address, `/`, prefix length. */
export function formatCidr(cidr: Cidr): string {
  return `${formatAddress({ family: cidr.family, value: cidr.network })}/${cidr.prefix}`;
}

/**
 * Parses `address/prefix`, or a bare address as a host prefix. Strict: no
 * whitespace, no leading zeros in the prefix length, exactly one `/`.
 */
export function parseCidr(text: string, options: ParseCidrOptions = {}): CidrParseResult {
  if (typeof text !== 'string') return { ok: false, reason: 'is not a string' };
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const parsed = parseAddress(addressText);
  if (!parsed.ok) return { ok: false, reason: `address ${parsed.reason}` };
  const { address } = parsed;
  const bits = addressBits(address.family);
  if (slash === -1) return { ok: true, cidr: { family: address.family, network: address.value, prefix: bits } };

  const prefixText = text.slice(slash + 1);
  if (!PREFIX_LENGTH.test(prefixText)) {
    return { ok: false, reason: `prefix length must be a number 0–${bits} without leading zeros or spaces` };
  }
  const prefix = Number(prefixText);
  if (prefix > bits) {
    return { ok: false, reason: `prefix length /${prefix} is out of range for IPv${address.family} (0–${bits})` };
  }

  const cidr = cidrOf(address, prefix);
  if (cidr.network !== address.value && (options.hostBits ?? 'reject') === 'reject') {
    const host = formatAddress(address);
    return {
      ok: false,
      reason:
        `host bits are set; write ${formatCidr(cidr)} for the whole network ` +
        `or ${host}/${bits} for the single address`,
    };
  }
  return { ok: true, cidr };
}
