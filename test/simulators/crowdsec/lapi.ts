/**
 * CrowdSec Local API simulator (machine side: login, alerts, decisions;
 * bouncer side: GET /v1/decisions), in-process through the Transport, for
 * what the real LAPI cannot show on demand: a token that expires on a
 * manual clock, 429 with Retry-After, 5xx, a version whose DELETE does not
 * know the relay's filter keys, and the current version's differences.
 *
 * Written from the swaggers (shared/specs/crowdsec-v1.4.6_localapi_swagger.yaml
 * and crowdsec-HEAD-a88b497b_localapi_swagger.yaml), the LAPI code
 * (pkg/apiserver/middlewares/v1/jwt.go, pkg/database/decisions.go,
 * alertfilter.go) and answers of the real 1.4.6 recorded on this machine:
 * - login: 200 `{"code":200,"expire":"<RFC3339>","token":"…"}`; 401
 *   `{"code":401,"message":"incorrect Username or Password"}`, "ent:
 *   machine not found", "machine <id> not validated" (UNVERIFIED text);
 *   a User-Agent that does not split into exactly two parts at "/" → 401.
 * - JWT: 1 h; an expired token → 401 "Token is expired" (gin-jwt text,
 *   UNVERIFIED); a missing one → 401 "cookie token is empty"; `restart()`
 *   changes the secret (every token dies).
 * - POST /v1/alerts: body an array of alerts, every swagger-required key
 *   present, Go durations; invalid input → **500** `{"message":"…"}` in
 *   every version (1.4.6 seen; current: UNVERIFIED, its handler still goes
 *   through HandleDBErrors' default branch); bad JSON → 400. 201 with the
 *   alert ids as strings.
 * - GET /v1/alerts: filters scenario, origin, ip, has_active_decision,
 *   limit (0 = all; default 100 alerts), unknown key → 500 "Filter
 *   parameter 'x' is unknown (=v): invalid filter"; `null` when nothing
 *   matches; each decision's `duration` is the time left (negative once
 *   expired).
 * - DELETE /v1/decisions?…: keys per version — `1.4`: contains, scopes,
 *   origin, value, type, ip, range, scenario; `current`: the same plus
 *   uuid; `1.3` (UNVERIFIED which release dropped it; seen in older code):
 *   no scenario. Unknown key (also the swagger's `scope`) → 500 "'<key>'
 *   doesn't exist: invalid filter". Soft delete (until = now); 200
 *   `{"nbDeleted":"<n>"}`. No filter at all expires EVERY active decision,
 *   as the real one does, and is counted.
 * - DELETE /v1/decisions/{id} → 200 `{"nbDeleted":"1"}`; unknown id → 500
 *   "decision with id 'N' doesn't exist: unable to delete"; not an integer
 *   → 400.
 * - GET /v1/decisions needs a bouncer key (X-Api-Key); a JWT → 403
 *   "access forbidden"; `null` when nothing matches.
 * - 429 / 5xx only when a test injects them (the LAPI has no rate limit of
 *   its own; a reverse proxy in front may; UNVERIFIED Retry-After use).
 *
 * What a careful client must not do is counted in `flags`.
 */
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const SIM_URL = 'http://127.0.0.1:8080';
export const SIM_MACHINE = 'flowtriq-relay';
export const SIM_PASSWORD = 'sim-machine-password';
export const SIM_BOUNCER_KEY = 'sim-bouncer-key';
const TOKEN_TTL_MS = 3_600_000;

export type LapiVersion = '1.3' | '1.4' | 'current';

