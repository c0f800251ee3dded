/**
 * The Cloud Firewall as the relay reads, stores, compares and writes it.
 *
 * `GET /v2/firewalls/{id}` answers `{"firewall":{id, name, status, created_at,
 * pending_changes:[{droplet_id, removing, status}], droplet_ids, tags,
 * inbound_rules:[{protocol, ports, sources:{addresses?, droplet_ids?,
 * load_balancer_uids?, kubernetes_ids?, tags?}}], outbound_rules:[…]}}`
 * (digitalocean/openapi `models/firewall.yml`, `models/firewall_rule.yml`).
 *
 * Rules have no ID: `POST` and `DELETE /v2/firewalls/{id}/rules` take rule
 * objects and match them by value. Reads report every-port rules (and every
 * ICMP rule) with `ports: "0"`, while writes want `"all"` for tcp/udp and no
 * `ports` at all for icmp (what public clients — terraform-provider-
 * digitalocean, godo users — do; UNVERIFIED in DigitalOcean's own docs), so
 * the relay keeps rules in the read form and converts on write (`toWire`).
 *
 * Rules are compared by meaning (`ruleKey`): ports `0`/`all` alike, a range
 * `22-22` as `22`, addresses as canonical CIDRs, every list as a set. A newer
 * revision of the spec adds an optional `action` (`allow`, the default, or
 * `deny`); it is kept when present, and deny rules are never removed (they
 * only ever narrow what gets in).
 */
import { z } from 'zod';
import { formatCidr, parseCidr } from '../../ip/cidr.ts';
import type { LockdownRule } from '../lockdown.ts';

export const DO_PROTOCOLS = ['tcp', 'udp', 'icmp'] as const;
export type DoProtocol = (typeof DO_PROTOCOLS)[number];
export type DoStatus = 'waiting' | 'succeeded' | 'failed';

/** Where a rule lets traffic in from (inbound `sources`). */
export interface DoTargets {
  addresses?: string[];
  droplet_ids?: number[];
  load_balancer_uids?: string[];
  kubernetes_ids?: string[];
  tags?: string[];
}

/** One inbound rule, in the form a GET reports it. */
export interface DoRule {
  protocol: DoProtocol;
  /** `"0"` = every port (always `"0"` for icmp), `"22"`, `"8000-9000"`. */
  ports: string;
  sources: DoTargets;
  action?: 'allow' | 'deny';
}

export interface DoPendingChange {
  droplet_id: number | null;
  removing: boolean | null;
  status: string | null;
}

/** What the relay keeps of a GET: everything restore and the health check need, as read. */
export interface DoFirewall {
  id: string;
  name: string;
  status: DoStatus;
  created_at: string | null;
  pending_changes: DoPendingChange[];
  droplet_ids: number[];
  tags: string[];
  inbound_rules: DoRule[];
  /** Never written by the relay; kept as read for the snapshot and counts. */
  outbound_rules: Record<string, unknown>[];
}

const PORTS = /^(?:\d{1,5}(?:-\d{1,5})?|all)$/;

const stringList = z.array(z.string()).nullish().transform((value) => value ?? undefined);
const targetsSchema = z.looseObject({
  addresses: stringList,
  droplet_ids: z.array(z.number().int()).nullish().transform((value) => value ?? undefined),
  load_balancer_uids: stringList,
  kubernetes_ids: stringList,
  tags: stringList,
});

export const doRuleSchema = z.looseObject({
  protocol: z.enum(DO_PROTOCOLS, { error: 'must be tcp, udp or icmp' }),
  ports: z
    .union([z.string(), z.number().int()])
    .nullish()
    .transform((value) => (value === undefined || value === null || value === '' ? '0' : String(value)))
    .refine((value) => PORTS.test(value), 'must be a port, a range such as 8000-9000, "0" or "all"'),
  sources: targetsSchema,
  action: z.enum(['allow', 'deny'], { error: 'must be allow or deny' }).nullish().transform((value) => value ?? undefined),
});

