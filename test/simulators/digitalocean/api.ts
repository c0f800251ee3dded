/**
 * DigitalOcean API v2 simulator: Cloud Firewalls
 * (`GET`/`PUT /v2/firewalls/{id}`, `POST`/`DELETE /v2/firewalls/{id}/rules`),
 * written from digitalocean/openapi (`resources/firewalls/*.yml`,
 * `models/firewall.yml`, `models/firewall_rule.yml`, `shared/models/error.yml`,
 * `shared/headers.yml`) and docs.digitalocean.com (firewalls reference and
 * limits, API rate limits).
 *
 * What it models:
 * - Bearer tokens with scopes (`firewall:read` for GET, `firewall:update` for
 *   writes; `droplet:read` / `tag:read` decide whether a GET shows the
 *   attached droplets and tags: "will include only the resources that you
 *   are granted to see" — the exact filtering is UNVERIFIED). No or unknown
 *   token → 401 `{"id":"Unauthorized","message":"Unable to authenticate
 *   you"}`; a missing scope → 403 `{"id":"Forbidden","message":"You are not
 *   authorized to perform this operation"}` (id UNVERIFIED). Every error
 *   body carries `request_id`.
 * - Unknown firewall → 404 `not_found`; a malformed body → 400 `bad_request`
 *   (messages UNVERIFIED).
 * - Rules as GET reports them: every-port and icmp rules as `ports: "0"`.
 *   Writes refuse `ports: "0"` and icmp rules with `ports` (as public clients
 *   report; UNVERIFIED in DigitalOcean's docs) and want `"all"` instead.
 * - `POST …/rules` appends, `DELETE …/rules` removes every rule equal by value
 *   (protocol, ports, sources as sets; addresses compared as canonical
 *   CIDRs — UNVERIFIED how DigitalOcean compares); both answer 204. A DELETE
 *   matching nothing is answered 204 (UNVERIFIED) and counted.
 * - Asynchronous application: after a write the firewall reports
 *   `status: "waiting"` and one `pending_changes` entry per attached droplet
 *   for `applyDelayMs`, then `succeeded` and `[]`. Writes during that time are
 *   accepted (UNVERIFIED whether DigitalOcean refuses them) and counted.
 * - Limits: 50 rules (inbound + outbound) per firewall, 1,000 sources per
 *   rule → 400 (UNVERIFIED status and message).
 * - Rate limit per token: 250 requests per minute and 5,000 per hour; every
 *   answer carries `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset`
 *   (epoch seconds); above it 429 `{"id":"too_many_requests","message":"API
 *   rate limit exceeded."}` without Retry-After (UNVERIFIED whether one is
 *   sent).
 * - `PUT /v2/firewalls/{id}` replaces the whole firewall as the spec says:
 *   what it does not carry (droplet_ids, tags, a rule list) is reset. The
 *   relay must never use it; it is counted.
 * - Semantics: `admit(id, source, protocol, port)` answers whether the
 *   firewall lets a packet in (allow-list, default deny; a `deny` rule of the
 *   newer spec wins — UNVERIFIED).
 *
 * Every rule remembers who put it there (`seed`: the account before the
 * test; `api`: a write through the API; `hand`: someone else behind the
 * relay's back). What a careful client must not do is counted in `counters`.
 */
import { cidrContains, formatCidr, parseCidr } from '../../../lib/ip/cidr.ts';
import { parseAddress } from '../../../lib/ip/address.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const DO_ORIGIN = 'https://api.digitalocean.com';
export const DEFAULT_TOKEN = 'dop_v1_simulated0123456789abcdef0123456789abcdef0123456789abcdef0';
export const SCOPES = ['firewall:read', 'firewall:update', 'droplet:read', 'tag:read'] as const;
export type Scope = (typeof SCOPES)[number];
export const MAX_RULES = 50;
export const MAX_SOURCES = 1000;

export type SimProtocol = 'tcp' | 'udp' | 'icmp';