const DELETE_KEYS: Record<LapiVersion, string[]> = {
  '1.3': ['contains', 'scopes', 'origin', 'value', 'type', 'ip', 'range'],
  '1.4': ['contains', 'scopes', 'origin', 'value', 'type', 'ip', 'range', 'scenario'],
  current: ['contains', 'scopes', 'uuid', 'origin', 'value', 'type', 'ip', 'range', 'scenario'],
};
const ALERT_KEYS = ['scope', 'value', 'scenario', 'ip', 'range', 'since', 'until', 'simulated', 'has_active_decision', 'decision_type', 'limit', 'origin', 'contains', 'sort', 'include_capi'];
const ALERT_REQUIRED = ['scenario', 'scenario_hash', 'scenario_version', 'message', 'events_count', 'start_at', 'stop_at', 'capacity', 'leakspeed', 'simulated', 'events', 'source'];
const DECISION_REQUIRED = ['origin', 'type', 'scope', 'value', 'duration', 'scenario'];

export interface SimDecision {
  id: number;
  alertId: number;
  /** The machine that pushed it. */
  machine: string;
  origin: string;
  type: string;
  scope: string;
  value: string;
  scenario: string;
  createdAt: number;
  until: number;
}

interface SimAlert {
  id: number;
  machine: string;
  scenario: string;
  message: string;
  decisionIds: number[];
}

export interface LapiFlags {
  /** DELETE /v1/decisions with no filter at all (wipes every decision). */
  unfilteredDeletes: number;
  /** Decisions of another origin or machine expired by the relay's machine. */
  foreignDecisionsTouched: number;
  /** A relay decision pushed for an address that already had an active one from the relay with the same scenario. */
  duplicateDecisions: number;
  /** Requests sent with a token that had already expired. */
  expiredTokenUsed: number;
  /** Logins whose User-Agent was not name/version. */
  badUserAgents: number;
}

interface Injected {
  status: number;
  message: string;
  retryAfter?: string;
  /** Only for requests whose `METHOD path` starts with this. */
  match?: string;
}

export interface LapiSimulatorOptions {
  now: () => number;
  version?: LapiVersion;
}

export class CrowdsecLapiSimulator {
  readonly version: LapiVersion;
  readonly flags: LapiFlags = { unfilteredDeletes: 0, foreignDecisionsTouched: 0, duplicateDecisions: 0, expiredTokenUsed: 0, badUserAgents: 0 };
  /** Every request, `METHOD path?query`. */
  readonly requests: string[] = [];
  readonly machines = new Map<string, { password: string; validated: boolean }>([[SIM_MACHINE, { password: SIM_PASSWORD, validated: true }]]);
  readonly decisions: SimDecision[] = [];
  readonly alerts: SimAlert[] = [];
  readonly #now: () => number;
  #secret = 1;
  #nextToken = 1;
  readonly #tokens = new Map<string, { machine: string; expiresAt: number; secret: number }>();
  #nextDecision = 1;
  #nextAlert = 1;
  readonly #injected: Injected[] = [];

  constructor(options: LapiSimulatorOptions) {
    this.#now = options.now;
    this.version = options.version ?? '1.4';
  }

