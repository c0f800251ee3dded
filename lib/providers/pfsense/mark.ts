/**
 * The relay's mark on the pfSense alias entries it adds: the entry's
 * description (`detail`, v1 and v2) reads `flowtriq-relay <incident> <ip>`.
 * Entries without it are the operator's and are never changed or removed.
 * The address is part of the mark so every relay entry's description is
 * unique: the v2 package removes descriptions by value (`array_diff`), so a
 * description shared by two entries would be removed for both.
 */
import { normalizeAddress } from '../../ip/address.ts';

export const PFSENSE_MARK_PREFIX = 'flowtriq-relay';

/** The description of a relay entry: `flowtriq-relay <incident> <ip>` (the incident that first held it). */
export function relayDetail(ip: string, incident: string | undefined): string {
  const who = incident !== undefined && /^[A-Za-z0-9_.:-]{1,64}$/.test(incident) ? incident : '-';
  return `${PFSENSE_MARK_PREFIX} ${who} ${ip}`;
}

/** Whether a stored description marks the entry as the relay's, for the address stored beside it. */
export function isRelayDetail(detail: string | undefined, address: string): boolean {
  if (detail === undefined) return false;
  const parts = detail.trim().split(/\s+/);
  if (parts.length !== 3 || parts[0] !== PFSENSE_MARK_PREFIX) return false;
  const marked = normalizeAddress(parts[2] as string);
  const stored = normalizeAddress(address);
  return marked.ok && stored.ok && marked.canonical === stored.canonical;
}
