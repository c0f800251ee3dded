/**
 * OVHcloud API simulator: `/auth/time`, `/ip`, `/ip/{ipBlock}` and the
 * permanent mitigation entries `/ip/{ipBlock}/mitigation[/{ip}]`, written
 * from the OVH API schema (ovh/ovhcloud-cli api-schemas/ip.json: `ip.MitigationIp`
 * = {ipOnMitigation, permanent, auto, state: creationPending|ok|removalPending})
 * and the official SDKs (go-ovh, node-ovh, python-ovh) for signing and errors.
 *
 * What it models:
 * - Signature verification as OVH does it: unknown application key → 403
 *   INVALID_KEY; timestamp further than `timestampToleranceS` from the
 *   server clock → 400 QUERY_TIME_OUT "Query out of time"; unknown or
 *   expired consumer key → 403 INVALID_CREDENTIAL; `$1$`+SHA-1 of
 *   AS+CK+METHOD+URL+BODY+TS over the URL exactly as received → else 400
 *   INVALID_SIGNATURE; then the consumer key's access rules (method + path
 *   with `*` wildcards, matched against the decoded path) → else 403
 *   NOT_GRANTED_CALL "This call has not been granted".
 * - `/auth/time`: the server's Unix seconds as a bare integer, unsigned;
 *   the server clock is the injectable clock plus `serverSkewMs`.
 * - The block must be percent-encoded (`%2F`): a literal `/` splits the
 *   path and answers 404 "Got an invalid (or empty) URL" (php-ovh #102).
 * - POST creates a permanent entry in creationPending for `createDelayMs`,
 *   then ok; DELETE turns it removalPending for `removeDelayMs`, then it is
 *   gone (GET → 404). A POST for an address with an entry answers 409
 *   (UNVERIFIED: the real code/message is not documented in the sources);
 *   a DELETE of an absent entry 404.
 * - Automatic entries (OVH's own, `auto: true`) and entries set by others
 *   are created by helpers, as is any change behind the relay's back.
 * - Rate limit: `rateLimit.max` requests per `rateLimit.windowMs` per
 *   application, answered 429 with Retry-After (UNVERIFIED: api.ovh.com's
 *   limits are not published).
 *
 * What a careful client must not do is counted in `counters`.
 */
import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const OVH_EU_BASE = 'https://eu.api.ovh.com/1.0';
export const DEFAULT_APP_KEY = 'simAppKey0123456';
export const DEFAULT_APP_SECRET = 'simAppSecret0123456789abcdefABCD';
export const DEFAULT_CONSUMER_KEY = 'simConsumerKey0123456789abcdefAB';

export interface AccessRule {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
}

/** The five access rules of the seed page. */
export const RELAY_RULES: AccessRule[] = [
  { method: 'GET', path: '/ip' },
  { method: 'GET', path: '/ip/*' },
  { method: 'GET', path: '/ip/*/mitigation/*' },
  { method: 'POST', path: '/ip/*/mitigation' },
  { method: 'DELETE', path: '/ip/*/mitigation/*' },
];

export type EntryState = 'creationPending' | 'ok' | 'removalPending';

export interface SimEntry {
  ipOnMitigation: string;
  permanent: boolean;
  auto: boolean;
  state: EntryState;
}

interface StoredEntry {
  ip: string;
  permanent: boolean;
  auto: boolean;
  /** Who made it: a consumer key, 'ovh' (automatic) or 'operator'. */
  createdBy: string;
  readyAt: number;
  removingSince?: number;
  goneAt?: number;
}

export interface SimCounters {
  requests: number;
  timeRequests: number;
  signedRequests: number;
  badSignatures: number;
  staleTimestamps: number;
  invalidCredentials: number;
  notGranted: number;
  /** POSTs for an address that already had an entry; DELETEs of an absent or removalPending entry. */
  unneededWrites: number;
  /** DELETEs of an entry that the calling consumer key did not create (OVH's automatic ones, the operator's). */
  deletesOfOthersEntries: number;
  /** Requests sent while the rate limit was used up (answered 429). */
  requestsWhileRateLimited: number;
  /** Requests whose path had the block's `/` unencoded. */
  unencodedPaths: number;
  posts: number;
  deletes: number;
}

export interface SimRequest {
  method: string;
  url: string;
  body: string;
  at: number;
  status: number;
}

export interface OvhSimulatorOptions {
  now: () => number;
  base?: string;
  /** Server clock minus the injectable clock. */
  serverSkewMs?: number;
  timestampToleranceS?: number;
  createDelayMs?: number;
  removeDelayMs?: number;
  rateLimit?: { max: number; windowMs: number };
  /** IP blocks of the account. */
  blocks?: string[];
}

