/**
 * A pfrest v2 (pfSense-pkg-RESTAPI) simulator: the subset of the API the
 * relay uses, with the package's semantics and failure modes, a cost model
 * on a virtual clock, counters, and test hooks.
 *
 * Implemented endpoints:
 *
 * | Method          | Path                            |                                              |
 * | --------------- | ------------------------------- | -------------------------------------------- |
 * | POST            | /api/v2/auth/jwt                | BasicAuth only → `{token}`                   |
 * | GET             | /api/v2/firewall/aliases        | query filters, ids = positions               |
 * | GET/POST/PATCH/DELETE | /api/v2/firewall/alias    | see alias-store.ts                           |
 * | GET/POST        | /api/v2/firewall/apply          | see dispatcher.ts                            |
 * | GET/DELETE      | /api/v2/diagnostics/table?id=   | the live pf table / flush it                 |
 *
 * Anything else under `/api/v2/` is 404 `ENDPOINT_NOT_FOUND` (still counted
 * per route, so tests can assert that e.g. no rule endpoint was called).
 * Requests are checked in the package's order: authentication (401),
 * privilege (403), read-only mode (405), then the endpoint.
 *
 * The simulator is transport-agnostic: `handle()` maps a request to an
 * outcome; server.ts serves it over HTTP(S) and as an in-process Transport.
 * `handleAsync()` is the same as one serial worker: requests are served one
 * after another, and in real-time mode (`realTime: true`) each answer comes
 * after its modelled cost has passed on the real clock (cost-model.ts).
 *
 * ## Operator entries and violation counters
 *
 * Every alias entry put in place by the test — `aliases` at start,
 * `addAlias`, `editAlias`, `adminAdd` — is an operator entry. After each
 * API write the simulator checks that each still stands, with its own
 * description beside it (a missing description and an empty one count as
 * the same: no description); each one missing counts in `foreignTouched`.
 * `adminRemove` removes operator entries as an admin would (not a
 * violation). The other counters (`duplicateWrites`, `appliesWhileFull`,
 * `appliesIgnoringRetryAfter`, `replaces`) are described in cost-model.ts.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { AliasStore, type AliasWrite, type DetailPadding, type ManyLimit, sameAddressKey, type StoredAlias } from './alias-store.ts';
import {
  type AuthConfig,
  type AuthMethod,
  authenticate,
  DEFAULT_LOGIN_PROTECTION,
  LoginProtection,
  type LoginProtectionOptions,
} from './auth.ts';
import { type CostModel, DEFAULT_COST_MODEL, type SimCounters, VirtualDevice } from './cost-model.ts';
import { ApplyDispatcher, type LiveSnapshot } from './dispatcher.ts';
import { envelope, errorOutcome, SimApiError, type SimOutcome, success } from './envelope.ts';
import { signJwt } from './jwt.ts';
import { applyQuery } from './query-filter.ts';

/** A request as the simulator sees it. Header names in lower case. */
export interface SimRequest {
  method: string;
  /** Path and query, e.g. `/api/v2/firewall/aliases?name=x`. */
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** One served request, for assertions. */
export interface SimLogEntry {
  method: string;
  path: string;
  body: string;
  status: number;
  /** Virtual time the request started and what it cost. */
  startMs: number;
  costMs: number;
}

export interface PfSenseV2SimulatorOptions {
  /** Local users: name → password. Default `{ admin: 'pfsense' }`. */
  users?: Record<string, string>;
  /** `auth_methods`; default `['BasicAuth']` as the package ships. */
  authMethods?: AuthMethod[];
  /** API keys (`X-API-Key`) → owning user. */
  apiKeys?: Record<string, string>;
  /** `jwt_exp`; default 3600 s. */
  jwtExpSeconds?: number;
  /** Wall clock for JWT `exp`/`nbf` (epoch ms). Default Date.now. */
  wallClock?: () => number;
  /** `address`/`detail` limit: 0 (default) = package ≥ 2.5.4; 128 = older. */
  manyMaximum?: number;
  /** Where the limit applies; default `result` (see alias-store.ts). */
  manyMaximumScope?: ManyLimit['scope'];
  /** Dispatcher: default 10 queued, Retry-After 300 s. */
  dispatcherMaxQueue?: number;
  retryAfterSeconds?: number;
  /** Virtual filter reload time: base + per table entry. Default 1500 ms + 0.01 ms. */
  applyBaseMs?: number;
  applyPerEntryMs?: number;
  /** Request cost model; default 60 ms + 0.5 ms per entry. */
  cost?: CostModel;
  loginProtection?: LoginProtectionOptions;
  /** Privileges of every user: `all` (page-all, default) or a list such as `api-v2-firewall-alias-patch`. */
  privileges?: 'all' | string[];
  /** The `read_only` setting: every non-GET is 405. */
  readOnly?: boolean;
  /**
   * `full` (default): write responses carry the whole alias, as the package
   * does. `summary`: without `address`/`detail` — a bench knob so a
   * 10,000-request per-IP run does not serialise the growing alias 10,000
   * times. The cost model charges the same either way.
   */
  writeResponses?: 'full' | 'summary';
  /**
   * Refuse `name` in a PATCH even when unchanged. The package accepts an
   * unchanged non-editable field as far as its code and notes show; this
   * knob models a version that would not.
   */
  rejectNameInPatch?: boolean;
  /** Keep the request log (default true). */
  keepLog?: boolean;
  /** Aliases present at start (e.g. created in the GUI); their entries are operator entries. */
  aliases?: StoredAlias[];
  /** How a short detail list is handled on write (see alias-store.ts); default `kept-short`. */
  detailPadding?: DetailPadding;
  /**
   * Real-time mode: the device clock is the real clock, `handleAsync`
   * answers after the modelled cost has passed, reloads finish on the real
   * clock. For loopback runs of a whole relay (pass `cost`, e.g. REALTIME_BENCH_COST).
   */
  realTime?: boolean;
  /**
   * What `perEntryMs` counts: `alias` (default) — the addresses of every
   * alias a request reads or of the alias a write produces (the package
   * validates the whole merged array); `request` — only the addresses a
   * write sends, reads free: the issue #9 burst model (35 ms per request
   * + 1 ms per entry), comparable with the RouterOS simulator's.
   */
  chargeEntries?: 'alias' | 'request';
}

/** An operator entry as the simulator remembers it. */
interface OperatorEntry {
  address: string;
  /** '' = no description. */
  detail: string;
}

const API = '/api/v2/';

export class PfSenseV2Simulator {
  readonly device: VirtualDevice;
  /** Every request served, in order (when `keepLog`). */
  readonly log: SimLogEntry[] = [];
  readonly #chargeEntries: 'alias' | 'request';
  readonly #store: AliasStore;
  readonly #dispatcher: ApplyDispatcher;
  readonly #auth: AuthConfig;
  readonly #protection: LoginProtection;
  readonly #wallClock: () => number;
  readonly #jwtExpSeconds: number;
  readonly #privileges: 'all' | Set<string>;
  readonly #readOnly: boolean;
  readonly #writeResponses: 'full' | 'summary';
  readonly #keepLog: boolean;
  readonly #applyPerEntryMs: number;
  readonly #dirty = new Set<string>();
  #live: LiveSnapshot = new Map();
  #down: false | 'reset' | 'hang' = false;
  /** Operator entries per alias name. */
  readonly #operator = new Map<string, OperatorEntry[]>();
  /** Device-clock ms until which an earlier 503's Retry-After runs. */
  #retryAfterUntil = 0;
  /** Serial worker queue for handleAsync. */
  #queue: Promise<void> = Promise.resolve();
  /** Bodies of writes received and not yet answered (handleAsync). */
  readonly #inFlightWrites = new Map<string, number>();

