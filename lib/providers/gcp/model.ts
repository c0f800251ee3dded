/**
 * VPC firewall rules as the relay reads, compares and writes them.
 *
 * `GET /projects/{p}/global/firewalls/{name}` answers the Firewall resource
 * `{kind, id, creationTimestamp, name, description, network (URL), priority,
 * sourceRanges?, destinationRanges?, sourceTags?, targetTags?,
 * sourceServiceAccounts?, targetServiceAccounts?, allowed?|denied?:
 * [{IPProtocol, ports?}], direction, logConfig?, disabled, selfLink}`;
 * empty lists are left out. The resource has no fingerprint or etag, so the
 * relay tells a change made by someone else by comparing every field that
 * decides what the rule does (its "content") with what it wrote.
 *
 * A rule holds IPv4 or IPv6 ranges, never both (Google: "A firewall rule can
 * contain either IPv4 or IPv6 ranges, but not both"), so every relay rule is
 * per address family.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { formatCidr, parseCidr } from '../../ip/cidr.ts';
import { type LockdownRule, lockdownAllowances, splitSources } from '../lockdown.ts';
import type { GcpBlockOptions, GcpLockdownOptions } from './config.ts';

export interface ProtocolPorts {
  IPProtocol: string;
  ports?: string[];
}

const protocolSchema = z.looseObject({ IPProtocol: z.string(), ports: z.array(z.string()).optional() });
const list = z.array(z.string()).optional().transform((value) => value ?? []);

export const firewallSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string(),
  description: z.string().optional(),
  network: z.string(),
  priority: z.number().int().optional().transform((value) => value ?? 1000),
  direction: z.enum(['INGRESS', 'EGRESS']).optional().transform((value) => value ?? 'INGRESS'),
  sourceRanges: list,
  destinationRanges: list,
  sourceTags: list,
  targetTags: list,
  sourceServiceAccounts: list,
  targetServiceAccounts: list,
  allowed: z.array(protocolSchema).optional().transform((value) => value ?? []),
  denied: z.array(protocolSchema).optional().transform((value) => value ?? []),
  disabled: z.boolean().optional().transform((value) => value ?? false),
});
export type Firewall = z.output<typeof firewallSchema>;

/** What decides the effect of a rule, canonical (sorted, CIDRs canonical, network by name). */
export interface RuleContent {
  network: string;
  direction: string;
  priority: number;
  sourceRanges: string[];
  destinationRanges: string[];
  sourceTags: string[];
  targetTags: string[];
  sourceServiceAccounts: string[];
  targetServiceAccounts: string[];
  allowed: ProtocolPorts[];
  denied: ProtocolPorts[];
}

export const CONTENT_FIELDS = [
  'network',
  'direction',
  'priority',
  'sourceRanges',
  'destinationRanges',
  'sourceTags',
  'targetTags',
  'sourceServiceAccounts',
  'targetServiceAccounts',
  'allowed',
  'denied',
] as const;

export const ruleContentSchema: z.ZodType<RuleContent> = z.object({
  network: z.string(),
  direction: z.string(),
  priority: z.number().int(),
  sourceRanges: z.array(z.string()),
  destinationRanges: z.array(z.string()),
  sourceTags: z.array(z.string()),
  targetTags: z.array(z.string()),
  sourceServiceAccounts: z.array(z.string()),
  targetServiceAccounts: z.array(z.string()),
  allowed: z.array(z.object({ IPProtocol: z.string(), ports: z.array(z.string()).optional() })),
  denied: z.array(z.object({ IPProtocol: z.string(), ports: z.array(z.string()).optional() })),
});

/** The network's name from a URL or a partial one (`…/global/networks/NAME`). */
export function networkName(network: string): string {
  const parts = network.split('/');
  return parts[parts.length - 1] ?? network;
}

export function canonicalRange(range: string): string {
  const parsed = parseCidr(range.trim(), { hostBits: 'clear' });
  return parsed.ok ? formatCidr(parsed.cidr) : range.trim().toLowerCase();
}

const sorted = (values: readonly string[]) => [...values].sort();

