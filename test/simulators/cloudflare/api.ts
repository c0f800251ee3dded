/**
 * Cloudflare v4 API simulator: Magic Transit on-demand advertisement
 * (`/accounts/{a}/addressing/prefixes/{p}[/bgp/status | /bgp/prefixes/{b}]`)
 * and the zone security level (`/zones/{z}/settings/security_level`),
 * written from Cloudflare's API reference (developers.cloudflare.com/api,
 * cloudflare-typescript `bgp-prefixes.ts`, `advertisement-status.ts`,
 * `prefixes.ts`, `zones/settings.ts`) and its documented limits.
 *
 * What it models:
 * - The v4 envelope on every answer: `{success, errors:[{code, message}],
 *   messages, result}`; `failNextWith(200, …success:false)` for a 200 that
 *   is a failure.
 * - API tokens (`Authorization: Bearer`) with permissions: unknown token →
 *   401 code 1000 "Invalid API Token" (UNVERIFIED status); a permission
 *   missing for the call → 403 code 10000 "Authentication error"; an account
 *   or zone the token is not scoped to → 403 9109 "Unauthorized to access
 *   requested resource". Reads accept the matching Read or Write permission,
 *   writes the Write one (Magic Transit: "Magic Transit Write", "IP
 *   Prefixes: Write" or "IP Prefixes: BGP On Demand Write").
 * - Unknown identifiers → 400 code 7003 "Could not route to …, perhaps your
 *   object identifier is invalid?"; unknown prefixes → 404 code 1000-range
 *   (UNVERIFIED code).
 * - Asynchronous advertisement: a PATCH records the request and answers the
 *   object as it still is; the state flips `advertiseDelayMs` (2–7 min in
 *   Cloudflare's docs) or `withdrawDelayMs` (~15 min) later on the
 *   injectable clock, and `advertised_modified_at` becomes the flip time.
 *   A later opposite PATCH replaces (or cancels) a pending one. A delay of
 *   0 applies the change before the PATCH answers.
 * - `on_demand_enabled: false` / `on_demand_locked: true` prefixes refuse
 *   changes (400, UNVERIFIED code/message).
 * - The security level: `{id, value, editable, modified_on}`; a PATCH sets
 *   `modified_on` to now; `editable: false` refuses (400, UNVERIFIED code).
 * - Rate limit: `rateLimit.max` requests per `rateLimit.windowMs` per token
 *   (1,200 per 5 min); above it 429 code 971 with `retry-after: 300`, and
 *   every call is refused for the next 5 minutes.
 *
 * What a careful client must not do is counted in `counters`.
 */
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const CF_BASE = 'https://api.cloudflare.com/client/v4';
export const DEFAULT_TOKEN = 'simToken_0123456789abcdefghijklmnopqrstuv';
export const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
export const ZONE = '8ac9ee1b45f5d8f1bf2a3c4d5e6f7a8b';