export interface SimTargets {
  addresses?: string[];
  droplet_ids?: number[];
  load_balancer_uids?: string[];
  kubernetes_ids?: string[];
  tags?: string[];
}

/** An inbound rule as GET reports it. */
export interface SimInboundRule {
  protocol: SimProtocol;
  ports: string;
  sources: SimTargets;
  action?: 'allow' | 'deny';
}

/** An outbound rule as GET reports it. */
export interface SimOutboundRule {
  protocol: SimProtocol;
  ports: string;
  destinations: SimTargets;
  action?: 'allow' | 'deny';
}

export type Origin = 'seed' | 'api' | 'hand';

interface Stored<R> {
  rule: R;
  origin: Origin;
}

interface StoredFirewall {
  id: string;
  name: string;
  created_at: string;
  droplet_ids: number[];
  tags: string[];
  inbound: Stored<SimInboundRule>[];
  outbound: Stored<SimOutboundRule>[];
  /** Epoch ms until which the last change is being applied. */
  applyingUntil: number;
  failed: boolean;
}

/** The firewall object as a GET with every scope shows it. */
export interface SimFirewallView {
  id: string;
  name: string;
  status: 'waiting' | 'succeeded' | 'failed';
  inbound_rules: SimInboundRule[];
  outbound_rules: SimOutboundRule[];
  created_at: string;
  droplet_ids: number[];
  tags: string[];
  pending_changes: { droplet_id: number; removing: boolean; status: string }[];
}

export interface SimCounters {
  requests: number;
  gets: number;
  /** POST/DELETE …/rules that were applied. */
  ruleWrites: number;
  /** Whole-firewall replaces (PUT /v2/firewalls/{id}): the relay must never send one. */
  puts: number;
  /** POSTed rules equal to a rule the firewall already has. */
  duplicateAdds: number;
  /** DELETEd rules that matched no rule. */
  absentRemovals: number;
  /** DELETEd rules that someone else had put there during the test (origin `hand`). */
  foreignRemovals: number;
  /** Writes that carried outbound_rules. */
  outboundWrites: number;
  /** Writes sent while the firewall was still applying a change (status waiting / pending_changes). */
  writesWhilePending: number;
  /** Writes refused with 400 (malformed rules, limits). */
  rejectedWrites: number;
  /** 401 and 403 answers. */
  authFailures: number;
  /** Requests answered 429. */
  rateLimited: number;
  /** Requests sent before the ratelimit-reset of an earlier 429 had passed. */
  requestsWhileLimited: number;
}

export interface SimRequestLog {
  method: string;
  path: string;
  body: unknown;
  status: number;
  at: number;
}

export interface DigitalOceanSimulatorOptions {
  now: () => number;
  /** How long a write keeps the firewall "waiting" (0: applied before the write answers). */
  applyDelayMs?: number;
  rateLimit?: { perMinute: number; perHour: number };
}

const PORTS = /^(\d{1,5})(?:-(\d{1,5}))?$/;
const TARGET_KEYS = ['addresses', 'droplet_ids', 'load_balancer_uids', 'kubernetes_ids', 'tags'] as const;

export class DigitalOceanSimulator {
  readonly counters: SimCounters = {
    requests: 0,
    gets: 0,
    ruleWrites: 0,
    puts: 0,
    duplicateAdds: 0,
    absentRemovals: 0,
    foreignRemovals: 0,
    outboundWrites: 0,
    writesWhilePending: 0,
    rejectedWrites: 0,
    authFailures: 0,
    rateLimited: 0,
    requestsWhileLimited: 0,
  };
  readonly log: SimRequestLog[] = [];
  readonly tokens = new Map<string, Set<Scope>>([[DEFAULT_TOKEN, new Set(SCOPES)]]);
  readonly #o: Required<DigitalOceanSimulatorOptions>;
  readonly #firewalls = new Map<string, StoredFirewall>();
  readonly #windows = new Map<string, number[]>();
  readonly #limitedUntil = new Map<string, number>();
  #failures: { status: number; body?: unknown; headers?: Record<string, string>; applied?: boolean; on?: string }[] = [];
  #ids = 0;

