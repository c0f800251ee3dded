/**
 * Linode API v4 simulator: Cloud Firewalls (`/v4/networking/firewalls/{id}`,
 * `…/rules`, `…/devices`), written from the API reference
 * (techdocs.akamai.com/linode-api: get-firewall, get-firewall-rules,
 * put-firewall-rules, get-firewall-devices, rate-limits; the archived
 * linode/linode-api-docs openapi.yaml v4.189.0) and what Linode's own
 * clients send and receive (linodego firewall_rules.go and its recorded
 * fixtures; @linode/api-v4 firewalls/types.ts).
 *
 * What it models:
 * - `Authorization: Bearer <token>`; a wrong token is 401 "Invalid Token".
 *   The token's scopes decide: reads need firewall:read_only (or
 *   read_write), PUT needs firewall:read_write, else 403 "Unauthorized" with
 *   `X-Accepted-OAuth-Scopes` naming the scope the call needs.
 * - Error body `{"errors":[{"reason":"…","field":"…"}]}`.
 * - The firewall object `{id, label, created, updated, status, rules, tags,
 *   entities}` and the rule set `{inbound, inbound_policy, outbound,
 *   outbound_policy, version, fingerprint}`. `version` counts rule updates
 *   from 1 ("the version number increments whenever there is a rule
 *   update", changelog 2024-10-04); `fingerprint` is 8 hex characters.
 * - PUT …/rules replaces inbound, outbound and both policies at once, with
 *   Linode's validation: actions ACCEPT|DROP, protocols TCP|UDP|ICMP|IPENCAP,
 *   ports only for TCP/UDP (at most 15 pieces, 1–65535, no leading zeros,
 *   ranges low<high), label 3–32 characters, description 1–100, at most 255
 *   addresses per rule and 25 rules per firewall (inbound and outbound
 *   together). Addresses are reported in canonical text (`::0/0` → `::/0`).
 * - The devices list is paginated (`page`, `page_size` 25–500, default 100;
 *   `{data, page, pages, results}`).
 * - Rate limit per token (default 800 requests a minute, the limit Linode's
 *   recorded answers show): 429 "Too Many Requests" with `Retry-After`;
 *   every answer carries `X-RateLimit-Limit/Remaining/Reset`.
 *
 * UNVERIFIED (decided here, strictest reading):
 * - Read-only keys in a PUT body: Linode refuses unknown top-level keys with
 *   "Keys must be one of: inbound, inbound_policy, outbound, outbound_policy"
 *   (linode-cli issue #254); that `version`/`fingerprint` are refused the
 *   same way is inferred (Linode's Cloud Manager and linodego strip them
 *   before a PUT). The simulator refuses them and counts it.
 * - A PUT leaving out one of the four keys: Linode may fill a default; the
 *   simulator refuses it (400) and counts it, so a client that drops a field
 *   is caught.
 * - The exact reason texts of the limit errors, and the `field` given.
 * - Whether a PUT that changes nothing bumps the version (here it does, and
 *   it is counted as unneeded), whether the fingerprint depends on the
 *   version (here it does, so a change undone by hand still differs), and
 *   whether the PUT answer carries version/fingerprint (here it does).
 * - A bare address in a rule is reported with /32 or /128.
 * - Rule-set references (`{ruleset: id}`) are accepted and kept but never
 *   match a packet in `admit()`; prefix-list tokens are not modelled.
 *
 * What a careful client must not do is counted in `counters` (tests assert
 * zero): PUTs carrying read-only or unknown keys, PUTs that drop a key, PUTs
 * that change the outbound rules or policy, PUTs sent without having read
 * the rules' current version (someone else's change would be overwritten),
 * PUTs beyond Linode's limits, PUTs that change nothing, requests sent
 * before a Retry-After had passed.
 */
import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { formatAddress, parseAddress } from '../../../lib/ip/address.ts';
import { cidrContains, parseCidr } from '../../../lib/ip/cidr.ts';

