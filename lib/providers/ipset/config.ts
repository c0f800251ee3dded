/**
 * Configuration of the `ipset` integration (Flowtriq's "iptables" row): the
 * relay keeps attacker addresses in two ipsets (`hash:ip`, family inet and
 * inet6, with `timeout` and `comment`) on the protected host; the operator's
 * own iptables/ip6tables rule (`-m set --match-set … src -j DROP`) does the
 * dropping. The relay never creates or changes sets or rules.
 *
 * No secrets: the relay needs root or CAP_NET_ADMIN on the host instead.
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `type: 'ipset'`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { MARK_RULE } from '../nftables/config.ts';

/** ipset names: at most 31 characters (IPSET_MAXNAMELEN is 32 with the NUL). */
export const IPSET_NAME_RULE = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/;

const setName = (what: string) =>
  z.string().regex(IPSET_NAME_RULE, `${what} must start with a letter and use 1–31 letters, digits, "_", "." or "-"`);

/** `integrations[].options` of an `ipset` integration. */
export const ipsetOptionsSchema = z
  .object({
    ipv4Set: setName('ipv4Set')
      .default('flowtriq_v4')
      .describe('ipset of type hash:ip, family inet, created with timeout and comment, that receives IPv4 attackers.'),
    ipv6Set: setName('ipv6Set')
      .default('flowtriq_v6')
      .describe('ipset of type hash:ip, family inet6, created with timeout and comment, that receives IPv6 attackers.'),
    comment: z
      .string()
      .regex(MARK_RULE, 'use 1–64 letters, digits, ".", ":", "_" or "-"')
      .default('flowtriq-relay')
      .describe('Entry comment marking the relay\'s entries: only entries with exactly this comment are ever removed.'),
    elementTimeout: z
      .enum(['ttl', 'none'], { error: 'must be "ttl" or "none"' })
      .default('ttl')
      .describe(
        'ttl: each entry carries a kernel timeout equal to what is left of its TTL (at most 2147483 s, about 24.8 days), so it goes away even if the relay does not (the sets need timeout); none: entries stay until the relay removes them.',
      ),
    timeout: duration({ min: '1s', max: '60s' }).prefault('10s').describe('Longest one ipset command may take.'),
  })
  .strict()
  .refine((options) => options.ipv4Set !== options.ipv6Set, { path: ['ipv6Set'], message: 'must differ from ipv4Set' });
export type IpsetOptions = z.output<typeof ipsetOptionsSchema>;
