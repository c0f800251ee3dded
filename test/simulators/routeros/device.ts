/**
 * A simulated MikroTik RouterOS v7 REST service: the address-list endpoints
 * and `/execute`, as MikroTik documents them, with a virtual clock.
 *
 * Endpoints (IPv4 menu shown; `/rest/ipv6/firewall/address-list` is the twin):
 *
 * | request                                             | answer |
 * | --------------------------------------------------- | ------ |
 * | `GET  /rest/ip/firewall/address-list?k=v&.proplist=` | array of entries matching every k=v |
 * | `PUT  /rest/ip/firewall/address-list` {fields}       | 201, the created entry |
 * | `GET/PATCH/DELETE /rest/ip/firewall/address-list/*ID`| entry / updated entry / 204; 404 when gone |
 * | `POST …/print` {.proplist, .query}                   | array (query stack: `k=v`, `#|`, `#&`) |
 * | `POST …/add` {fields}                                | `{"ret":"*ID"}` |
 * | `POST …/remove` {".id":"*1,*2"}                      | `[]` |
 * | `POST /rest/execute` {script, as-string}             | `{"ret":"<printed lines, \r\n each>"}`; without as-string a job id |
 *
 * Errors are `{"error":<status>,"message":"<reason>","detail":"<text>"}`;
 * bad credentials give 401 `{"error":401,"message":"Unauthorized"}`; a
 * script running past the session limit gives 400 `detail: "Session closed"`.
 *
 * Cost model: every request advances the virtual clock by `requestMs`, each
 * entry written or removed (PUT, PATCH, DELETE, each script command) by
 * `entryMs`, each entry returned by a read by `readEntryMs`. Nothing sleeps
 * here; the HTTP front end (server.ts) serves requests one at a time and can
 * optionally wait the cost in real time.
 *
 * ## Flags: what a careful client must not do
 *
 * Counters a test reads (and logs saying what each count was):
 *
 * - `duplicateWrites`: an add of an address the list already holds (what
 *   RouterOS refuses with "already have such entry", over PUT, `…/add` or in
 *   a script); a write request (PUT, PATCH, DELETE, POST, or a script that
 *   touches an address-list) byte-identical to one still in flight (queued
 *   or being served; the front end reports it); or byte-identical to one
 *   served less than `duplicateWindowMs` of wall-clock time ago.
 * - `foreignTouched`: the client removed or changed an entry that does not
 *   carry `relayComment` (the operator's own entries).
 *
 * The operator's own changes go through `adminAdd` / `adminRemove` and are
 * never flagged.
 */
import {
  AddressTable,
  CommandFailure,
  type Fields,
  formatId,
  type Ipv6HostForm,
  parseId,
  type TableEntry,
} from './address-table.ts';
import { parseScript, runScript, ScriptSyntaxError, SessionClosed } from './script.ts';

export interface CostModel {
  /** Fixed cost of any request, ms. */
  requestMs: number;
  /** Per entry added, changed or removed, ms. */
  entryMs: number;
  /** Per entry returned by a read, ms. */
  readEntryMs: number;
}

export interface DeviceOptions {
  username?: string;
  password?: string;
  cost?: Partial<CostModel>;
  /** RouterOS stops a command after 60 s. */
  sessionLimitMs?: number;
  /** How IPv6 host entries are printed: `2001:db8::1/128` (default) or `2001:db8::1`. */
  ipv6HostForm?: Ipv6HostForm;
  /** The relay's comment; entries without it are the operator's (default `flowtriq-relay`). */
  relayComment?: string;
  /** A write byte-identical to one served this recently (wall clock, ms) is a duplicate (default 2,000). */
  duplicateWindowMs?: number;
}

/** Why a write was flagged as a duplicate. */
export type DuplicateReason = 'already-in-list' | 'in-flight' | 'repeated';

/**
 * The identity of a write request (method, path with query, body), or
 * undefined for a read. A script is a write when it names an address-list
 * menu (the health probe `:put "…"` is not).
 */
export function writeKey(request: Pick<SimRequest, 'method' | 'path' | 'body'>): string | undefined {
  const method = request.method.toUpperCase();
  if (method === 'GET' || method === 'HEAD') return undefined;
  const path = request.path;
  if (/\/print(?:\?|$)/.test(path)) return undefined;
  if (path.startsWith('/rest/execute') && !request.body.includes('/firewall/address-list/')) return undefined;
  return `${method} ${path}\n${request.body}`;
}