  constructor(options: PfSenseV2SimulatorOptions = {}) {
    this.#chargeEntries = options.chargeEntries ?? 'alias';
    this.device = new VirtualDevice(options.cost ?? DEFAULT_COST_MODEL, options.realTime ?? false);
    this.#wallClock = options.wallClock ?? Date.now;
    this.#store = new AliasStore(
      { maximum: options.manyMaximum ?? 0, scope: options.manyMaximumScope ?? 'result' },
      this.#wallClock,
      options.rejectNameInPatch ?? false,
      options.detailPadding ?? 'kept-short',
    );
    this.#applyPerEntryMs = options.applyPerEntryMs ?? 0.01;
    this.#dispatcher = new ApplyDispatcher({
      maxQueue: options.dispatcherMaxQueue ?? 10,
      retryAfterSeconds: options.retryAfterSeconds ?? 300,
      baseMs: options.applyBaseMs ?? 1500,
      perEntryMs: this.#applyPerEntryMs,
    });
    this.#auth = {
      users: options.users ?? { admin: 'pfsense' },
      methods: options.authMethods ?? ['BasicAuth'],
      apiKeys: new Map(Object.entries(options.apiKeys ?? {})),
      jwtKey: randomBytes(32),
    };
    this.#protection = new LoginProtection(options.loginProtection ?? DEFAULT_LOGIN_PROTECTION);
    this.#jwtExpSeconds = options.jwtExpSeconds ?? 3600;
    this.#privileges = options.privileges === undefined || options.privileges === 'all' ? 'all' : new Set(options.privileges);
    this.#readOnly = options.readOnly ?? false;
    this.#writeResponses = options.writeResponses ?? 'full';
    this.#keepLog = options.keepLog ?? true;
    for (const alias of options.aliases ?? []) {
      this.#store.insert(alias);
      this.#trackOperator(alias.name);
    }
    this.#live = this.#buildLive();
  }

  get counters(): SimCounters {
    return this.device.counters;
  }

  /** Virtual ms since start. */
  get clockMs(): number {
    return this.device.clockMs;
  }

  // ---------------------------------------------------------------- hooks

  /** Time passes on the device while the client waits (finishes due reloads). */
  advance(ms: number): void {
    this.device.advance(ms);
    this.#settle();
  }

  /** Device down: `reset` refuses connections, `hang` never answers; `false` is up. */
  setDown(mode: false | 'reset' | 'hang'): void {
    this.#down = mode;
  }

  /** The stored alias (a copy) and its id, or undefined. */
  alias(name: string): (StoredAlias & { id: number }) | undefined {
    const id = this.#store.indexOf(name);
    const alias = this.#store.byId(id);
    return alias === undefined ? undefined : { ...alias, address: [...alias.address], detail: [...alias.detail], id };
  }

  /** All alias names in id order. */
  aliasNames(): string[] {
    return this.#store.all.map((alias) => alias.name);
  }

  /** Adds an alias as the GUI would (no API validation), at a position (shifting later ids). */
  addAlias(alias: Partial<StoredAlias> & { name: string }, at?: number): number {
    const id = this.#store.insert({ type: 'host', descr: '', address: [], detail: [], ...alias }, at);
    this.#trackOperator(alias.name);
    return id;
  }

  /** Deletes an alias as the GUI would; later ids shift down. */
  deleteAlias(name: string): void {
    const id = this.#store.indexOf(name);
    if (id !== -1) this.#store.delete(id);
  }

  /** Replaces an alias's addresses as an operator editing in the GUI would (no apply). */
  editAlias(name: string, change: Partial<Pick<StoredAlias, 'address' | 'detail' | 'type'>>): void {
    const id = this.#store.indexOf(name);
    const alias = this.#store.byId(id);
    if (alias === undefined) throw new Error(`no alias ${name}`);
    this.#store.delete(id);
    this.#store.insert({ ...alias, ...change }, id);
    this.#trackOperator(name, alias);
  }

  /**
   * An admin adds one entry in the GUI (no apply): the address, and its
   * description when given. Without one, an alias whose every address has a
   * description gets an empty one; a short detail list stays short.
   */
  adminAdd(name: string, address: string, detail?: string): void {
    const id = this.#store.indexOf(name);
    const alias = this.#store.byId(id);
    if (alias === undefined) throw new Error(`no alias ${name}`);
    const details = [...alias.detail];
    if (detail !== undefined) {
      while (details.length < alias.address.length) details.push('');
      details.push(detail);
    } else if (details.length === alias.address.length && details.length > 0) {
      details.push('');
    }
    this.#store.delete(id);
    this.#store.insert({ ...alias, address: [...alias.address, address], detail: details }, id);
    const entries = this.#operator.get(name) ?? [];
    entries.push({ address, detail: detail ?? '' });
    this.#operator.set(name, entries);
  }

  /** An admin deletes every entry of `address` in the GUI (no apply), with its description. */
  adminRemove(name: string, address: string): void {
    const id = this.#store.indexOf(name);
    const alias = this.#store.byId(id);
    if (alias === undefined) throw new Error(`no alias ${name}`);
    const key = sameAddressKey(address);
    const keep = alias.address.map((stored) => sameAddressKey(stored) !== key);
    this.#store.delete(id);
    this.#store.insert(
      {
        ...alias,
        address: alias.address.filter((_, i) => keep[i]),
        detail: alias.detail.filter((_, i) => i >= keep.length || keep[i]),
      },
      id,
    );
    this.#operator.set(name, (this.#operator.get(name) ?? []).filter((entry) => sameAddressKey(entry.address) !== key));
  }

  /** The operator entries the simulator still expects in `name` (copies). */
  operatorEntries(name: string): Array<{ address: string; detail: string }> {
    return (this.#operator.get(name) ?? []).map((entry) => ({ ...entry }));
  }

  /** What `pfctl -t <name> -T show` prints now, or undefined when pf has no such table. */
  liveTable(name: string): string[] | undefined {
    this.#settle();
    const table = this.#live.get(name);
    return table === undefined ? undefined : [...table];
  }

  /** Empties a runtime table (`pfctl -t <name> -T flush`); config is untouched until the next reload. */
  flushRuntimeTable(name: string): void {
    this.#settle();
    if (this.#live.has(name)) this.#live.set(name, []);
  }

  /** A filter reload right now: runtime tables are rebuilt from config (runtime-only entries vanish). */
  reloadFilter(): void {
    this.#live = this.#buildLive();
  }

  /** Occupies dispatcher slots with reloads that finish after `durationMs` of virtual time. */
  occupyDispatcher(count: number, durationMs: number): void {
    this.#dispatcher.occupy(count, this.device.clockMs + durationMs, this.#buildLive());
  }

  /** Reloads running now. */
  runningApplies(): number {
    return this.#dispatcher.runningAt(this.device.clockMs);
  }

  /** Subsystems with unapplied changes. */
  pendingSubsystems(): string[] {
    return [...this.#dirty];
  }

  /** Issues an API key for a user, as `POST /api/v2/auth/key` would. */
  createApiKey(user = Object.keys(this.#auth.users)[0] ?? 'admin'): string {
    const key = randomBytes(24).toString('hex');
    this.#auth.apiKeys.set(key, user);
    return key;
  }

  resetCounters(): void {
    this.device.resetCounters();
    this.log.length = 0;
  }

  // ------------------------------------------------------------- handling

  /** Serves one request. */
  handle(request: SimRequest): SimOutcome {
    const startMs = this.device.clockMs;
    this.#settle();
    if (this.#down !== false || this.#protection.blocked(startMs)) {
      this.device.counters.refusedConnections += 1;
      return this.#down === 'hang' ? { kind: 'hang' } : { kind: 'reset' };
    }
    const url = new URL(request.path, 'http://pfsense.sim');
    const method = request.method.toUpperCase();
    const route = `${method} ${url.pathname}`;
    let outcome: SimOutcome;
    let entries = 0;
    try {
      const result = this.#route(method, url, request);
      outcome = result.outcome;
      entries = result.entries;
    } catch (error) {
      if (!(error instanceof SimApiError)) throw error;
      if (error.responseId === 'DISPATCHER_TOO_MANY_QUEUED_PROCESSES') this.device.counters.dispatcherRejections += 1;
      outcome = errorOutcome(error);
    }
    const status = outcome.kind === 'response' ? outcome.status : 0;
    if (this.#chargeEntries === 'request') entries = method === 'GET' ? 0 : sentAddresses(request.body);
    const costMs = this.device.charge(route, status, entries);
    this.#lastCostMs = costMs;
    if (this.#keepLog) this.log.push({ method, path: request.path, body: request.body, status, startMs, costMs });
    return outcome;
  }

  /**
   * Serves one request as the serial worker: after every earlier one, and —
   * in real-time mode — answering once its modelled cost has passed.
   * Counts a write received while an identical write is still in flight.
   */
  async handleAsync(request: SimRequest): Promise<SimOutcome> {
    const write = request.method.toUpperCase() !== 'GET';
    const key = `${request.method.toUpperCase()} ${request.path} ${request.body}`;
    if (write) {
      const inFlight = this.#inFlightWrites.get(key) ?? 0;
      if (inFlight > 0) this.device.counters.duplicateWrites += 1;
      this.#inFlightWrites.set(key, inFlight + 1);
    }
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await previous;
      const logged = this.log.length;
      const requestsBefore = this.device.counters.requests;
      const outcome = this.handle(request);
      if (this.device.realTime && this.device.counters.requests > requestsBefore) {
        const costMs = this.#keepLog ? (this.log[logged]?.costMs ?? 0) : this.#lastCostMs;
        await new Promise((resolve) => setTimeout(resolve, costMs));
      }
      return outcome;
    } finally {
      release();
      if (write) {
        const left = (this.#inFlightWrites.get(key) ?? 1) - 1;
        if (left > 0) this.#inFlightWrites.set(key, left);
        else this.#inFlightWrites.delete(key);
      }
    }
  }

  #lastCostMs = 0;

  #route(method: string, url: URL, request: SimRequest): { outcome: SimOutcome; entries: number } {
    const path = url.pathname.replace(/\/+$/, '');
    if (!path.startsWith(API.slice(0, -1))) {
      return { outcome: { kind: 'response', status: 404, headers: { 'content-type': 'text/html' }, body: '<html>404 Not Found</html>' }, entries: 0 };
    }
    const nowSeconds = Math.floor(this.#wallClock() / 1000);
    const isJwtLogin = path === '/api/v2/auth/jwt';
    const auth = authenticate(request.headers, this.#auth, nowSeconds, isJwtLogin ? 'BasicAuth' : undefined);
    if (!auth.ok) {
      this.device.counters.authFailures += 1;
      this.#protection.fail(this.device.clockMs);
      throw new SimApiError(401, 'AUTH_AUTHENTICATION_FAILED', 'Authentication failed.');
    }
    const privilege = `api-v2-${path.slice(API.length).split('/').join('-')}-${method.toLowerCase()}`;
    if (this.#privileges !== 'all' && !this.#privileges.has(privilege)) {
      throw new SimApiError(403, 'AUTH_AUTHORIZATION_FAILED', `Client lacks the required privilege \`${privilege}\`.`);
    }
    if (this.#readOnly && method !== 'GET') {
      throw new SimApiError(405, 'ENDPOINT_METHOD_NOT_ALLOWED_IN_READ_ONLY_MODE', 'The REST API is in read-only mode.');
    }
    const params = readParams(method, url, request);
    switch (`${method} ${path}`) {
      case 'POST /api/v2/auth/jwt':
        return this.#jwt(auth.user, nowSeconds);
      case 'GET /api/v2/firewall/aliases':
        return this.#listAliases(url.searchParams);
      case 'GET /api/v2/firewall/alias':
        return this.#readAlias(params.id);
      case 'POST /api/v2/firewall/alias':
        return this.#write(this.#store.create(params), params);
      case 'PATCH /api/v2/firewall/alias':
        return this.#write(this.#store.update(params), params);
      case 'DELETE /api/v2/firewall/alias': {
        const representation = this.#store.delete(params.id);
        this.#checkOperator();
        this.#markDirty(flag(params.apply));
        return { outcome: success(representation), entries: 0 };
      }
      case 'GET /api/v2/firewall/apply':
        return { outcome: success(this.#applyStatus()), entries: 0 };
      case 'POST /api/v2/firewall/apply':
        this.#noteApplyRequest();
        this.#spawnApply();
        this.#dirty.clear();
        return { outcome: success(this.#applyStatus()), entries: 0 };
      case 'GET /api/v2/diagnostics/table':
        return this.#readTable(params.id);
      case 'DELETE /api/v2/diagnostics/table': {
        const name = String(params.id ?? '');
        if (!this.#live.has(name)) throw tableNotFound(name);
        this.#live.set(name, []);
        return { outcome: success({ id: name, entries: [] }), entries: 0 };
      }
      default:
        throw new SimApiError(404, 'ENDPOINT_NOT_FOUND', `Endpoint \`${path}\` with method \`${method}\` was not found.`);
    }
  }

  #jwt(user: string, nowSeconds: number) {
    const token = signJwt({ iss: 'pfsense.sim', exp: nowSeconds + this.#jwtExpSeconds, nbf: nowSeconds, data: user }, this.#auth.jwtKey);
    return { outcome: success({ token }), entries: 0 };
  }

  #listAliases(query: URLSearchParams) {
    const all = this.#store.all.map((_, id): [number, Record<string, unknown>] => [id, this.#store.represent(id)]);
    const matches = applyQuery(all, query);
    if ('error' in matches) throw new SimApiError(400, 'MODEL_QUERY_INVALID_FILTER', matches.error);
    const data = matches.map(([, object]) => object);
    return { outcome: success(data), entries: data.reduce((sum, alias) => sum + (alias.address as string[]).length, 0) };
  }

  #readAlias(id: unknown) {
    const representation = this.#store.represent(Number(id));
    return { outcome: success(representation), entries: (representation.address as string[]).length };
  }

  /** Config written; apply when asked. The 503 of a full dispatcher comes after the write, as in Model::update(). */
  #write(result: AliasWrite, params: Record<string, unknown>) {
    this.device.counters.configWrites += 1;
    if (result.replace === true) this.device.counters.replaces += 1;
    this.device.counters.duplicateWrites += result.duplicates ?? 0;
    this.#checkOperator();
    if (flag(params.apply)) this.#noteApplyRequest();
    this.#markDirty(flag(params.apply));
    const { alias, id } = result;
    const data =
      this.#writeResponses === 'summary'
        ? { id, name: alias.name, type: alias.type, descr: alias.descr }
        : this.#store.represent(id, result.removedPositions);
    return { outcome: success(data), entries: alias.address.length };
  }

  #markDirty(apply: boolean): void {
    this.#dirty.add('aliases');
    if (apply) {
      this.#spawnApply();
      this.#dirty.delete('aliases');
    }
  }

  #spawnApply(): void {
    const entries = this.#store.all.reduce((sum, alias) => sum + alias.address.length, 0);
    try {
      this.#dispatcher.spawn(this.device.clockMs, entries, this.#buildLive());
    } catch (error) {
      if (error instanceof SimApiError && error.retryAfterSeconds !== undefined) {
        this.#retryAfterUntil = Math.max(this.#retryAfterUntil, this.device.clockMs + error.retryAfterSeconds * 1000);
      }
      throw error;
    }
    this.device.counters.appliesStarted += 1;
  }

  /** An apply-carrying request arrived: flag it when the dispatcher is full or an earlier Retry-After still runs. */
  #noteApplyRequest(): void {
    const now = this.device.clockMs;
    if (this.#dispatcher.fullAt(now)) this.device.counters.appliesWhileFull += 1;
    if (now < this.#retryAfterUntil) this.device.counters.appliesIgnoringRetryAfter += 1;
  }

  /**
   * Remembers the entries of alias `name` as the operator's: all of them, or
   * after an edit of `before`, those the edit introduced plus the operator
   * entries still there (an edit does not make the relay's entries the operator's).
   */
  #trackOperator(name: string, before?: StoredAlias): void {
    const alias = this.#store.byId(this.#store.indexOf(name));
    if (alias === undefined) return;
    const pairs = (list: StoredAlias) => list.address.map((address, i) => ({ address, detail: list.detail[i] ?? '' }));
    if (before === undefined) {
      this.#operator.set(name, pairs(alias));
      return;
    }
    const key = (entry: OperatorEntry) => `${entry.address}\u0000${entry.detail}`;
    const count = (entries: OperatorEntry[]) => {
      const counts = new Map<string, number>();
      for (const entry of entries) counts.set(key(entry), (counts.get(key(entry)) ?? 0) + 1);
      return counts;
    };
    const old = count(pairs(before));
    const operator = count(this.#operator.get(name) ?? []);
    const tracked: OperatorEntry[] = [];
    for (const entry of pairs(alias)) {
      const k = key(entry);
      const wasThere = old.get(k) ?? 0;
      if (wasThere > 0) {
        old.set(k, wasThere - 1);
        const wasOperator = operator.get(k) ?? 0;
        if (wasOperator === 0) continue; // the relay's entry, unchanged by the edit
        operator.set(k, wasOperator - 1);
      }
      tracked.push(entry);
    }
    this.#operator.set(name, tracked);
  }

  /** After an API write: counts operator entries gone, or no longer beside their own description. */
  #checkOperator(): void {
    for (const [name, expected] of this.#operator) {
      if (expected.length === 0) continue;
      const alias = this.#store.byId(this.#store.indexOf(name));
      const present = new Map<string, number>();
      for (const [i, address] of (alias?.address ?? []).entries()) {
        const key = `${address}\u0000${alias?.detail[i] ?? ''}`;
        present.set(key, (present.get(key) ?? 0) + 1);
      }
      const still: OperatorEntry[] = [];
      for (const entry of expected) {
        const key = `${entry.address}\u0000${entry.detail}`;
        const count = present.get(key) ?? 0;
        if (count > 0) {
          present.set(key, count - 1);
          still.push(entry);
        } else {
          this.device.counters.foreignTouched += 1;
        }
      }
      this.#operator.set(name, still);
    }
  }

  #applyStatus() {
    return { applied: this.#dirty.size === 0, pending_subsystems: [...this.#dirty] };
  }

  #readTable(id: unknown) {
    const name = String(id ?? '');
    const table = this.#live.get(name);
    if (table === undefined) throw tableNotFound(name);
    return { outcome: success({ id: name, entries: [...table] }), entries: table.length };
  }

  /** Finishes reloads due by now: pf then holds what config says. */
  #settle(): void {
    const { finished, live } = this.#dispatcher.settle(this.device.clockMs);
    if (finished > 0 && live !== undefined) {
      this.device.counters.appliesCompleted += finished;
      this.#live = live;
    }
  }

  #buildLive(): Map<string, string[]> {
    const live = new Map<string, string[]>();
    for (const alias of this.#store.all) {
      if (alias.type === 'port') continue;
      live.set(alias.name, [...new Set(alias.address.filter((a) => isIP(a) !== 0 || a.includes('/')).map(pfText))]);
    }
    return live;
  }
}

/** How pfctl prints an address: IPv6 lower-case and compressed. */
function pfText(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function tableNotFound(name: string): SimApiError {
  return new SimApiError(404, 'MODEL_OBJECT_NOT_FOUND', `Table '${name}' does not exist.`);
}

function flag(value: unknown): boolean {
  return value === true || value === 'true';
}

/**
 * Request parameters as the package reads them (docs/CONTENT_AND_ACCEPT_TYPES.md):
 * JSON bodies for JSON requests, the query string otherwise.
 */
function readParams(method: string, url: URL, request: SimRequest): Record<string, unknown> {
  const contentType = request.headers['content-type'] ?? '';
  if (method !== 'GET' && method !== 'DELETE' && contentType.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = request.body === '' ? {} : JSON.parse(request.body);
    } catch {
      throw new SimApiError(400, 'INVALID_JSON_REQUEST_DATA', 'Request body is not valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SimApiError(400, 'MODEL_NON_ARRAY_REPRESENTATION_DATA', 'Request data must be an object.');
    }
    return parsed as Record<string, unknown>;
  }
  return Object.fromEntries(url.searchParams);
}

/** The number of addresses a write's JSON body sends (0 when it sends none or is not JSON). */
function sentAddresses(body: string): number {
  try {
    const value = JSON.parse(body) as { address?: unknown };
    return Array.isArray(value.address) ? value.address.length : 0;
  } catch {
    return 0;
  }
}
