/**
 * The NSG and security-rule resources as ARM returns them (api-version
 * 2024-05-01, networkSecurityGroup.json `NetworkSecurityGroup`,
 * `SecurityRule`, `SecurityRulePropertiesFormat`), validated with zod, and
 * the rule arithmetic the two modes share: the relay's target rules, a
 * canonical form of a rule's content for comparisons, and descriptions.
 *
 * Etags: a security rule's `etag` is the etag of its NSG (public API
 * captures show every child rule, default rules included, carrying the
 * NSG's etag; any write to the NSG changes them all). So an etag change
 * tells only that *something* in the NSG changed; whether the relay's rule
 * was edited is decided by comparing its content, and the etag read just
 * before a write goes into If-Match to catch a change in between.
 */
import { z } from 'zod';
import { formatAddress } from '../../ip/address.ts';
import { formatCidr, parseCidr } from '../../ip/cidr.ts';
import { type LockdownRule, lockdownAllowances, splitSources } from '../lockdown.ts';
import { type AzureNsgLockdownOptions, relayRuleNames } from './config.ts';

const text = z.string();
const textList = z.array(z.string());

export const securityRulePropertiesSchema = z.looseObject({
  provisioningState: text.optional(),
  description: text.optional(),
  protocol: text,
  sourcePortRange: text.optional(),
  sourcePortRanges: textList.optional(),
  destinationPortRange: text.optional(),
  destinationPortRanges: textList.optional(),
  sourceAddressPrefix: text.optional(),
  sourceAddressPrefixes: textList.optional(),
  destinationAddressPrefix: text.optional(),
  destinationAddressPrefixes: textList.optional(),
  sourceApplicationSecurityGroups: z.array(z.unknown()).optional(),
  destinationApplicationSecurityGroups: z.array(z.unknown()).optional(),
  access: z.enum(['Allow', 'Deny']),
  priority: z.number().int(),
  direction: z.enum(['Inbound', 'Outbound']),
});
export type SecurityRuleProperties = z.output<typeof securityRulePropertiesSchema>;

export const securityRuleSchema = z.looseObject({
  name: text,
  id: text.optional(),
  etag: text.optional(),
  type: text.optional(),
  properties: securityRulePropertiesSchema,
});
export type SecurityRule = z.output<typeof securityRuleSchema>;

const reference = z.looseObject({ id: text });

export const networkSecurityGroupSchema = z.looseObject({
  name: text,
  id: text,
  etag: text.optional(),
  location: text.optional(),
  properties: z.looseObject({
    provisioningState: text.optional(),
    resourceGuid: text.optional(),
    securityRules: z.array(securityRuleSchema).optional(),
    defaultSecurityRules: z.array(securityRuleSchema).optional(),
    networkInterfaces: z.array(reference).optional(),
    subnets: z.array(reference).optional(),
  }),
});
export type NetworkSecurityGroup = z.output<typeof networkSecurityGroupSchema>;

/** Status body of an `Azure-AsyncOperation` URL. */
export const asyncOperationSchema = z.looseObject({
  status: text,
  error: z.looseObject({ code: text.optional(), message: text.optional() }).optional(),
});

/** The `properties` the relay PUTs: every field it sets, nothing read-only. */
export interface RuleBody {
  description?: string;
  protocol: string;
  sourcePortRange: string;
  destinationPortRange: string;
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  destinationAddressPrefix: string;
  access: 'Allow' | 'Deny';
  priority: number;
  direction: 'Inbound';
}

/** A rule of the relay: its name and the properties it should have. */
export interface TargetRule {
  name: string;
  role: 'allow' | 'deny';
  body: RuleBody;
}

/** A rule's content in comparable form: what the rule does, without server-stamped fields. */
export interface RuleContent {
  access: string;
  direction: string;
  priority: number;
  protocol: string;
  sources: string[];
  sourcePorts: string[];
  destinations: string[];
  destinationPorts: string[];
  description: string;
}

const PROTOCOL: Record<LockdownRule['protocol'], string> = { tcp: 'Tcp', udp: 'Udp', icmp: 'Icmp' };

/** A prefix or tag in comparable form: CIDRs canonical (`10.0.0.1` → `10.0.0.1/32`), tags as written. */
function canonicalPrefix(value: string): string {
  const parsed = parseCidr(value.trim(), { hostBits: 'clear' });
  return parsed.ok ? formatCidr(parsed.cidr) : value.trim();
}

function merged(single: string | undefined, list: readonly string[] | undefined): string[] {
  const values = [...(list ?? [])];
  if (single !== undefined && single !== '') values.push(single);
  return values;
}

export function ruleContent(properties: SecurityRuleProperties | RuleBody): RuleContent {
  const p = properties as SecurityRuleProperties;
  const sorted = (values: string[]) => [...new Set(values)].sort();
  return {
    access: p.access,
    direction: p.direction,
    priority: p.priority,
    protocol: p.protocol,
    sources: sorted(merged(p.sourceAddressPrefix, p.sourceAddressPrefixes).map(canonicalPrefix)),
    sourcePorts: sorted(merged(p.sourcePortRange, p.sourcePortRanges)),
    destinations: sorted(merged(p.destinationAddressPrefix, p.destinationAddressPrefixes).map(canonicalPrefix)),
    destinationPorts: sorted(merged(p.destinationPortRange, p.destinationPortRanges)),
    description: p.description ?? '',
  };
}

export function sameContent(a: RuleContent, b: RuleContent): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The lockdown's rules, in the order they are written: one Allow per
 * management/keep rule and address family (Azure refuses mixed families in
 * one rule) at the band's first priorities, then the Deny of everything at
 * the band's last priority.
 */
