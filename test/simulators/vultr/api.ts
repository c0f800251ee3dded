/**
 * Vultr API v2 simulator: instances (`GET|PATCH /v2/instances/{id}`) and
 * firewall groups and rules (`/v2/firewalls[/{id}[/rules[/{rule}]]]`),
 * written from Vultr's OpenAPI description ("Vultr API 2.0", as vendored in
 * vultr/vultr-python-client `openapi-client/swagger.json` and its generated
 * docs) and the public clients (govultr, vultr-node issue #449).
 *
 * What it models:
 * - `Authorization: Bearer <API key>`; anything else is 401.
 * - Envelopes: `{"instance":{…}}`, `{"firewall_group":{…}}`,
 *   `{"firewall_groups":[…],"meta":{total,links:{next,prev}}}`,
 *   `{"firewall_rule":{…}}`, `{"firewall_rules":[…],"meta":…}`. Errors are
 *   `{"error":"<message>","status":<int>}` (the exact shape and every
 *   message here are UNVERIFIED; the docs only say 4xx bodies carry `error`).
 * - Status codes: PATCH instance 202 with the instance; POST group/rule 201;
 *   DELETE rule 204; unknown ids 404.
 * - Cursor pagination: `per_page` (default 100, at most 500; tests lower
 *   the cap with `pageSizeCap`), an opaque `cursor`, `meta.links.next` empty
 *   on the last page.
 * - Rate limit: more than `perSecond` (30) requests in one second → 429 with
 *   `Retry-After` (seconds; Vultr's docs say it is sent).
 * - Rules accept only; a rule is `{id, type, ip_type, action:"accept",
 *   protocol, port, subnet, subnet_size, source, notes}`; creating a rule
 *   equal to one present (ip_type, protocol, subnet/size, port, source) is
 *   refused (400, message UNVERIFIED) — vultr-node #449; a group holds at
 *   most `max_rule_count` rules (50 by default).
 * - `PATCH /instances/{id} {"firewall_group_id": ""}` leaves every group
 *   (UNVERIFIED: the API documents only attaching); an instance in no group
 *   reports `"firewall_group_id": ""` (UNVERIFIED; govultr reads a string).
 *   An unknown group id is refused (400, UNVERIFIED status and message).
 * - Semantics: `admit()` answers whether a packet from a source to a
 *   protocol/port reaches an instance: an instance in no group admits
 *   everything; in a group, a packet is admitted when some rule matches it
 *   (source in subnet, same protocol, port in range), nothing else is.
 *   Rules with a `source` (`cloudflare`, a load balancer) are not modelled
 *   as admitting anything. A tcp/udp rule with an empty port admits every
 *   port (UNVERIFIED).
 *
 * Groups are owned by the relay only when created through the API
 * (`POST /firewalls`); groups a test adds are the customer's. What a
 * careful client must not do is counted in `flags` (tests assert zero):
 * rule writes in a group the relay does not own, duplicate rule creates,
 * PATCHes that set the group an instance already has, PATCHes that touch
 * more than `firewall_group_id`, group deletes or edits, and requests while
 * rate-limited.
 */
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { parseAddress } from '../../../lib/ip/address.ts';
import { cidrContains, parseCidr } from '../../../lib/ip/cidr.ts';

export const VULTR_ORIGIN = 'https://api.vultr.com';
export const DEFAULT_API_KEY = 'SIMKEY0123456789ABCDEFGHIJKLMNOPQRSTU';

export interface SimInstance {
  id: string;
  label: string;
  hostname: string;
  region: string;
  plan: string;
  status: string;
  power_status: string;
  server_status: string;
  main_ip: string;
  v6_main_ip: string;
  date_created: string;
  tags: string[];
  features: string[];
  firewall_group_id: string;
}

export interface SimRule {
  id: number;
  type: 'v4' | 'v6';
  ip_type: 'v4' | 'v6';
  action: 'accept';
  protocol: string;
  port: string;
  subnet: string;
  subnet_size: number;
  source: string;
  notes: string;
}

interface GroupState {
  id: string;
  description: string;
  date_created: string;
  date_modified: string;
  max_rule_count: number;
  rules: SimRule[];
  /** Created through the API (by the relay). */
  relayOwned: boolean;
}

export interface SimGroup {
  id: string;
  description: string;
  date_created: string;
  date_modified: string;
  instance_count: number;
  rule_count: number;
  max_rule_count: number;
}

