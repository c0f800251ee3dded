/**
 * A simulated pfSense CE 2.7 firewall running pfSense-pkg-API v1, at the
 * level of HTTP requests: what the package's PHP does with each request,
 * without sockets (./server.ts serves it over HTTP(S); `transport()` calls it
 * in-process for the bench).
 *
 * Implemented as the package does (legacy branch, `APIAuth.inc`,
 * `APITools.inc`, `APIFirewallAlias*.inc`, `APIFirewallApplyCreate.inc`):
 *
 * - Authentication mode `local` (HTTP Basic), `jwt` (Bearer, tokens from
 *   `POST /api/v1/access_token` which always takes Basic) or `token`
 *   (`Authorization: <client-id> <client-token>`). Failures answer
 *   `{"status":"unauthorized","code":401,"return":3,"message":"Authentication failed","data":[]}`.
 *   Privileges are checked after authentication (403, return 4).
 * - Login protection: failed authentications are counted; at `threshold` the
 *   client is locked out (connections dropped, or a plain 403) until
 *   `resetLoginProtection()`.
 * - Request data: `Content-Type: application/json` → the body is parsed as
 *   JSON for every method (DELETE too); no Content-Type or form data → the
 *   query string when it is not empty, else the body; any other type → 415
 *   (return 11).
 * - `GET/POST/PUT/DELETE /api/v1/firewall/alias`,
 *   `POST/DELETE /api/v1/firewall/alias/entry` (append without
 *   de-duplication; delete removes every matching entry; the last may go),
 *   `POST /api/v1/firewall/apply`. Writes reload the filter unless `apply`
 *   is the JSON boolean false (a query-string "false" is a string, so it
 *   still applies, as in PHP's `!== false`).
 * - GET with a filter answers matches keyed by config index: a JSON array
 *   when the keys are 0..n-1, else an object such as `{"1":{...}}`.
 *
 * - Per-entry descriptions (`detail`) as the package keeps them
 *   (APIFirewallAliasEntryCreate/Delete.inc, legacy branch): an entry POST
 *   appends the sent details (padded with `Entry added <date>` up to the
 *   number of sent addresses) after the stored ones, whatever their count;
 *   an entry DELETE drops the details at the positions of the removed
 *   addresses after `array_filter`, which also drops every empty detail, so
 *   the details after an empty one move up to the previous address. So an
 *   alias whose details are fewer than its addresses, or hold an empty one,
 *   gets its descriptions misaligned by a careless client, as on a device.
 *
 * Test hooks: per-endpoint counters, a request log (parsed payloads and
 * answers), config.xml write and filter-reload counters, the pending-apply
 * flag and `writesSinceApply`, the runtime tables, a virtual clock with a
 * cost model (./cost-model.ts), `setDown()`, `revokeJwts()`, `override`,
 * `realLatencyMs` to hold requests open so overlapping requests show up in
 * `maxInFlight`, and `realTime` to hold each request for its cost in real
 * milliseconds (with `ONE_BOX_REAL_TIME_COST`, 35 ms per request + 1 ms per
 * entry: a one-box relay can run against it over loopback HTTP).
 *
 * Violations a careful client never causes, counted in `violations`:
 *
 * - `duplicateWrites`: an entry POST of an address the alias already holds
 *   (or twice in one request: the package does not de-duplicate), or a write
 *   request identical to one still in flight.
 * - `foreignTouched`: an operator entry (seeded without the relay's mark, or
 *   added with `adminAddEntry`) removed, or its detail changed (a relay
 *   description moved onto it, its own moved away). Each entry counts once.
 * - `replaces`: any PUT of an alias (it replaces the whole address list and
 *   would overwrite an operator's edit made meanwhile).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { normalizeAddress } from '../../../lib/ip/address.ts';
import { TransportConnectionError, TransportTimeoutError } from '../../../lib/transport/errors.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { aliasRecord, type AliasRecord, ConfigStore, GUI_DEFAULT_DETAIL, type SeedAlias, type StoredAlias } from './config-store.ts';
import { type CostModel, DEFAULT_COST_MODEL, requestCost, VirtualClock } from './cost-model.ts';
import { signJwt, verifyJwt } from './jwt.ts';
import { v1Envelope, type V1EnvelopeBody } from './responses.ts';

export type SimAuthMode = 'local' | 'jwt' | 'token';

export interface SimUser {
  username: string;
  password: string;
  /** webConfigurator privileges, e.g. `page-all`. */
  privileges: string[];
}