export class OvhApiSimulator {
  readonly base: string;
  readonly counters: SimCounters = {
    requests: 0,
    timeRequests: 0,
    signedRequests: 0,
    badSignatures: 0,
    staleTimestamps: 0,
    invalidCredentials: 0,
    notGranted: 0,
    unneededWrites: 0,
    deletesOfOthersEntries: 0,
    requestsWhileRateLimited: 0,
    unencodedPaths: 0,
    posts: 0,
    deletes: 0,
  };
  readonly log: SimRequest[] = [];
  readonly applications = new Map<string, string>([[DEFAULT_APP_KEY, DEFAULT_APP_SECRET]]);
  readonly consumers = new Map<string, { rules: AccessRule[]; expired: boolean }>([
    [DEFAULT_CONSUMER_KEY, { rules: [...RELAY_RULES], expired: false }],
  ]);
  serverSkewMs: number;
  readonly #o: Required<Omit<OvhSimulatorOptions, 'serverSkewMs' | 'blocks' | 'base'>>;
  readonly #blocks = new Map<string, Map<string, StoredEntry>>();
  #window: number[] = [];
  #limitedUntil = 0;
  #failures: { status: number; retryAfter?: string }[] = [];

  constructor(options: OvhSimulatorOptions) {
    this.base = options.base ?? OVH_EU_BASE;
    this.serverSkewMs = options.serverSkewMs ?? 0;
    this.#o = {
      now: options.now,
      timestampToleranceS: options.timestampToleranceS ?? 180,
      createDelayMs: options.createDelayMs ?? 20_000,
      removeDelayMs: options.removeDelayMs ?? 20_000,
      rateLimit: options.rateLimit ?? { max: 1000, windowMs: 60_000 },
    };
    for (const block of options.blocks ?? []) this.addBlock(block);
  }

  readonly transport: Transport = { request: (request) => Promise.resolve(this.handle(request)) };

  // ---- helpers for tests ----

  addBlock(block: string): void {
    if (!this.#blocks.has(block)) this.#blocks.set(block, new Map());
  }

  /** OVH's own automatic mitigation switches on for an address. */
  autoMitigate(block: string, ip: string): void {
    this.#entries(block).set(ip, { ip, permanent: false, auto: true, createdBy: 'ovh', readyAt: this.#o.now() });
  }

  /** Someone else (the operator, another tool) puts an address on permanent mitigation. */
  operatorEnable(block: string, ip: string): void {
    this.#entries(block).set(ip, { ip, permanent: true, auto: false, createdBy: 'operator', readyAt: this.#o.now() });
  }

  /** A change behind the relay's back: PUT {"permanent": value} as another tool would. */
  setPermanent(block: string, ip: string, permanent: boolean): void {
    const entry = this.#live(block, ip);
    if (!entry) throw new Error(`no entry for ${ip}`);
    entry.permanent = permanent;
  }

  /** A change behind the relay's back: OVH turns the entry automatic. */
  setAuto(block: string, ip: string, auto: boolean): void {
    const entry = this.#live(block, ip);
    if (!entry) throw new Error(`no entry for ${ip}`);
    entry.auto = auto;
  }

  /** Someone asks OVH to remove the entry (DELETE by another tool): removalPending for removeDelayMs, then gone. */
  startRemoval(block: string, ip: string): void {
    const entry = this.#live(block, ip);
    if (!entry) throw new Error(`no entry for ${ip}`);
    entry.removingSince = this.#o.now();
    entry.goneAt = this.#o.now() + this.#o.removeDelayMs;
  }

  /** Someone removes the entry at once. */
  removeEntry(block: string, ip: string): void {
    this.#entries(block).delete(ip);
  }

  /** Take an access rule away from a consumer key. */
  revokeRule(method: AccessRule['method'], path: string, consumerKey = DEFAULT_CONSUMER_KEY): void {
    const consumer = this.consumers.get(consumerKey)!;
    consumer.rules = consumer.rules.filter((rule) => !(rule.method === method && rule.path === path));
  }

  expireConsumerKey(consumerKey = DEFAULT_CONSUMER_KEY): void {
    this.consumers.get(consumerKey)!.expired = true;
  }

  /** The next answers are these failures (5xx, 429), in order. */
  failNext(...failures: { status: number; retryAfter?: string }[]): void {
    this.#failures.push(...failures);
  }

  /** One entry as GET would show it. */
  entry(block: string, ip: string): SimEntry | undefined {
    const stored = this.#live(block, ip);
    return stored ? this.#view(stored) : undefined;
  }

  /** The account's whole mitigation state: block → ip → entry (compare before/after field for field). */
  accountState(): Record<string, Record<string, SimEntry>> {
    const out: Record<string, Record<string, SimEntry>> = {};
    for (const [block] of this.#blocks) {
      out[block] = {};
      for (const ip of [...this.#entries(block).keys()].sort()) {
        const view = this.entry(block, ip);
        if (view) out[block][ip] = view;
      }
    }
    return out;
  }

  serverSeconds(): number {
    return Math.floor((this.#o.now() + this.serverSkewMs) / 1000);
  }

  // ---- the API ----

  handle(request: HttpRequest): HttpResponse {
    const body = typeof request.body === 'string' ? request.body : request.body ? Buffer.from(request.body).toString('utf8') : '';
    const response = this.#route(request, body);
    this.log.push({ method: request.method, url: request.url, body, at: this.#o.now(), status: response.status });
    return response;
  }

  #route(request: HttpRequest, body: string): HttpResponse {
    this.counters.requests += 1;
    const now = this.#o.now();
    if (now < this.#limitedUntil) {
      this.counters.requestsWhileRateLimited += 1;
      return this.#tooMany();
    }
    this.#window = this.#window.filter((at) => at > now - this.#o.rateLimit.windowMs);
    this.#window.push(now);
    if (this.#window.length > this.#o.rateLimit.max) {
      this.#limitedUntil = this.#window[0]! + this.#o.rateLimit.windowMs;
      return this.#tooMany();
    }
    const failure = this.#failures.shift();
    if (failure) {
      return json(failure.status, { message: failure.status === 429 ? 'Too many requests' : 'Internal server error', httpCode: String(failure.status) }, failure.retryAfter ? { 'retry-after': failure.retryAfter } : {});
    }
    if (!request.url.startsWith(`${this.base}/`)) return ovhError(404, 'Got an invalid (or empty) URL', undefined, 'Client::NotFound');
    const url = new URL(request.url);
    const rawPath = url.pathname.slice(new URL(this.base).pathname.length);
    const headers = lower(request.headers ?? {});

    if (request.method === 'GET' && rawPath === '/auth/time') {
      this.counters.timeRequests += 1;
      return json(200, this.serverSeconds());
    }

    // Authentication, in OVH's order.
    this.counters.signedRequests += 1;
    const appKey = headers['x-ovh-application'];
    const secret = appKey === undefined ? undefined : this.applications.get(appKey);
    if (secret === undefined) return ovhError(403, 'Invalid application key', 'INVALID_KEY');
    const timestamp = Number(headers['x-ovh-timestamp']);
    if (!Number.isInteger(timestamp) || Math.abs(timestamp - this.serverSeconds()) > this.#o.timestampToleranceS) {
      this.counters.staleTimestamps += 1;
      return ovhError(400, 'Query out of time', 'QUERY_TIME_OUT');
    }
    const ck = headers['x-ovh-consumer'] ?? '';
    const consumer = this.consumers.get(ck);
    if (!consumer || consumer.expired) {
      this.counters.invalidCredentials += 1;
      return ovhError(403, 'This credential does not exist', 'INVALID_CREDENTIAL');
    }
    const expected = `$1$${createHash('sha1').update([secret, ck, request.method, request.url, body, headers['x-ovh-timestamp']].join('+'), 'utf8').digest('hex')}`;
    if (headers['x-ovh-signature'] !== expected) {
      this.counters.badSignatures += 1;
      return ovhError(400, 'Invalid signature', 'INVALID_SIGNATURE');
    }

    // Route on the raw path: an unencoded '/' in the block makes extra segments.
    const segments = rawPath.split('/').slice(1).map((segment) => decodeURIComponent(segment));
    const decodedPath = `/${segments.join('/')}`;
    if (!consumer.rules.some((rule) => rule.method === request.method && ruleMatches(rule.path, decodedPath))) {
      this.counters.notGranted += 1;
      return ovhError(403, 'This call has not been granted', 'NOT_GRANTED_CALL');
    }
    if (segments[0] !== 'ip') return ovhError(404, 'Got an invalid (or empty) URL', undefined, 'Client::NotFound');
    if (segments.length === 1 && request.method === 'GET') return json(200, [...this.#blocks.keys()]);
    const block = segments[1]!;
    if (segments.length > 4 || (segments.length >= 3 && segments[2] !== 'mitigation')) {
      if (/^\d+\.\d+\.\d+\.\d+$/.test(block) && /^\d+$/.test(segments[2] ?? '')) this.counters.unencodedPaths += 1;
      return ovhError(404, 'Got an invalid (or empty) URL', undefined, 'Client::NotFound');
    }
    if (!this.#blocks.has(block)) return ovhError(404, `The requested object (ip = ${block}) does not exist`, undefined, 'Client::NotFound');
    if (segments.length === 2 && request.method === 'GET') return json(200, { ip: block, type: 'failover', description: null, routedTo: { serviceName: 'ns000000.ip-203-0-113.eu' } });
    if (segments.length === 3 && request.method === 'GET') {
      return json(200, [...this.#entries(block).keys()].filter((ip) => this.#live(block, ip)));
    }
    if (segments.length === 3 && request.method === 'POST') return this.#create(block, body, ck);
    if (segments.length === 4) {
      const ip = segments[3]!;
      if (request.method === 'GET') {
        const entry = this.#live(block, ip);
        return entry ? json(200, this.#view(entry)) : ovhError(404, `The requested object (ipOnMitigation = ${ip}) does not exist`, undefined, 'Client::NotFound');
      }
      if (request.method === 'DELETE') return this.#delete(block, ip, ck);
    }
    return ovhError(405, 'Method not allowed', undefined, 'Client::MethodNotAllowed');
  }

  #create(block: string, body: string, ck: string): HttpResponse {
    this.counters.posts += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return ovhError(400, 'Invalid JSON', undefined, 'Client::BadRequest');
    }
    const ip = (parsed as { ipOnMitigation?: unknown }).ipOnMitigation;
    if (typeof ip !== 'string' || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return ovhError(400, '[ipOnMitigation] Given data is not an ipv4', undefined, 'Client::BadRequest');
    if (!inBlock(ip, block)) return ovhError(400, `${ip} is not in ${block}`, undefined, 'Client::BadRequest');
    if (this.#live(block, ip)) {
      this.counters.unneededWrites += 1;
      return ovhError(409, `${ip} is already on mitigation`, undefined, 'Client::Conflict');
    }
    const entry: StoredEntry = { ip, permanent: true, auto: false, createdBy: ck, readyAt: this.#o.now() + this.#o.createDelayMs };
    this.#entries(block).set(ip, entry);
    return json(200, this.#view(entry));
  }

  #delete(block: string, ip: string, ck: string): HttpResponse {
    this.counters.deletes += 1;
    const entry = this.#live(block, ip);
    if (!entry) {
      this.counters.unneededWrites += 1;
      return ovhError(404, `The requested object (ipOnMitigation = ${ip}) does not exist`, undefined, 'Client::NotFound');
    }
    if (entry.createdBy !== ck) this.counters.deletesOfOthersEntries += 1;
    if (entry.removingSince !== undefined) {
      this.counters.unneededWrites += 1;
      return json(200, this.#view(entry));
    }
    entry.removingSince = this.#o.now();
    entry.goneAt = this.#o.now() + this.#o.removeDelayMs;
    return json(200, this.#view(entry));
  }

  #tooMany(): HttpResponse {
    const seconds = Math.max(1, Math.ceil((this.#limitedUntil - this.#o.now()) / 1000));
    return json(429, { message: 'Too many requests', httpCode: '429 Too Many Requests' }, { 'retry-after': String(seconds) });
  }

  #entries(block: string): Map<string, StoredEntry> {
    this.addBlock(block);
    return this.#blocks.get(block)!;
  }

  #live(block: string, ip: string): StoredEntry | undefined {
    const entry = this.#blocks.get(block)?.get(ip);
    if (entry?.goneAt !== undefined && this.#o.now() >= entry.goneAt) {
      this.#blocks.get(block)!.delete(ip);
      return undefined;
    }
    return entry;
  }

  #view(entry: StoredEntry): SimEntry {
    const state: EntryState = entry.removingSince !== undefined ? 'removalPending' : this.#o.now() < entry.readyAt ? 'creationPending' : 'ok';
    return { ipOnMitigation: entry.ip, permanent: entry.permanent, auto: entry.auto, state };
  }
}

/** OVH access-rule matching: `*` stands for any run of characters, `/` included. */
function ruleMatches(pattern: string, path: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
  return regex.test(path);
}

function inBlock(ip: string, block: string): boolean {
  const [network, prefixText] = block.split('/');
  const toInt = (text: string) => text.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const prefix = Number(prefixText ?? 32);
  const size = 2 ** (32 - prefix);
  const start = toInt(network!);
  const value = toInt(ip);
  return value >= start && value < start + size;
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-ovh-queryid': `EU.ext-1.sim.${status}`, ...headers },
    body: new TextEncoder().encode(JSON.stringify(value)),
  };
}

function ovhError(status: number, message: string, errorCode?: string, className?: string): HttpResponse {
  const reason: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict' };
  const bodyValue = className !== undefined ? { class: className, message } : { errorCode, httpCode: `${status} ${reason[status] ?? ''}`.trim(), message };
  return json(status, bodyValue);
}
