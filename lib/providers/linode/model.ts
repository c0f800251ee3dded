/**
 * Linode Cloud Firewall rules as the relay reads, stores, compares and writes
 * them.
 *
 * `GET /v4/networking/firewalls/{id}/rules` answers
 * `{inbound:[Rule], inbound_policy, outbound:[Rule], outbound_policy,
 * version, fingerprint}`; `version` and `fingerprint` are read-only (they
 * change with every rule update) and are never sent back. `PUT` on the same
 * path replaces all inbound and outbound rules and both policies at once.
 *
 * A rule is `{action, protocol, ports?, addresses:{ipv4?, ipv6?}, label?,
 * description?}`, or a reference to a shared rule set `{ruleset: id}`; the
 * relay keeps every rule it did not write verbatim (unknown keys included) so
 * restore puts back exactly what was there.
 *
 * `GET /v4/networking/firewalls/{id}` gives the firewall's `status`
 * (enabled/disabled) and `entities` (what it is attached to).
 */
import { z } from 'zod';
import { formatCidr, parseCidr } from '../../ip/cidr.ts';
import { type LockdownRule, splitSources } from '../lockdown.ts';
import type { LinodeOptions } from './config.ts';

/** One rule as Linode reports it; keys the relay does not know are kept. */
export type LinodeRule = Record<string, unknown> & {
  action?: string;
  protocol?: string;
  ports?: string;
  addresses?: { ipv4?: string[] | null; ipv6?: string[] | null } | null;
  label?: string | null;
  description?: string | null;
};

export type LinodePolicy = 'ACCEPT' | 'DROP';

/** What PUT …/rules takes: the writable part of a rule set. */
export interface LinodeRulesBody {
  inbound: LinodeRule[];
  inbound_policy: LinodePolicy;
  outbound: LinodeRule[];
  outbound_policy: LinodePolicy;
}

/** A rule set as read, with its read-only stamps. */
export interface LinodeRules extends LinodeRulesBody {
  version: number | null;
  fingerprint: string | null;
}

export interface LinodeEntity {
  id: number;
  type: string;
  label: string | null;
}

/** What the relay keeps of `GET /v4/networking/firewalls/{id}`. */
export interface LinodeFirewall {
  id: number;
  label: string;
  status: string;
  /** Undefined when the answer has no `entities` (older API): the devices list is read instead. */
  entities: LinodeEntity[] | undefined;
}

const policy = z.enum(['ACCEPT', 'DROP'], { error: 'must be "ACCEPT" or "DROP"' });
const addressList = z.array(z.string()).nullish();

export const ruleSchema = z.looseObject({
  action: z.string().optional(),
  protocol: z.string().optional(),
  ports: z.string().optional(),
  addresses: z.looseObject({ ipv4: addressList, ipv6: addressList }).nullish(),
  label: z.string().nullish(),
  description: z.string().nullish(),
  ruleset: z.number().int().optional(),
});

/** A rule list; `null` (older answers for an empty list) reads as []. */
const ruleList = z
  .array(ruleSchema)
  .nullish()
  .transform((rules) => (rules ?? []) as LinodeRule[]);

export const rulesSchema = z.looseObject({
  inbound: ruleList,
  inbound_policy: policy,
  outbound: ruleList,
  outbound_policy: policy,
  version: z.number().int().nullish().transform((value) => value ?? null),
  fingerprint: z.string().nullish().transform((value) => value ?? null),
});

const entitySchema = z.looseObject({
  id: z.number().int(),
  type: z.string(),
  label: z.string().nullish().transform((value) => value ?? null),
});

export const firewallSchema = z.looseObject({
  id: z.number().int(),
  label: z.string(),
  status: z.string(),
  entities: z.array(entitySchema).optional(),
});

export const devicesPageSchema = z.looseObject({
  data: z.array(z.looseObject({ id: z.number().int(), entity: entitySchema })),
  page: z.number().int(),
  pages: z.number().int(),
  results: z.number().int(),
});

export function toRules(parsed: z.output<typeof rulesSchema>): LinodeRules {
  return {
    inbound: parsed.inbound,
    inbound_policy: parsed.inbound_policy,
    outbound: parsed.outbound,
    outbound_policy: parsed.outbound_policy,
    version: parsed.version,
    fingerprint: parsed.fingerprint,
  };
}

export function toFirewall(parsed: z.output<typeof firewallSchema>): LinodeFirewall {
  return {
    id: parsed.id,
    label: parsed.label,
    status: parsed.status,
    entities: parsed.entities?.map((entity) => ({ id: entity.id, type: entity.type, label: entity.label })),
  };
}

