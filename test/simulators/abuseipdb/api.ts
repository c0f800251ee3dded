/**
 * AbuseIPDB API v2 simulator (`https://api.abuseipdb.com/api/v2`): the
 * REPORT, BULK-REPORT and CHECK endpoints, written from docs.abuseipdb.com
 * (report/bulk-report/check sections, as mirrored in public repositories)
 * and the behaviour third-party clients document
 * (../shared/reference/devices.md §4).
 *
 * What it models:
 * - Auth: the `Key` header (any case). `key=` in the query is accepted as
 *   the docs allow, and counted (`keyInQuery`): the relay must not put the
 *   key in a URL. Unknown or missing key → 401 with the documented detail.
 * - Envelopes: `{"data":…}` on success; errors as JSON:API
 *   `{"errors":[{"detail","status","source":{"parameter"}}]}`.
 * - Daily quotas per key and endpoint (free plan by default: report 1,000,
 *   bulk-report 5, check 1,000), reset at midnight UTC (UNVERIFIED: the docs
 *   only say "daily"). Every authenticated request counts, refused or not
 *   (UNVERIFIED). Every answer carries `X-RateLimit-Limit` and
 *   `X-RateLimit-Remaining`; an exhausted quota answers 429 with
 *   `Retry-After` (seconds to the reset), `X-RateLimit-Remaining: 0` and
 *   `X-RateLimit-Reset` (epoch seconds). Detail text UNVERIFIED.
 * - A short-term limit (`burst`, off by default; UNVERIFIED figures and
 *   text): 429 with `Retry-After` while `X-RateLimit-Remaining` is above 0.
 * - The 15-minute rule: a key reporting an address it reported less than
 *   15 minutes ago gets 429 "You can only report the same IP address (`…`)
 *   once in 15 minutes." with `source.parameter: ip` (text from two
 *   independent client test suites); no Retry-After (UNVERIFIED).
 * - 422 validation: missing/invalid `ip` (detail from a client test suite),
 *   missing `categories` ("The categories field is required."), category ids
 *   outside 1–23 or more than 30 (text UNVERIFIED), an unreadable or future
 *   `timestamp` (UNVERIFIED), private/reserved addresses (UNVERIFIED: the
 *   docs' own examples report 127.0.0.1; the simulator is stricter and
 *   refuses every non-global address, and counts the attempt).
 * - Comments longer than 1,024 characters are truncated, not refused
 *   (third-party: "a comment longer than 1024 bytes is truncated by the
 *   API"); counted as `commentsTruncated`.
 * - Bulk: multipart/form-data with a file field `csv`; header line
 *   `IP,Categories,ReportDate,Comment` (required here, UNVERIFIED), at most
 *   10,000 lines (more → 422, UNVERIFIED). Each row is saved or listed in
 *   `invalidReports` as {error, input, rowNumber}: "Invalid IP", "Invalid
 *   Category", "Duplicate IP" (documented errors); an address reported by
 *   this key in the last 15 minutes is a "Duplicate IP" too and a
 *   non-public address an "Invalid IP" (both UNVERIFIED). rowNumber counts
 *   the header as line 1 (UNVERIFIED). One bulk upload costs one request of
 *   the bulk-report quota.
 * - Check: `GET /check?ipAddress=` → `{"data":{ipAddress, isPublic, …}}`.
 *
 * What a careful client must not do is counted in `counters` (a test
 * asserts zero): reports of the same address within 15 minutes of the
 * relay's own report, reports of private/reserved addresses, requests after
 * an answer already said the quota was used up, comments containing a
 * watched private string (`watchPrivate`), the key in a query string.
 */
import { BlockList, isIP } from 'node:net';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const ABUSEIPDB_SIM_BASE = 'https://api.abuseipdb.com/api/v2';
export const DEFAULT_KEY = 'simkey0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwx';
export const COOLDOWN_MS = 15 * 60_000;
export const AUTH_FAILED =
  'Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.';
export const COMMENT_MAX = 1024;

export type SimEndpoint = 'report' | 'bulk-report' | 'check';
export type SimPlan = Record<SimEndpoint, number>;
export const FREE_PLAN: SimPlan = { report: 1000, 'bulk-report': 5, check: 1000 };

export interface SimReport {
  key: string;
  ip: string;
  categories: number[];
  comment: string;
  /** As sent (ISO 8601), or undefined (AbuseIPDB then uses the time of submission). */
  timestamp: string | undefined;
  via: 'report' | 'bulk-report';
  at: number;
}