  constructor(options: DigitalOceanSimulatorOptions) {
    this.#o = {
      now: options.now,
      applyDelayMs: options.applyDelayMs ?? 5_000,
      rateLimit: options.rateLimit ?? { perMinute: 250, perHour: 5_000 },
    };
  }

  readonly transport: Transport = { request: (request) => Promise.resolve(this.handle(request)) };

  // ---- helpers for tests ----

  /** A firewall as it is before the test (rules in GET form, origin `seed`); returns its id. */
  addFirewall(init: {
    id?: string;
    name?: string;
    droplet_ids?: number[];
    tags?: string[];
    inbound_rules?: SimInboundRule[];
    outbound_rules?: SimOutboundRule[];
  } = {}): string {
    const id = init.id ?? this.#uuid();
    this.#firewalls.set(id, {
      id,
      name: init.name ?? `firewall-${this.#firewalls.size + 1}`,
      created_at: '2025-11-02T10:00:00Z',
      droplet_ids: [...(init.droplet_ids ?? [])],
      tags: [...(init.tags ?? [])],
      inbound: (init.inbound_rules ?? []).map((rule) => ({ rule: clone(rule), origin: 'seed' as const })),
      outbound: (init.outbound_rules ?? []).map((rule) => ({ rule: clone(rule), origin: 'seed' as const })),
      applyingUntil: 0,
      failed: false,
    });
    return id;
  }

  /** The firewall as a GET with every scope would show it now. */
  firewall(id: string): SimFirewallView {
    return this.#view(this.#get(id), new Set(SCOPES));
  }

  /** Who put each inbound rule there, in order. */
  origins(id: string): Origin[] {
    return this.#get(id).inbound.map((entry) => entry.origin);
  }

  /** Someone else adds an inbound rule (control panel, another tool); it applies at once. */
  addRuleByHand(id: string, rule: SimInboundRule): void {
    this.#get(id).inbound.push({ rule: clone(rule), origin: 'hand' });
  }

  /** Someone else removes the inbound rules `match` selects; it applies at once. */
  removeRulesByHand(id: string, match: (rule: SimInboundRule) => boolean): number {
    const firewall = this.#get(id);
    const before = firewall.inbound.length;
    firewall.inbound = firewall.inbound.filter((entry) => !match(entry.rule));
    return before - firewall.inbound.length;
  }

  /** DigitalOcean starts (or stops) reporting the firewall as still applying a change made elsewhere. */
  setApplying(id: string, untilMs: number): void {
    this.#get(id).applyingUntil = untilMs;
  }

  /** DigitalOcean reports `status: "failed"` until the next write. */
  setFailed(id: string): void {
    this.#get(id).failed = true;
  }

  /**
   * The next request (of method `on`, when given) answers `status` instead
   * (after auth and rate limit). `applied: true`: a write is carried out all
   * the same (an answer lost after the change was made).
   */
  failNext(status: number, options: { body?: unknown; headers?: Record<string, string>; applied?: boolean; on?: 'GET' | 'POST' | 'DELETE' | 'PUT' } = {}): void {
    this.#failures.push({ status, ...options });
  }

  /**
   * Would the firewall let this packet in? Allow-list, default deny; an
   * address-based packet matches only `sources.addresses` (droplet, load
   * balancer, cluster and tag sources are DigitalOcean's own machines).
   */
  admit(id: string, source: string, protocol: SimProtocol, port?: number): boolean {
    const parsed = parseAddress(source);
    if (!parsed.ok) throw new Error(`admit: ${source} is not an address`);
    const matches = (rule: SimInboundRule) =>
      rule.protocol === protocol &&
      portMatches(rule, port) &&
      (rule.sources.addresses ?? []).some((text) => {
        const cidr = parseCidr(text, { hostBits: 'clear' });
        return cidr.ok && cidrContains(cidr.cidr, parsed.address);
      });
    const rules = this.#get(id).inbound.map((entry) => entry.rule);
    if (rules.some((rule) => rule.action === 'deny' && matches(rule))) return false;
    return rules.some((rule) => (rule.action ?? 'allow') === 'allow' && matches(rule));
  }

  // ---- the API ----

  handle(request: HttpRequest): HttpResponse {
    this.counters.requests += 1;
    const now = this.#o.now();
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method.toUpperCase();
    const body = decode(request.body);
    const respond = (status: number, payload?: unknown, headers: Record<string, string> = {}): HttpResponse => {
      this.log.push({ method, path, body: safeJson(body), status, at: now });
      return {
        status,
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        body: payload === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload)),
      };
    };
    const error = (status: number, id: string, message: string, headers: Record<string, string> = {}) =>
      respond(status, { id, message, request_id: `req-${this.counters.requests}` }, headers);

    if (`${url.protocol}//${url.host}` !== DO_ORIGIN) return error(404, 'not_found', 'The resource you were accessing could not be found.');
    // ---- authentication ----
    const header = request.headers?.Authorization ?? request.headers?.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    const scopes = token === undefined ? undefined : this.tokens.get(token);
    if (scopes === undefined) {
      this.counters.authFailures += 1;
      return error(401, 'Unauthorized', 'Unable to authenticate you');
    }
    // ---- rate limit ----
    const limited = this.#limitedUntil.get(token!) ?? 0;
    if (now < limited) this.counters.requestsWhileLimited += 1;
    const window = (this.#windows.get(token!) ?? []).filter((at) => at > now - 3_600_000);
    this.#windows.set(token!, window);
    const lastMinute = window.filter((at) => at > now - 60_000);
    const { perMinute, perHour } = this.#o.rateLimit;
    if (lastMinute.length >= perMinute || window.length >= perHour) {
      this.counters.rateLimited += 1;
      const oldest = window.length >= perHour ? window[0]! + 3_600_000 : lastMinute[0]! + 60_000;
      this.#limitedUntil.set(token!, oldest);
      return error(429, 'too_many_requests', 'API rate limit exceeded.', rateHeaders(perHour, 0, oldest));
    }
    window.push(now);
    const rate = rateHeaders(perHour, perHour - window.length, (window[0] ?? now) + 3_600_000);

    // ---- routing ----
    const match = /^\/v2\/firewalls\/([^/]+)(\/rules)?$/.exec(path);
    if (!match) return error(404, 'not_found', 'The resource you were accessing could not be found.', rate);
    const [, id, rulesPath] = match;
    const allowed = rulesPath ? (method === 'POST' || method === 'DELETE') : (method === 'GET' || method === 'PUT');
    if (!allowed) return error(405, 'method_not_allowed', `${method} is not allowed here`, rate);
    const needed: Scope = method === 'GET' ? 'firewall:read' : 'firewall:update';
    if (!scopes.has(needed)) {
      this.counters.authFailures += 1;
      return error(403, 'Forbidden', 'You are not authorized to perform this operation', rate);
    }
    const failureIndex = this.#failures.findIndex((entry) => entry.on === undefined || entry.on === method);
    const failure = failureIndex === -1 ? undefined : this.#failures.splice(failureIndex, 1)[0];
    if (failure && !(failure.applied && method !== 'GET')) {
      return failure.body === undefined
        ? error(failure.status, failure.status >= 500 ? 'server_error' : 'error', 'Simulated failure', { ...rate, ...failure.headers })
        : respond(failure.status, failure.body, { ...rate, ...failure.headers });
    }
    const firewall = this.#firewalls.get(id!);
    if (!firewall) return error(404, 'not_found', 'The resource you were accessing could not be found.', rate);

    if (method === 'GET') {
      this.counters.gets += 1;
      return respond(200, { firewall: this.#view(firewall, scopes) }, rate);
    }

    // ---- writes ----
    if (!/^application\/json\b/i.test(request.headers?.['Content-Type'] ?? request.headers?.['content-type'] ?? '')) {
      this.counters.rejectedWrites += 1;
      return error(400, 'bad_request', 'Content-Type must be application/json', rate);
    }
    const json = safeJson(body);
    if (json === undefined || typeof json !== 'object' || json === null || Array.isArray(json)) {
      this.counters.rejectedWrites += 1;
      return error(400, 'bad_request', 'The request body must be a JSON object', rate);
    }
    const pendingNow = this.#applying(firewall);
    if (method === 'PUT') {
      this.counters.puts += 1;
      const result = this.#put(firewall, json as Record<string, unknown>);
      if (typeof result === 'string') {
        this.counters.rejectedWrites += 1;
        return error(400, 'bad_request', result, rate);
      }
      if (pendingNow) this.counters.writesWhilePending += 1;
      this.#touched(firewall);
      return respond(200, { firewall: this.#view(firewall, scopes) }, rate);
    }
    const parsed = parseRuleBody(json as Record<string, unknown>);
    if (typeof parsed === 'string') {
      this.counters.rejectedWrites += 1;
      return error(400, 'bad_request', parsed, rate);
    }
    if (parsed.outbound.length > 0) this.counters.outboundWrites += 1;
    if (method === 'POST') {
      const total = firewall.inbound.length + firewall.outbound.length + parsed.inbound.length + parsed.outbound.length;
      if (total > MAX_RULES) {
        this.counters.rejectedWrites += 1;
        return error(400, 'bad_request', `A firewall can have at most ${MAX_RULES} rules`, rate); // UNVERIFIED message
      }
      for (const rule of parsed.inbound) {
        if (firewall.inbound.some((entry) => ruleKey(entry.rule) === ruleKey(rule))) this.counters.duplicateAdds += 1;
        firewall.inbound.push({ rule, origin: 'api' });
      }
      for (const rule of parsed.outbound) firewall.outbound.push({ rule, origin: 'api' });
    } else {
      for (const rule of parsed.inbound) {
        const key = ruleKey(rule);
        const hits = firewall.inbound.filter((entry) => ruleKey(entry.rule) === key);
        if (hits.length === 0) this.counters.absentRemovals += 1;
        if (hits.some((entry) => entry.origin === 'hand')) this.counters.foreignRemovals += 1;
        firewall.inbound = firewall.inbound.filter((entry) => ruleKey(entry.rule) !== key);
      }
      for (const rule of parsed.outbound) {
        const key = ruleKey(rule);
        firewall.outbound = firewall.outbound.filter((entry) => ruleKey(entry.rule) !== key);
      }
    }
    if (pendingNow) this.counters.writesWhilePending += 1;
    this.counters.ruleWrites += 1;
    this.#touched(firewall);
    if (failure) return error(failure.status, 'server_error', 'Simulated failure after the change was made', { ...rate, ...failure.headers });
    return respond(204, undefined, rate);
  }

  #put(firewall: StoredFirewall, body: Record<string, unknown>): string | undefined {
    if (typeof body.name !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9.-]+$/.test(body.name)) return 'name is required';
    if (body.inbound_rules === undefined && body.outbound_rules === undefined) return 'inbound_rules or outbound_rules is required';
    const rules = parseRuleBody({
      ...(body.inbound_rules !== undefined ? { inbound_rules: body.inbound_rules } : {}),
      ...(body.outbound_rules !== undefined ? { outbound_rules: body.outbound_rules } : {}),
    });
    if (typeof rules === 'string') return rules;
    // "Any attributes that are not provided will be reset to their default values."
    firewall.name = body.name;
    firewall.inbound = rules.inbound.map((rule) => ({ rule, origin: 'api' as const }));
    firewall.outbound = rules.outbound.map((rule) => ({ rule, origin: 'api' as const }));
    firewall.droplet_ids = Array.isArray(body.droplet_ids) ? body.droplet_ids.filter((v): v is number => typeof v === 'number') : [];
    firewall.tags = Array.isArray(body.tags) ? body.tags.filter((v): v is string => typeof v === 'string') : [];
    return undefined;
  }

  #touched(firewall: StoredFirewall): void {
    firewall.failed = false;
    firewall.applyingUntil = this.#o.now() + this.#o.applyDelayMs;
  }

  #applying(firewall: StoredFirewall): boolean {
    return this.#o.now() < firewall.applyingUntil;
  }

  #view(firewall: StoredFirewall, scopes: Set<Scope>): SimFirewallView {
    const applying = this.#applying(firewall);
    return {
      id: firewall.id,
      name: firewall.name,
      status: applying ? 'waiting' : firewall.failed ? 'failed' : 'succeeded',
      inbound_rules: firewall.inbound.map((entry) => clone(entry.rule)),
      outbound_rules: firewall.outbound.map((entry) => clone(entry.rule)),
      created_at: firewall.created_at,
      droplet_ids: scopes.has('droplet:read') ? [...firewall.droplet_ids] : [],
      tags: scopes.has('tag:read') ? [...firewall.tags] : [],
      pending_changes: applying ? firewall.droplet_ids.map((droplet_id) => ({ droplet_id, removing: false, status: 'waiting' })) : [],
    };
  }

  #get(id: string): StoredFirewall {
    const firewall = this.#firewalls.get(id);
    if (!firewall) throw new Error(`no simulated firewall ${id}`);
    return firewall;
  }

  #uuid(): string {
    this.#ids += 1;
    const n = this.#ids.toString(16).padStart(12, '0');
    return `bb4b2611-3d72-467b-8602-${n}`;
  }
}