export interface LoginProtection {
  /** Failed authentications before the lockout. */
  threshold: number;
  /** `drop`: connections are closed unanswered (sshguard blocks the address); `forbidden`: a plain-text 403. */
  mode: 'drop' | 'forbidden';
}

export interface PfSenseV1DeviceOptions {
  authMode?: SimAuthMode;
  users?: SimUser[];
  /** API tokens valid in `token` mode (client-id is the hex of the user name). */
  tokens?: ReadonlyArray<{ readonly clientId: string; readonly clientToken: string }>;
  /** JWT lifetime (package default 3600, range 300–86400). */
  jwtExpSeconds?: number;
  hostname?: string;
  /** Wall clock for JWT `nbf`/`exp` (epoch ms); defaults to Date.now. */
  now?: () => number;
  loginProtection?: LoginProtection | false;
  cost?: Partial<CostModel>;
  aliases?: SeedAlias[];
  /** Aliases a rule references (DELETE alias answers 4108). */
  aliasesInUse?: string[];
  /** Real milliseconds each request is held before it is handled. */
  realLatencyMs?: number;
  /**
   * Hold each request, after it is handled, for its cost under the cost
   * model in real milliseconds (use `cost: ONE_BOX_REAL_TIME_COST`).
   */
  realTime?: boolean;
  /** Keep the request log (default true). The bench turns it off: 10,000 logged answers echoing a 10,000-entry alias do not fit in memory. */
  keepLog?: boolean;
  /**
   * What a successful write answers in `data`: the alias as stored, as the
   * package does (default), or nothing (the bench: it saves building a
   * large answer per request; clients here ignore it).
   */
  writeAnswer?: 'alias' | 'none';
}

export interface SimRequest {
  method: string;
  /** Path with query string. */
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type SimOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string }
  /** The connection is closed without an answer. */
  | { kind: 'drop' }
  /** Nothing is ever answered. */
  | { kind: 'hang' };

export interface LoggedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string | string[]>;
  authorization: string | undefined;
  contentType: string | undefined;
  rawBody: string;
  /** The request data as the package sees it (JSON body, query or form). */
  payload: Record<string, unknown>;
  status?: number;
  returnCode?: number;
  /** The envelope answered, when one was. */
  response?: V1EnvelopeBody;
}

export type DownMode = 'drop' | 'hang' | 'error';

/** The endpoints the simulator implements (the OpenAPI test checks each exists in the v1 spec). */
export const PFSENSE_V1_SIM_ROUTES = [
  { method: 'POST', path: '/api/v1/access_token' },
  { method: 'GET', path: '/api/v1/firewall/alias' },
  { method: 'POST', path: '/api/v1/firewall/alias' },
  { method: 'PUT', path: '/api/v1/firewall/alias' },
  { method: 'DELETE', path: '/api/v1/firewall/alias' },
  { method: 'POST', path: '/api/v1/firewall/alias/entry' },
  { method: 'DELETE', path: '/api/v1/firewall/alias/entry' },
  { method: 'POST', path: '/api/v1/firewall/apply' },
] as const;

const ALIAS_READ = ['page-all', 'page-firewall-aliases'];
const ALIAS_EDIT = ['page-all', 'page-firewall-alias-edit'];
const APPLY = ['page-all', 'page-firewall-rules', 'page-firewall-rules-edit', 'page-firewall-aliases', 'page-firewall-alias-edit'];

interface HandlerResult {
  id: number;
  data?: unknown;
  /** Entries the request made the firewall handle (cost model). */
  entries: number;
}

type Handler = (payload: Record<string, unknown>) => HandlerResult;

interface Route {
  privileges: string[] | undefined;
  handler: Handler;
}