export interface SimCounters {
  requests: number;
  authFailures: number;
  /** The key was sent as `key=` in a URL. */
  keyInQuery: number;
  /** Requests without `Accept: application/json`. */
  missingAcceptJson: number;
  savedReports: number;
  bulkUploads: number;
  /** Reports (single or bulk rows) of an address the same key reported through the API less than 15 minutes before. */
  sameIpWithin15Min: number;
  /** Reports (single or bulk rows) of private or reserved addresses. */
  privateAddressReports: number;
  /** Requests to an endpoint after an earlier answer already said its daily quota was used up. */
  afterQuotaExhausted: number;
  /** Comments containing one of the watched private strings. */
  privateInComments: number;
  commentsTruncated: number;
  /** 429s of any kind. */
  rateLimited: number;
}

export interface AbuseipdbSimulatorOptions {
  now: () => number;
  plan?: Partial<SimPlan>;
  /** Short-term limit per key (all endpoints): at most `max` requests per `windowMs`. Off when absent. */
  burst?: { max: number; windowMs: number };
}

interface Failure {
  endpoint: SimEndpoint | undefined;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface ApiError {
  detail: string;
  status: number;
  source?: { parameter: string };
}

/** Separate lists: a BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules. Every non-global address: private, loopback, link-local, CGNAT, documentation, multicast, reserved, ULA… */
const RESERVED_V4 = new BlockList();
const RESERVED_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  RESERVED_V4.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['2001::', 23],
  ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) {
  RESERVED_V6.addSubnet(net, prefix, 'ipv6');
}

/** A valid, public address (IPv6: inside 2000::/3 and not a special range). */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return !RESERVED_V4.check(ip, 'ipv4');
  if (family === 6) {
    if (RESERVED_V6.check(ip, 'ipv6')) return false;
    const first = Number.parseInt(expandFirstGroup(ip), 16);
    return first >= 0x2000 && first <= 0x3fff;
  }
  return false;
}

function expandFirstGroup(ip: string): string {
  return ip.startsWith('::') ? '0' : ip.split(':')[0]!;
}

export class AbuseipdbSimulator {
  readonly counters: SimCounters = {
    requests: 0,
    authFailures: 0,
    keyInQuery: 0,
    missingAcceptJson: 0,
    savedReports: 0,
    bulkUploads: 0,
    sameIpWithin15Min: 0,
    privateAddressReports: 0,
    afterQuotaExhausted: 0,
    privateInComments: 0,
    commentsTruncated: 0,
    rateLimited: 0,
  };
  /** Every saved report, in order. */
  readonly reports: SimReport[] = [];
  /** Every request: method, endpoint, status. */
  readonly log: { method: string; endpoint: string; status: number; at: number }[] = [];
  readonly #o: AbuseipdbSimulatorOptions;
  readonly #keys = new Map<string, SimPlan>();
  readonly #usage = new Map<string, number>();
  /** `${key} ${endpoint} ${day}` for which an answer already said "used up". */
  readonly #toldExhausted = new Set<string>();
  readonly #lastReport = new Map<string, { at: number; external: boolean }>();
  readonly #burst = new Map<string, number[]>();
  readonly #private: string[] = [];
  #failures: Failure[] = [];

  constructor(options: AbuseipdbSimulatorOptions) {
    this.#o = options;
    this.#keys.set(DEFAULT_KEY, { ...FREE_PLAN, ...options.plan });
  }

  readonly transport: Transport = { request: (request) => Promise.resolve(this.handle(request)) };

  // ---- helpers for tests ----

  addKey(key: string, plan: Partial<SimPlan> = {}): void {
    this.#keys.set(key, { ...FREE_PLAN, ...plan });
  }

  revokeKey(key = DEFAULT_KEY): void {
    this.#keys.delete(key);
  }

  /** Strings that must never appear in a comment (the node's name and address, …). */
  watchPrivate(...values: string[]): void {
    this.#private.push(...values.map((value) => value.toLowerCase()));
  }

  /** Someone else using the same key (fail2ban, …) reported this address now. */
  reportedElsewhere(ip: string, key = DEFAULT_KEY): void {
    this.#lastReport.set(`${key} ${ip}`, { at: this.#o.now(), external: true });
  }

  /** Requests of the endpoint already counted today (other tools using the key). */
  setUsage(endpoint: SimEndpoint, used: number, key = DEFAULT_KEY): void {
    this.#usage.set(this.#usageKey(key, endpoint), used);
  }