/** A rule as sent: keys holding `null` are left out (absent = not set), everything else as read. */
function writableRule(rule: LinodeRule): LinodeRule {
  const out: LinodeRule = {};
  for (const [key, value] of Object.entries(rule)) {
    if (value === null || value === undefined) continue;
    if (key === 'addresses' && typeof value === 'object') {
      const addresses: Record<string, unknown> = {};
      for (const [family, list] of Object.entries(value as Record<string, unknown>)) {
        if (list !== null && list !== undefined) addresses[family] = list;
      }
      out.addresses = addresses as LinodeRule['addresses'];
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** The writable part of a rule set: never `version` or `fingerprint`. */
export function bodyOf(rules: LinodeRulesBody): LinodeRulesBody {
  return {
    inbound: rules.inbound.map(writableRule),
    inbound_policy: rules.inbound_policy,
    outbound: rules.outbound.map(writableRule),
    outbound_policy: rules.outbound_policy,
  };
}

/** Label of the relay's n-th rule (3–32 characters, as Linode requires). */
function relayLabel(kind: 'mgmt' | 'keep', index: number): string {
  return `relay-${kind}-${index + 1}`;
}

/** One allowance as an ACCEPT rule. */
export function toLinodeRule(rule: LockdownRule, label: string, fallbackDescription: string): LinodeRule {
  const { ipv4, ipv6 } = splitSources(rule.sources);
  const addresses: { ipv4?: string[]; ipv6?: string[] } = {};
  if (ipv4.length > 0) addresses.ipv4 = ipv4;
  if (ipv6.length > 0) addresses.ipv6 = ipv6;
  const out: LinodeRule = { action: 'ACCEPT', protocol: rule.protocol.toUpperCase(), addresses, label, description: rule.description ?? fallbackDescription };
  if (rule.ports !== undefined) out.ports = rule.ports;
  return out;
}

/** The relay's inbound rules during a lockdown: management first, then keep. */
export function lockdownInbound(options: Pick<LinodeOptions, 'management' | 'keep'>): LinodeRule[] {
  const rules = options.management.map((rule, index) => toLinodeRule(rule, relayLabel('mgmt', index), 'Flowtriq Relay lockdown: management'));
  options.keep.forEach((rule, index) => rules.push(toLinodeRule(rule, relayLabel('keep', index), 'Flowtriq Relay lockdown: keep')));
  return rules;
}

/** The whole lockdown rule set: the relay's inbound rules, DROP for the rest, outbound exactly as it was. */
export function lockdownBody(original: LinodeRulesBody, inbound: LinodeRule[]): LinodeRulesBody {
  return bodyOf({ inbound, inbound_policy: 'DROP', outbound: original.outbound, outbound_policy: original.outbound_policy });
}

function canonicalAddress(value: string): string {
  const parsed = parseCidr(value.trim(), { hostBits: 'clear' });
  return parsed.ok ? formatCidr(parsed.cidr) : value.trim();
}

function canonicalPorts(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.split(',').map((piece) => piece.trim()).filter((piece) => piece !== '').join(',');
}

/** One rule as a stable string: Linode's spelling (`/32` added, `::0/0`, spaces after commas) is not a difference. */
export function canonicalRule(rule: LinodeRule, options: { ignoreNames?: boolean } = {}): string {
  const addresses = (rule.addresses ?? {}) as Record<string, unknown>;
  const family = (key: string) => (Array.isArray(addresses[key]) ? (addresses[key] as string[]).map(canonicalAddress).sort() : []);
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rule)) {
    if (['action', 'protocol', 'ports', 'addresses', 'label', 'description'].includes(key) || value === null || value === undefined) continue;
    rest[key] = value;
  }
  return JSON.stringify({
    action: typeof rule.action === 'string' ? rule.action.toUpperCase() : null,
    protocol: typeof rule.protocol === 'string' ? rule.protocol.toUpperCase() : null,
    ports: canonicalPorts(rule.ports) ?? null,
    ipv4: family('ipv4'),
    ipv6: family('ipv6'),
    label: options.ignoreNames ? null : (rule.label ?? null),
    description: options.ignoreNames ? null : (rule.description ?? null),
    rest: Object.keys(rest).sort().map((key) => [key, rest[key]]),
  });
}

function sameRuleList(a: LinodeRule[], b: LinodeRule[], ignoreNames = false): boolean {
  return a.length === b.length && a.every((rule, index) => canonicalRule(rule, { ignoreNames }) === canonicalRule(b[index]!, { ignoreNames }));
}

/** Same rules (in order) and policies, whatever the stamps. */
export function sameRules(a: LinodeRulesBody, b: LinodeRulesBody): boolean {
  return (
    a.inbound_policy === b.inbound_policy &&
    a.outbound_policy === b.outbound_policy &&
    sameRuleList(a.inbound, b.inbound) &&
    sameRuleList(a.outbound, b.outbound)
  );
}

/**
 * The operator already has the lockdown in force: inbound policy DROP and
 * exactly the allowances (by what they admit; labels and descriptions may differ).
 */
export function inboundIsLockdown(rules: LinodeRulesBody, inbound: LinodeRule[]): boolean {
  return rules.inbound_policy === 'DROP' && sameRuleList(rules.inbound, inbound, true);
}

/** Addresses in a rule, IPv4 and IPv6 together. */
export function addressCount(rule: LinodeRule): number {
  const addresses = (rule.addresses ?? {}) as Record<string, unknown>;
  return ['ipv4', 'ipv6'].reduce((sum, key) => sum + (Array.isArray(addresses[key]) ? (addresses[key] as unknown[]).length : 0), 0);
}

/** One line for status and logs. */
export function describeRules(rules: LinodeRulesBody & { version?: number | null }): string {
  const version = rules.version === undefined || rules.version === null ? '' : `, version ${rules.version}`;
  return `${rules.inbound.length} inbound (policy ${rules.inbound_policy})/${rules.outbound.length} outbound (policy ${rules.outbound_policy}) rules${version}`;
}
