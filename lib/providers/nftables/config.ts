/**
 * Configuration of the `nftables` integration: the relay keeps attacker
 * addresses in two named sets (IPv4 and IPv6) of an nftables table on the
 * protected host; the operator's own rule drops what is in them. The relay
 * never creates or changes tables, sets, chains or rules.
 *
 * No secrets: the relay needs root or CAP_NET_ADMIN on the host instead.
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `type: 'nftables'`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';

export const NFTABLES_FAMILIES = ['inet', 'ip', 'ip6', 'netdev', 'bridge'] as const;

/** Table and set names: a conservative subset of nft identifiers. */
export const NFT_NAME_RULE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** The relay's mark: written as an element comment. */
export const MARK_RULE = /^[A-Za-z0-9_.:-]{1,64}$/;

const nftName = (what: string) =>
  z.string().regex(NFT_NAME_RULE, `${what} must start with a letter and use 1–64 letters, digits or "_"`);

/** `integrations[].options` of an `nftables` integration. */
export const nftablesOptionsSchema = z
  .object({
    family: z
      .enum(NFTABLES_FAMILIES, { error: `must be one of ${NFTABLES_FAMILIES.join(', ')}` })
      .default('inet')
      .describe('Address family of the table holding the sets (inet covers IPv4 and IPv6 in one table).'),
    table: nftName('table').default('flowtriq').describe('The nftables table that holds the two sets (created by you, never by the relay).'),
    ipv4Set: nftName('ipv4Set')
      .default('flowtriq_v4')
      .describe('Set of type ipv4_addr (flags timeout) that receives IPv4 attackers.'),
    ipv6Set: nftName('ipv6Set')
      .default('flowtriq_v6')
      .describe('Set of type ipv6_addr (flags timeout) that receives IPv6 attackers.'),
    comment: z
      .string()
      .regex(MARK_RULE, 'use 1–64 letters, digits, ".", ":", "_" or "-"')
      .default('flowtriq-relay')
      .describe('Element comment marking the relay\'s elements: only elements with exactly this comment are ever removed.'),
    elementTimeout: z
      .enum(['ttl', 'none'], { error: 'must be "ttl" or "none"' })
      .default('ttl')
      .describe(
        'ttl: each element carries a kernel timeout equal to what is left of its TTL, so it goes away even if the relay does not (the sets need flags timeout); none: elements stay until the relay removes them.',
      ),
    timeout: duration({ min: '1s', max: '60s' }).prefault('10s').describe('Longest one nft command may take.'),
  })
  .strict()
  .refine((options) => options.ipv4Set !== options.ipv6Set, { path: ['ipv6Set'], message: 'must differ from ipv4Set' });
export type NftablesOptions = z.output<typeof nftablesOptionsSchema>;