export const LINODE_ORIGIN = 'https://api.linode.com';
export const LINODE_BASE = `${LINODE_ORIGIN}/v4`;
export const DEFAULT_TOKEN = 'sim-linode-pat-8f14e45fceea167a5a36dedd4bea2543';

const WRITABLE_KEYS = ['inbound', 'inbound_policy', 'outbound', 'outbound_policy'] as const;
const RULE_KEYS = new Set(['action', 'protocol', 'ports', 'addresses', 'label', 'description']);
const PROTOCOLS = new Set(['TCP', 'UDP', 'ICMP', 'IPENCAP']);
const MAX_RULES = 25;
const MAX_ADDRESSES = 255;
const MAX_PORT_PIECES = 15;

export type SimPolicy = 'ACCEPT' | 'DROP';

export interface SimRule {
  action?: string;
  protocol?: string;
  ports?: string;
  addresses?: { ipv4?: string[]; ipv6?: string[] };
  label?: string;
  description?: string;
  ruleset?: number;
}

export interface SimRuleSet {
  inbound: SimRule[];
  inbound_policy: SimPolicy;
  outbound: SimRule[];
  outbound_policy: SimPolicy;
}

export interface SimEntity {
  id: number;
  type: 'linode' | 'nodebalancer' | 'linode_interface';
  label: string;
}

interface FirewallState {
  id: number;
  label: string;
  status: 'enabled' | 'disabled';
  created: string;
  updated: string;
  tags: string[];
  entities: SimEntity[];
  rules: SimRuleSet;
  version: number;
}

export interface SimCounters {
  requests: number;
  gets: number;
  puts: number;
  /** PUTs carrying version/fingerprint or another key Linode does not take. */
  readOnlyFieldPuts: number;
  /** PUTs leaving out inbound, outbound or a policy. */
  droppedFieldPuts: number;
  /** PUTs that would change the outbound rules or outbound_policy. */
  outboundChanges: number;
  /** PUTs sent while the rules had a version this token had not read (someone else's change overwritten). */
  blindPuts: number;
  /** PUTs refused for Linode's limits (25 rules, 255 addresses per rule). */
  limitViolations: number;
  /** Other PUTs refused as invalid. */
  invalidPuts: number;
  /** PUTs whose rules equalled the ones in force. */
  unneededPuts: number;
  /** Requests sent before the Retry-After of a 429 had passed. */
  requestsBeforeRetryAfter: number;
  authFailures: number;
  forbidden: number;
}

export interface SimPut {
  firewall: number;
  body: unknown;
  at: number;
}

export interface LinodeSimulatorOptions {
  now: () => number;
  token?: string;
  /** The token's OAuth scopes (default firewall:read_write). */
  scopes?: string[];
  /** Requests per window per token (default 800) and the window (default 60 s). */
  maxRequests?: number;
  windowMs?: number;
  /** Answer GET firewall without `entities` (older API): clients must read the devices list. */
  omitEntities?: boolean;
}

export interface Packet {
  source: string;
  protocol: 'TCP' | 'UDP' | 'ICMP' | 'IPENCAP';
  port?: number;
}

export function rule(fields: SimRule): SimRule {
  return structuredClone(fields);
}

export class LinodeApiSimulator {
  readonly counters: SimCounters = {
    requests: 0,
    gets: 0,
    puts: 0,
    readOnlyFieldPuts: 0,
    droppedFieldPuts: 0,
    outboundChanges: 0,
    blindPuts: 0,
    limitViolations: 0,
    invalidPuts: 0,
    unneededPuts: 0,
    requestsBeforeRetryAfter: 0,
    authFailures: 0,
    forbidden: 0,
  };
  readonly puts: SimPut[] = [];
  readonly #firewalls = new Map<number, FirewallState>();
  /** Rule version each firewall had when the client last saw it (GET or PUT answer). */
  readonly #seen = new Map<number, number>();
  readonly #now: () => number;
  readonly #token: string;
  readonly #scopes: string[];
  readonly #maxRequests: number;
  readonly #windowMs: number;
  readonly #omitEntities: boolean;
  #window: number[] = [];
  #retryAfterUntil = 0;
  #failures: Array<{ status: number; body: unknown; headers?: Record<string, string> }> = [];
  #nextId = 7000;