export function lockdownTargets(integrationId: string, options: Pick<AzureNsgLockdownOptions, 'management' | 'keep' | 'priorityBand'>): TargetRule[] {
  const names = relayRuleNames(integrationId);
  const targets: TargetRule[] = [];
  const managementCount = options.management.length;
  lockdownAllowances(options).forEach((allowance, index) => {
    const { ipv4, ipv6 } = splitSources(allowance.sources);
    const kind = index < managementCount ? 'management allowance' : 'keep rule';
    for (const sources of [ipv4, ipv6]) {
      if (sources.length === 0) continue;
      const n = targets.length + 1;
      targets.push({
        name: names.allow(n),
        role: 'allow',
        body: {
          description: `flowtriq-relay lockdown: ${allowance.description ?? kind}`.slice(0, 140),
          protocol: PROTOCOL[allowance.protocol],
          sourcePortRange: '*',
          destinationPortRange: allowance.protocol === 'icmp' ? '*' : (allowance.ports ?? '*'),
          sourceAddressPrefixes: [...sources],
          destinationAddressPrefix: '*',
          access: 'Allow',
          priority: options.priorityBand.from + n - 1,
          direction: 'Inbound',
        },
      });
    }
  });
  targets.push({
    name: names.deny,
    role: 'deny',
    body: {
      description: 'flowtriq-relay lockdown: deny all other inbound traffic',
      protocol: '*',
      sourcePortRange: '*',
      destinationPortRange: '*',
      sourceAddressPrefix: '*',
      destinationAddressPrefix: '*',
      access: 'Deny',
      priority: options.priorityBand.to,
      direction: 'Inbound',
    },
  });
  return targets;
}

/** The body of a block rule holding `addresses` (bare canonical addresses). */
export function blockRuleBody(priority: number, family: 4 | 6, addresses: string[]): RuleBody {
  return {
    description: `flowtriq-relay: attacker addresses (IPv${family}), managed by the relay`,
    protocol: '*',
    sourcePortRange: '*',
    destinationPortRange: '*',
    sourceAddressPrefixes: addresses,
    destinationAddressPrefix: '*',
    access: 'Deny',
    priority,
    direction: 'Inbound',
  };
}

/**
 * The prefixes of a block rule: single addresses in canonical form
 * (`203.0.113.7`, from `203.0.113.7` or `203.0.113.7/32`), and anything else
 * (a range someone added by hand) apart, to be kept untouched.
 */
export function blockEntries(properties: SecurityRuleProperties): { addresses: string[]; others: string[] } {
  const addresses: string[] = [];
  const others: string[] = [];
  for (const value of merged(properties.sourceAddressPrefix, properties.sourceAddressPrefixes)) {
    const parsed = parseCidr(value.trim(), { hostBits: 'clear' });
    if (parsed.ok && parsed.cidr.prefix === (parsed.cidr.family === 4 ? 32 : 128)) {
      const address = formatAddress({ family: parsed.cidr.family, value: parsed.cidr.network });
      if (!addresses.includes(address)) addresses.push(address);
    } else {
      others.push(value);
    }
  }
  return { addresses, others };
}

/** The rules of the NSG by name. */
export function rulesByName(nsg: NetworkSecurityGroup): Map<string, SecurityRule> {
  return new Map((nsg.properties.securityRules ?? []).map((rule) => [rule.name, rule]));
}

/**
 * Inbound rules that are not the relay's and use a priority in [from, to]:
 * the relay refuses to work in an occupied band.
 */
export function bandClashes(nsg: NetworkSecurityGroup, band: { from: number; to: number }, relayNames: ReadonlySet<string>): SecurityRule[] {
  return (nsg.properties.securityRules ?? []).filter(
    (rule) =>
      rule.properties.direction === 'Inbound' &&
      rule.properties.priority >= band.from &&
      rule.properties.priority <= band.to &&
      !relayNames.has(rule.name),
  );
}

export function describeClashes(clashes: SecurityRule[], band: { from: number; to: number }): string {
  const listed = clashes
    .slice(0, 5)
    .map((rule) => `"${rule.name}" (priority ${rule.properties.priority})`)
    .join(', ');
  return (
    `priority band ${band.from}–${band.to} (options.priorityBand) is used by ${clashes.length === 1 ? 'the Inbound rule' : 'Inbound rules'} ${listed}${clashes.length > 5 ? ' and more' : ''} ` +
    'that the relay does not own; move those rules to other priorities or choose a free band. The relay changes nothing until then'
  );
}

/** One line about the NSG for summaries and health. */
export function describeNsg(nsg: NetworkSecurityGroup, relayNames: ReadonlySet<string>): string {
  const rules = nsg.properties.securityRules ?? [];
  const relay = rules.filter((rule) => relayNames.has(rule.name)).length;
  const inbound = rules.filter((rule) => rule.properties.direction === 'Inbound' && !relayNames.has(rule.name)).length;
  const nics = nsg.properties.networkInterfaces?.length ?? 0;
  const subnets = nsg.properties.subnets?.length ?? 0;
  return `NSG ${nsg.name}: ${rules.length} rules (${inbound} inbound of yours, ${relay} of the relay), attached to ${nics} network interface${nics === 1 ? '' : 's'} and ${subnets} subnet${subnets === 1 ? '' : 's'}${
    nsg.properties.provisioningState && nsg.properties.provisioningState !== 'Succeeded' ? `, ${nsg.properties.provisioningState}` : ''
  }`;
}
