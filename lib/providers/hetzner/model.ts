/**
 * The Robot firewall as the relay reads, stores, compares and writes it.
 *
 * `GET /firewall/{server}` answers
 * `{"firewall":{server_ip, server_number, status, filter_ipv6, whitelist_hos, port, rules:{input:[…], output:[…]}}}`
 * with every rule field present (`null` = any). `POST /firewall/{server}`
 * replaces the whole configuration from a form body with literal brackets
 * in the keys (`rules[input][0][src_ip]=…`); a field left out is `null`,
 * a rule list left out is empty. The relay therefore always posts the
 * complete configuration: status, filter_ipv6, whitelist_hos and both rule
 * lists.
 */
import { z } from 'zod';
import { formatCidr, parseCidr } from '../../ip/cidr.ts';
import type { HetznerRobotOptions, HetznerRobotRule } from './config.ts';

/** The rule fields Robot accepts in a POST, in Robot's names. */
export const RULE_FIELDS = ['name', 'ip_version', 'dst_ip', 'src_ip', 'dst_port', 'src_port', 'protocol', 'tcp_flags', 'action'] as const;
export type RuleField = (typeof RULE_FIELDS)[number];

/** One rule in Robot's names; `null` = any (as Robot reports it). */
export interface RobotRule {
  name: string | null;
  ip_version: string | null;
  dst_ip: string | null;
  src_ip: string | null;
  dst_port: string | null;
  src_port: string | null;
  protocol: string | null;
  tcp_flags: string | null;
  action: 'accept' | 'discard';
}

export type RobotStatus = 'active' | 'disabled' | 'in process';

/** What the relay keeps of `GET /firewall/{server}`: everything restore needs, as read. */
export interface RobotFirewall {
  server_number: number;
  server_ip: string | null;
  status: RobotStatus;
  filter_ipv6: boolean;
  whitelist_hos: boolean;
  port: string | null;
  rules: { input: RobotRule[]; output: RobotRule[] };
}

/** The writable part of a configuration: what a POST sets. */
export interface RobotFirewallConfig {
  status: 'active' | 'disabled';
  filter_ipv6: boolean;
  whitelist_hos: boolean;
  rules: { input: RobotRule[]; output: RobotRule[] };
}

const text = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((value) => (value === undefined || value === null || value === '' ? null : String(value)));

const ruleSchema = z.looseObject({
  name: text,
  ip_version: text,
  dst_ip: text,
  src_ip: text,
  dst_port: text,
  src_port: text,
  protocol: text,
  tcp_flags: text,
  action: z.enum(['accept', 'discard'], { error: 'must be "accept" or "discard"' }),
});

const firewallSchema = z.looseObject({
  firewall: z.looseObject({
    server_ip: z.string().nullish().transform((value) => value ?? null),
    server_number: z.number().int(),
    status: z.enum(['active', 'disabled', 'in process'], { error: 'must be "active", "disabled" or "in process"' }),
    filter_ipv6: z.boolean(),
    whitelist_hos: z.boolean(),
    port: z.string().nullish().transform((value) => value ?? null),
    rules: z.looseObject({
      input: z.array(ruleSchema),
      output: z.array(ruleSchema),
    }),
  }),
});

/** Parses a firewall answer; on failure, the first problem as `path: message`. */
export function parseFirewall(json: unknown): { ok: true; firewall: RobotFirewall } | { ok: false; problem: string } {
  const parsed = firewallSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, problem: `${issue.path.join('.') || '(body)'}: ${issue.message}` };
  }
  const fw = parsed.data.firewall;
  const rule = (r: z.output<typeof ruleSchema>): RobotRule => ({
    name: r.name,
    ip_version: r.ip_version,
    dst_ip: r.dst_ip,
    src_ip: r.src_ip,
    dst_port: r.dst_port,
    src_port: r.src_port,
    protocol: r.protocol,
    tcp_flags: r.tcp_flags,
    action: r.action,
  });
  return {
    ok: true,
    firewall: {
      server_number: fw.server_number,
      server_ip: fw.server_ip,
      status: fw.status,
      filter_ipv6: fw.filter_ipv6,
      whitelist_hos: fw.whitelist_hos,
      port: fw.port,
      rules: { input: fw.rules.input.map(rule), output: fw.rules.output.map(rule) },
    },
  };
}