  readonly transport: Transport = { request: (request) => Promise.resolve(this.#handle(request)) };

  /** The next matching request(s) answer this status instead. */
  failNext(status: number, options: { message?: string; retryAfter?: string; times?: number; match?: string } = {}): void {
    for (let i = 0; i < (options.times ?? 1); i++) {
      this.#injected.push({ status, message: options.message ?? (status === 429 ? 'Too Many Requests' : 'database is locked'), ...(options.retryAfter ? { retryAfter: options.retryAfter } : {}), ...(options.match ? { match: options.match } : {}) });
    }
  }

  /** A new JWT secret, as on a LAPI restart: every token issued so far is refused. */
  restart(): void {
    this.#secret += 1;
  }

  /** An operator's `cscli decisions add -i <ip>` (origin cscli, machine `operator`). */
  addOperatorDecision(ip: string, durationMs = 4 * 3_600_000, reason = "manual 'ban' from 'operator'"): SimDecision {
    const alertId = this.#nextAlert++;
    const decision: SimDecision = { id: this.#nextDecision++, alertId, machine: 'operator', origin: 'cscli', type: 'ban', scope: 'Ip', value: ip, scenario: reason, createdAt: this.#now(), until: this.#now() + durationMs };
    this.decisions.push(decision);
    this.alerts.push({ id: alertId, machine: 'operator', scenario: reason, message: reason, decisionIds: [decision.id] });
    return decision;
  }

  /** Active decisions (what a bouncer enforces). */
  active(ip?: string): SimDecision[] {
    return this.decisions.filter((decision) => decision.until > this.#now() && (ip === undefined || decision.value === ip));
  }

  #handle(request: HttpRequest): HttpResponse {
    const url = new URL(request.url);
    this.requests.push(`${request.method} ${url.pathname}${url.search}`);
    if (url.origin !== SIM_URL) return json(404, { message: 'unknown host' });
    const index = this.#injected.findIndex((item) => item.match === undefined || `${request.method} ${url.pathname}`.startsWith(item.match));
    if (index >= 0) {
      const [injected] = this.#injected.splice(index, 1);
      return json(injected!.status, { message: injected!.message }, injected!.retryAfter ? { 'retry-after': injected!.retryAfter } : {});
    }
    const route = `${request.method} ${url.pathname}`;
    if (route === 'POST /v1/watchers/login') return this.#login(request);
    if (route === 'GET /v1/decisions') return this.#bouncerDecisions(request, url);
    const auth = this.#authenticate(request);
    if ('response' in auth) return auth.response;
    if (route === 'POST /v1/alerts') return this.#pushAlerts(request, auth.machine);
    if (route === 'GET /v1/alerts') return this.#getAlerts(url);
    if (route === 'DELETE /v1/decisions') return this.#deleteDecisions(url, auth.machine);
    const byId = /^DELETE \/v1\/decisions\/([^/]+)$/.exec(route);
    if (byId) return this.#deleteDecision(byId[1]!, auth.machine);
    if (route === 'GET /v1/heartbeat') return { status: 200, headers: {}, body: new Uint8Array() };
    return json(404, { message: 'page not found' });
  }

  #login(request: HttpRequest): HttpResponse {
    const ua = request.headers?.['User-Agent'] ?? '';
    if (ua.split('/').length !== 2) {
      this.flags.badUserAgents += 1;
      return json(401, { code: 401, message: 'bad user agent' }); // UNVERIFIED wording; the status is what 1.4.6 answers
    }
    const body = parseBody(request);
    if (!body.ok || typeof body.value !== 'object' || body.value === null) return json(400, { message: 'invalid JSON' });
    const { machine_id: machineId, password } = body.value as { machine_id?: unknown; password?: unknown };
    if (typeof machineId !== 'string' || typeof password !== 'string') return json(401, { code: 401, message: 'missing : incorrect Username or Password' });
    const machine = this.machines.get(machineId);
    if (!machine) return json(401, { code: 401, message: 'ent: machine not found' });
    if (machine.password !== password) return json(401, { code: 401, message: 'incorrect Username or Password' });
    if (!machine.validated) return json(401, { code: 401, message: `machine ${machineId} not validated` });
    const token = `sim.jwt.${this.#nextToken++}`;
    const expiresAt = this.#now() + TOKEN_TTL_MS;
    this.#tokens.set(token, { machine: machineId, expiresAt, secret: this.#secret });
    return json(200, { code: 200, expire: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'), token });
  }

  #authenticate(request: HttpRequest): { machine: string } | { response: HttpResponse } {
    const header = request.headers?.Authorization;
    // A bouncer key is no token: 1.4.6 answers 401 "cookie token is empty" (recorded).
    if (!header) return { response: json(401, { code: 401, message: 'cookie token is empty' }) };
    const token = this.#tokens.get(header.replace(/^Bearer /, ''));
    if (!token || token.secret !== this.#secret) return { response: json(401, { code: 401, message: 'signature is invalid' }) };
    if (this.#now() >= token.expiresAt) {
      this.flags.expiredTokenUsed += 1;
      return { response: json(401, { code: 401, message: 'Token is expired' }) };
    }
    return { machine: token.machine };
  }

  #pushAlerts(request: HttpRequest, machine: string): HttpResponse {
    const body = parseBody(request);
    if (!body.ok) return json(400, { message: "invalid character 'b' looking for beginning of object key string" });
    if (!Array.isArray(body.value)) return json(400, { message: 'json: cannot unmarshal object into Go value of type models.AddAlertsRequest' });
    const problems: string[] = [];
    body.value.forEach((alert: Record<string, unknown>, i: number) => {
      for (const key of ALERT_REQUIRED) if (!(key in alert) || alert[key] === null) problems.push(`${i}.${key} in body is required`);
      const source = alert.source as Record<string, unknown> | undefined;
      if (source && (typeof source.scope !== 'string' || typeof source.value !== 'string')) problems.push(`${i}.source.scope in body is required`);
      ((alert.decisions as Record<string, unknown>[] | undefined) ?? []).forEach((decision, j) => {
        for (const key of DECISION_REQUIRED) if (typeof decision[key] !== 'string') problems.push(`${i}.decisions.${j}.${key} in body is required`);
      });
    });
    if (problems.length > 0) return json(500, { message: `validation failure list:\n${problems.join('\n')}` });
    // Semantic checks the database layer makes (Go durations, addresses).
    for (const alert of body.value as Record<string, unknown>[]) {
      for (const decision of (alert.decisions as Record<string, string>[] | undefined) ?? []) {
        if (goDurationMs(decision.duration!) === undefined) {
          return json(500, { message: `unable to create alerts: decision duration '${decision.duration}' : time: unknown unit in duration "${decision.duration}": unable to parse duration` });
        }
        if (decision.scope!.toLowerCase() === 'ip' && !/^[0-9a-fA-F:.]+$/.test(decision.value!)) {
          return json(500, { message: `unable to create alerts: invalid addr/range ${decision.value} : invalid address: unable to parse duration` });
        }
      }
    }
    const ids: string[] = [];
    for (const alert of body.value as Record<string, unknown>[]) {
      const id = this.#nextAlert++;
      const stored: SimAlert = { id, machine, scenario: String(alert.scenario), message: String(alert.message), decisionIds: [] };
      for (const decision of (alert.decisions as Record<string, string>[] | undefined) ?? []) {
        const duplicate = this.active(decision.value).some((d) => d.machine === machine && d.origin === decision.origin && d.scenario === decision.scenario);
        if (duplicate) this.flags.duplicateDecisions += 1;
        const created: SimDecision = {
          id: this.#nextDecision++,
          alertId: id,
          machine,
          origin: decision.origin!,
          type: decision.type!,
          scope: decision.scope!.toLowerCase() === 'ip' ? 'Ip' : decision.scope!,
          value: decision.value!,
          scenario: decision.scenario!,
          createdAt: this.#now(),
          until: this.#now() + goDurationMs(decision.duration!)!,
        };
        this.decisions.push(created);
        stored.decisionIds.push(created.id);
      }
      this.alerts.push(stored);
      ids.push(String(id));
    }
    return json(201, ids);
  }

  #getAlerts(url: URL): HttpResponse {
    for (const [key, value] of url.searchParams) {
      if (!ALERT_KEYS.includes(key)) return json(500, { message: `Filter parameter '${key}' is unknown (=${value}): invalid filter` });
    }
    const q = url.searchParams;
    const now = this.#now();
    let alerts = this.alerts.map((alert) => ({ alert, decisions: alert.decisionIds.map((id) => this.decisions.find((d) => d.id === id)!) }));
    if (q.has('scenario')) alerts = alerts.filter(({ decisions, alert }) => alert.scenario === q.get('scenario') || decisions.some((d) => d.scenario === q.get('scenario')));
    if (q.has('origin')) alerts = alerts.filter(({ decisions }) => decisions.some((d) => d.origin === q.get('origin')));
    if (q.has('ip')) alerts = alerts.filter(({ decisions }) => decisions.some((d) => d.value === q.get('ip')));
    if (q.get('has_active_decision') === 'true') alerts = alerts.filter(({ decisions }) => decisions.some((d) => d.until >= now));
    if (q.get('has_active_decision') === 'false') alerts = alerts.filter(({ decisions }) => decisions.length === 0);
    const limit = q.has('limit') ? Number(q.get('limit')) : 100;
    alerts.reverse(); // newest first, as the LAPI sorts
    if (limit > 0) alerts = alerts.slice(0, limit);
    if (alerts.length === 0) return json(200, null);
    return json(
      200,
      alerts.map(({ alert, decisions }) => ({
        id: alert.id,
        scenario: alert.scenario,
        scenario_hash: '',
        scenario_version: '',
        message: alert.message,
        machine_id: alert.machine,
        simulated: false,
        decisions: decisions.map((d) => ({ id: d.id, origin: d.origin, type: d.type, scope: d.scope, value: d.value, scenario: d.scenario, simulated: false, duration: formatLeft(d.until - now) })),
      })),
    );
  }

  #deleteDecisions(url: URL, machine: string): HttpResponse {
    const allowed = DELETE_KEYS[this.version];
    for (const key of url.searchParams.keys()) {
      if (!allowed.includes(key)) return json(500, { message: `'${key}' doesn't exist: invalid filter` });
    }
    const q = url.searchParams;
    if ([...q.keys()].length === 0) this.flags.unfilteredDeletes += 1;
    const now = this.#now();
    const matched = this.decisions.filter(
      (d) =>
        d.until > now &&
        (!q.has('scenario') || d.scenario === q.get('scenario')) &&
        (!q.has('origin') || d.origin === q.get('origin')) &&
        (!q.has('type') || d.type === q.get('type')) &&
        (!q.has('scopes') || d.scope === q.get('scopes')) &&
        (!q.has('value') || d.value === q.get('value')) &&
        (!q.has('ip') || d.value === q.get('ip')),
    );
    for (const d of matched) this.#expire(d, machine);
    return json(200, { nbDeleted: String(matched.length) });
  }

  #deleteDecision(raw: string, machine: string): HttpResponse {
    if (!/^\d+$/.test(raw)) return json(400, { message: 'decision_id must be valid integer' });
    const decision = this.decisions.find((d) => d.id === Number(raw));
    if (!decision) return json(500, { message: `decision with id '${raw}' doesn't exist: unable to delete` });
    this.#expire(decision, machine);
    return json(200, { nbDeleted: '1' });
  }