/** The real-time model for a one-box relay over loopback: 35 ms per request + 1 ms per entry. */
export const ONE_BOX_REAL_TIME_COST: CostModel = { perRequestMs: 35, perEntryMs: 1 };

/** What a careful client never makes the firewall do (see the file comment). */
export interface SimViolations {
  duplicateWrites: number;
  foreignTouched: number;
  replaces: number;
}

const WRITE_ROUTES = new Set([
  'POST /api/v1/firewall/alias',
  'PUT /api/v1/firewall/alias',
  'DELETE /api/v1/firewall/alias',
  'POST /api/v1/firewall/alias/entry',
  'DELETE /api/v1/firewall/alias/entry',
]);

const FQDN = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** The simulated firewall. */
export class PfSenseV1Device {
  readonly config: ConfigStore;
  readonly clock = new VirtualClock();
  readonly cost: CostModel;
  /** Requests per `METHOD /path` (query excluded), every path, known or not. */
  readonly counters = new Map<string, number>();
  readonly log: LoggedRequest[] = [];
  /** Authentication failures seen (the login-protection count). */
  failedAuths = 0;
  lockedOut = false;
  inFlight = 0;
  maxInFlight = 0;
  readonly violations: SimViolations = { duplicateWrites: 0, foreignTouched: 0, replaces: 0 };
  /** Answer requests this way instead of handling them; false = up. */
  down: DownMode | false = false;
  /**
   * Called for every request after it is logged and counted, before
   * authentication. Return an outcome to answer with it, or undefined to
   * carry on (the hook may also change `config`).
   */
  override: ((request: LoggedRequest) => SimOutcome | undefined) | undefined;

  readonly #authMode: SimAuthMode;
  readonly #users: SimUser[];
  readonly #tokens: Array<{ clientId: string; clientToken: string }>;
  readonly #jwtExpSeconds: number;
  readonly #hostname: string;
  readonly #now: () => number;
  readonly #protection: LoginProtection | false;
  readonly #inUse: Set<string>;
  readonly #realLatencyMs: number;
  readonly #realTime: boolean;
  /** Write requests in flight, by method, path and body. */
  readonly #writesInFlight = new Map<string, number>();
  /** Operator entries already counted in `foreignTouched`. */
  readonly #counted = new Set<ConfigStore['operatorEntries'][number]>();
  readonly #keepLog: boolean;
  readonly #writeAnswer: 'alias' | 'none';
  readonly #routes: Map<string, Route>;
  #jwtKey = randomBytes(32);

