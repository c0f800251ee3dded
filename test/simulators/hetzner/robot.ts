/**
 * Hetzner Robot webservice simulator: the stateless firewall of dedicated
 * servers (`GET|POST /firewall/{server-number}`), written from the Robot
 * webservice documentation (robot.hetzner.com/doc/webservice/en.html) as
 * summarised in the community OpenAPI description (kaltenecker-kg/hrobot-go
 * spec/robot.yaml) and the error codes other clients handle.
 *
 * What it models:
 * - HTTP Basic with the webservice user; anything else is 401 UNAUTHORIZED.
 * - JSON envelopes `{"firewall":{…}}` and `{"error":{status,code,message}}`
 *   (INVALID_INPUT adds `missing`/`invalid`; RATE_LIMIT_EXCEEDED adds
 *   `max_request`/`interval`).
 * - The form body exactly as Robot reads it: `status`, `filter_ipv6`,
 *   `whitelist_hos`, `template_id`, and `rules[input|output][i][field]`
 *   with literal brackets; a percent-encoded bracket, an unknown field, a
 *   gap in the indices or a malformed value is 400 INVALID_INPUT. A POST
 *   replaces everything: a rule list left out is empty.
 * - More than 10 input rules: 409 FIREWALL_RULE_LIMIT_EXCEEDED.
 * - After a POST the firewall reports "in process" for `applyDelayMs` on
 *   the injectable clock; a POST meanwhile is 409 FIREWALL_IN_PROCESS.
 * - 500 requests per hour per account (sliding window), answered with
 *   HTTP 403 RATE_LIMIT_EXCEEDED.
 *
 * What a careful client must not do is counted in `counters`: posts that
 * changed nothing, posts while "in process", requests while rate-limited,
 * failed logins, malformed forms.
 */
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const ROBOT_ORIGIN = 'https://robot-ws.your-server.de';

export interface SimRule {
  ip_version: string | null;
  name: string | null;
  dst_ip: string | null;
  src_ip: string | null;
  dst_port: string | null;
  src_port: string | null;
  protocol: string | null;
  tcp_flags: string | null;
  action: 'accept' | 'discard';
}

export interface SimFirewall {
  server_ip: string;
  server_number: number;
  status: 'active' | 'disabled' | 'in process';
  filter_ipv6: boolean;
  whitelist_hos: boolean;
  port: 'main' | 'kvm';
  rules: { input: SimRule[]; output: SimRule[] };
}

interface ServerState {
  firewall: Omit<SimFirewall, 'status'> & { status: 'active' | 'disabled' };
  inProcessUntil: number;
  available: boolean;
}

export interface SimCounters {
  requests: number;
  gets: number;
  posts: number;
  /** POSTs whose configuration equalled the one in force. */
  unneededPosts: number;
  /** POSTs sent while the firewall was "in process" (answered 409). */
  postsWhileInProcess: number;
  /** Requests sent while the rate limit was used up (answered 403). */
  requestsWhileRateLimited: number;
  authFailures: number;
  malformedForms: number;
}

export interface SimPost {
  server: number;
  form: string;
  at: number;
}

export interface HetznerRobotSimulatorOptions {
  now: () => number;
  username?: string;
  password?: string;
  /** How long a POST stays "in process" (default 30 s). */
  applyDelayMs?: number;
  /** Requests per hour (default 500). */
  maxRequests?: number;
  intervalMs?: number;
}

const RULE_FIELDS = ['name', 'ip_version', 'dst_ip', 'src_ip', 'dst_port', 'src_port', 'protocol', 'tcp_flags', 'action'] as const;
const RULE_KEY = /^rules\[(input|output)\]\[(\d+)\]\[([a-z_]+)\]$/;
const SCALARS = new Set(['status', 'filter_ipv6', 'whitelist_hos', 'template_id']);
const PROTOCOLS = new Set(['tcp', 'udp', 'gre', 'icmp', 'ipip', 'ah', 'esp']);
const PORT = /^\d{1,5}(-\d{1,5})?$/;
const FLAG = '(syn|ack|fin|rst|psh|urg)';
const FLAGS = new RegExp(`^${FLAG}([|&]${FLAG})*$`);
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d{1,2}))?$/;
const IPV6 = /^[0-9a-f:]+(\/(\d{1,3}))?$/i;

export const DEFAULT_USERNAME = '#ws+AbCdEf12';
export const DEFAULT_PASSWORD = 'correct horse battery staple';

export function rule(fields: Partial<SimRule> & { action: 'accept' | 'discard' }): SimRule {
  return {
    ip_version: null,
    name: null,
    dst_ip: null,
    src_ip: null,
    dst_port: null,
    src_port: null,
    protocol: null,
    tcp_flags: null,
    ...fields,
  };
}

export class HetznerRobotSimulator {
  readonly counters: SimCounters = {
    requests: 0,
    gets: 0,
    posts: 0,
    unneededPosts: 0,
    postsWhileInProcess: 0,
    requestsWhileRateLimited: 0,
    authFailures: 0,
    malformedForms: 0,
  };
  readonly posts: SimPost[] = [];
  readonly #servers = new Map<number, ServerState>();
  readonly #now: () => number;
  readonly #username: string;
  readonly #password: string;
  readonly #applyDelayMs: number;
  readonly #maxRequests: number;
  readonly #intervalMs: number;
  #window: number[] = [];
  #failures: Array<{ status: number; body: unknown }> = [];