export interface SimFlags {
  /** Rules created or deleted in a group the relay did not create. */
  foreignRuleWrites: number;
  /** Rule creates refused as duplicates. */
  duplicateRuleCreates: number;
  /** PATCHes setting the group the instance already had. */
  redundantInstancePatches: number;
  /** PATCHes carrying anything but firewall_group_id. */
  patchesWithOtherFields: number;
  /** DELETE or PUT on a whole firewall group. */
  groupDeletesOrEdits: number;
  /** Requests answered 429 by the rate limit. */
  rateLimited: number;
  /** Bodies refused as malformed (400). */
  invalidBodies: number;
  authFailures: number;
}

export interface SimCounters {
  requests: number;
  gets: number;
  instancePatches: number;
  groupCreates: number;
  ruleCreates: number;
  ruleDeletes: number;
}

export interface VultrSimulatorOptions {
  now: () => number;
  apiKey?: string;
  /** Requests per second per source before 429 (default 30). */
  perSecond?: number;
  /** Largest page served whatever per_page asks (default 500, Vultr's maximum). */
  pageSizeCap?: number;
  /** max_rule_count of new groups (default 50). */
  maxRuleCount?: number;
  /** Model the UNVERIFIED risk that `firewall_group_id: ""` is accepted but ignored (default false). */
  ignoreDetach?: boolean;
}

export interface Packet {
  /** Source address (no prefix). */
  source: string;
  protocol: 'tcp' | 'udp' | 'icmp' | 'gre' | 'esp' | 'ah';
  /** Destination port (tcp/udp). */
  port?: number;
}

const PROTOCOLS = new Set(['icmp', 'tcp', 'udp', 'gre', 'esp', 'ah']);
const RULE_FIELDS = new Set(['ip_type', 'protocol', 'subnet', 'subnet_size', 'port', 'source', 'notes']);
const PORT = /^(\d{1,5})(?::(\d{1,5}))?$/;

export class VultrSimulator {
  readonly flags: SimFlags = {
    foreignRuleWrites: 0,
    duplicateRuleCreates: 0,
    redundantInstancePatches: 0,
    patchesWithOtherFields: 0,
    groupDeletesOrEdits: 0,
    rateLimited: 0,
    invalidBodies: 0,
    authFailures: 0,
  };
  readonly counters: SimCounters = { requests: 0, gets: 0, instancePatches: 0, groupCreates: 0, ruleCreates: 0, ruleDeletes: 0 };
  /** Every write that reached the account, in order: `PATCH /instances/x {"firewall_group_id":"…"}`. */
  readonly writes: string[] = [];
  /** Every request received, `METHOD /path` (query left out), whatever the answer. */
  readonly log: string[] = [];
  readonly #now: () => number;
  readonly #apiKey: string;
  readonly #perSecond: number;
  readonly #pageSizeCap: number;
  readonly #maxRuleCount: number;
  readonly #ignoreDetach: boolean;
  readonly #instances = new Map<string, SimInstance>();
  readonly #groups = new Map<string, GroupState>();
  #window: number[] = [];
  #failures: Array<{ status: number; body: unknown; headers: Record<string, string> }> = [];
  #rules: Array<{ method: string; path: RegExp; status: number; body: unknown; headers: Record<string, string>; afterApplying: boolean }> = [];
  #nextGroup = 1;
  #nextRule = 1;

  readonly transport: Transport = { request: async (request) => this.handle(request) };

  constructor(options: VultrSimulatorOptions) {
    this.#now = options.now;
    this.#apiKey = options.apiKey ?? DEFAULT_API_KEY;
    this.#perSecond = options.perSecond ?? 30;
    this.#pageSizeCap = options.pageSizeCap ?? 500;
    this.#maxRuleCount = options.maxRuleCount ?? 50;
    this.#ignoreDetach = options.ignoreDetach ?? false;
  }

  // ---- the account, set up and changed behind the relay's back ----