  readonly transport: Transport = { request: async (request) => this.handle(request) };

  constructor(options: LinodeSimulatorOptions) {
    this.#now = options.now;
    this.#token = options.token ?? DEFAULT_TOKEN;
    this.#scopes = options.scopes ?? ['firewall:read_write'];
    this.#maxRequests = options.maxRequests ?? 800;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#omitEntities = options.omitEntities ?? false;
  }

  /** Adds a firewall (rules as Linode would store them; version 1). Returns its id. */
  addFirewall(
    init: { id?: number; label?: string; status?: 'enabled' | 'disabled'; entities?: SimEntity[]; rules?: Partial<SimRuleSet> } = {},
  ): number {
    const id = init.id ?? (this.#nextId += 1);
    const at = new Date(this.#now()).toISOString().slice(0, 19);
    this.#firewalls.set(id, {
      id,
      label: init.label ?? `firewall-${id}`,
      status: init.status ?? 'enabled',
      created: at,
      updated: at,
      tags: [],
      entities: structuredClone(init.entities ?? [{ id: 4001, type: 'linode', label: 'web-1' }]),
      rules: {
        inbound: canonicalRules(init.rules?.inbound ?? []),
        inbound_policy: init.rules?.inbound_policy ?? 'ACCEPT',
        outbound: canonicalRules(init.rules?.outbound ?? []),
        outbound_policy: init.rules?.outbound_policy ?? 'ACCEPT',
      },
      version: 1,
    });
    return id;
  }

