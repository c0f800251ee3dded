/**
 * Vultr's instances, firewall groups and rules as the relay reads, compares
 * and writes them (API v2).
 *
 * - `GET /instances/{id}` → `{"instance":{id, label, main_ip, …, firewall_group_id}}`;
 *   an instance without a group reports `""` (null is accepted too).
 * - `GET /firewalls/{id}` → `{"firewall_group":{id, description, date_created,
 *   date_modified, instance_count, rule_count, max_rule_count}}`.
 * - `GET /firewalls/{id}/rules` → `{"firewall_rules":[{id, ip_type, action,
 *   protocol, port, subnet, subnet_size, source, notes}], "meta":{total, links:{next, prev}}}`.
 *
 * Rules only accept (there is no deny): a packet reaches an instance in a
 * group when some rule of the group matches it, and nothing else does.
 */
import { z } from 'zod';
import { cidrContains, formatCidr, parseCidr, type Cidr } from '../../ip/cidr.ts';
import { type LockdownRule, lockdownAllowances } from '../lockdown.ts';

/** What the relay keeps of an instance. */
export interface VultrInstance {
  id: string;
  label: string;
  /** `""` when the instance is in no firewall group. */
  firewall_group_id: string;
}

export interface VultrGroup {
  id: string;
  description: string;
  date_created: string;
  instance_count: number;
  rule_count: number;
  max_rule_count: number;
}

export interface VultrRule {
  id: number;
  ip_type: 'v4' | 'v6';
  protocol: string;
  /** `""` for icmp (and, when the API reports it for tcp/udp, every port). */
  port: string;
  subnet: string;
  subnet_size: number;
  /** `""` for an address rule; `cloudflare` or a load balancer id for the other kinds. */
  source: string;
  notes: string;
}

/** A rule the relay wants in its own group (the body of `POST /firewalls/{id}/rules`). */
export interface VultrRuleSpec {
  ip_type: 'v4' | 'v6';
  protocol: 'tcp' | 'udp' | 'icmp';
  subnet: string;
  subnet_size: number;
  /** Absent for icmp. */
  port?: string;
  notes: string;
}

const text = z
  .string()
  .nullish()
  .transform((value) => value ?? '');

export const instanceEnvelopeSchema = z.looseObject({
  instance: z.looseObject({
    id: z.string().min(1),
    label: text,
    firewall_group_id: z.string().nullable().transform((value) => value ?? ''),
  }),
});

const groupSchema = z.looseObject({
  id: z.string().min(1),
  description: text,
  date_created: text,
  instance_count: z.number().int().nonnegative(),
  rule_count: z.number().int().nonnegative(),
  max_rule_count: z.number().int().nonnegative(),
});

export const groupEnvelopeSchema = z.looseObject({ firewall_group: groupSchema });

const metaSchema = z.looseObject({
  total: z.number().int().nonnegative().optional(),
  links: z.looseObject({ next: text, prev: text }).optional(),
});

export const groupListSchema = z.looseObject({ firewall_groups: z.array(groupSchema), meta: metaSchema.optional() });

const ruleSchema = z.looseObject({
  id: z.number().int(),
  ip_type: z.enum(['v4', 'v6'], { error: 'must be "v4" or "v6"' }),
  action: z.string().optional(),
  protocol: z.string().transform((value) => value.toLowerCase()),
  port: z
    .union([z.string(), z.number()])
    .nullish()
    .transform((value) => (value === undefined || value === null ? '' : String(value))),
  subnet: z.string(),
  subnet_size: z.number().int().min(0).max(128),
  source: text,
  notes: text,
});

export const ruleEnvelopeSchema = z.looseObject({ firewall_rule: ruleSchema });
export const ruleListSchema = z.looseObject({ firewall_rules: z.array(ruleSchema), meta: metaSchema.optional() });

export function toGroup(group: z.output<typeof groupSchema>): VultrGroup {
  return {
    id: group.id,
    description: group.description,
    date_created: group.date_created,
    instance_count: group.instance_count,
    rule_count: group.rule_count,
    max_rule_count: group.max_rule_count,
  };
}

export function toRule(rule: z.output<typeof ruleSchema>): VultrRule {
  return {
    id: rule.id,
    ip_type: rule.ip_type,
    protocol: rule.protocol,
    port: rule.port,
    subnet: rule.subnet,
    subnet_size: rule.subnet_size,
    source: rule.source,
    notes: rule.notes,
  };
}

/** The description that marks the group the relay created for one integration (and finds again after a crash). */
export function relayGroupDescription(integrationId: string): string {
  return `flowtriq-relay lockdown (${integrationId})`;
}

/** `8000-9000` → `8000:9000` (Vultr's range form); every port when absent. */
function vultrPort(ports: string | undefined): string {
  if (ports === undefined) return '1:65535';
  return ports.includes('-') ? ports.replace('-', ':') : ports;
}

/**
 * The rules of the lockdown: one per source of each management and keep
 * rule (a Vultr rule has a single subnet), management first.
 */