const firewallSchema = z.looseObject({
  firewall: z.looseObject({
    id: z.string().min(1),
    name: z.string(),
    status: z.enum(['waiting', 'succeeded', 'failed'], { error: 'must be "waiting", "succeeded" or "failed"' }),
    created_at: z.string().nullish().transform((value) => value ?? null),
    pending_changes: z
      .array(
        z.looseObject({
          droplet_id: z.number().int().nullish().transform((value) => value ?? null),
          removing: z.boolean().nullish().transform((value) => value ?? null),
          status: z.string().nullish().transform((value) => value ?? null),
        }),
      )
      .nullish()
      .transform((value) => value ?? []),
    droplet_ids: z.array(z.number().int()).nullish().transform((value) => value ?? []),
    tags: z.array(z.string()).nullish().transform((value) => value ?? []),
    inbound_rules: z.array(doRuleSchema).nullish().transform((value) => value ?? []),
    outbound_rules: z.array(z.record(z.string(), z.unknown())).nullish().transform((value) => value ?? []),
  }),
});

/** A rule as the schema parsed it, reduced to the fields the relay knows. */
export function cleanRule(rule: z.output<typeof doRuleSchema>): DoRule {
  const sources: DoTargets = {};
  if (rule.sources.addresses !== undefined) sources.addresses = [...rule.sources.addresses];
  if (rule.sources.droplet_ids !== undefined) sources.droplet_ids = [...rule.sources.droplet_ids];
  if (rule.sources.load_balancer_uids !== undefined) sources.load_balancer_uids = [...rule.sources.load_balancer_uids];
  if (rule.sources.kubernetes_ids !== undefined) sources.kubernetes_ids = [...rule.sources.kubernetes_ids];
  if (rule.sources.tags !== undefined) sources.tags = [...rule.sources.tags];
  const out: DoRule = { protocol: rule.protocol, ports: rule.ports, sources };
  if (rule.action !== undefined) out.action = rule.action;
  return out;
}

/** Parses a firewall answer; on failure, the first problem as `path: message`. */
export function parseFirewall(json: unknown): { ok: true; firewall: DoFirewall } | { ok: false; problem: string } {
  const parsed = firewallSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, problem: `${issue.path.join('.') || '(body)'}: ${issue.message}` };
  }
  const fw = parsed.data.firewall;
  return {
    ok: true,
    firewall: {
      id: fw.id,
      name: fw.name,
      status: fw.status,
      created_at: fw.created_at,
      pending_changes: fw.pending_changes.map((change) => ({ droplet_id: change.droplet_id, removing: change.removing, status: change.status })),
      droplet_ids: [...fw.droplet_ids],
      tags: [...fw.tags],
      inbound_rules: fw.inbound_rules.map(cleanRule),
      outbound_rules: fw.outbound_rules.map((rule) => ({ ...rule })),
    },
  };
}

/** DigitalOcean is still applying a change to the firewall's droplets. */
export function isBusy(firewall: DoFirewall): boolean {
  return firewall.status === 'waiting' || firewall.pending_changes.length > 0;
}

/** Every change applied everywhere. */
export function isSettled(firewall: DoFirewall): boolean {
  return firewall.status === 'succeeded' && firewall.pending_changes.length === 0;
}

function canonicalPorts(rule: DoRule): string {
  if (rule.protocol === 'icmp') return '*';
  const ports = rule.ports.trim().toLowerCase();
  if (ports === '' || ports === '0' || ports === 'all') return '*';
  const [low, high] = ports.split('-');
  return high === undefined || high === low ? String(Number(low)) : `${Number(low)}-${Number(high)}`;
}

function canonicalAddress(address: string): string {
  const parsed = parseCidr(address.trim(), { hostBits: 'clear' });
  return parsed.ok ? formatCidr(parsed.cidr) : address.trim().toLowerCase();
}

const sortedSet = (values: readonly string[] | undefined): string[] => [...new Set(values ?? [])].sort();

/** What a rule means, as one string: equal keys, equal rules (order and spelling aside). */
export function ruleKey(rule: DoRule): string {
  const s = rule.sources;
  return JSON.stringify([
    rule.action ?? 'allow',
    rule.protocol,
    canonicalPorts(rule),
    sortedSet(s.addresses?.map(canonicalAddress)),
    [...new Set(s.droplet_ids ?? [])].sort((a, b) => a - b),
    sortedSet(s.load_balancer_uids),
    sortedSet(s.kubernetes_ids),
    sortedSet(s.tags),
  ]);
}

/** Same rules, as multisets of meanings. */
export function sameRules(a: readonly DoRule[], b: readonly DoRule[]): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(ruleKey).sort();
  const right = b.map(ruleKey).sort();
  return left.every((key, index) => key === right[index]);
}