  usage(endpoint: SimEndpoint, key = DEFAULT_KEY): number {
    return this.#usage.get(this.#usageKey(key, endpoint)) ?? 0;
  }

  /** The next request (of `endpoint`, or any) gets this answer instead. */
  failNext(failure: { endpoint?: SimEndpoint; status: number; body?: unknown; headers?: Record<string, string> }): void {
    this.#failures.push({ endpoint: failure.endpoint, status: failure.status, body: failure.body, headers: failure.headers });
  }

  /** Saved reports of one address. */
  reportsOf(ip: string): SimReport[] {
    return this.reports.filter((report) => report.ip === ip);
  }

  // ---- the API ----

  handle(request: HttpRequest): HttpResponse {
    this.counters.requests += 1;
    const url = new URL(request.url);
    const headers = lower(request.headers ?? {});
    const endpoint = url.pathname.startsWith('/api/v2/') ? url.pathname.slice('/api/v2/'.length) : '';
    const response = this.#route(request.method, endpoint, url, headers, bodyText(request.body));
    this.log.push({ method: request.method, endpoint, status: response.status, at: this.#o.now() });
    if (response.status === 429) this.counters.rateLimited += 1;
    return response;
  }

  #route(method: string, path: string, url: URL, headers: Record<string, string>, body: string): HttpResponse {
    if (url.origin + '/api/v2' !== ABUSEIPDB_SIM_BASE) return errors(404, [{ detail: 'Not Found', status: 404 }]);
    const endpoint: SimEndpoint | undefined = path === 'report' || path === 'bulk-report' || path === 'check' ? path : undefined;
    if (endpoint === undefined) return errors(404, [{ detail: 'Not Found', status: 404 }]); // UNVERIFIED body
    const wanted = endpoint === 'check' ? 'GET' : 'POST';
    if (method !== wanted) return errors(405, [{ detail: 'Method Not Allowed', status: 405 }]); // UNVERIFIED body
    if (!(headers.accept ?? '').includes('application/json')) this.counters.missingAcceptJson += 1;
    const queryKey = url.searchParams.get('key');
    if (queryKey !== null) this.counters.keyInQuery += 1;
    const key = headers.key ?? queryKey ?? '';
    const plan = this.#keys.get(key);
    if (plan === undefined) {
      this.counters.authFailures += 1;
      return errors(401, [{ detail: AUTH_FAILED, status: 401 }]);
    }
    const failure = this.#takeFailure(endpoint);
    if (failure) return json(failure.status, failure.body ?? { errors: [{ detail: 'Server Error', status: failure.status }] }, failure.headers);

    // Quota first: every authenticated request counts, whatever its fate.
    const usageKey = this.#usageKey(key, endpoint);
    const limit = plan[endpoint];
    const used = this.#usage.get(usageKey) ?? 0;
    const resetAt = nextUtcMidnight(this.#o.now());
    if (used >= limit) {
      if (this.#toldExhausted.has(usageKey)) this.counters.afterQuotaExhausted += 1;
      this.#toldExhausted.add(usageKey);
      return errors(
        429,
        [{ detail: `Daily rate limit of ${limit} requests exceeded for this endpoint. See headers for additional details.`, status: 429 }],
        {
          'retry-after': String(Math.ceil((resetAt - this.#o.now()) / 1000)),
          'x-ratelimit-limit': String(limit),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(resetAt / 1000)),
        },
      );
    }
    if (this.#o.burst && this.#burstExceeded(key, this.#o.burst)) {
      return errors(429, [{ detail: 'Too Many Attempts.', status: 429 }], {
        'retry-after': String(Math.ceil(this.#o.burst.windowMs / 1000)),
        'x-ratelimit-limit': String(limit),
        'x-ratelimit-remaining': String(limit - used),
      });
    }
    this.#usage.set(usageKey, used + 1);
    const remaining = limit - used - 1;
    if (remaining === 0) this.#toldExhausted.add(usageKey);
    const quota = { 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': String(remaining) };
    const answer =
      endpoint === 'report'
        ? this.#report(key, headers, body, url)
        : endpoint === 'bulk-report'
          ? this.#bulk(key, headers, body)
          : this.#check(url);
    return { ...answer, headers: { ...answer.headers, ...quota } };
  }

  #report(key: string, headers: Record<string, string>, body: string, url: URL): HttpResponse {
    const form = new URLSearchParams((headers['content-type'] ?? '').includes('application/x-www-form-urlencoded') ? body : '');
    const param = (name: string) => form.get(name) ?? url.searchParams.get(name) ?? undefined;
    const ip = param('ip');
    const problems: ApiError[] = [];
    if (ip === undefined || ip === '') problems.push({ detail: 'The ip field is required.', status: 422, source: { parameter: 'ip' } });
    else if (isIP(ip) === 0) {
      problems.push({ detail: 'The ip must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).', status: 422, source: { parameter: 'ip' } });
    }
    const categories = parseCategories(param('categories'));
    if (categories === 'missing') problems.push({ detail: 'The categories field is required.', status: 422, source: { parameter: 'categories' } });
    else if (categories === 'invalid') {
      problems.push({ detail: 'The categories must be a comma-separated list of valid category ids (1-23), at most 30.', status: 422, source: { parameter: 'categories' } });
    }
    const timestamp = param('timestamp');
    if (timestamp !== undefined && !validTimestamp(timestamp, this.#o.now())) {
      problems.push({ detail: 'The timestamp must be a valid ISO 8601 date not in the future.', status: 422, source: { parameter: 'timestamp' } });
    }
    if (problems.length > 0) return errors(422, problems);
    if (!isPublicAddress(ip!)) {
      this.counters.privateAddressReports += 1;
      return errors(422, [{ detail: 'You cannot report private or reserved IP addresses.', status: 422, source: { parameter: 'ip' } }]);
    }
    const last = this.#lastReport.get(`${key} ${ip}`);
    if (last !== undefined && this.#o.now() - last.at < COOLDOWN_MS) {
      if (!last.external) this.counters.sameIpWithin15Min += 1;
      return errors(429, [{ detail: `You can only report the same IP address (\`${ip}\`) once in 15 minutes.`, status: 429, source: { parameter: 'ip' } }]);
    }
    this.#save(key, ip!, categories as number[], param('comment') ?? '', timestamp, 'report');
    return json(200, { data: { ipAddress: ip, abuseConfidenceScore: Math.min(100, 10 * this.reportsOf(ip!).length) } });
  }

  #bulk(key: string, headers: Record<string, string>, body: string): HttpResponse {
    const csv = multipartField(headers['content-type'] ?? '', body, 'csv');
    if (csv === undefined) return errors(422, [{ detail: 'The csv field is required.', status: 422, source: { parameter: 'csv' } }]);
    const rows = parseCsv(csv).filter((row) => !(row.length === 1 && row[0] === ''));
    const header = rows.shift();
    if (header === undefined || header.map((cell) => cell.trim().toLowerCase()).join(',') !== 'ip,categories,reportdate,comment') {
      return errors(422, [{ detail: 'The csv file must start with the header IP,Categories,ReportDate,Comment.', status: 422, source: { parameter: 'csv' } }]);
    }
    if (rows.length + 1 > 10_000) {
      return errors(422, [{ detail: 'The csv file may not have more than 10000 lines.', status: 422, source: { parameter: 'csv' } }]);
    }
    this.counters.bulkUploads += 1;
    const invalidReports: { error: string; input: string; rowNumber: number }[] = [];
    const inFile = new Set<string>();
    let saved = 0;
    rows.forEach((row, position) => {
      const rowNumber = position + 2;
      const [ip = '', rawCategories = '', date = '', comment = ''] = row;
      if (isIP(ip) === 0) return invalidReports.push({ error: 'Invalid IP', input: ip, rowNumber });
      if (!isPublicAddress(ip)) {
        this.counters.privateAddressReports += 1;
        return invalidReports.push({ error: 'Invalid IP', input: ip, rowNumber });
      }
      const categories = parseCategories(rawCategories);
      if (!Array.isArray(categories)) return invalidReports.push({ error: 'Invalid Category', input: ip, rowNumber });
      if (!validTimestamp(date, this.#o.now())) return invalidReports.push({ error: 'Invalid Date', input: ip, rowNumber });
      const last = this.#lastReport.get(`${key} ${ip}`);
      if (inFile.has(ip) || (last !== undefined && this.#o.now() - last.at < COOLDOWN_MS)) {
        if (!inFile.has(ip) && !last!.external) this.counters.sameIpWithin15Min += 1;
        return invalidReports.push({ error: 'Duplicate IP', input: ip, rowNumber });
      }
      inFile.add(ip);
      this.#save(key, ip, categories, comment, date, 'bulk-report');
      saved += 1;
      return undefined;
    });
    return json(200, { data: { savedReports: saved, invalidReports } });
  }

  #check(url: URL): HttpResponse {
    const ip = url.searchParams.get('ipAddress');
    if (ip === null || isIP(ip) === 0) {
      return errors(422, [{ detail: 'The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).', status: 422, source: { parameter: 'ipAddress' } }]);
    }
    const mine = this.reportsOf(ip);
    return json(200, {
      data: {
        ipAddress: ip,
        isPublic: isPublicAddress(ip),
        ipVersion: isIP(ip),
        isWhitelisted: false,
        abuseConfidenceScore: Math.min(100, 10 * mine.length),
        countryCode: null,
        usageType: 'Reserved',
        isp: 'Simulated',
        domain: null,
        hostnames: [],
        isTor: false,
        totalReports: mine.length,
        numDistinctUsers: new Set(mine.map((report) => report.key)).size,
        lastReportedAt: mine.length > 0 ? new Date(mine[mine.length - 1]!.at).toISOString() : null,
      },
    });
  }

  #save(key: string, ip: string, categories: number[], comment: string, timestamp: string | undefined, via: SimReport['via']): void {
    if (comment.length > COMMENT_MAX) {
      this.counters.commentsTruncated += 1;
      comment = comment.slice(0, COMMENT_MAX);
    }
    const lowered = comment.toLowerCase();
    if (this.#private.some((value) => value.length > 0 && lowered.includes(value))) this.counters.privateInComments += 1;
    this.#lastReport.set(`${key} ${ip}`, { at: this.#o.now(), external: false });
    this.reports.push({ key, ip, categories, comment, timestamp, via, at: this.#o.now() });
    this.counters.savedReports += 1;
  }

  #burstExceeded(key: string, burst: { max: number; windowMs: number }): boolean {
    const now = this.#o.now();
    const recent = (this.#burst.get(key) ?? []).filter((at) => now - at < burst.windowMs);
    if (recent.length >= burst.max) {
      this.#burst.set(key, recent);
      return true;
    }
    recent.push(now);
    this.#burst.set(key, recent);
    return false;
  }

  #usageKey(key: string, endpoint: SimEndpoint): string {
    return `${key} ${endpoint} ${new Date(this.#o.now()).toISOString().slice(0, 10)}`;
  }

  #takeFailure(endpoint: SimEndpoint): Failure | undefined {
    const index = this.#failures.findIndex((failure) => failure.endpoint === undefined || failure.endpoint === endpoint);
    if (index < 0) return undefined;
    return this.#failures.splice(index, 1)[0];
  }
}

export function nextUtcMidnight(now: number): number {
  const day = new Date(now);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
}

function parseCategories(value: string | undefined): number[] | 'missing' | 'invalid' {
  if (value === undefined || value.trim() === '') return 'missing';
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length > 30 || parts.some((part) => !/^\d+$/.test(part) || Number(part) < 1 || Number(part) > 23)) return 'invalid';
  return parts.map(Number);
}

/** ISO 8601 with a time and an offset (or Z), not in the future. */
function validTimestamp(value: string, now: number): boolean {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return false;
  const at = Date.parse(value);
  return Number.isFinite(at) && at <= now + 60_000;
}

/** RFC 4180: quoted fields with doubled quotes, CRLF or LF lines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The content of one field of a multipart/form-data body, or undefined. */
export function multipartField(contentType: string, body: string, name: string): string | undefined {
  const match = /^multipart\/form-data;\s*boundary=("?)([^";]+)\1/i.exec(contentType.trim());
  if (!match) return undefined;
  const boundary = `--${match[2]}`;
  for (const part of body.split(boundary).slice(1)) {
    if (part.startsWith('--')) break;
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) continue;
    const head = part.slice(0, split);
    if (!new RegExp(`name="${name}"`, 'i').test(head)) continue;
    let content = part.slice(split + 4);
    if (content.endsWith('\r\n')) content = content.slice(0, -2);
    return content;
  }
  return undefined;
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function bodyText(body: string | Uint8Array | undefined): string {
  if (body === undefined) return '';
  return typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: new TextEncoder().encode(JSON.stringify(body)) };
}

function errors(status: number, items: ApiError[], headers: Record<string, string> = {}): HttpResponse {
  return json(status, { errors: items }, headers);
}