export const PERMISSIONS = [
  'Magic Transit Read',
  'Magic Transit Write',
  'IP Prefixes: Read',
  'IP Prefixes: Write',
  'IP Prefixes: BGP On Demand Read',
  'IP Prefixes: BGP On Demand Write',
  'Zone Settings Read',
  'Zone Settings Write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const PREFIX_READ: Permission[] = ['Magic Transit Read', 'Magic Transit Write', 'IP Prefixes: Read', 'IP Prefixes: Write', 'IP Prefixes: BGP On Demand Read', 'IP Prefixes: BGP On Demand Write'];
const PREFIX_WRITE: Permission[] = ['Magic Transit Write', 'IP Prefixes: Write', 'IP Prefixes: BGP On Demand Write'];
const ZONE_READ: Permission[] = ['Zone Settings Read', 'Zone Settings Write'];
const ZONE_WRITE: Permission[] = ['Zone Settings Write'];

export interface SimToken {
  permissions: Set<Permission>;
  accounts: Set<string>;
  zones: Set<string>;
}

/** The on-demand part of a BGP prefix as GET shows it. */
export interface SimOnDemand {
  advertised: boolean | null;
  advertised_modified_at: string | null;
  on_demand_enabled: boolean;
  on_demand_locked: boolean;
}

interface StoredBgpPrefix {
  id: string;
  cidr: string;
  created_at: string;
  modified_at: string;
  onDemand: SimOnDemand;
  pending?: { advertised: boolean; at: number };
}

interface StoredPrefix {
  id: string;
  cidr: string;
  description: string;
  /** The BGP prefix covering the whole IP prefix: what the legacy bgp/status reads and writes. */
  main: string;
  bgp: Map<string, StoredBgpPrefix>;
}

export interface SimSecurityLevel {
  id: 'security_level';
  value: string;
  editable: boolean;
  modified_on: string | null;
}

export interface SimCounters {
  requests: number;
  patches: number;
  /** PATCHes that changed nothing: the target was already the state (or the pending request). */
  unneededWrites: number;
  /** PATCHes of a locked or not on-demand prefix, or a non-editable setting. */
  refusedWrites: number;
  /** Requests sent while the 5-minute block after a 429 was running. */
  requestsWhileBlocked: number;
  /** Requests answered 429. */
  rateLimited: number;
  authFailures: number;
}

export interface SimRequest {
  method: string;
  path: string;
  body: string;
  at: number;
  status: number;
}

export interface CloudflareSimulatorOptions {
  now: () => number;
  advertiseDelayMs?: number;
  withdrawDelayMs?: number;
  rateLimit?: { max: number; windowMs: number; blockMs: number };
}

export class CloudflareApiSimulator {
  readonly counters: SimCounters = { requests: 0, patches: 0, unneededWrites: 0, refusedWrites: 0, requestsWhileBlocked: 0, rateLimited: 0, authFailures: 0 };
  readonly log: SimRequest[] = [];
  readonly tokens = new Map<string, SimToken>();
  readonly #o: Required<CloudflareSimulatorOptions>;
  readonly #accounts = new Map<string, Map<string, StoredPrefix>>();
  readonly #zones = new Map<string, SimSecurityLevel>();
  readonly #windows = new Map<string, number[]>();
  readonly #blockedUntil = new Map<string, number>();
  #failures: { status: number; body?: unknown; retryAfter?: string }[] = [];
  #ids = 0;

  constructor(options: CloudflareSimulatorOptions) {
    this.#o = {
      now: options.now,
      advertiseDelayMs: options.advertiseDelayMs ?? 3 * 60_000,
      withdrawDelayMs: options.withdrawDelayMs ?? 15 * 60_000,
      rateLimit: options.rateLimit ?? { max: 1200, windowMs: 300_000, blockMs: 300_000 },
    };
    this.tokens.set(DEFAULT_TOKEN, { permissions: new Set(PERMISSIONS), accounts: new Set([ACCOUNT]), zones: new Set([ZONE]) });
    this.#accounts.set(ACCOUNT, new Map());
  }

  readonly transport: Transport = { request: (request) => Promise.resolve(this.handle(request)) };

  // ---- helpers for tests ----

  /** A BYOIP prefix with its main BGP prefix; returns both ids. */
  addPrefix(
    cidr: string,
    onDemand: Partial<SimOnDemand> = {},
    account = ACCOUNT,
  ): { prefixId: string; bgpPrefixId: string } {
    const prefixId = this.#id();
    const bgpPrefixId = this.#id();
    const at = iso(this.#o.now() - 86_400_000);
    const bgp: StoredBgpPrefix = {
      id: bgpPrefixId,
      cidr,
      created_at: at,
      modified_at: at,
      onDemand: { advertised: false, advertised_modified_at: null, on_demand_enabled: true, on_demand_locked: false, ...onDemand },
    };
    const prefix: StoredPrefix = { id: prefixId, cidr, description: `sim ${cidr}`, main: bgpPrefixId, bgp: new Map([[bgpPrefixId, bgp]]) };
    if (!this.#accounts.has(account)) this.#accounts.set(account, new Map());
    this.#accounts.get(account)!.set(prefixId, prefix);
    return { prefixId, bgpPrefixId };
  }

  addZone(zoneId: string, level: Partial<Omit<SimSecurityLevel, 'id'>> = {}): void {
    this.#zones.set(zoneId, { id: 'security_level', value: 'medium', editable: true, modified_on: '2026-01-01T00:00:00.000000Z', ...level });
  }

  /** Someone else advertises or withdraws at once (dashboard, another tool), as Cloudflare shows it once applied. */
  setAdvertised(prefixId: string, bgpPrefixId: string, advertised: boolean, account = ACCOUNT): void {
    const bgp = this.#bgp(account, prefixId, bgpPrefixId);
    delete bgp.pending;
    bgp.onDemand.advertised = advertised;
    bgp.onDemand.advertised_modified_at = iso(this.#o.now());
  }

  /** Cloudflare locks (or unlocks) the advertisement, or turns on-demand off. */
  setFlags(prefixId: string, bgpPrefixId: string, flags: Partial<Pick<SimOnDemand, 'on_demand_enabled' | 'on_demand_locked'>>, account = ACCOUNT): void {
    Object.assign(this.#bgp(account, prefixId, bgpPrefixId).onDemand, flags);
  }

  /** Someone else changes the zone's security level (dashboard). */
  setSecurityLevel(zoneId: string, value: string): void {
    const zone = this.#zones.get(zoneId)!;
    zone.value = value;
    zone.modified_on = microIso(this.#o.now());
  }

  setEditable(zoneId: string, editable: boolean): void {
    this.#zones.get(zoneId)!.editable = editable;
  }

  /** Give a token only these permissions (and scope). */
  setToken(token: string, permissions: Permission[], scope: { accounts?: string[]; zones?: string[] } = {}): void {
    this.tokens.set(token, { permissions: new Set(permissions), accounts: new Set(scope.accounts ?? [ACCOUNT]), zones: new Set(scope.zones ?? [ZONE]) });
  }

  /** The next answers are these (5xx, 429, a 200 with success:false…), in order, before any routing. */
  failNext(...failures: { status: number; body?: unknown; retryAfter?: string }[]): void {
    this.#failures.push(...failures);
  }

  /** One BGP prefix's on-demand state as GET shows it (pending requests settled). */
  onDemand(prefixId: string, bgpPrefixId: string, account = ACCOUNT): SimOnDemand {
    return { ...this.#settled(this.#bgp(account, prefixId, bgpPrefixId)).onDemand };
  }

  /** Whether a change is waiting to be applied. */
  pending(prefixId: string, bgpPrefixId: string, account = ACCOUNT): boolean | undefined {
    return this.#settled(this.#bgp(account, prefixId, bgpPrefixId)).pending?.advertised;
  }

  securityLevel(zoneId: string): SimSecurityLevel {
    return { ...this.#zones.get(zoneId)! };
  }

  /** Everything the relay could change, field for field (compare before/after an attack). */
  accountState(): { prefixes: Record<string, Record<string, SimOnDemand & { pending: boolean | null }>>; zones: Record<string, SimSecurityLevel> } {
    const prefixes: Record<string, Record<string, SimOnDemand & { pending: boolean | null }>> = {};
    for (const [account, map] of this.#accounts) {
      for (const [prefixId, prefix] of map) {
        const out: Record<string, SimOnDemand & { pending: boolean | null }> = {};
        for (const [bgpId, bgp] of prefix.bgp) {
          const settled = this.#settled(bgp);
          out[bgpId] = { ...settled.onDemand, pending: settled.pending?.advertised ?? null };
        }
        prefixes[`${account}/${prefixId}`] = out;
      }
    }
    const zones: Record<string, SimSecurityLevel> = {};
    for (const [zoneId, level] of this.#zones) zones[zoneId] = { ...level };
    return { prefixes, zones };
  }

  // ---- the API ----

  handle(request: HttpRequest): HttpResponse {
    const body = typeof request.body === 'string' ? request.body : request.body ? Buffer.from(request.body).toString('utf8') : '';
    const path = request.url.startsWith(CF_BASE) ? request.url.slice(CF_BASE.length) : request.url;
    const response = this.#route(request, path, body);
    this.log.push({ method: request.method, path, body, at: this.#o.now(), status: response.status });
    return response;
  }

  #route(request: HttpRequest, path: string, body: string): HttpResponse {
    this.counters.requests += 1;
    const now = this.#o.now();
    const headers = lower(request.headers ?? {});
    const token = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1] ?? '';
    const blockedUntil = this.#blockedUntil.get(token) ?? 0;
    if (now < blockedUntil) {
      this.counters.requestsWhileBlocked += 1;
      return this.#tooMany(blockedUntil);
    }
    const window = (this.#windows.get(token) ?? []).filter((at) => at > now - this.#o.rateLimit.windowMs);
    window.push(now);
    this.#windows.set(token, window);
    if (window.length > this.#o.rateLimit.max) {
      this.#blockedUntil.set(token, now + this.#o.rateLimit.blockMs);
      return this.#tooMany(now + this.#o.rateLimit.blockMs);
    }
    const failure = this.#failures.shift();
    if (failure) {
      if (failure.status === 429) {
        this.counters.rateLimited += 1;
        this.#blockedUntil.set(token, now + this.#o.rateLimit.blockMs);
      }
      const failureBody = failure.body ?? envelopeError(failure.status === 429 ? 971 : 10001, failure.status === 429 ? 'Please wait and consider throttling your request speed' : 'Internal server error');
      return json(failure.status, failureBody, failure.retryAfter ? { 'retry-after': failure.retryAfter } : {});
    }
    if (!request.url.startsWith(`${CF_BASE}/`)) return json(404, envelopeError(7000, 'No route for that URI'));
    const known = this.tokens.get(token);
    if (!known) {
      this.counters.authFailures += 1;
      return json(401, envelopeError(1000, 'Invalid API Token'));
    }
    const segments = path.split('?')[0]!.split('/').slice(1);
    if (segments[0] === 'zones' && segments[2] === 'settings' && segments[3] === 'security_level' && segments.length === 4) {
      return this.#securityLevel(request.method, segments[1]!, body, known, path);
    }
    if (segments[0] === 'accounts' && segments[2] === 'addressing' && segments[3] === 'prefixes' && segments.length >= 5) {
      return this.#prefixes(request.method, segments, body, known, path);
    }
    return json(404, envelopeError(7000, 'No route for that URI'));
  }

  #securityLevel(method: string, zoneId: string, body: string, token: SimToken, path: string): HttpResponse {
    if (!/^[0-9a-f]{32}$/.test(zoneId) || !this.#zones.has(zoneId)) return json(400, envelopeError(7003, `Could not route to ${path}, perhaps your object identifier is invalid?`));
    if (!token.zones.has(zoneId)) return this.#denied(9109, 'Unauthorized to access requested resource');
    const zone = this.#zones.get(zoneId)!;
    if (method === 'GET') {
      if (!hasAny(token, ZONE_READ)) return this.#denied(10000, 'Authentication error');
      return json(200, envelope({ ...zone }));
    }
    if (method !== 'PATCH') return json(405, envelopeError(10405, 'Method not allowed'));
    if (!hasAny(token, ZONE_WRITE)) return this.#denied(10000, 'Authentication error');
    this.counters.patches += 1;
    const value = parseBody(body)?.value;
    if (typeof value !== 'string' || !['off', 'essentially_off', 'low', 'medium', 'high', 'under_attack'].includes(value)) {
      return json(400, envelopeError(1007, 'Invalid value for zone setting security_level'));
    }
    if (!zone.editable) {
      this.counters.refusedWrites += 1;
      return json(400, envelopeError(1025, 'security_level cannot be modified for this zone'));
    }
    if (zone.value === value) this.counters.unneededWrites += 1;
    else {
      zone.value = value;
      zone.modified_on = microIso(this.#o.now());
    }
    return json(200, envelope({ ...zone }));
  }

  #prefixes(method: string, segments: string[], body: string, token: SimToken, path: string): HttpResponse {
    const account = segments[1]!;
    const prefixId = segments[4]!;
    if (!/^[0-9a-f]{32}$/.test(account) || !/^[0-9a-f]{32}$/.test(prefixId)) return json(400, envelopeError(7003, `Could not route to ${path}, perhaps your object identifier is invalid?`));
    if (!token.accounts.has(account)) return this.#denied(9109, 'Unauthorized to access requested resource');
    const write = method === 'PATCH';
    if (!hasAny(token, write ? PREFIX_WRITE : PREFIX_READ)) return this.#denied(10000, 'Authentication error');
    const prefix = this.#accounts.get(account)?.get(prefixId);
    if (!prefix) return json(404, envelopeError(1000, 'not_found: prefix not found'));
    const rest = segments.slice(5);
    if (rest.length === 0 && method === 'GET') return json(200, envelope(this.#prefixView(account, prefix)));
    if (rest.length === 2 && rest[0] === 'bgp' && rest[1] === 'status') {
      const main = this.#settled(prefix.bgp.get(prefix.main)!);
      if (method === 'GET') return json(200, envelope(statusView(main)));
      if (method === 'PATCH') {
        const advertised = parseBody(body)?.advertised;
        if (typeof advertised !== 'boolean') return json(400, envelopeError(1001, 'advertised: must be a boolean'));
        const refused = this.#request(main, advertised);
        return refused ?? json(200, envelope(statusView(main)));
      }
    }
    if (rest.length === 3 && rest[0] === 'bgp' && rest[1] === 'prefixes') {
      const bgpId = rest[2]!;
      if (!/^[0-9a-f]{32}$/.test(bgpId)) return json(400, envelopeError(7003, `Could not route to ${path}, perhaps your object identifier is invalid?`));
      const stored = prefix.bgp.get(bgpId);
      if (!stored) return json(404, envelopeError(1000, 'not_found: BGP prefix not found'));
      const bgp = this.#settled(stored);
      if (method === 'GET') return json(200, envelope(bgpView(bgp)));
      if (method === 'PATCH') {
        const onDemand = parseBody(body)?.on_demand as { advertised?: unknown } | undefined;
        if (onDemand === undefined) {
          // Only on_demand is modelled: anything else would be a write the relay must not make.
          return json(400, envelopeError(1001, 'only on_demand.advertised is supported by this simulator'));
        }
        if (typeof onDemand.advertised !== 'boolean') return json(400, envelopeError(1001, 'on_demand.advertised: must be a boolean'));
        const refused = this.#request(bgp, onDemand.advertised);
        return refused ?? json(200, envelope(bgpView(bgp)));
      }
    }
    if (rest.length === 2 && rest[0] === 'bgp' && rest[1] === 'prefixes' && method === 'GET') {
      return json(200, { ...envelope([...prefix.bgp.values()].map((bgp) => bgpView(this.#settled(bgp)))), result_info: { page: 1, per_page: 50, count: prefix.bgp.size, total_count: prefix.bgp.size } });
    }
    return json(405, envelopeError(10405, 'Method not allowed'));
  }

  /** Records an advertise/withdraw request; an answer when refused. */
  #request(bgp: StoredBgpPrefix, advertised: boolean): HttpResponse | undefined {
    this.counters.patches += 1;
    if (!bgp.onDemand.on_demand_enabled) {
      this.counters.refusedWrites += 1;
      return json(400, envelopeError(1202, 'Prefix is not enabled for on-demand advertisement'));
    }
    if (bgp.onDemand.on_demand_locked) {
      this.counters.refusedWrites += 1;
      return json(400, envelopeError(1203, 'Advertisement status of this prefix is locked'));
    }
    const effective = bgp.pending?.advertised ?? bgp.onDemand.advertised === true;
    if (effective === advertised) {
      this.counters.unneededWrites += 1;
      return undefined;
    }
    if (bgp.pending !== undefined) {
      // The opposite of what is pending: the pending change is cancelled.
      delete bgp.pending;
      return undefined;
    }
    bgp.pending = { advertised, at: this.#o.now() + (advertised ? this.#o.advertiseDelayMs : this.#o.withdrawDelayMs) };
    // A delay of 0 models an API that applies the change before answering.
    this.#settled(bgp);
    return undefined;
  }

  #settled(bgp: StoredBgpPrefix): StoredBgpPrefix {
    if (bgp.pending !== undefined && this.#o.now() >= bgp.pending.at) {
      bgp.onDemand.advertised = bgp.pending.advertised;
      bgp.onDemand.advertised_modified_at = iso(bgp.pending.at);
      bgp.modified_at = iso(bgp.pending.at);
      delete bgp.pending;
    }
    return bgp;
  }

  #prefixView(account: string, prefix: StoredPrefix) {
    const main = this.#settled(prefix.bgp.get(prefix.main)!);
    return {
      id: prefix.id,
      account_id: account,
      cidr: prefix.cidr,
      asn: 13335,
      description: prefix.description,
      approved: 'V',
      created_at: main.created_at,
      modified_at: main.modified_at,
      loa_document_id: null,
      on_demand_enabled: main.onDemand.on_demand_enabled,
      on_demand_locked: main.onDemand.on_demand_locked,
      advertised: main.onDemand.advertised,
      advertised_modified_at: main.onDemand.advertised_modified_at,
    };
  }

  #bgp(account: string, prefixId: string, bgpPrefixId: string): StoredBgpPrefix {
    const bgp = this.#accounts.get(account)?.get(prefixId)?.bgp.get(bgpPrefixId);
    if (!bgp) throw new Error(`no BGP prefix ${prefixId}/${bgpPrefixId}`);
    return bgp;
  }

  #denied(code: number, message: string): HttpResponse {
    this.counters.authFailures += 1;
    return json(403, envelopeError(code, message));
  }

  #tooMany(until: number): HttpResponse {
    this.counters.rateLimited += 1;
    const seconds = Math.max(1, Math.ceil((until - this.#o.now()) / 1000));
    return json(429, envelopeError(971, 'Please wait and consider throttling your request speed'), { 'retry-after': String(seconds) });
  }

  #id(): string {
    this.#ids += 1;
    return `${'0'.repeat(24)}${this.#ids.toString(16).padStart(8, '0')}`.replace(/^0/, 'a');
  }
}

function bgpView(bgp: StoredBgpPrefix) {
  return {
    id: bgp.id,
    asn: 13335,
    asn_prepend_count: 0,
    auto_advertise_withdraw: false,
    bgp_signal_opts: { enabled: false, modified_at: null },
    cidr: bgp.cidr,
    created_at: bgp.created_at,
    modified_at: bgp.modified_at,
    on_demand: { ...bgp.onDemand },
  };
}

function statusView(bgp: StoredBgpPrefix) {
  return { advertised: bgp.onDemand.advertised === true, advertised_modified_at: bgp.onDemand.advertised_modified_at };
}

function hasAny(token: SimToken, permissions: Permission[]): boolean {
  return permissions.some((permission) => token.permissions.has(permission));
}

export function envelope(result: unknown) {
  return { success: true, errors: [], messages: [], result };
}

export function envelopeError(code: number, message: string) {
  return { success: false, errors: [{ code, message }], messages: [], result: null };
}

function parseBody(body: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function microIso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', 'cf-ray': '8f0000000000abcd-AMS', ...headers }, body: Buffer.from(JSON.stringify(body), 'utf8') };
}