  #expire(decision: SimDecision, machine: string): void {
    if (decision.machine !== machine || decision.origin === 'cscli') this.flags.foreignDecisionsTouched += 1;
    decision.until = Math.min(decision.until, this.#now());
  }

  #bouncerDecisions(request: HttpRequest, url: URL): HttpResponse {
    if (request.headers?.Authorization) return json(403, { message: 'access forbidden' });
    if (request.headers?.['X-Api-Key'] !== SIM_BOUNCER_KEY) return json(403, { message: 'access forbidden' });
    const ip = url.searchParams.get('ip') ?? undefined;
    const found = this.active(ip);
    if (found.length === 0) return json(200, null);
    return json(200, found.map((d) => ({ id: d.id, origin: d.origin, type: d.type, scope: d.scope, value: d.value, scenario: d.scenario, duration: formatLeft(d.until - this.#now()) })));
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: new TextEncoder().encode(JSON.stringify(body)) };
}

function parseBody(request: HttpRequest): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body ?? new Uint8Array());
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration for the units a client would send (h, m, s, ms); undefined otherwise ("1d"). */
export function goDurationMs(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(match[1]) * UNITS[match[2]!]!;
  return total;
}

/** Time left the way the LAPI prints it (Go's Duration.String): "59m58.5s", "-23ms". */
function formatLeft(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  return `${sign}${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}