function canonicalProtocols(entries: readonly ProtocolPorts[]): ProtocolPorts[] {
  return entries
    .map((entry) => ({
      IPProtocol: entry.IPProtocol.toLowerCase(),
      ...(entry.ports && entry.ports.length > 0 ? { ports: sorted(entry.ports) } : {}),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** The content of a rule as read, or as the relay means to write it. */
export function contentOf(rule: {
  network: string;
  direction?: string;
  priority?: number;
  sourceRanges?: readonly string[];
  destinationRanges?: readonly string[];
  sourceTags?: readonly string[];
  targetTags?: readonly string[];
  sourceServiceAccounts?: readonly string[];
  targetServiceAccounts?: readonly string[];
  allowed?: readonly ProtocolPorts[];
  denied?: readonly ProtocolPorts[];
}): RuleContent {
  return {
    network: networkName(rule.network),
    direction: rule.direction ?? 'INGRESS',
    priority: rule.priority ?? 1000,
    sourceRanges: sorted((rule.sourceRanges ?? []).map(canonicalRange)),
    destinationRanges: sorted((rule.destinationRanges ?? []).map(canonicalRange)),
    sourceTags: sorted(rule.sourceTags ?? []),
    targetTags: sorted(rule.targetTags ?? []),
    sourceServiceAccounts: sorted(rule.sourceServiceAccounts ?? []),
    targetServiceAccounts: sorted(rule.targetServiceAccounts ?? []),
    allowed: canonicalProtocols(rule.allowed ?? []),
    denied: canonicalProtocols(rule.denied ?? []),
  };
}

/** The content fields that differ (empty when the same). */
export function contentDiff(a: RuleContent, b: RuleContent, ignore: readonly (typeof CONTENT_FIELDS)[number][] = []): string[] {
  return CONTENT_FIELDS.filter((field) => !ignore.includes(field) && JSON.stringify(a[field]) !== JSON.stringify(b[field]));
}

/** The body of `POST /global/firewalls` for a relay rule. */
export interface FirewallInsert {
  name: string;
  description: string;
  network: string;
  direction: 'INGRESS';
  priority: number;
  sourceRanges: string[];
  targetTags?: string[];
  allowed?: ProtocolPorts[];
  denied?: ProtocolPorts[];
  disabled: boolean;
}

/** One rule of the lockdown, planned from the config. */
export interface PlannedRule {
  name: string;
  role: 'allow' | 'deny';
  family: 4 | 6;
  /** Inserted disabled; enabled during an attack. */
  insert: FirewallInsert;
  content: RuleContent;
}

export const plannedRuleSchema: z.ZodType<PlannedRule> = z.object({
  name: z.string(),
  role: z.enum(['allow', 'deny']),
  family: z.union([z.literal(4), z.literal(6)]),
  insert: z.object({
    name: z.string(),
    description: z.string(),
    network: z.string(),
    direction: z.literal('INGRESS'),
    priority: z.number().int(),
    sourceRanges: z.array(z.string()),
    targetTags: z.array(z.string()).optional(),
    allowed: z.array(z.object({ IPProtocol: z.string(), ports: z.array(z.string()).optional() })).optional(),
    denied: z.array(z.object({ IPProtocol: z.string(), ports: z.array(z.string()).optional() })).optional(),
    disabled: z.boolean(),
  }),
  content: ruleContentSchema,
});

export function networkPath(project: string, network: string): string {
  return `projects/${project}/global/networks/${network}`;
}

/**
 * Google's protocol entry for an allowance. ICMP over IPv6 is protocol 58
 * (ICMPv6); `icmp` names ICMP for IPv4 only.
 */
function protocolEntry(rule: LockdownRule, family: 4 | 6): ProtocolPorts {
  if (rule.protocol === 'icmp') return { IPProtocol: family === 4 ? 'icmp' : '58' };
  return { IPProtocol: rule.protocol, ...(rule.ports !== undefined ? { ports: [rule.ports] } : {}) };
}

/** A short, stable digest of a rule's content: a rule whose content changes gets another name. */
function digest(content: RuleContent): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 10);
}

/**
 * The lockdown's rules: one allow rule per allowance and address family at
 * `priority` (management first, then keep), then a deny-all per family at
 * `priority + 1`. Each name carries a digest of its content, so a rule is
 * found again by name, and a rule that no longer matches its name was
 * changed by someone else.
 */
export function planLockdown(options: GcpLockdownOptions, project: string): PlannedRule[] {
  const network = networkPath(project, options.network);
  const targetTags = [...options.targetTags];
  const rules: PlannedRule[] = [];
  const make = (role: 'allow' | 'deny', family: 4 | 6, description: string, fields: Pick<FirewallInsert, 'priority' | 'sourceRanges' | 'allowed' | 'denied'>): PlannedRule => {
    const content = contentOf({ network, direction: 'INGRESS', targetTags, ...fields });
    const name = `${options.ruleNamePrefix}-${role}-${digest(content)}`;
    return {
      name,
      role,
      family,
      insert: { name, description, network, direction: 'INGRESS', targetTags, disabled: true, ...fields },
      content,
    };
  };
  const allowances = lockdownAllowances(options);
  allowances.forEach((rule, index) => {
    const kind = index < options.management.length ? 'management' : 'keep';
    const { ipv4, ipv6 } = splitSources(rule.sources);
    for (const [family, sources] of [[4, ipv4], [6, ipv6]] as const) {
      if (sources.length === 0) continue;
      const what = `${rule.protocol}${rule.ports !== undefined ? ` ${rule.ports}` : ''}${rule.description ? ` (${rule.description})` : ''}`;
      rules.push(
        make('allow', family, `flowtriq-relay lockdown: ${kind} allowance ${what}, IPv${family}; enabled only during an attack`, {
          priority: options.priority,
          sourceRanges: [...sources],
          allowed: [protocolEntry(rule, family)],
        }),
      );
    }
  });
  rules.push(
    make('deny', 4, 'flowtriq-relay lockdown: deny all other IPv4 ingress; enabled only during an attack', {
      priority: options.priority + 1,
      sourceRanges: ['0.0.0.0/0'],
      denied: [{ IPProtocol: 'all' }],
    }),
    make('deny', 6, 'flowtriq-relay lockdown: deny all other IPv6 ingress; enabled only during an attack', {
      priority: options.priority + 1,
      sourceRanges: ['::/0'],
      denied: [{ IPProtocol: 'all' }],
    }),
  );
  return rules;
}

/**
 * Harmless sources of an emptied block rule, which stays disabled: an
 * INGRESS rule without sources means every source (0.0.0.0/0), so a rule is
 * never left without one. Documentation ranges (RFC 5737, RFC 3849), never
 * routed on the Internet, and not single addresses (list() reports those).
 */
export const BLOCK_PLACEHOLDER = { 4: '192.0.2.0/24', 6: '2001:db8::/32' } as const;

/** The block rule of one family: its name and what it must keep besides its sources. */
export interface BlockRulePlan {
  name: string;
  family: 4 | 6;
  network: string;
  description: string;
  targetTags: string[];
  priority: number;
}

export function planBlock(options: GcpBlockOptions, project: string): Record<4 | 6, BlockRulePlan> {
  const network = networkPath(project, options.network);
  const make = (family: 4 | 6): BlockRulePlan => ({
    name: `${options.ruleNamePrefix}-block-v${family}`,
    family,
    network,
    description: `flowtriq-relay block: IPv${family} attacker addresses, managed by the relay; do not edit`,
    targetTags: [...(options.targetTags ?? [])],
    priority: options.priority,
  });
  return { 4: make(4), 6: make(6) };
}

/** The content a block rule must have, with these sources. */
export function blockContent(plan: BlockRulePlan, sourceRanges: readonly string[]): RuleContent {
  return contentOf({ network: plan.network, direction: 'INGRESS', priority: plan.priority, sourceRanges, targetTags: plan.targetTags, denied: [{ IPProtocol: 'all' }] });
}

/** One line for status and logs. */
export function describeRule(rule: Firewall | undefined, name: string): string {
  if (rule === undefined) return `${name}: absent`;
  return `${name}: ${rule.disabled ? 'disabled' : 'enabled'}, priority ${rule.priority}, ${rule.sourceRanges.length} source range${rule.sourceRanges.length === 1 ? '' : 's'}`;
}