// ---- rule parsing and comparison (written independently of the provider's model) ----

/** Parses `{inbound_rules?, outbound_rules?}` of a write into stored (GET) form, or the reason it is refused. */
function parseRuleBody(body: Record<string, unknown>): { inbound: SimInboundRule[]; outbound: SimOutboundRule[] } | string {
  const unknown = Object.keys(body).filter((key) => key !== 'inbound_rules' && key !== 'outbound_rules');
  if (unknown.length > 0) return `unknown attribute ${unknown[0]}`;
  if (body.inbound_rules === undefined && body.outbound_rules === undefined) return 'inbound_rules or outbound_rules is required';
  const inbound: SimInboundRule[] = [];
  const outbound: SimOutboundRule[] = [];
  for (const [field, list, targetField] of [
    ['inbound_rules', inbound, 'sources'],
    ['outbound_rules', outbound, 'destinations'],
  ] as const) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (!Array.isArray(value)) return `${field} must be an array`;
    for (const [index, raw] of value.entries()) {
      const rule = parseRule(raw, targetField);
      if (typeof rule === 'string') return `${field}[${index}]: ${rule}`;
      (list as unknown[]).push(rule);
    }
  }
  return { inbound, outbound };
}

function parseRule(raw: unknown, targetField: 'sources' | 'destinations'): SimInboundRule | SimOutboundRule | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'must be an object';
  const rule = raw as Record<string, unknown>;
  const unknown = Object.keys(rule).filter((key) => !['protocol', 'ports', 'action', targetField].includes(key));
  if (unknown.length > 0) return `unknown attribute ${unknown[0]}`;
  if (rule.protocol !== 'tcp' && rule.protocol !== 'udp' && rule.protocol !== 'icmp') return 'protocol must be tcp, udp or icmp';
  let ports: string;
  if (rule.protocol === 'icmp') {
    if (rule.ports !== undefined) return 'ports is not allowed for icmp'; // UNVERIFIED: as public clients report
    ports = '0';
  } else {
    if (typeof rule.ports !== 'string') return 'ports is required';
    if (rule.ports === 'all') ports = '0';
    else {
      const match = PORTS.exec(rule.ports);
      const low = Number(match?.[1]);
      const high = match?.[2] === undefined ? low : Number(match[2]);
      // "0" is what GET reports, but writes refuse it (public clients; UNVERIFIED).
      if (!match || low < 1 || high > 65535 || low > high) return `ports "${rule.ports}" is invalid: use a port, a range or "all"`;
      ports = rule.ports;
    }
  }
  if (rule.action !== undefined && rule.action !== 'allow' && rule.action !== 'deny') return 'action must be allow or deny';
  const targets = rule[targetField];
  if (typeof targets !== 'object' || targets === null || Array.isArray(targets)) return `${targetField} is required`;
  const t = targets as Record<string, unknown>;
  const extra = Object.keys(t).filter((key) => !(TARGET_KEYS as readonly string[]).includes(key));
  if (extra.length > 0) return `${targetField}: unknown attribute ${extra[0]}`;
  const out: SimTargets = {};
  let count = 0;
  for (const key of TARGET_KEYS) {
    const value = t[key];
    if (value === undefined) continue;
    if (!Array.isArray(value)) return `${targetField}.${key} must be an array`;
    if (key === 'droplet_ids') {
      if (!value.every((v) => Number.isInteger(v))) return `${targetField}.droplet_ids must be integers`;
    } else if (!value.every((v) => typeof v === 'string')) return `${targetField}.${key} must be strings`;
    if (key === 'addresses') {
      for (const address of value as string[]) {
        if (!parseCidr(address, { hostBits: 'clear' }).ok) return `${targetField}.addresses: "${String(address).slice(0, 60)}" is not an address or CIDR`;
      }
    }
    count += value.length;
    (out as Record<string, unknown>)[key] = [...value];
  }
  if (count === 0) return `${targetField} must name at least one address, droplet, load balancer, cluster or tag`;
  if (count > MAX_SOURCES) return `${targetField} is limited to ${MAX_SOURCES} entries`;
  const stored = { protocol: rule.protocol, ports, [targetField]: out } as unknown as SimInboundRule | SimOutboundRule;
  if (rule.action !== undefined) stored.action = rule.action as 'allow' | 'deny';
  return stored;
}