  addInstance(id: string, fields: Partial<Omit<SimInstance, 'id'>> = {}): SimInstance {
    const instance: SimInstance = {
      id,
      label: fields.label ?? `web-${this.#instances.size + 1}`,
      hostname: fields.hostname ?? `web-${this.#instances.size + 1}`,
      region: fields.region ?? 'ewr',
      plan: fields.plan ?? 'vc2-1c-1gb',
      status: 'active',
      power_status: 'running',
      server_status: 'ok',
      main_ip: fields.main_ip ?? `192.0.2.${this.#instances.size + 10}`,
      v6_main_ip: fields.v6_main_ip ?? '',
      date_created: fields.date_created ?? '2025-06-01T10:00:00+00:00',
      tags: fields.tags ?? [],
      features: fields.features ?? [],
      firewall_group_id: fields.firewall_group_id ?? '',
    };
    if (instance.firewall_group_id !== '' && !this.#groups.has(instance.firewall_group_id)) throw new Error(`no group ${instance.firewall_group_id}`);
    this.#instances.set(id, instance);
    return clone(instance);
  }

  /** A group of the customer's (not the relay's), with its rules. */
  addGroup(description: string, rules: Array<Partial<SimRule> & Pick<SimRule, 'ip_type' | 'protocol' | 'subnet' | 'subnet_size'>> = []): string {
    const group = this.#createGroup(description, false);
    for (const rule of rules) group.rules.push(this.#newRule(rule));
    return group.id;
  }

  /** Someone adds a rule to a group (portal, another tool). */
  addRuleBehindRelay(groupId: string, rule: Partial<SimRule> & Pick<SimRule, 'ip_type' | 'protocol' | 'subnet' | 'subnet_size'>): number {
    const group = this.#group(groupId);
    const created = this.#newRule(rule);
    group.rules.push(created);
    group.date_modified = this.#stamp();
    return created.id;
  }

  /** Someone moves an instance to another group (or out of every group with `""`). */
  moveInstance(instanceId: string, groupId: string): void {
    const instance = this.#instances.get(instanceId);
    if (!instance) throw new Error(`no instance ${instanceId}`);
    if (groupId !== '') this.#group(groupId);
    instance.firewall_group_id = groupId;
  }

  /** The next requests fail with these answers (one per request, after auth and rate limit). */
  failNext(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.#failures.push({ status, body, headers });
  }

  /**
   * The next request matching `method` and `path` (below /v2) fails with
   * this answer, once. `afterApplying`: the request takes effect first and
   * only its answer is lost (a write that landed, a timeout on the way back).
   */
  failWhen(method: string, path: RegExp, status: number, body: unknown, options: { headers?: Record<string, string>; afterApplying?: boolean } = {}): void {
    this.#rules.push({ method, path, status, body, headers: options.headers ?? {}, afterApplying: options.afterApplying ?? false });
  }

  /** Uses up this second's request budget. */
  exhaustRateLimit(): void {
    const now = this.#now();
    this.#window = Array.from({ length: this.#perSecond }, () => now);
  }

  instance(id: string): SimInstance {
    const instance = this.#instances.get(id);
    if (!instance) throw new Error(`no instance ${id}`);
    return clone(instance);
  }

  group(id: string): SimGroup & { rules: SimRule[]; relayOwned: boolean } {
    const group = this.#group(id);
    return { ...this.#groupView(group), rules: clone(group.rules), relayOwned: group.relayOwned };
  }

  /** Every group, with its rules, in creation order. */
  groups(): Array<SimGroup & { rules: SimRule[]; relayOwned: boolean }> {
    return [...this.#groups.keys()].map((id) => this.group(id));
  }

  /** The whole account as the API reports it (instances, groups with their rules). */
  accountState(options: { withoutRelayGroups?: boolean } = {}): unknown {
    return {
      instances: [...this.#instances.values()].map((instance) => clone(instance)),
      firewall_groups: [...this.#groups.values()]
        .filter((group) => !(options.withoutRelayGroups && group.relayOwned))
        .map((group) => ({ ...this.#groupView(group), rules: clone(group.rules) })),
    };
  }

  /** Would this packet reach the instance? */
  admit(instanceId: string, packet: Packet): boolean {
    const instance = this.#instances.get(instanceId);
    if (!instance) throw new Error(`no instance ${instanceId}`);
    if (instance.firewall_group_id === '') return true;
    const address = parseAddress(packet.source);
    if (!address.ok) throw new Error(`bad source ${packet.source}`);
    return this.#group(instance.firewall_group_id).rules.some((rule) => {
      if (rule.source !== '' || rule.protocol !== packet.protocol) return false;
      const cidr = parseCidr(`${rule.subnet}/${rule.subnet_size}`, { hostBits: 'clear' });
      if (!cidr.ok || !cidrContains(cidr.cidr, address.address)) return false;
      if (packet.protocol !== 'tcp' && packet.protocol !== 'udp') return true;
      if (rule.port === '') return true;
      const match = PORT.exec(rule.port)!;
      const low = Number(match[1]);
      const high = match[2] === undefined ? low : Number(match[2]);
      return packet.port !== undefined && packet.port >= low && packet.port <= high;
    });
  }

  // ---- HTTP ----

  handle(request: HttpRequest): HttpResponse {
    this.counters.requests += 1;
    const url = new URL(request.url);
    if (url.origin !== VULTR_ORIGIN || !url.pathname.startsWith('/v2/')) throw new Error(`unexpected URL ${request.url}`);
    this.log.push(`${request.method.toUpperCase()} ${url.pathname.slice('/v2'.length)}`);
    const headers = lowerCase(request.headers ?? {});
    if (headers.authorization !== `Bearer ${this.#apiKey}`) {
      this.flags.authFailures += 1;
      return error(401, 'Invalid API token.');
    }
    const now = this.#now();
    this.#window = this.#window.filter((at) => at > now - 1000);
    if (this.#window.length >= this.#perSecond) {
      this.flags.rateLimited += 1;
      const wait = Math.max(1, Math.ceil((this.#window[0]! + 1000 - now) / 1000));
      return json(429, { error: 'Rate limit exceeded.', status: 429 }, { 'retry-after': String(wait) });
    }
    this.#window.push(now);
    const injected = this.#failures.shift();
    if (injected) return json(injected.status, injected.body, injected.headers);
    const local = url.pathname.slice('/v2'.length);
    const ruleIndex = this.#rules.findIndex((rule) => rule.method === request.method.toUpperCase() && rule.path.test(local));
    if (ruleIndex !== -1) {
      const [rule] = this.#rules.splice(ruleIndex, 1);
      if (rule!.afterApplying) this.#route(request, url, headers);
      return json(rule!.status, rule!.body, rule!.headers);
    }
    return this.#route(request, url, headers);
  }

  #route(request: HttpRequest, url: URL, headers: Record<string, string>): HttpResponse {
    const path = url.pathname.slice('/v2'.length).split('/').filter(Boolean);
    const method = request.method.toUpperCase();
    if (method === 'GET') this.counters.gets += 1;
    let body: unknown;
    if (method === 'POST' || method === 'PATCH' || method === 'PUT') {
      if (!(headers['content-type'] ?? '').startsWith('application/json')) return this.#invalid('Content-Type must be application/json');
      const text = typeof request.body === 'string' ? request.body : Buffer.from(request.body ?? new Uint8Array()).toString('utf8');
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        return this.#invalid('Invalid JSON body.');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return this.#invalid('Invalid JSON body.');
    }
    const fields = body as Record<string, unknown>;

    if (path[0] === 'instances' && path.length === 2) {
      const instance = this.#instances.get(path[1]!);
      if (!instance) return error(404, 'Invalid instance-id.');
      if (method === 'GET') return json(200, { instance: clone(instance) });
      if (method === 'PATCH') return this.#patchInstance(instance, fields);
      return error(405, 'Method not allowed.');
    }
    if (path[0] === 'firewalls') {
      if (path.length === 1) {
        if (method === 'GET') return this.#page(url, 'firewall_groups', [...this.#groups.values()].map((group) => this.#groupView(group)));
        if (method === 'POST') {
          const description = fields.description ?? '';
          if (typeof description !== 'string' || Object.keys(fields).some((key) => key !== 'description')) return this.#invalid('Invalid firewall group description.');
          this.counters.groupCreates += 1;
          this.writes.push(`POST /firewalls ${JSON.stringify(fields)}`);
          const group = this.#createGroup(description, true);
          return json(201, { firewall_group: this.#groupView(group) });
        }
        return error(405, 'Method not allowed.');
      }
      const group = this.#groups.get(path[1]!);
      if (!group) return error(404, 'Invalid firewall group.');
      if (path.length === 2) {
        if (method === 'GET') return json(200, { firewall_group: this.#groupView(group) });
        if (method === 'DELETE' || method === 'PUT') {
          this.flags.groupDeletesOrEdits += 1;
          this.writes.push(`${method} /firewalls/${group.id}`);
          if (method === 'DELETE') {
            this.#groups.delete(group.id);
            for (const instance of this.#instances.values()) if (instance.firewall_group_id === group.id) instance.firewall_group_id = '';
          } else if (typeof fields.description === 'string') {
            group.description = fields.description;
          }
          return empty(204);
        }
        return error(405, 'Method not allowed.');
      }
      if (path[2] === 'rules' && path.length === 3) {
        if (method === 'GET') return this.#page(url, 'firewall_rules', clone(group.rules));
        if (method === 'POST') return this.#createRuleRequest(group, fields);
        return error(405, 'Method not allowed.');
      }
      if (path[2] === 'rules' && path.length === 4) {
        const rule = group.rules.find((item) => String(item.id) === path[3]);
        if (!rule) return error(404, 'Invalid firewall rule.');
        if (method === 'GET') return json(200, { firewall_rule: clone(rule) });
        if (method === 'DELETE') {
          if (!group.relayOwned) this.flags.foreignRuleWrites += 1;
          this.counters.ruleDeletes += 1;
          this.writes.push(`DELETE /firewalls/${group.id}/rules/${rule.id}`);
          group.rules = group.rules.filter((item) => item !== rule);
          group.date_modified = this.#stamp();
          return empty(204);
        }
        return error(405, 'Method not allowed.');
      }
    }
    return error(404, 'Not found.');
  }

  #patchInstance(instance: SimInstance, fields: Record<string, unknown>): HttpResponse {
    this.counters.instancePatches += 1;
    this.writes.push(`PATCH /instances/${instance.id} ${JSON.stringify(fields)}`);
    if (Object.keys(fields).some((key) => key !== 'firewall_group_id')) this.flags.patchesWithOtherFields += 1;
    if ('firewall_group_id' in fields) {
      const target = fields.firewall_group_id;
      if (typeof target !== 'string') return this.#invalid('firewall_group_id must be a string.');
      if (target !== '' && !this.#groups.has(target)) return error(400, 'Invalid firewall group id.');
      if (target === instance.firewall_group_id) this.flags.redundantInstancePatches += 1;
      if (!(target === '' && this.#ignoreDetach)) instance.firewall_group_id = target;
    }
    return json(202, { instance: clone(instance) });
  }

  #createRuleRequest(group: GroupState, fields: Record<string, unknown>): HttpResponse {
    this.counters.ruleCreates += 1;
    this.writes.push(`POST /firewalls/${group.id}/rules ${JSON.stringify(fields)}`);
    if (!group.relayOwned) this.flags.foreignRuleWrites += 1;
    const problem = validateRule(fields);
    if (problem) return this.#invalid(problem);
    const candidate = this.#newRule({
      ip_type: fields.ip_type as 'v4' | 'v6',
      protocol: fields.protocol as string,
      subnet: fields.subnet as string,
      subnet_size: fields.subnet_size as number,
      port: (fields.port as string | undefined) ?? '',
      source: (fields.source as string | undefined) ?? '',
      notes: (fields.notes as string | undefined) ?? '',
    }, false);
    if (group.rules.some((rule) => sameRule(rule, candidate))) {
      this.flags.duplicateRuleCreates += 1;
      return error(400, 'Unable to create firewall rule: the rule already exists.');
    }
    if (group.rules.length >= group.max_rule_count) return error(400, `Unable to create firewall rule: the group holds at most ${group.max_rule_count} rules.`);
    candidate.id = this.#nextRule++;
    group.rules.push(candidate);
    group.date_modified = this.#stamp();
    return json(201, { firewall_rule: clone(candidate) });
  }

  #page(url: URL, key: string, items: unknown[]): HttpResponse {
    const perPageText = url.searchParams.get('per_page');
    let perPage = 100;
    if (perPageText !== null) {
      if (!/^\d+$/.test(perPageText) || Number(perPageText) < 1 || Number(perPageText) > 500) return this.#invalid('per_page must be between 1 and 500.');
      perPage = Number(perPageText);
    }
    perPage = Math.min(perPage, this.#pageSizeCap);
    const cursor = url.searchParams.get('cursor');
    let offset = 0;
    if (cursor !== null && cursor !== '') {
      const decoded = /^next__(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
      if (!decoded) return this.#invalid('Invalid cursor.');
      offset = Number(decoded[1]);
    }
    const slice = items.slice(offset, offset + perPage);
    const next = offset + perPage < items.length ? Buffer.from(`next__${offset + perPage}`).toString('base64') : '';
    const prev = offset > 0 ? Buffer.from(`prev__${Math.max(0, offset - perPage)}`).toString('base64') : '';
    return json(200, { [key]: slice, meta: { total: items.length, links: { next, prev } } });
  }

  #createGroup(description: string, relayOwned: boolean): GroupState {
    const n = this.#nextGroup++;
    const id = `${(0x1a2b0000 + n).toString(16)}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
    const stamp = this.#stamp();
    const group: GroupState = { id, description, date_created: stamp, date_modified: stamp, max_rule_count: this.#maxRuleCount, rules: [], relayOwned };
    this.#groups.set(id, group);
    return group;
  }

  #newRule(fields: Partial<SimRule> & Pick<SimRule, 'ip_type' | 'protocol' | 'subnet' | 'subnet_size'>, assignId = true): SimRule {
    return {
      id: assignId ? this.#nextRule++ : 0,
      type: fields.ip_type,
      ip_type: fields.ip_type,
      action: 'accept',
      protocol: fields.protocol,
      port: fields.port ?? '',
      subnet: fields.subnet,
      subnet_size: fields.subnet_size,
      source: fields.source ?? '',
      notes: fields.notes ?? '',
    };
  }

  #groupView(group: GroupState): SimGroup {
    return {
      id: group.id,
      description: group.description,
      date_created: group.date_created,
      date_modified: group.date_modified,
      instance_count: [...this.#instances.values()].filter((instance) => instance.firewall_group_id === group.id).length,
      rule_count: group.rules.length,
      max_rule_count: group.max_rule_count,
    };
  }

  #group(id: string): GroupState {
    const group = this.#groups.get(id);
    if (!group) throw new Error(`no group ${id}`);
    return group;
  }

  #stamp(): string {
    return new Date(this.#now()).toISOString().replace('.000Z', '+00:00');
  }

  #invalid(message: string): HttpResponse {
    this.flags.invalidBodies += 1;
    return error(400, message);
  }
}

/** Why a rule body is refused, or undefined. */
function validateRule(fields: Record<string, unknown>): string | undefined {
  const unknown = Object.keys(fields).filter((key) => !RULE_FIELDS.has(key));
  if (unknown.length > 0) return `Unknown field(s): ${unknown.join(', ')}.`; // UNVERIFIED: Vultr may ignore unknown fields.
  const { ip_type: ipType, protocol, subnet, subnet_size: size, port, source, notes } = fields;
  if (ipType !== 'v4' && ipType !== 'v6') return 'ip_type must be v4 or v6.';
  if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) return 'Invalid protocol.';
  if (typeof subnet !== 'string') return 'subnet is required.';
  const address = parseAddress(subnet);
  if (!address.ok || address.address.family !== (ipType === 'v4' ? 4 : 6)) return 'Invalid subnet.';
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > (ipType === 'v4' ? 32 : 128)) return 'Invalid subnet_size.';
  if (port !== undefined) {
    if (typeof port !== 'string') return 'port must be a string.';
    if (protocol !== 'tcp' && protocol !== 'udp') {
      if (port !== '') return 'port is only allowed for tcp and udp.'; // UNVERIFIED (ansible-collection-vultr #76: icmp with a port misbehaves)
    } else {
      const match = PORT.exec(port);
      if (!match || Number(match[1]) < 1 || Number(match[2] ?? match[1]) > 65535 || Number(match[1]) > Number(match[2] ?? match[1])) return 'Invalid port.';
    }
  }
  if (source !== undefined && source !== '' && source !== 'cloudflare') return 'Invalid source.';
  if (notes !== undefined && typeof notes !== 'string') return 'notes must be a string.';
  return undefined;
}

function sameRule(a: SimRule, b: SimRule): boolean {
  const net = (rule: SimRule) => {
    const parsed = parseCidr(`${rule.subnet}/${rule.subnet_size}`, { hostBits: 'clear' });
    return parsed.ok ? `${parsed.cidr.family}:${parsed.cidr.network}/${parsed.cidr.prefix}` : rule.subnet;
  };
  return a.ip_type === b.ip_type && a.protocol === b.protocol && net(a) === net(b) && a.port === b.port && a.source === b.source;
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: new TextEncoder().encode(JSON.stringify(body)) };
}

function empty(status: number): HttpResponse {
  return { status, headers: {}, body: new Uint8Array() };
}

function error(status: number, message: string): HttpResponse {
  return json(status, { error: message, status });
}