  constructor(options: PfSenseV1DeviceOptions = {}) {
    this.#authMode = options.authMode ?? 'local';
    this.#users = options.users ?? [{ username: 'admin', password: 'pfsense', privileges: ['page-all'] }];
    this.#tokens = [...(options.tokens ?? [])];
    this.#jwtExpSeconds = options.jwtExpSeconds ?? 3600;
    this.#hostname = options.hostname ?? 'pfsense.home.arpa';
    this.#now = options.now ?? Date.now;
    this.#protection = options.loginProtection ?? { threshold: 3, mode: 'drop' };
    this.#inUse = new Set(options.aliasesInUse ?? []);
    this.#realLatencyMs = options.realLatencyMs ?? 0;
    this.#realTime = options.realTime ?? false;
    this.#keepLog = options.keepLog ?? true;
    this.#writeAnswer = options.writeAnswer ?? 'alias';
    this.cost = { ...DEFAULT_COST_MODEL, ...options.cost };
    this.config = new ConfigStore(options.aliases);
    this.#routes = new Map<string, Route>([
      ['POST /api/v1/access_token', { privileges: undefined, handler: () => ({ id: 0, entries: 0 }) }],
      ['GET /api/v1/firewall/alias', { privileges: ALIAS_READ, handler: (p) => this.#readAliases(p) }],
      ['POST /api/v1/firewall/alias', { privileges: ALIAS_EDIT, handler: (p) => this.#createAlias(p) }],
      ['PUT /api/v1/firewall/alias', { privileges: ALIAS_EDIT, handler: (p) => this.#updateAlias(p) }],
      ['DELETE /api/v1/firewall/alias', { privileges: ALIAS_EDIT, handler: (p) => this.#deleteAlias(p) }],
      ['POST /api/v1/firewall/alias/entry', { privileges: ALIAS_EDIT, handler: (p) => this.#addEntries(p) }],
      ['DELETE /api/v1/firewall/alias/entry', { privileges: ALIAS_EDIT, handler: (p) => this.#deleteEntries(p) }],
      ['POST /api/v1/firewall/apply', { privileges: APPLY, handler: () => this.#apply() }],
    ]);
  }

  /** Requests counted for `METHOD /path`. */
  count(method: string, path: string): number {
    return this.counters.get(`${method} ${path}`) ?? 0;
  }

  /** All requests counted. */
  get totalRequests(): number {
    let sum = 0;
    for (const value of this.counters.values()) sum += value;
    return sum;
  }

  /** The written (not necessarily applied) entries of an alias, or undefined when it does not exist. */
  aliasEntries(name: string): string[] | undefined {
    return this.config.entries(name);
  }

  get pendingApply(): boolean {
    return this.config.pendingApply;
  }

  /** config.xml rewrites not yet applied (0: the runtime tables match the configuration). */
  get unappliedWrites(): number {
    return this.config.writesSinceApply;
  }

  /** The (address, detail) pairs of an alias as the webConfigurator shows them, or undefined. */
  aliasPairs(name: string): Array<{ address: string; detail: string | undefined }> | undefined {
    return this.config.pairs(name);
  }

  /**
   * The operator adds an entry in the webConfigurator (config written, the
   * change waits for "Apply Changes"). The entry is the operator's from now on.
   */
  adminAddEntry(alias: string, address: string, detail: string = GUI_DEFAULT_DETAIL): void {
    const index = this.config.indexOf(alias);
    if (index === undefined) throw new Error(`simulator: no alias ${alias}`);
    const stored = this.config.aliases[index]!;
    // The webConfigurator posts every row with its description (an empty one
    // saved as "Entry added <date>"), so a save writes one detail per address.
    while (stored.details.length < stored.addresses.length) stored.details.push(GUI_DEFAULT_DETAIL);
    stored.details.length = stored.addresses.length;
    stored.addresses.push(address);
    stored.details.push(detail);
    this.config.operatorEntries.push({ alias, address, detail });
    this.config.write();
  }

  /** The operator deletes the first entry of `address` in the webConfigurator; it is no longer tracked as theirs. */
  adminRemoveEntry(alias: string, address: string): void {
    const index = this.config.indexOf(alias);
    if (index === undefined) throw new Error(`simulator: no alias ${alias}`);
    const stored = this.config.aliases[index]!;
    const position = stored.addresses.indexOf(address);
    if (position === -1) throw new Error(`simulator: ${address} is not in ${alias}`);
    const detail = stored.details[position];
    stored.addresses.splice(position, 1);
    if (position < stored.details.length) stored.details.splice(position, 1);
    const tracked = this.config.operatorEntries.findIndex(
      (entry) => entry.alias === alias && entry.address === address && entry.detail === detail,
    );
    if (tracked !== -1) this.config.operatorEntries.splice(tracked, 1);
    this.config.write();
  }

  setDown(mode: DownMode | false): void {
    this.down = mode;
  }

  /** Rotates the JWT key: every token issued so far is refused from now on. */
  revokeJwts(): void {
    this.#jwtKey = randomBytes(32);
  }

  resetLoginProtection(): void {
    this.failedAuths = 0;
    this.lockedOut = false;
  }

  /** Clears the counters, the log and `maxInFlight` (not the configuration or the virtual clock). */
  resetCounters(): void {
    this.counters.clear();
    this.log.length = 0;
    this.maxInFlight = 0;
    this.violations.duplicateWrites = 0;
    this.violations.foreignTouched = 0;
    this.violations.replaces = 0;
  }

  /** A Transport that calls this device in-process (the bench uses it; no sockets). */
  transport(): Transport {
    return {
      request: async (request: HttpRequest): Promise<HttpResponse> => {
        if (request.signal?.aborted) throw request.signal.reason;
        const url = new URL(request.url);
        const target = `${request.method.toUpperCase()} ${url.origin}`;
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
        const body =
          request.body === undefined ? '' : typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
        const outcome = await this.handle({ method: request.method.toUpperCase(), path: url.pathname + url.search, headers, body });
        if (outcome.kind === 'drop') {
          throw new TransportConnectionError(target, 'connection reset (ECONNRESET)', { systemCode: 'ECONNRESET' });
        }
        if (outcome.kind === 'hang') throw new TransportTimeoutError(target, request.timeoutMs);
        return { status: outcome.status, headers: outcome.headers, body: new Uint8Array(Buffer.from(outcome.body, 'utf8')) };
      },
    };
  }

  /** Handles one request. */
  async handle(request: SimRequest): Promise<SimOutcome> {
    const url = new URL(request.path, 'http://pfsense.invalid');
    const method = request.method.toUpperCase();
    const key = `${method} ${url.pathname}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
    const logged: LoggedRequest = {
      method,
      path: url.pathname,
      query: queryObject(url.searchParams),
      authorization: header(request.headers, 'authorization'),
      contentType: header(request.headers, 'content-type'),
      rawBody: request.body,
      payload: {},
    };
    if (this.#keepLog) this.log.push(logged);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const writeKey = WRITE_ROUTES.has(key) ? `${key} ${request.body}` : undefined;
    if (writeKey !== undefined) {
      const already = this.#writesInFlight.get(writeKey) ?? 0;
      if (already > 0) this.violations.duplicateWrites += 1;
      this.#writesInFlight.set(writeKey, already + 1);
    }
    try {
      if (this.#realLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#realLatencyMs));
      const costFrom = this.clock.nowMs;
      const outcome = this.#process(key, request, logged);
      if (outcome.kind === 'response') logged.status = outcome.status;
      if (this.#realTime) await new Promise((resolve) => setTimeout(resolve, this.clock.nowMs - costFrom));
      return outcome;
    } finally {
      this.inFlight -= 1;
      if (writeKey !== undefined) {
        const left = (this.#writesInFlight.get(writeKey) ?? 1) - 1;
        if (left > 0) this.#writesInFlight.set(writeKey, left);
        else this.#writesInFlight.delete(writeKey);
      }
    }
  }

  #process(key: string, request: SimRequest, logged: LoggedRequest): SimOutcome {
    if (this.down === 'drop') return { kind: 'drop' };
    if (this.down === 'hang') return { kind: 'hang' };
    if (this.down === 'error') return this.#answer(logged, 1, undefined, 0);
    if (this.lockedOut && this.#protection !== false) {
      if (this.#protection.mode === 'drop') return { kind: 'drop' };
      return { kind: 'response', status: 403, headers: { 'content-type': 'text/html' }, body: '<html><body>403 Forbidden</body></html>' };
    }
    const overridden = this.override?.(logged);
    if (overridden !== undefined) return overridden;

    const payload = requestData(request, logged);
    if (payload === undefined) return this.#answer(logged, 11, undefined, 0);
    logged.payload = payload;

    const route = this.#routes.get(key);
    if (route === undefined) {
      if (PFSENSE_V1_SIM_ROUTES.some((known) => known.path === logged.path)) return this.#answer(logged, 2, undefined, 0);
      this.clock.advance(this.cost.perRequestMs);
      return { kind: 'response', status: 404, headers: { 'content-type': 'text/html' }, body: '<html><body>404 Not Found</body></html>' };
    }

    const isTokenRequest = key === 'POST /api/v1/access_token';
    const username = this.#authenticate(logged.authorization, isTokenRequest);
    if (username === undefined) {
      this.failedAuths += 1;
      if (this.#protection !== false && this.failedAuths >= this.#protection.threshold) this.lockedOut = true;
      return this.#answer(logged, 3, undefined, 0);
    }
    if (isTokenRequest) return this.#issueToken(logged, username);

    const user = this.#users.find((candidate) => candidate.username === username);
    const privileges = user?.privileges ?? [];
    if (route.privileges !== undefined && !route.privileges.some((privilege) => privileges.includes(privilege))) {
      return this.#answer(logged, 4, undefined, 0);
    }
    const result = route.handler(payload);
    return this.#answer(logged, result.id, result.data, result.entries);
  }

  #answer(logged: LoggedRequest, id: number, data: unknown, entries: number): SimOutcome {
    this.clock.advance(requestCost(this.cost, entries));
    const envelope = v1Envelope(id, data ?? []);
    logged.returnCode = id;
    logged.response = envelope;
    return {
      kind: 'response',
      status: envelope.code,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    };
  }

  /** The user name the Authorization header proves, or undefined. */
  #authenticate(authorization: string | undefined, tokenRequest: boolean): string | undefined {
    if (authorization === undefined) return undefined;
    if (this.#authMode === 'local' || tokenRequest) {
      const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(authorization);
      if (!match) return undefined;
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) return undefined;
      const username = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      return this.#users.some((user) => user.username === username && user.password === password) ? username : undefined;
    }
    if (this.#authMode === 'jwt') {
      const match = /^Bearer (\S+)$/.exec(authorization);
      if (!match) return undefined;
      const check = verifyJwt(this.#jwtKey, match[1]!, Math.floor(this.#now() / 1000));
      return check.ok ? check.username : undefined;
    }
    const parts = authorization.split(' ');
    if (parts.length !== 2) return undefined;
    const [clientId, clientToken] = parts as [string, string];
    if (!this.#tokens.some((token) => token.clientId === clientId && token.clientToken === clientToken)) return undefined;
    return Buffer.from(clientId, 'hex').toString('utf8');
  }

  #issueToken(logged: LoggedRequest, username: string): SimOutcome {
    if (this.#authMode === 'local') return this.#answer(logged, 9, undefined, 0);
    if (this.#authMode === 'jwt') {
      const nowSeconds = Math.floor(this.#now() / 1000);
      const token = signJwt(this.#jwtKey, {
        iss: this.#hostname,
        aud: this.#hostname,
        exp: nowSeconds + this.#jwtExpSeconds,
        nbf: nowSeconds,
        data: username,
      });
      return this.#answer(logged, 0, { token }, 0);
    }
    const issued = { clientId: Buffer.from(username, 'utf8').toString('hex'), clientToken: randomBytes(16).toString('hex') };
    this.#tokens.push(issued);
    return this.#answer(logged, 0, { 'client-id': issued.clientId, 'client-token': issued.clientToken }, 0);
  }

  // --- endpoints -----------------------------------------------------------

  #readAliases(payload: Record<string, unknown>): HandlerResult {
    const indexed = this.config.aliases.map((alias, index) => [index, alias] as const);
    const filters = Object.entries(payload);
    const matches =
      filters.length === 0
        ? indexed
        : indexed.filter(([, alias]) => {
            const record = aliasRecord(alias);
            return filters.every(([field, value]) => Object.hasOwn(record, field) && record[field as keyof AliasRecord] === value);
          });
    const entries = matches.reduce((sum, [, alias]) => sum + alias.addresses.length, 0);
    const contiguous = matches.every(([index], position) => index === position);
    const data = contiguous
      ? matches.map(([, alias]) => aliasRecord(alias))
      : Object.fromEntries(matches.map(([index, alias]) => [String(index), aliasRecord(alias)]));
    return { id: 0, data, entries };
  }

  #createAlias(payload: Record<string, unknown>): HandlerResult {
    if (payload.name === undefined) return fail(4050);
    if (typeof payload.name !== 'string') return fail(4053);
    const name = payload.name.replace(/[^A-Za-z0-9_]/g, '_');
    if (this.config.indexOf(name) !== undefined) return fail(4056);
    if (payload.type === undefined) return fail(4061);
    if (typeof payload.type !== 'string') return fail(4062);
    if (!['host', 'network', 'port'].includes(payload.type)) return fail(4057);
    if (payload.descr !== undefined && typeof payload.descr !== 'string') return fail(4063);
    if (payload.address === undefined) return fail(4052);
    const addresses = validateAddresses(payload.type, toArray(payload.address));
    if (typeof addresses === 'number') return fail(addresses);
    const details = buildDetails(addresses.length, payload.detail, this.#now());
    if (typeof details === 'number') return fail(details);
    const alias: StoredAlias = {
      name,
      type: payload.type,
      descr: typeof payload.descr === 'string' ? payload.descr : '',
      addresses,
      details,
    };
    this.config.aliases.push(alias);
    return this.#written(payload, alias, addresses.length);
  }

  #updateAlias(payload: Record<string, unknown>): HandlerResult {
    this.violations.replaces += 1;
    if (payload.id === undefined) return fail(4074);
    const index = typeof payload.id === 'string' ? this.config.indexOf(payload.id) : undefined;
    if (index === undefined) return fail(4055);
    const alias: StoredAlias = { ...this.config.aliases[index]! };
    if (payload.type !== undefined) {
      if (typeof payload.type !== 'string') return fail(4062);
      if (!['host', 'network', 'port'].includes(payload.type)) return fail(4057);
      alias.type = payload.type;
    }
    if (payload.descr !== undefined) {
      if (typeof payload.descr !== 'string') return fail(4063);
      alias.descr = payload.descr;
    }
    let entries = 0;
    if (payload.address !== undefined) {
      const addresses = validateAddresses(alias.type, toArray(payload.address));
      if (typeof addresses === 'number') return fail(addresses);
      const details = buildDetails(addresses.length, payload.detail, this.#now());
      if (typeof details === 'number') return fail(details);
      alias.addresses = addresses;
      alias.details = details;
      entries = addresses.length;
    }
    if (payload.name !== undefined) {
      if (typeof payload.name !== 'string') return fail(4053);
      alias.name = payload.name.replace(/[^A-Za-z0-9_]/g, '_');
    }
    this.config.aliases[index] = alias;
    return this.#written(payload, alias, entries);
  }

  #deleteAlias(payload: Record<string, unknown>): HandlerResult {
    if (payload.id === undefined) return fail(4074);
    const index = typeof payload.id === 'string' ? this.config.indexOf(payload.id) : undefined;
    if (index === undefined) return fail(4055);
    const alias = this.config.aliases[index]!;
    if (this.#inUse.has(alias.name)) return fail(4108);
    this.config.aliases.splice(index, 1);
    return this.#written(payload, alias, 0);
  }

  #addEntries(payload: Record<string, unknown>): HandlerResult {
    if (payload.name === undefined) return fail(4050);
    if (typeof payload.name !== 'string') return fail(4053);
    const index = this.config.indexOf(payload.name);
    if (index === undefined) return fail(4055);
    const alias = this.config.aliases[index]!;
    const added = validateAddresses(alias.type, toArray(payload.address));
    if (typeof added === 'number') return fail(added);
    const details = buildDetails(added.length, payload.detail, this.#now());
    if (typeof details === 'number') return fail(details);
    // Appended as given: v1 does not look for duplicates (a careful client does).
    const sent = new Map<string, number>();
    for (const address of added) {
      const form = canonical(address);
      sent.set(form, (sent.get(form) ?? 0) + 1);
    }
    for (const times of sent.values()) this.violations.duplicateWrites += times - 1;
    for (const address of alias.addresses) if (sent.has(canonical(address))) this.violations.duplicateWrites += 1;
    // The sent details go after the stored ones, however many those are.
    alias.addresses.push(...added);
    alias.details.push(...details);
    return this.#written(payload, alias, added.length);
  }

  #deleteEntries(payload: Record<string, unknown>): HandlerResult {
    if (payload.name === undefined) return fail(4050);
    const index = typeof payload.name === 'string' ? this.config.indexOf(payload.name) : undefined;
    if (index === undefined) return fail(4055);
    const alias = this.config.aliases[index]!;
    const doomed = toArray(payload.address);
    if (payload.address !== undefined) {
      // Every entry equal to a sent value goes, with the detail at its
      // position; `array_filter` drops every empty detail on the way, so the
      // details after an empty one move up by one.
      const remove = new Set(doomed);
      const gone = new Set<number>();
      alias.addresses.forEach((address, position) => {
        if (remove.has(address)) gone.add(position);
      });
      alias.addresses = alias.addresses.filter((_, position) => !gone.has(position));
      alias.details = alias.details.filter((detail, position) => detail !== '' && !gone.has(position));
    }
    return this.#written(payload, alias, doomed.length);
  }

  /** Counts the operator entries a write removed or re-described (each once). */
  #countForeignTouched(): void {
    for (const entry of this.config.brokenOperatorEntries()) {
      if (this.#counted.has(entry)) continue;
      this.#counted.add(entry);
      this.violations.foreignTouched += 1;
    }
  }

  #apply(): HandlerResult {
    const entries = this.config.totalEntries();
    this.config.reload();
    return { id: 0, data: [], entries };
  }

  /** A successful write: config.xml rewritten, the filter reloaded unless `apply` is the boolean false. */
  #written(payload: Record<string, unknown>, alias: StoredAlias, entries: number): HandlerResult {
    this.config.write();
    if (this.config.operatorEntries.length > 0) this.#countForeignTouched();
    const data = this.#writeAnswer === 'alias' ? aliasRecord(alias) : [];
    if (payload.apply !== false) {
      const reloaded = this.config.totalEntries();
      this.config.reload();
      return { id: 0, data, entries: entries + reloaded };
    }
    return { id: 0, data, entries };
  }
}

function fail(id: number): HandlerResult {
  return { id, entries: 0 };
}

function header(headers: SimRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** PHP's `$_GET`: `key[]=a&key[]=b` is a list; a repeated plain key keeps the last value. */
function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    if (name.endsWith('[]')) {
      const key = name.slice(0, -2);
      const existing = out[key];
      out[key] = Array.isArray(existing) ? [...existing, value] : [value];
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** The request data as `APITools\get_request_data` sees it; undefined for an unsupported content type (415). */
function requestData(request: SimRequest, logged: LoggedRequest): Record<string, unknown> | undefined {
  const type = (logged.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return jsonObject(request.body) ?? {};
  if (type === '' || type === 'application/x-www-form-urlencoded') {
    if (Object.keys(logged.query).length > 0) return { ...logged.query };
    if (type === 'application/x-www-form-urlencoded') return queryObject(new URLSearchParams(request.body));
    return jsonObject(request.body) ?? {};
  }
  return undefined;
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  if (text === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const canonicalForms = new Map<string, string>();

/** The canonical form of a stored entry (any other text as it is); memoised, as the per-IP bench asks 50 million times. */
function canonical(address: string): string {
  let form = canonicalForms.get(address);
  if (form === undefined) {
    const normalized = normalizeAddress(address);
    form = normalized.ok ? normalized.canonical : address;
    if (canonicalForms.size < 1_000_000) canonicalForms.set(address, form);
  }
  return form;
}

function toArray(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

/** Validates entries for an alias type; returns them as stored, or the error id. */
function validateAddresses(type: string, values: unknown[]): string[] | number {
  const out: string[] = [];
  for (const value of values) {
    if (type === 'host') {
      if (typeof value !== 'string' || !(isIP(value) !== 0 || FQDN.test(value))) return 4058;
      out.push(value);
    } else if (type === 'network') {
      if (typeof value !== 'string') return 4059;
      const [address, prefix, extra] = value.split('/');
      if (extra !== undefined || address === undefined) return 4059;
      const family = isIP(address);
      if (prefix === undefined) {
        if (family === 4) out.push(`${address}/32`);
        else if (family === 6) out.push(`${address}/128`);
        else if (FQDN.test(address)) out.push(address);
        else return 4059;
      } else {
        const bits = Number(prefix);
        if (family === 0 || !/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return 4059;
        out.push(value);
      }
    } else {
      const port = String(value).replace('-', ':');
      if (!/^\d{1,5}(:\d{1,5})?$/.test(port)) return 4060;
      out.push(port);
    }
  }
  return out;
}

/** Details for new entries: the given strings, then "Entry added <date>" for the rest. */
function buildDetails(count: number, given: unknown, nowMs: number): string[] | number {
  const details = toArray(given);
  if (details.length > count) return 4106;
  const out: string[] = [];
  for (const detail of details) {
    if (typeof detail !== 'string') return 4071;
    out.push(detail);
  }
  while (out.length < count) out.push(`Entry added ${new Date(nowMs).toUTCString()}`);
  return out;
}