/** `rules` without one occurrence of each rule in `minus`. */
export function withoutRules(rules: readonly DoRule[], minus: readonly DoRule[]): DoRule[] {
  const pending = minus.map(ruleKey);
  const out: DoRule[] = [];
  for (const rule of rules) {
    const index = pending.indexOf(ruleKey(rule));
    if (index === -1) out.push(rule);
    else pending.splice(index, 1);
  }
  return out;
}

/** The first rule of `rules` that means the same as `rule`. */
export function findRule(rules: readonly DoRule[], rule: DoRule): DoRule | undefined {
  const key = ruleKey(rule);
  return rules.find((candidate) => ruleKey(candidate) === key);
}

/** A lockdown allowance as a DigitalOcean inbound rule (read form). */
export function allowanceRule(rule: LockdownRule): DoRule {
  return {
    protocol: rule.protocol,
    ports: rule.protocol === 'icmp' ? '0' : (rule.ports ?? '0'),
    sources: { addresses: [...rule.sources] },
  };
}

/** A rule as `POST`/`DELETE …/rules` want it: `"all"` for every port, no ports for icmp, no empty lists. */
export function toWire(rule: DoRule): Record<string, unknown> {
  const out: Record<string, unknown> = { protocol: rule.protocol };
  if (rule.protocol !== 'icmp') {
    const ports = rule.ports.trim().toLowerCase();
    out.ports = ports === '' || ports === '0' ? 'all' : ports;
  }
  const sources: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(rule.sources) as [keyof DoTargets, unknown[] | undefined][]) {
    if (value !== undefined && value.length > 0) sources[field] = [...value];
  }
  out.sources = sources;
  if (rule.action !== undefined) out.action = rule.action;
  return out;
}

/** What the lockdown of one firewall removes and adds, and the inbound rules it leaves. */
export interface LockdownPlan {
  /** Inbound allow rules that are not one of the allowances, as read. */
  remove: DoRule[];
  /** Allowances the firewall does not have yet. */
  add: DoRule[];
  /** The inbound rules during the lockdown. */
  target: DoRule[];
}

/**
 * The lockdown of `inbound`: every allow rule that is not exactly one of the
 * allowances goes, every allowance not there yet comes; deny rules and the
 * allowances already present stay (and are never removed on restore).
 */
export function planLockdown(inbound: readonly DoRule[], allowances: readonly DoRule[]): LockdownPlan {
  const wanted = new Map<string, DoRule>();
  for (const rule of allowances) if (!wanted.has(ruleKey(rule))) wanted.set(ruleKey(rule), rule);
  const present = new Set(inbound.map(ruleKey));
  const remove = inbound.filter((rule) => (rule.action ?? 'allow') === 'allow' && !wanted.has(ruleKey(rule)));
  const add = [...wanted.entries()].filter(([key]) => !present.has(key)).map(([, rule]) => rule);
  return { remove, add, target: [...withoutRules(inbound, remove), ...add] };
}

/** One line for status and logs. */
export function describeFirewall(firewall: DoFirewall): string {
  const pending = firewall.pending_changes.length > 0 ? ` (${firewall.pending_changes.length} pending)` : '';
  return `${firewall.name}: ${firewall.status}${pending}, ${firewall.inbound_rules.length} inbound/${firewall.outbound_rules.length} outbound rules`;
}

/** One line naming a rule, for logs and summaries. */
export function describeRule(rule: DoRule): string {
  const s = rule.sources;
  const from = [
    ...(s.addresses ?? []),
    ...(s.droplet_ids ?? []).map((id) => `droplet ${id}`),
    ...(s.load_balancer_uids ?? []).map((id) => `lb ${id}`),
    ...(s.kubernetes_ids ?? []).map((id) => `k8s ${id}`),
    ...(s.tags ?? []).map((tag) => `tag ${tag}`),
  ];
  const shown = from.length > 3 ? `${from.slice(0, 3).join(', ')} +${from.length - 3}` : from.join(', ');
  const ports = canonicalPorts(rule) === '*' ? (rule.protocol === 'icmp' ? '' : ' all ports') : ` ${canonicalPorts(rule)}`;
  return `${rule.action === 'deny' ? 'deny ' : ''}${rule.protocol}${ports} from ${shown || 'nowhere'}`;
}