/** The writable part of a configuration as read. */
export function configOf(firewall: RobotFirewall, status: 'active' | 'disabled'): RobotFirewallConfig {
  return {
    status,
    filter_ipv6: firewall.filter_ipv6,
    whitelist_hos: firewall.whitelist_hos,
    rules: { input: firewall.rules.input.map((r) => ({ ...r })), output: firewall.rules.output.map((r) => ({ ...r })) },
  };
}

/** A configured rule in Robot's names. */
export function toRobotRule(rule: HetznerRobotRule): RobotRule {
  return {
    name: rule.name ?? null,
    ip_version: rule.ipVersion ?? null,
    dst_ip: rule.dstIp ?? null,
    src_ip: rule.srcIp ?? null,
    dst_port: rule.dstPort ?? null,
    src_port: rule.srcPort ?? null,
    protocol: rule.protocol ?? null,
    tcp_flags: rule.tcpFlags ?? null,
    action: rule.action,
  };
}

/**
 * What the relay posts during the attack: status active, the configured
 * input rules (or the server's own), filter_ipv6 as configured (or as it
 * was); whitelist_hos and the output rules stay as they were.
 */
export function targetConfig(original: RobotFirewall, options: Pick<HetznerRobotOptions, 'inputRules' | 'filterIpv6'>): RobotFirewallConfig {
  const base = configOf(original, 'active');
  return {
    ...base,
    filter_ipv6: options.filterIpv6 ?? base.filter_ipv6,
    rules: { input: options.inputRules ? options.inputRules.map(toRobotRule) : base.rules.input, output: base.rules.output },
  };
}

/** Canonical text of one field, so Robot's spelling (`/32` added, upper case) does not look like a change. */
function canonicalField(field: RuleField, value: string | null): string | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (field === 'src_ip' || field === 'dst_ip') {
    const parsed = parseCidr(trimmed, { hostBits: 'clear' });
    return parsed.ok ? formatCidr(parsed.cidr) : trimmed.toLowerCase();
  }
  if (field === 'name') return trimmed;
  return trimmed.toLowerCase();
}

function sameRules(a: RobotRule[], b: RobotRule[]): boolean {
  return a.length === b.length && a.every((rule, i) => RULE_FIELDS.every((field) => canonicalField(field, rule[field]) === canonicalField(field, b[i]![field])));
}

/** Same filters and rules, whatever the status. */
export function sameSettings(a: RobotFirewallConfig | RobotFirewall, b: RobotFirewallConfig | RobotFirewall): boolean {
  return (
    a.filter_ipv6 === b.filter_ipv6 &&
    a.whitelist_hos === b.whitelist_hos &&
    sameRules(a.rules.input, b.rules.input) &&
    sameRules(a.rules.output, b.rules.output)
  );
}

/** Same status, filters and rules. */
export function sameConfig(a: RobotFirewallConfig | RobotFirewall, b: RobotFirewallConfig | RobotFirewall): boolean {
  return a.status === b.status && sameSettings(a, b);
}

/**
 * The form body of `POST /firewall/{server}`. Keys keep literal brackets
 * (Robot reads `rules[input][0][src_ip]`, not its percent-encoded form);
 * values are percent-encoded. `null` fields are left out (= any).
 */
export function encodeFirewallForm(config: RobotFirewallConfig): string {
  const parts = [
    `status=${encodeURIComponent(config.status)}`,
    `filter_ipv6=${config.filter_ipv6 ? 'true' : 'false'}`,
    `whitelist_hos=${config.whitelist_hos ? 'true' : 'false'}`,
  ];
  for (const direction of ['input', 'output'] as const) {
    config.rules[direction].forEach((rule, index) => {
      for (const field of RULE_FIELDS) {
        const value = rule[field];
        if (value !== null) parts.push(`rules[${direction}][${index}][${field}]=${encodeURIComponent(value)}`);
      }
    });
  }
  return parts.join('&');
}

/** One line for status and logs. */
export function describeFirewall(firewall: RobotFirewall | RobotFirewallConfig): string {
  return `${firewall.status}, ${firewall.rules.input.length} input/${firewall.rules.output.length} output rules, filter_ipv6 ${firewall.filter_ipv6}, whitelist_hos ${firewall.whitelist_hos}`;
}
