/**
 * What every cloud-firewall lockdown shares (DigitalOcean, Vultr, Linode,
 * Google Cloud, Azure): the operator's **management allowance** — the
 * sources and ports that stay reachable while the relay has the firewall
 * locked down — and optional **keep** rules that stay open as well.
 *
 * The allowance is required and may not be the whole Internet: a lockdown
 * that leaves no way in locks the operator out of their own servers, and an
 * allowance of `0.0.0.0/0` or `::/0` is no lockdown at all. Each provider
 * turns these rules into its own rule format.
 *
 * The lead wraps these into each provider's options schema as
 * `options.management` and `options.keep`.
 */
import { z } from 'zod';
import { formatCidr, parseCidr } from '../ip/cidr.ts';

export const LOCKDOWN_PROTOCOLS = ['tcp', 'udp', 'icmp'] as const;
export type LockdownProtocol = (typeof LOCKDOWN_PROTOCOLS)[number];

/** A port (`22`) or an inclusive range (`8000-9000`); canonical text after parsing. */
const PORTS = /^(\d{1,5})(?:-(\d{1,5}))?$/;

function portsSchema() {
  const message = 'must be a port (1–65535) or a range such as 8000-9000';
  const canonical = (value: string): string | undefined => {
    const match = PORTS.exec(value);
    if (!match) return undefined;
    const low = Number(match[1]);
    const high = match[2] === undefined ? low : Number(match[2]);
    if (low < 1 || high > 65535 || low > high) return undefined;
    return low === high ? String(low) : `${low}-${high}`;
  };
  // A union with a transform per member (a number|string pipe reads as a duration to the JSON Schema generator).
  return z.union(
    [
      z.number().int().min(1).max(65535).transform(String),
      z.string().transform((value, ctx) => {
        const result = canonical(value.trim());
        if (result === undefined) {
          ctx.addIssue({ code: 'custom', message });
          return z.NEVER;
        }
        return result;
      }),
    ],
    { error: message },
  );
}

/** An address or CIDR in canonical text (`198.51.100.7` → `198.51.100.7/32`). */
export const lockdownSourceSchema = z.string().transform((value, ctx) => {
  const parsed = parseCidr(value.trim());
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `must be an address or CIDR such as 198.51.100.0/24: ${parsed.reason}` });
    return z.NEVER;
  }
  return formatCidr(parsed.cidr);
});

/** One inbound allowance: these sources may reach these ports over this protocol. */
export const lockdownRuleSchema = z
  .object({
    protocol: z
      .enum(LOCKDOWN_PROTOCOLS, { error: `must be one of ${LOCKDOWN_PROTOCOLS.join(', ')}` })
      .describe('tcp, udp or icmp.'),
    ports: portsSchema()
      .optional()
      .describe('Destination port or range (tcp/udp); every port when absent. Not allowed for icmp.'),
    sources: z
      .array(lockdownSourceSchema)
      .min(1, 'list at least one source address or CIDR')
      .max(255, 'at most 255 sources per rule (Linode\'s per-rule limit); split them over several rules')
      .refine((list) => new Set(list).size === list.length, 'lists a source twice')
      .describe('Source addresses or CIDRs allowed in (IPv4 and IPv6 may be mixed).'),
    description: z
      .string()
      .regex(/^[\w .:,()/+-]{1,64}$/, 'use 1–64 letters, digits, spaces or _ . : , ( ) / + -')
      .optional()
      .describe('What the rule is for (shown in the provider\'s console where it has a field for it).'),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.protocol === 'icmp' && rule.ports !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['ports'], message: 'icmp has no ports: leave ports out' });
    }
  });
export type LockdownRule = z.output<typeof lockdownRuleSchema>;

/** True for `0.0.0.0/0` and `::/0` (canonical form). */
export function isWholeInternet(source: string): boolean {
  return source.endsWith('/0');
}

/**
 * `options.management`: required, at least one rule, none open to the whole
 * Internet. Every message names the fix.
 */
export const managementAllowanceSchema = z
  .array(lockdownRuleSchema, {
    error: 'is required: list the sources and ports you manage the servers from (e.g. [{ protocol: tcp, ports: 22, sources: [203.0.113.10/32] }]), or the lockdown would lock you out too',
  })
  .min(1, 'list at least one rule with the sources and ports you manage the servers from (e.g. { protocol: tcp, ports: 22, sources: [203.0.113.10/32] }); a lockdown without one would lock you out too')
  .max(10, 'at most 10 management rules; merge sources into fewer rules')
  .superRefine((rules, ctx) => {
    rules.forEach((rule, index) => {
      rule.sources.forEach((source, sourceIndex) => {
        if (isWholeInternet(source)) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'sources', sourceIndex],
            message: `${source} allows the whole Internet in, which is no lockdown: list the addresses you manage from (your office or VPN egress, a bastion host)`,
          });
        }
      });
    });
  })
  .describe('Sources and ports that stay reachable during a lockdown (SSH from your office or VPN, a bastion host). Required; never 0.0.0.0/0 or ::/0.');

/** `options.keep`: further inbound rules that stay open during the lockdown (a scrubbing provider's ranges, a health checker). */
export const keepRulesSchema = z
  .array(lockdownRuleSchema)
  .max(20, 'at most 20 keep rules; merge sources into fewer rules')
  .prefault([])
  .describe('Further inbound rules that stay open during a lockdown (a scrubbing provider\'s ranges, a load balancer\'s health checks). Empty by default.');

/** Every rule the lockdown lets in: management first, then keep. */
export function lockdownAllowances(options: { management: readonly LockdownRule[]; keep: readonly LockdownRule[] }): LockdownRule[] {
  return [...options.management, ...options.keep];
}

/** IPv4 and IPv6 sources of a rule, apart (providers that file them separately). */
export function splitSources(sources: readonly string[]): { ipv4: string[]; ipv6: string[] } {
  return {
    ipv4: sources.filter((source) => !source.includes(':')),
    ipv6: sources.filter((source) => source.includes(':')),
  };
}