function canonicalTargets(t: SimTargets | undefined): unknown[] {
  const set = (values: readonly (string | number)[] | undefined) => [...new Set((values ?? []).map(String))].sort();
  const addresses = (t?.addresses ?? []).map((text) => {
    const parsed = parseCidr(text, { hostBits: 'clear' });
    return parsed.ok ? formatCidr(parsed.cidr) : text;
  });
  return [set(addresses), set(t?.droplet_ids), set(t?.load_balancer_uids), set(t?.kubernetes_ids), set(t?.tags)];
}

/** Equality by value, as the simulator matches a DELETE. */
export function ruleKey(rule: SimInboundRule | SimOutboundRule): string {
  const targets = 'sources' in rule ? rule.sources : rule.destinations;
  const ports = rule.protocol === 'icmp' || rule.ports === '0' || rule.ports === 'all' ? '*' : rule.ports.replace(/^(\d+)-\1$/, '$1');
  return JSON.stringify([rule.action ?? 'allow', rule.protocol, ports, canonicalTargets(targets)]);
}

function portMatches(rule: SimInboundRule, port: number | undefined): boolean {
  if (rule.protocol === 'icmp' || rule.ports === '0') return true;
  if (port === undefined) return false;
  const match = PORTS.exec(rule.ports);
  if (!match) return false;
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  return port >= low && port <= high;
}

function rateHeaders(limit: number, remaining: number, resetMs: number): Record<string, string> {
  return {
    'ratelimit-limit': String(limit),
    'ratelimit-remaining': String(Math.max(0, remaining)),
    'ratelimit-reset': String(Math.ceil(resetMs / 1000)),
  };
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function decode(body: string | Uint8Array | undefined): string {
  if (body === undefined) return '';
  return typeof body === 'string' ? body : new TextDecoder().decode(body);
}

function safeJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A few rules to build accounts with (GET form). */
export const rules = {
  tcp: (ports: string, ...addresses: string[]): SimInboundRule => ({ protocol: 'tcp', ports, sources: { addresses } }),
  udp: (ports: string, ...addresses: string[]): SimInboundRule => ({ protocol: 'udp', ports, sources: { addresses } }),
  icmp: (...addresses: string[]): SimInboundRule => ({ protocol: 'icmp', ports: '0', sources: { addresses } }),
};