/** What the counters count. */
export type RequestKind =
  | 'execute'
  | 'list'
  | 'get'
  | 'put'
  | 'patch'
  | 'delete'
  | 'print'
  | 'add'
  | 'remove'
  | 'unauthorized'
  | 'unavailable'
  | 'other';

export interface SimRequest {
  method: string;
  /** Path and query, e.g. `/rest/ip/firewall/address-list?list=x`. */
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
}

export interface SimResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Virtual time the request took. */
  costMs: number;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  406: 'Not Acceptable',
  503: 'Service Unavailable',
};
const MENU = /^\/rest\/(ip|ipv6)\/firewall\/address-list(?:\/(\*[0-9A-Fa-f]+|print|add|remove))?$/;

function emptyCounters(): Record<RequestKind, number> {
  return {
    execute: 0,
    list: 0,
    get: 0,
    put: 0,
    patch: 0,
    delete: 0,
    print: 0,
    add: 0,
    remove: 0,
    unauthorized: 0,
    unavailable: 0,
    other: 0,
  };
}

function json(status: number, value: unknown): Omit<SimResponse, 'costMs'> {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

function failure(status: number, detail?: string): Omit<SimResponse, 'costMs'> {
  const body: Record<string, unknown> = { error: status, message: REASONS[status] ?? 'Error' };
  if (detail !== undefined) body.detail = detail;
  return json(status, body);
}

/** A request body's fields as RouterOS reads them: strings (numbers and booleans converted). */
function fieldsOf(body: unknown): Fields | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const out: Fields = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === 'string') out[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[name] = String(value);
    else return undefined;
  }
  return out;
}

export class RouterOsDevice {
  readonly username: string;
  readonly password: string;
  readonly cost: CostModel;
  readonly sessionLimitMs: number;
  /** Answer `/execute` as for a user whose group lacks the policy. */
  forbidExecute = false;
  /** Requests by kind since the last resetCounters(). */
  counters: Record<RequestKind, number> = emptyCounters();
  /** Every script received by `/execute`, in order. */
  readonly scripts: string[] = [];
  /** Scripts refused before running: what RouterOS would say, and why. */
  readonly rejections: Array<{ detail: string; reason: string }> = [];
  /** Method, path (no query), status and cost of every request. */
  readonly log: Array<{ method: string; path: string; status: number; costMs: number }> = [];
  failedLogins = 0;
  readonly relayComment: string;
  readonly duplicateWindowMs: number;
  /** Flagged duplicate writes (see the file comment); `duplicateLog` says what each was. */
  duplicateWrites = 0;
  readonly duplicateLog: Array<{ reason: DuplicateReason; detail: string }> = [];
  /** Operator entries (without the relay's comment) the client removed or changed. */
  foreignTouched = 0;
  readonly foreignLog: Array<{ action: 'remove' | 'set'; family: 4 | 6; address: string; comment?: string }> = [];
  readonly #tables: Record<4 | 6, AddressTable>;
  /** Write identity → wall-clock ms it was last served. */
  readonly #lastWrites = new Map<string, number>();
  #clock = 0;
  #jobs = 0xb500;

  constructor(options: DeviceOptions = {}) {
    this.username = options.username ?? 'relay';
    this.password = options.password ?? 'relay-password';
    this.cost = { requestMs: 0, entryMs: 0, readEntryMs: 0, ...options.cost };
    this.sessionLimitMs = options.sessionLimitMs ?? 60_000;
    this.relayComment = options.relayComment ?? 'flowtriq-relay';
    this.duplicateWindowMs = options.duplicateWindowMs ?? 2_000;
    const watcher = {
      duplicateAdd: (family: 4 | 6, address: string) => this.#flagDuplicate('already-in-list', `IPv${family} ${address}: already have such entry`),
      foreignTouched: (family: 4 | 6, entry: TableEntry, action: 'remove' | 'set') => {
        this.foreignTouched += 1;
        this.foreignLog.push({ action, family, address: entry.address, ...(entry.comment === undefined ? {} : { comment: entry.comment }) });
      },
    };
    const tableOptions = { firstId: 0x10, ipv6HostForm: options.ipv6HostForm ?? 'prefix128', relayComment: this.relayComment, watcher };
    this.#tables = { 4: new AddressTable(4, tableOptions), 6: new AddressTable(6, tableOptions) };
  }