  readonly transport: Transport = { request: async (request) => this.handle(request) };

  constructor(options: HetznerRobotSimulatorOptions) {
    this.#now = options.now;
    this.#username = options.username ?? DEFAULT_USERNAME;
    this.#password = options.password ?? DEFAULT_PASSWORD;
    this.#applyDelayMs = options.applyDelayMs ?? 30_000;
    this.#maxRequests = options.maxRequests ?? 500;
    this.#intervalMs = options.intervalMs ?? 3_600_000;
  }

  /** Adds a server with a settled firewall. */
  addServer(server: number, firewall: Partial<Omit<SimFirewall, 'server_number'>> = {}, options: { available?: boolean } = {}): void {
    this.#servers.set(server, {
      firewall: {
        server_ip: firewall.server_ip ?? `198.51.100.${server % 250}`,
        server_number: server,
        status: firewall.status === 'active' ? 'active' : 'disabled',
        filter_ipv6: firewall.filter_ipv6 ?? false,
        whitelist_hos: firewall.whitelist_hos ?? true,
        port: firewall.port ?? 'main',
        rules: clone(firewall.rules ?? { input: [], output: [rule({ name: 'Allow all', action: 'accept' })] }),
      },
      inProcessUntil: 0,
      available: options.available ?? true,
    });
  }

  /** The account's full state of one server, as GET would report it. */
  read(server: number): SimFirewall {
    const state = this.#servers.get(server);
    if (!state) throw new Error(`no server ${server}`);
    return clone({ ...state.firewall, status: this.#now() < state.inProcessUntil ? 'in process' : state.firewall.status });
  }

  /** Someone else changes the firewall (Robot panel, another tool); optionally "in process" for a while. */
  changeBehindRelay(server: number, change: (firewall: ServerState['firewall']) => void, options: { inProcessMs?: number } = {}): void {
    const state = this.#servers.get(server);
    if (!state) throw new Error(`no server ${server}`);
    change(state.firewall);
    if (options.inProcessMs) state.inProcessUntil = this.#now() + options.inProcessMs;
  }

  /** The next requests fail with this answer (one entry per request). */
  failNext(status: number, body: unknown): void {
    this.#failures.push({ status, body });
  }

  /** Uses up the hourly request budget. */
  exhaustRateLimit(): void {
    const now = this.#now();
    this.#window = Array.from({ length: this.#maxRequests }, () => now);
  }

  handle(request: HttpRequest): HttpResponse {
    this.counters.requests += 1;
    const url = new URL(request.url);
    if (url.origin !== ROBOT_ORIGIN) throw new Error(`unexpected origin ${url.origin}`);
    const headers = lowerCase(request.headers ?? {});
    if (headers.authorization !== `Basic ${Buffer.from(`${this.#username}:${this.#password}`).toString('base64')}`) {
      this.counters.authFailures += 1;
      return error(401, 'UNAUTHORIZED', 'Unauthorized');
    }
    const now = this.#now();
    this.#window = this.#window.filter((at) => at > now - this.#intervalMs);
    if (this.#window.length >= this.#maxRequests) {
      this.counters.requestsWhileRateLimited += 1;
      return json(403, {
        error: { status: 403, code: 'RATE_LIMIT_EXCEEDED', message: 'rate limit exceeded', max_request: this.#maxRequests, interval: this.#intervalMs / 1000 },
      });
    }
    this.#window.push(now);
    const injected = this.#failures.shift();
    if (injected) return json(injected.status, injected.body);

    const match = /^\/firewall\/(\d+)$/.exec(url.pathname);
    if (!match) return error(404, 'NOT_FOUND', 'Not found');
    const server = Number(match[1]);
    const state = this.#servers.get(server);
    if (!state) return error(404, 'SERVER_NOT_FOUND', 'server not found');
    if (!state.available) return error(404, 'FIREWALL_NOT_AVAILABLE', 'firewall not available');
    if (request.method === 'GET') {
      this.counters.gets += 1;
      return json(200, { firewall: this.read(server) });
    }
    if (request.method !== 'POST') return error(405, 'METHOD_NOT_ALLOWED', 'method not allowed');
    this.counters.posts += 1;
    if (now < state.inProcessUntil) {
      this.counters.postsWhileInProcess += 1;
      return error(409, 'FIREWALL_IN_PROCESS', 'The firewall is currently being processed');
    }
    if (!(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      this.counters.malformedForms += 1;
      return invalid([], ['content-type']);
    }
    const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body ?? new Uint8Array()).toString('utf8');
    const decoded = decodeForm(body, state.firewall);
    if ('invalid' in decoded) {
      this.counters.malformedForms += 1;
      return invalid(decoded.missing, decoded.invalid);
    }
    if (decoded.firewall.rules.input.length > 10) {
      return error(409, 'FIREWALL_RULE_LIMIT_EXCEEDED', 'firewall rule limit exceeded');
    }
    if (JSON.stringify(decoded.firewall) === JSON.stringify(state.firewall)) this.counters.unneededPosts += 1;
    this.posts.push({ server, form: body, at: now });
    state.firewall = decoded.firewall;
    state.inProcessUntil = now + this.#applyDelayMs;
    return json(200, { firewall: this.read(server) });
  }
}

type Decoded = { firewall: ServerState['firewall'] } | { missing: string[]; invalid: string[] };

function decodeForm(body: string, current: ServerState['firewall']): Decoded {
  const invalidKeys: string[] = [];
  const missing: string[] = [];
  const scalars = new Map<string, string>();
  const rules: Record<'input' | 'output', Map<number, Map<string, string>>> = { input: new Map(), output: new Map() };
  for (const pair of body === '' ? [] : body.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent((eq === -1 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      invalidKeys.push(key);
      continue;
    }
    if (SCALARS.has(key)) {
      if (scalars.has(key)) invalidKeys.push(key);
      scalars.set(key, value);
      continue;
    }
    const match = RULE_KEY.exec(key);
    if (!match || !(RULE_FIELDS as readonly string[]).includes(match[3]!)) {
      invalidKeys.push(key);
      continue;
    }
    const direction = match[1] as 'input' | 'output';
    const index = Number(match[2]);
    const fields = rules[direction].get(index) ?? new Map<string, string>();
    if (fields.has(match[3]!)) invalidKeys.push(key);
    fields.set(match[3]!, value);
    rules[direction].set(index, fields);
  }
  const status = scalars.get('status');
  if (status === undefined) missing.push('status');
  else if (status !== 'active' && status !== 'disabled') invalidKeys.push('status');
  const bool = (key: string): boolean => {
    const value = scalars.get(key);
    if (value === undefined) {
      missing.push(key);
      return false;
    }
    if (value !== 'true' && value !== 'false') invalidKeys.push(key);
    return value === 'true';
  };
  const filterIpv6 = bool('filter_ipv6');
  const whitelistHos = bool('whitelist_hos');
  if (scalars.has('template_id')) invalidKeys.push('template_id');
  const decoded: Record<'input' | 'output', SimRule[]> = { input: [], output: [] };
  for (const direction of ['input', 'output'] as const) {
    const indices = [...rules[direction].keys()].sort((a, b) => a - b);
    indices.forEach((index, position) => {
      const prefix = `rules[${direction}][${index}]`;
      if (index !== position) invalidKeys.push(prefix);
      const fields = rules[direction].get(index)!;
      const out = rule({ action: 'accept' });
      for (const [field, value] of fields) {
        if (!validField(field, value, fields)) invalidKeys.push(`${prefix}[${field}]`);
        else if (field === 'src_ip' || field === 'dst_ip') out[field] = withPrefix(value);
        else (out as unknown as Record<string, string>)[field] = value;
      }
      if (!fields.has('action')) missing.push(`${prefix}[action]`);
      decoded[direction].push(out);
    });
  }
  if (invalidKeys.length > 0 || missing.length > 0) return { missing, invalid: invalidKeys };
  return {
    firewall: {
      ...current,
      status: status as 'active' | 'disabled',
      filter_ipv6: filterIpv6,
      whitelist_hos: whitelistHos,
      rules: decoded,
    },
  };
}

function validField(field: string, value: string, fields: Map<string, string>): boolean {
  const protocol = fields.get('protocol');
  switch (field) {
    case 'name':
      return value.length > 0 && value.length <= 64;
    case 'ip_version':
      return value === 'ipv4' || value === 'ipv6';
    case 'src_ip':
    case 'dst_ip': {
      const v4 = IPV4.exec(value);
      if (v4) return fields.get('ip_version') === 'ipv4' && [1, 2, 3, 4].every((i) => Number(v4[i]) <= 255) && (v4[6] === undefined || Number(v4[6]) <= 32);
      return IPV6.test(value) && value.includes(':') && fields.get('ip_version') === 'ipv6';
    }
    case 'src_port':
    case 'dst_port':
      return PORT.test(value) && (protocol === 'tcp' || protocol === 'udp');
    case 'protocol':
      return PROTOCOLS.has(value);
    case 'tcp_flags':
      return FLAGS.test(value) && protocol === 'tcp';
    case 'action':
      return value === 'accept' || value === 'discard';
    default:
      return false;
  }
}

/** Robot reports single addresses as host prefixes. */
function withPrefix(value: string): string {
  if (value.includes('/')) return value;
  return value.includes(':') ? `${value}/128` : `${value}/32`;
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode(JSON.stringify(body)) };
}

function error(status: number, code: string, message: string): HttpResponse {
  return json(status, { error: { status, code, message } });
}

function invalid(missing: string[], invalidKeys: string[]): HttpResponse {
  return json(400, {
    error: { status: 400, code: 'INVALID_INPUT', message: 'invalid input', missing: missing.length ? missing : null, invalid: invalidKeys.length ? invalidKeys : null },
  });
}