export function lockdownRuleSpecs(options: { management: readonly LockdownRule[]; keep: readonly LockdownRule[] }): VultrRuleSpec[] {
  const specs: VultrRuleSpec[] = [];
  const management = new Set(options.management);
  for (const rule of lockdownAllowances(options)) {
    const notes = rule.description ?? (management.has(rule) ? 'flowtriq-relay management' : 'flowtriq-relay keep');
    for (const source of rule.sources) {
      const parsed = parseCidr(source);
      if (!parsed.ok) throw new Error(`unexpected source ${source}: ${parsed.reason}`);
      const [subnet, size] = formatCidr(parsed.cidr).split('/') as [string, string];
      const spec: VultrRuleSpec = {
        ip_type: parsed.cidr.family === 4 ? 'v4' : 'v6',
        protocol: rule.protocol,
        subnet,
        subnet_size: Number(size),
        notes,
      };
      if (rule.protocol !== 'icmp') spec.port = vultrPort(rule.ports);
      specs.push(spec);
    }
  }
  return specs;
}

/** Canonical port text: `8000:9000`, `22`, `""` (every port / none). */
export function canonicalPort(protocol: string, port: string): string {
  if (protocol !== 'tcp' && protocol !== 'udp') return '';
  const compact = port.replace(/\s+/g, '').replace('-', ':');
  const match = /^(\d+)(?::(\d+))?$/.exec(compact);
  if (!match) return compact;
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  return low === high ? String(low) : `${low}:${high}`;
}

function canonicalSubnet(subnet: string, size: number): string {
  const parsed = parseCidr(`${subnet}/${size}`, { hostBits: 'clear' });
  return parsed.ok ? formatCidr(parsed.cidr) : `${subnet.toLowerCase()}/${size}`;
}

/** What makes two rules the same rule (Vultr refuses to create a duplicate). Notes do not count. */
export function ruleKey(rule: Pick<VultrRule, 'ip_type' | 'protocol' | 'subnet' | 'subnet_size'> & { port?: string; source?: string }): string {
  return [rule.ip_type, rule.protocol, canonicalSubnet(rule.subnet, rule.subnet_size), canonicalPort(rule.protocol, rule.port ?? ''), rule.source ?? ''].join('|');
}

/** The inclusive port range a rule admits (`""` = every port). */
function portRange(protocol: string, port: string): [number, number] | undefined {
  const canonical = canonicalPort(protocol, port);
  if (canonical === '') return [1, 65535];
  const match = /^(\d+)(?::(\d+))?$/.exec(canonical);
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2] ?? match[1])];
}

function ruleCidr(rule: VultrRule): Cidr | undefined {
  const parsed = parseCidr(`${rule.subnet}/${rule.subnet_size}`, { hostBits: 'clear' });
  if (!parsed.ok) return undefined;
  const family = rule.ip_type === 'v4' ? 4 : 6;
  return parsed.cidr.family === family ? parsed.cidr : undefined;
}

/** True when `outer` contains every address of `inner`. */
function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  return cidrContains(outer, { family: inner.family, value: inner.network });
}

/**
 * True when one rule of the group admits every packet `allowance` lets in:
 * same protocol, a subnet holding the source, a port range holding the
 * ports. Rules with a `source` (Cloudflare, a load balancer) do not count.
 */
export function groupAdmits(rules: readonly VultrRule[], allowance: { protocol: string; ports?: string; source: string }): boolean {
  const parsed = parseCidr(allowance.source);
  if (!parsed.ok) return false;
  const wanted = allowance.protocol === 'icmp' ? undefined : portRange(allowance.protocol, allowance.ports?.replace('-', ':') ?? '');
  return rules.some((rule) => {
    if (rule.source !== '' || rule.protocol !== allowance.protocol) return false;
    const cidr = ruleCidr(rule);
    if (cidr === undefined || !cidrCovers(cidr, parsed.cidr)) return false;
    if (wanted === undefined) return true;
    const range = portRange(rule.protocol, rule.port);
    return range !== undefined && range[0] <= wanted[0] && range[1] >= wanted[1];
  });
}

/** The management rules (and sources) the group does not admit, as `tcp 22 from 203.0.113.10/32`. */
export function missingAllowances(rules: readonly VultrRule[], management: readonly LockdownRule[]): string[] {
  const missing: string[] = [];
  for (const rule of management) {
    for (const source of rule.sources) {
      if (!groupAdmits(rules, { protocol: rule.protocol, ...(rule.ports !== undefined ? { ports: rule.ports } : {}), source })) {
        missing.push(`${rule.protocol}${rule.ports !== undefined ? ` ${rule.ports}` : rule.protocol === 'icmp' ? '' : ' (every port)'} from ${source}`);
      }
    }
  }
  return missing;
}

/** One line for status and logs. */
export function describeGroup(group: VultrGroup): string {
  return `group ${group.id} "${group.description}" (${group.rule_count}/${group.max_rule_count} rules, ${group.instance_count} instance${group.instance_count === 1 ? '' : 's'})`;
}

export function describeGroupId(groupId: string): string {
  return groupId === '' ? 'no firewall group' : `group ${groupId}`;
}