  /** `GET …/firewalls/{id}` as Linode reports it. */
  firewall(id: number): Record<string, unknown> {
    const state = this.#state(id);
    const out: Record<string, unknown> = {
      id: state.id,
      label: state.label,
      created: state.created,
      updated: state.updated,
      status: state.status,
      rules: this.rules(id),
      tags: [...state.tags],
    };
    if (!this.#omitEntities) out.entities = state.entities.map((entity) => entityJson(entity));
    return out;
  }

  /** `GET …/firewalls/{id}/rules` as Linode reports it. */
  rules(id: number): SimRuleSet & { version: number; fingerprint: string } {
    const state = this.#state(id);
    return { ...structuredClone(state.rules), version: state.version, fingerprint: fingerprintOf(state.rules, state.version) };
  }

  /** Every firewall as the API reports it. */
  account(): Array<Record<string, unknown>> {
    return [...this.#firewalls.keys()].sort((a, b) => a - b).map((id) => this.firewall(id));
  }

  /** Someone else changes the rules (Cloud Manager, another tool): version and fingerprint move on. */
  changeBehindRelay(id: number, change: (rules: SimRuleSet) => void): void {
    const state = this.#state(id);
    change(state.rules);
    state.rules.inbound = canonicalRules(state.rules.inbound);
    state.rules.outbound = canonicalRules(state.rules.outbound);
    this.#bump(state);
  }

  setStatus(id: number, status: 'enabled' | 'disabled'): void {
    this.#state(id).status = status;
  }

  setEntities(id: number, entities: SimEntity[]): void {
    this.#state(id).entities = structuredClone(entities);
  }

  /** The next requests get these answers (one entry per request). */
  failNext(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.#failures.push({ status, body, headers });
  }

  /** Uses up the token's request budget for this window. */
  exhaustRateLimit(): void {
    const now = this.#now();
    this.#window = Array.from({ length: this.#maxRequests }, () => now);
  }

  /**
   * Would Linode let this packet in to a device behind the firewall? A
   * disabled firewall filters nothing; otherwise the first inbound rule that
   * matches decides, else inbound_policy.
   */
  admit(id: number, packet: Packet): boolean {
    const state = this.#state(id);
    if (state.status !== 'enabled') return true;
    const parsed = parseAddress(packet.source);
    if (!parsed.ok) throw new Error(`admit: ${packet.source} is not an address`);
    for (const candidate of state.rules.inbound) {
      if (matches(candidate, parsed.address, packet)) return candidate.action === 'ACCEPT';
    }
    return state.rules.inbound_policy === 'ACCEPT';
  }

  handle(request: HttpRequest): HttpResponse {
    this.counters.requests += 1;
    const now = this.#now();
    const url = new URL(request.url);
    if (url.origin !== LINODE_ORIGIN) throw new Error(`unexpected origin ${url.origin}`);
    const headers = lowerCase(request.headers ?? {});
    if (headers.authorization !== `Bearer ${this.#token}`) {
      this.counters.authFailures += 1;
      return errors(401, [{ reason: 'Invalid Token' }]);
    }
    if (now < this.#retryAfterUntil) this.counters.requestsBeforeRetryAfter += 1;
    this.#window = this.#window.filter((at) => at > now - this.#windowMs);
    const reset = Math.ceil(((this.#window[0] ?? now) + this.#windowMs) / 1000);
    const limitHeaders = (remaining: number) => ({
      'x-ratelimit-limit': String(this.#maxRequests),
      'x-ratelimit-remaining': String(Math.max(0, remaining)),
      'x-ratelimit-reset': String(reset),
      'x-oauth-scopes': this.#scopes.join(' '),
    });
    if (this.#window.length >= this.#maxRequests) {
      const wait = Math.max(1, Math.ceil(((this.#window[0] ?? now) + this.#windowMs - now) / 1000));
      this.#retryAfterUntil = now + wait * 1000;
      return errors(429, [{ reason: 'Too Many Requests' }], { ...limitHeaders(0), 'retry-after': String(wait) });
    }
    this.#window.push(now);
    const extra = limitHeaders(this.#maxRequests - this.#window.length);
    const injected = this.#failures.shift();
    if (injected) {
      if (injected.headers?.['retry-after']) this.#retryAfterUntil = now + Number(injected.headers['retry-after']) * 1000;
      return json(injected.status, injected.body, { ...extra, ...injected.headers });
    }

    const match = /^\/v4(?:beta)?\/networking\/firewalls\/(\d+)(\/rules|\/devices)?$/.exec(url.pathname);
    if (!match) return errors(404, [{ reason: 'Not found' }], extra);
    const id = Number(match[1]);
    const sub = match[2] ?? '';
    const write = request.method !== 'GET';
    const needed = write ? 'firewall:read_write' : 'firewall:read_only';
    const allowed = write ? this.#scopes.includes('firewall:read_write') : this.#scopes.some((scope) => scope.startsWith('firewall:'));
    if (!allowed && !this.#scopes.includes('*')) {
      this.counters.forbidden += 1;
      return errors(403, [{ reason: 'Unauthorized' }], { ...extra, 'x-accepted-oauth-scopes': needed });
    }
    const state = this.#firewalls.get(id);
    if (!state) return errors(404, [{ reason: 'Not found' }], extra);

    if (request.method === 'GET') {
      this.counters.gets += 1;
      if (sub === '') {
        this.#seen.set(id, state.version);
        return json(200, this.firewall(id), extra);
      }
      if (sub === '/rules') {
        this.#seen.set(id, state.version);
        return json(200, this.rules(id), extra);
      }
      return this.#devices(state, url, extra);
    }
    if (request.method !== 'PUT' || sub !== '/rules') return errors(405, [{ reason: 'Method Not Allowed' }], extra);
    this.counters.puts += 1;
    if (!(headers['content-type'] ?? '').startsWith('application/json')) {
      this.counters.invalidPuts += 1;
      return errors(400, [{ reason: 'Content-Type must be application/json' }], extra);
    }
    const text = typeof request.body === 'string' ? request.body : Buffer.from(request.body ?? new Uint8Array()).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      this.counters.invalidPuts += 1;
      return errors(400, [{ reason: 'Malformed JSON' }], extra);
    }
    const validated = validateRuleSet(body);
    if ('errors' in validated) {
      this.counters[validated.counter] += 1;
      return errors(400, validated.errors, extra);
    }
    const next = validated.rules;
    if (this.#seen.get(id) !== state.version) this.counters.blindPuts += 1;
    if (next.outbound_policy !== state.rules.outbound_policy || JSON.stringify(next.outbound) !== JSON.stringify(state.rules.outbound)) {
      this.counters.outboundChanges += 1;
    }
    if (JSON.stringify(next) === JSON.stringify(state.rules)) this.counters.unneededPuts += 1;
    this.puts.push({ firewall: id, body, at: now });
    state.rules = next;
    this.#bump(state);
    this.#seen.set(id, state.version);
    return json(200, this.rules(id), extra);
  }

  #devices(state: FirewallState, url: URL, extra: Record<string, string>): HttpResponse {
    const page = Number(url.searchParams.get('page') ?? '1');
    const size = Number(url.searchParams.get('page_size') ?? '100');
    if (!Number.isInteger(page) || page < 1) return errors(400, [{ reason: 'Must be a positive integer', field: 'page' }], extra);
    if (!Number.isInteger(size) || size < 25 || size > 500) return errors(400, [{ reason: 'Must be 25-500', field: 'page_size' }], extra);
    const pages = Math.max(1, Math.ceil(state.entities.length / size));
    const data = state.entities.slice((page - 1) * size, page * size).map((entity, index) => ({
      id: 90_000 + (page - 1) * size + index,
      created: state.created,
      updated: state.created,
      entity: entityJson(entity),
    }));
    return json(200, { data, page, pages, results: state.entities.length }, extra);
  }

  #bump(state: FirewallState): void {
    state.version += 1;
    state.updated = new Date(this.#now()).toISOString().slice(0, 19);
  }

  #state(id: number): FirewallState {
    const state = this.#firewalls.get(id);
    if (!state) throw new Error(`no firewall ${id}`);
    return state;
  }
}

type Validated =
  | { rules: SimRuleSet }
  | { errors: Array<{ reason: string; field?: string }>; counter: 'readOnlyFieldPuts' | 'droppedFieldPuts' | 'limitViolations' | 'invalidPuts' };

function validateRuleSet(body: unknown): Validated {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { errors: [{ reason: 'Request body must be an object' }], counter: 'invalidPuts' };
  }
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(WRITABLE_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    return { errors: [{ reason: `Keys must be one of: ${WRITABLE_KEYS.join(', ')}` }], counter: 'readOnlyFieldPuts' };
  }
  const missing = WRITABLE_KEYS.filter((key) => record[key] === undefined);
  if (missing.length > 0) {
    return { errors: missing.map((field) => ({ reason: 'This field is required', field })), counter: 'droppedFieldPuts' };
  }
  const problems: Array<{ reason: string; field?: string }> = [];
  for (const key of ['inbound_policy', 'outbound_policy'] as const) {
    if (record[key] !== 'ACCEPT' && record[key] !== 'DROP') problems.push({ reason: 'Must be one of ACCEPT, DROP', field: key });
  }
  const lists: Record<'inbound' | 'outbound', SimRule[]> = { inbound: [], outbound: [] };
  let limit = false;
  for (const direction of ['inbound', 'outbound'] as const) {
    const list = record[direction];
    if (!Array.isArray(list)) {
      problems.push({ reason: 'Must be a list of rules', field: direction });
      continue;
    }
    list.forEach((value, index) => {
      const where = `${direction}[${index}]`;
      const checked = validateRule(value, where);
      if ('problems' in checked) {
        if (checked.limit) limit = true;
        problems.push(...checked.problems);
      } else lists[direction].push(checked.rule);
    });
  }
  const total = (Array.isArray(record.inbound) ? record.inbound.length : 0) + (Array.isArray(record.outbound) ? record.outbound.length : 0);
  if (total > MAX_RULES) {
    limit = true;
    problems.push({ reason: `Firewalls may have at most ${MAX_RULES} rules (inbound and outbound combined)`, field: 'rules' });
  }
  if (problems.length > 0) return { errors: problems.slice(0, 10), counter: limit ? 'limitViolations' : 'invalidPuts' };
  return {
    rules: {
      inbound: lists.inbound,
      inbound_policy: record.inbound_policy as SimPolicy,
      outbound: lists.outbound,
      outbound_policy: record.outbound_policy as SimPolicy,
    },
  };
}

function validateRule(value: unknown, where: string): { rule: SimRule } | { problems: Array<{ reason: string; field: string }>; limit: boolean } {
  const problems: Array<{ reason: string; field: string }> = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problems: [{ reason: 'Must be a rule object', field: where }], limit: false };
  const input = value as Record<string, unknown>;
  if ('ruleset' in input) {
    if (Object.keys(input).length !== 1 || !Number.isInteger(input.ruleset)) {
      return { problems: [{ reason: 'A rule set reference takes only ruleset', field: where }], limit: false };
    }
    return { rule: { ruleset: input.ruleset as number } };
  }
  for (const key of Object.keys(input)) if (!RULE_KEYS.has(key)) problems.push({ reason: `Unknown field ${key}`, field: `${where}.${key}` });
  if (input.action !== 'ACCEPT' && input.action !== 'DROP') problems.push({ reason: 'Must be one of ACCEPT, DROP', field: `${where}.action` });
  if (typeof input.protocol !== 'string' || !PROTOCOLS.has(input.protocol)) {
    problems.push({ reason: 'Must be one of TCP, UDP, ICMP, IPENCAP', field: `${where}.protocol` });
  }
  if (input.ports !== undefined) {
    if (input.protocol !== 'TCP' && input.protocol !== 'UDP') problems.push({ reason: 'Ports are only allowed for TCP and UDP', field: `${where}.ports` });
    else if (!validPorts(input.ports)) problems.push({ reason: 'Invalid ports', field: `${where}.ports` });
  }
  if (input.label !== undefined && (typeof input.label !== 'string' || input.label.length < 3 || input.label.length > 32)) {
    problems.push({ reason: 'Label must be 3-32 characters', field: `${where}.label` });
  }
  if (input.description !== undefined && (typeof input.description !== 'string' || input.description.length < 1 || input.description.length > 100)) {
    problems.push({ reason: 'Description must be 1-100 characters', field: `${where}.description` });
  }
  const addresses = input.addresses as Record<string, unknown> | undefined;
  const out: SimRule['addresses'] = {};
  let limit = false;
  if (typeof addresses !== 'object' || addresses === null || Array.isArray(addresses)) {
    problems.push({ reason: 'addresses is required', field: `${where}.addresses` });
  } else {
    let count = 0;
    for (const key of Object.keys(addresses)) {
      if (key !== 'ipv4' && key !== 'ipv6') {
        problems.push({ reason: `Unknown field ${key}`, field: `${where}.addresses.${key}` });
        continue;
      }
      const list = addresses[key];
      if (!Array.isArray(list) || list.length === 0) {
        problems.push({ reason: 'Must be a non-empty list of addresses', field: `${where}.addresses.${key}` });
        continue;
      }
      count += list.length;
      const canonical: string[] = [];
      for (const item of list) {
        const text = typeof item === 'string' ? canonicalAddress(item, key === 'ipv4' ? 4 : 6) : undefined;
        if (text === undefined) problems.push({ reason: `Invalid ${key === 'ipv4' ? 'IPv4' : 'IPv6'} address or range`, field: `${where}.addresses.${key}` });
        else canonical.push(text);
      }
      out[key] = canonical;
    }
    if (count === 0 && problems.length === 0) problems.push({ reason: 'At least one address is required', field: `${where}.addresses` });
    if (count > MAX_ADDRESSES) {
      limit = true;
      problems.push({ reason: `A rule may have at most ${MAX_ADDRESSES} addresses`, field: `${where}.addresses` });
    }
  }
  if (problems.length > 0) return { problems, limit };
  return { rule: ordered({ ...(input as SimRule), addresses: out }) };
}

function validPorts(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const pieces = value.split(/, ?/);
  let count = 0;
  for (const piece of pieces) {
    const match = /^([1-9]\d{0,4})(?:-([1-9]\d{0,4}))?$/.exec(piece);
    if (!match) return false;
    const low = Number(match[1]);
    const high = match[2] === undefined ? low : Number(match[2]);
    if (high > 65535 || (match[2] !== undefined && high <= low)) return false;
    count += match[2] === undefined ? 1 : 2;
  }
  return count <= MAX_PORT_PIECES;
}

/** Linode's spelling of an address or range: canonical address text, /32 or /128 added to a bare address. */
function canonicalAddress(value: string, family: 4 | 6): string | undefined {
  const slash = value.indexOf('/');
  const address = parseAddress(slash === -1 ? value : value.slice(0, slash));
  if (!address.ok || address.address.family !== family) return undefined;
  const bits = family === 4 ? 32 : 128;
  const prefix = slash === -1 ? String(bits) : value.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(prefix) || Number(prefix) > bits) return undefined;
  // Linode keeps host bits as given (`1234::5678/0` is reported so); only the address text is canonical.
  return `${formatAddress(address.address)}/${prefix}`;
}

/** A rule with its keys in the order Linode reports them, so stored rules compare as JSON. */
function ordered(input: SimRule): SimRule {
  const out: SimRule = {};
  if (input.ruleset !== undefined) out.ruleset = input.ruleset;
  if (input.action !== undefined) out.action = input.action;
  if (input.protocol !== undefined) out.protocol = input.protocol;
  if (input.ports !== undefined) out.ports = input.ports;
  if (input.addresses !== undefined) {
    out.addresses = {};
    if (input.addresses.ipv4 !== undefined) out.addresses.ipv4 = [...input.addresses.ipv4];
    if (input.addresses.ipv6 !== undefined) out.addresses.ipv6 = [...input.addresses.ipv6];
  }
  if (input.label !== undefined) out.label = input.label;
  if (input.description !== undefined) out.description = input.description;
  return out;
}

function canonicalRules(rules: SimRule[]): SimRule[] {
  return rules.map((input) => {
    const out = ordered(input);
    if (out.addresses) {
      if (out.addresses.ipv4) out.addresses.ipv4 = out.addresses.ipv4.map((value) => canonicalAddress(value, 4) ?? value);
      if (out.addresses.ipv6) out.addresses.ipv6 = out.addresses.ipv6.map((value) => canonicalAddress(value, 6) ?? value);
    }
    return out;
  });
}

function matches(candidate: SimRule, address: { family: 4 | 6; value: bigint }, packet: Packet): boolean {
  if (candidate.ruleset !== undefined) return false;
  if (candidate.protocol !== packet.protocol) return false;
  if (candidate.ports !== undefined) {
    if (packet.port === undefined) return false;
    const inRange = candidate.ports.split(/, ?/).some((piece) => {
      const [low, high] = piece.split('-').map(Number);
      return packet.port! >= low! && packet.port! <= (high ?? low!);
    });
    if (!inRange) return false;
  }
  const list = address.family === 4 ? candidate.addresses?.ipv4 : candidate.addresses?.ipv6;
  return (list ?? []).some((text) => {
    const parsed = parseCidr(text, { hostBits: 'clear' });
    return parsed.ok && cidrContains(parsed.cidr, address);
  });
}

function fingerprintOf(rules: SimRuleSet, version: number): string {
  return createHash('sha256').update(JSON.stringify({ rules, version })).digest('hex').slice(0, 8);
}

function entityJson(entity: SimEntity): Record<string, unknown> {
  const path = entity.type === 'nodebalancer' ? 'nodebalancers' : 'linode/instances';
  return { id: entity.id, type: entity.type, label: entity.label, url: `/v4/${path}/${entity.id}`, parent_entity: null };
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: new TextEncoder().encode(JSON.stringify(body)) };
}

function errors(status: number, list: Array<{ reason: string; field?: string }>, headers: Record<string, string> = {}): HttpResponse {
  return json(status, { errors: list }, headers);
}