  /** Records a write the front end saw arrive while an identical one was still in flight. */
  flagInFlight(request: Pick<SimRequest, 'method' | 'path'>): void {
    this.#flagDuplicate('in-flight', `${request.method} ${request.path.split('?')[0]} identical to one in flight`);
  }

  #flagDuplicate(reason: DuplicateReason, detail: string): void {
    this.duplicateWrites += 1;
    this.duplicateLog.push({ reason, detail });
  }

  /** The virtual clock, ms since the device started. */
  now(): number {
    return this.#clock;
  }

  /** Moves the virtual clock forward (timeouts expire). */
  advance(ms: number): void {
    this.#clock += Math.max(0, ms);
    this.#expire();
  }

  /** A reboot: every dynamic entry (one with a timeout) is gone. Returns how many. */
  reboot(): number {
    return this.#tables[4].dropDynamic() + this.#tables[6].dropDynamic();
  }

  get totalRequests(): number {
    return Object.values(this.counters).reduce((sum, count) => sum + count, 0);
  }

  resetCounters(): void {
    this.counters = emptyCounters();
  }

  /** Adds an entry as the operator would (never flagged), e.g. one without the relay's comment. */
  adminAdd(family: 4 | 6, fields: Fields): TableEntry {
    return this.#tables[family].add(fields, this.#clock, 'admin');
  }

  /** Same as {@link adminAdd}. */
  seed(family: 4 | 6, fields: Fields): TableEntry {
    return this.adminAdd(family, fields);
  }

  /** Removes, as the operator, the entries of `address` (any spelling) on `list` (every list when omitted). Returns how many. */
  adminRemove(family: 4 | 6, address: string, list?: string): number {
    const table = this.#tables[family];
    const printed = table.printed(address);
    if (printed === undefined) return 0;
    let removed = 0;
    for (const entry of table.find({ address: printed }, this.#clock)) {
      if (list !== undefined && entry.list !== list) continue;
      if (table.remove(entry.id, 'admin')) removed += 1;
    }
    return removed;
  }

  /** The addresses of one list as stored, with their comments: cheap enough to poll (no printing). */
  stored(family: 4 | 6, list: string): Array<{ address: string; comment: string | undefined }> {
    this.#expire();
    return this.#tables[family]
      .all()
      .filter((entry) => entry.list === list)
      .map((entry) => ({ address: entry.address, comment: entry.comment }));
  }

  /** The entries of one menu as GET prints them (all properties). */
  entries(family: 4 | 6, list?: string): Array<Record<string, string>> {
    this.#expire();
    const table = this.#tables[family];
    return table
      .all()
      .filter((entry) => list === undefined || entry.list === list)
      .map((entry) => table.print(entry, this.#clock));
  }

  /**
   * Serves one request (the caller serialises). `inFlightDuplicate`: the
   * front end saw an identical write still in flight when this one arrived
   * (already flagged by {@link flagInFlight}; not counted again as repeated).
   */
  handle(request: SimRequest, arrival: { inFlightDuplicate?: boolean } = {}): SimResponse {
    const key = writeKey(request);
    if (key !== undefined) {
      const wallNow = performance.now();
      const last = this.#lastWrites.get(key);
      if (!arrival.inFlightDuplicate && last !== undefined && wallNow - last < this.duplicateWindowMs) {
        this.#flagDuplicate('repeated', `${request.method} ${request.path.split('?')[0]} identical to one served ${Math.round(wallNow - last)} ms before`);
      }
      this.#lastWrites.set(key, wallNow);
      if (this.#lastWrites.size > 10_000) this.#lastWrites.delete(this.#lastWrites.keys().next().value!);
    }
    const started = this.#clock;
    this.#clock += this.cost.requestMs;
    this.#expire();
    const url = new URL(request.path, 'http://router.invalid');
    const { kind, response } = this.#route(request, url);
    this.counters[kind] += 1;
    const costMs = this.#clock - started;
    this.log.push({ method: request.method, path: url.pathname, status: response.status, costMs });
    return { ...response, costMs };
  }

  #expire(): void {
    this.#tables[4].expire(this.#clock);
    this.#tables[6].expire(this.#clock);
  }

  #authorized(header: string | undefined): boolean {
    if (header === undefined || !header.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    return decoded === `${this.username}:${this.password}`;
  }

  #route(request: SimRequest, url: URL): { kind: RequestKind; response: Omit<SimResponse, 'costMs'> } {
    if (!this.#authorized(request.headers.authorization)) {
      this.failedLogins += 1;
      const response = failure(401);
      response.headers['www-authenticate'] = 'Basic realm="RouterOS"';
      return { kind: 'unauthorized', response };
    }
    let body: unknown;
    if (request.body.trim() !== '') {
      try {
        body = JSON.parse(request.body);
      } catch {
        return { kind: 'other', response: failure(400, 'JSON parse error') };
      }
    }
    const method = request.method.toUpperCase();
    if (url.pathname === '/rest/execute') {
      if (method !== 'POST') return { kind: 'other', response: failure(400, 'no such command') };
      return { kind: 'execute', response: this.#execute(body) };
    }
    const match = MENU.exec(url.pathname);
    if (!match) return { kind: 'other', response: failure(400, 'no such command prefix') };
    const table = this.#tables[match[1] === 'ip' ? 4 : 6];
    const tail = match[2];
    if (tail === undefined) {
      if (method === 'GET') return { kind: 'list', response: this.#list(table, url) };
      if (method === 'PUT') return { kind: 'put', response: this.#put(table, body) };
      return { kind: 'other', response: failure(400, 'no such command') };
    }
    if (tail === 'print' || tail === 'add' || tail === 'remove') {
      if (method !== 'POST') return { kind: 'other', response: failure(400, 'no such command') };
      if (tail === 'print') return { kind: 'print', response: this.#print(table, body) };
      if (tail === 'add') return { kind: 'add', response: this.#addCommand(table, body) };
      return { kind: 'remove', response: this.#removeCommand(table, body) };
    }
    const id = parseId(tail);
    const entry = id === undefined ? undefined : table.get(id);
    if (method === 'GET') {
      if (entry === undefined) return { kind: 'get', response: failure(404) };
      this.#clock += this.cost.readEntryMs;
      return { kind: 'get', response: json(200, table.print(entry, this.#clock)) };
    }
    if (method === 'PATCH') {
      if (entry === undefined) return { kind: 'patch', response: failure(404) };
      const fields = fieldsOf(body);
      if (fields === undefined) return { kind: 'patch', response: failure(400, 'expected an object') };
      this.#clock += this.cost.entryMs;
      try {
        return { kind: 'patch', response: json(200, table.print(table.update(entry.id, fields, this.#clock), this.#clock)) };
      } catch (error) {
        if (error instanceof CommandFailure) return { kind: 'patch', response: failure(400, error.message) };
        throw error;
      }
    }
    if (method === 'DELETE') {
      if (entry === undefined) return { kind: 'delete', response: failure(404) };
      this.#clock += this.cost.entryMs;
      table.remove(entry.id);
      return { kind: 'delete', response: { status: 204, headers: {}, body: '' } };
    }
    return { kind: 'other', response: failure(400, 'no such command') };
  }

  #list(table: AddressTable, url: URL): Omit<SimResponse, 'costMs'> {
    const filters: Fields = {};
    let proplist: string[] | undefined;
    for (const [name, value] of url.searchParams) {
      if (name === '.proplist') proplist = value.split(',').filter((item) => item !== '');
      else filters[name] = value;
    }
    const found = table.find(filters, this.#clock);
    this.#clock += this.cost.readEntryMs * found.length;
    return json(
      200,
      found.map((entry) => table.print(entry, this.#clock, proplist)),
    );
  }

  #put(table: AddressTable, body: unknown): Omit<SimResponse, 'costMs'> {
    const fields = fieldsOf(body);
    if (fields === undefined) return failure(400, 'expected an object');
    this.#clock += this.cost.entryMs;
    try {
      return json(201, table.print(table.add(fields, this.#clock), this.#clock));
    } catch (error) {
      if (error instanceof CommandFailure) return failure(400, error.message);
      throw error;
    }
  }

  #addCommand(table: AddressTable, body: unknown): Omit<SimResponse, 'costMs'> {
    const fields = fieldsOf(body);
    if (fields === undefined) return failure(400, 'expected an object');
    this.#clock += this.cost.entryMs;
    try {
      return json(200, { ret: formatId(table.add(fields, this.#clock).id) });
    } catch (error) {
      if (error instanceof CommandFailure) return failure(400, error.message);
      throw error;
    }
  }

  #removeCommand(table: AddressTable, body: unknown): Omit<SimResponse, 'costMs'> {
    const fields = fieldsOf(body);
    const list = fields?.['.id'] ?? fields?.numbers;
    if (list === undefined) return failure(400, 'missing value for numbers');
    const ids = list.split(',').map((text) => parseId(text.trim()));
    for (const id of ids) if (id === undefined || table.get(id) === undefined) return failure(400, 'no such item');
    for (const id of ids) {
      this.#clock += this.cost.entryMs;
      table.remove(id!);
    }
    return json(200, []);
  }

  #print(table: AddressTable, body: unknown): Omit<SimResponse, 'costMs'> {
    const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const rawProps = request['.proplist'];
    const proplist =
      rawProps === undefined
        ? undefined
        : Array.isArray(rawProps)
          ? rawProps.map(String)
          : String(rawProps)
              .split(',')
              .filter((item) => item !== '');
    const query = request['.query'];
    let found: TableEntry[];
    if (query === undefined) {
      found = table.find({}, this.#clock);
    } else {
      if (!Array.isArray(query)) return failure(400, 'invalid .query');
      const stack: Array<Set<number>> = [];
      for (const term of query.map(String)) {
        if (term === '#|' || term === '#&') {
          const right = stack.pop();
          const left = stack.pop();
          if (right === undefined || left === undefined) return failure(400, 'invalid .query');
          stack.push(term === '#|' ? new Set([...left, ...right]) : new Set([...left].filter((id) => right.has(id))));
          continue;
        }
        const eq = term.indexOf('=');
        if (eq <= 0) return failure(400, 'invalid .query');
        stack.push(new Set(table.find({ [term.slice(0, eq)]: term.slice(eq + 1) }, this.#clock).map((entry) => entry.id)));
      }
      const ids = stack.reduce<Set<number> | undefined>(
        (all, set) => (all === undefined ? set : new Set([...all].filter((id) => set.has(id)))),
        undefined,
      );
      found = [...(ids ?? [])].map((id) => table.get(id)!).filter(Boolean);
    }
    this.#clock += this.cost.readEntryMs * found.length;
    return json(
      200,
      found.map((entry) => table.print(entry, this.#clock, proplist)),
    );
  }

  #execute(body: unknown): Omit<SimResponse, 'costMs'> {
    if (this.forbidExecute) return failure(400, 'not enough permissions (9)');
    const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof request.script !== 'string') return failure(400, 'missing value for script');
    const script = request.script;
    this.scripts.push(script);
    let program;
    try {
      program = parseScript(script);
    } catch (error) {
      if (!(error instanceof ScriptSyntaxError)) throw error;
      this.rejections.push({ detail: error.detail, reason: error.reason });
      return failure(400, error.detail);
    }
    let elapsed = 0;
    const host = {
      table: (family: 4 | 6) => this.#tables[family],
      now: () => this.#clock,
      charge: () => {
        if (elapsed + this.cost.entryMs > this.sessionLimitMs) throw new SessionClosed();
        elapsed += this.cost.entryMs;
        this.#clock += this.cost.entryMs;
      },
    };
    let printed: string[];
    try {
      printed = runScript(program, host);
    } catch (error) {
      if (error instanceof SessionClosed) {
        this.#clock += this.sessionLimitMs - elapsed;
        return json(400, { detail: 'Session closed', error: 400, message: 'Bad Request' });
      }
      if (error instanceof CommandFailure) return failure(400, error.message);
      throw error;
    }
    if (!Object.hasOwn(request, 'as-string')) {
      this.#jobs += 1;
      return json(200, { ret: formatId(this.#jobs) });
    }
    return json(200, { ret: printed.map((line) => `${line}\r\n`).join('') });
  }
}
