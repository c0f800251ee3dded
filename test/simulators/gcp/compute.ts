/**
 * Google Cloud simulator: the OAuth 2.0 token endpoint of service-account
 * keys and the VPC firewall rules of the Compute Engine API v1
 * (`/compute/v1/projects/{p}/global/firewalls[/{name}]`,
 * `/compute/v1/projects/{p}/global/operations/{name}`), written from
 * Google's documentation (Compute Engine REST reference for Firewall and
 * Operation, "Using VPC firewall rules", the Cloud NGFW quotas page, the
 * OAuth 2.0 service-account guide) and the shapes public clients handle.
 *
 * What it models:
 * - Token endpoint: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 *   with an RS256 assertion whose signature is VERIFIED with the public key
 *   of the test's key pair; `iss`, `aud`, `iat`/`exp` (at most one hour) are
 *   checked. Errors as RFC 6749 `{"error":"invalid_grant","error_description":…}`.
 *   Tokens expire after `expires_in`; a revoked or expired token is 401.
 * - Firewall resources as the API reports them (full network URL, empty
 *   lists left out, `kind`, `id`, `creationTimestamp`, `selfLink`).
 *   insert/patch/delete answer an Operation (`PENDING → RUNNING → DONE`
 *   after the configured delays on the injectable clock); the change takes
 *   effect when the operation is DONE. PATCH is a JSON merge patch (a field
 *   given replaces, `null` removes).
 * - Validation: name syntax, unknown fields, priority 0–65535, exactly one
 *   of allowed/denied, protocols and ports, CIDR syntax, IPv4 and IPv6 never
 *   in one rule, at most 5,000 source ranges. An INGRESS rule inserted
 *   without sourceRanges, sourceTags or sourceServiceAccounts gets
 *   sourceRanges 0.0.0.0/0, as Google documents.
 * - Errors: standard Google JSON error `{"error":{code,message,errors:[{message,domain,reason}],status?}}`
 *   (notFound 404, alreadyExists 409, resourceNotReady 400 while an
 *   operation on the rule is running, forbidden 403, authError 401,
 *   rateLimitExceeded 429 with Retry-After via failNext).
 * - admit(): would a packet from a source to a protocol/port reach a VM
 *   with these tags? Enabled INGRESS rules of the network that apply to the
 *   VM, lowest priority number first, deny before allow at equal priority,
 *   the implied deny-ingress when nothing matches.
 *
 * What a careful client must not do is counted in `counters` (tests assert
 * zero): writes while any operation is still running, writes on a rule with
 * a running operation, writes on rules the relay does not own (names not
 * starting with `relayPrefix-`), an enabled INGRESS rule left without
 * sources by an API write, writes that change nothing, invalid or expired
 * tokens, invalid assertions.
 *
 * UNVERIFIED (not confirmed in Google's documentation; modelled as the
 * closest documented behaviour): the exact message texts; that a PATCH of
 * `name`, `network` or `direction` is refused with 400; that a merge-patch
 * `sourceRanges: []` clears the list; that an insert on a missing network is
 * 404 notFound; that Google reports ranges as written (`/32` kept).
 */
import { type KeyObject, generateKeyPairSync, verify } from 'node:crypto';
import { formatCidr, parseCidr } from '../../../lib/ip/cidr.ts';
import { type IpAddress, parseAddress } from '../../../lib/ip/address.ts';
import { cidrContains } from '../../../lib/ip/cidr.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const COMPUTE_ORIGIN = 'https://compute.googleapis.com';
export const TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const SELF_LINK_BASE = 'https://www.googleapis.com/compute/v1';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const NAME = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'esp', 'ah', 'sctp', 'ipip', 'all']);
const PORTED = new Set(['tcp', 'udp', 'sctp', '6', '17', '132']);
const MAX_RANGES = 5000;
const WRITABLE = new Set([
  'name',
  'description',
  'network',
  'priority',
  'sourceRanges',
  'destinationRanges',
  'sourceTags',
  'targetTags',
  'sourceServiceAccounts',
  'targetServiceAccounts',
  'allowed',
  'denied',
  'direction',
  'logConfig',
  'disabled',
]);
const OUTPUT_ONLY = new Set(['kind', 'id', 'creationTimestamp', 'selfLink']);

export interface SimProtocol {
  IPProtocol: string;
  ports?: string[];
}

/** A firewall rule as the API reports it. */
export interface SimFirewall {
  kind: 'compute#firewall';
  id: string;
  creationTimestamp: string;
  name: string;
  description: string;
  network: string;
  priority: number;
  direction: 'INGRESS' | 'EGRESS';
  sourceRanges?: string[];
  destinationRanges?: string[];
  sourceTags?: string[];
  targetTags?: string[];
  sourceServiceAccounts?: string[];
  targetServiceAccounts?: string[];
  allowed?: SimProtocol[];
  denied?: SimProtocol[];
  logConfig: { enable: boolean };
  disabled: boolean;
  selfLink: string;
}

interface SimOperation {
  id: string;
  name: string;
  operationType: 'insert' | 'patch' | 'delete';
  target: string;
  targetId: string;
  insertTime: string;
  runningAt: number;
  doneAt: number;
  apply: () => void;
  applied: boolean;
}

export interface SimCounters {
  requests: number;
  tokenRequests: number;
  invalidAssertions: number;
  invalidTokenUses: number;
  expiredTokenUses: number;
  reads: number;
  writes: number;
  operationPolls: number;
  /** Writes sent while any operation was not DONE. */
  writesWhilePending: number;
  /** Writes on a rule with a running operation (answered 400 resourceNotReady). */
  writesOnBusyRule: number;
  /** Inserts, patches or deletes of rules whose names do not start with `relayPrefix-`. */
  foreignWrites: number;
  /** API writes after which an enabled INGRESS rule had no sources (= every source). */
  enabledWithoutSources: number;
  /** PATCHes that changed nothing. */
  unneededWrites: number;
  /** Inserts without any source, defaulted to 0.0.0.0/0. */
  defaultedToAnySource: number;
}

export interface ServiceAccountFixture {
  email: string;
  keyId: string;
  project: string;
  /** The JSON key file content, as the console downloads it. */
  keyFile: string;
  publicKey: KeyObject;
}

let cachedPair: { privatePem: string; publicKey: KeyObject } | undefined;

/** A service account key pair made in the test (one RSA key per test process; generation is slow). */
export function makeServiceAccount(options: { project?: string; email?: string; fresh?: boolean } = {}): ServiceAccountFixture {
  let pair = cachedPair;
  if (pair === undefined || options.fresh) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    pair = { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
    if (!options.fresh) cachedPair = pair;
  }
  const project = options.project ?? 'flowtriq-test';
  const email = options.email ?? `relay@${project}.iam.gserviceaccount.com`;
  const keyId = '0123456789abcdef0123456789abcdef01234567';
  const keyFile = JSON.stringify({
    type: 'service_account',
    project_id: project,
    private_key_id: keyId,
    private_key: pair.privatePem,
    client_email: email,
    client_id: '100000000000000000001',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: TOKEN_URL,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    universe_domain: 'googleapis.com',
  });
  return { email, keyId, project, keyFile, publicKey: pair.publicKey };
}

export interface GcpSimulatorOptions {
  now: () => number;
  account: Pick<ServiceAccountFixture, 'email' | 'keyId' | 'project' | 'publicKey'>;
  /** Networks of the project (default ['default']). */
  networks?: string[];
  /** Names of the relay's rules start with `${relayPrefix}-` (default flowtriq-relay). */
  relayPrefix?: string;
  /** How long an operation stays PENDING, then RUNNING (default 0, 0). */
  pendingMs?: number;
  runningMs?: number;
  /** Lifetime of access tokens in seconds (default 3599, as Google answers). */
  tokenLifetimeS?: number;
}

export interface Packet {
  source: string;
  protocol: 'tcp' | 'udp' | 'icmp';
  port?: number;
  /** Network tags of the VM. */
  tags: readonly string[];
  network?: string;
}

export class GcpSimulator {
  readonly counters: SimCounters = {
    requests: 0,
    tokenRequests: 0,
    invalidAssertions: 0,
    invalidTokenUses: 0,
    expiredTokenUses: 0,
    reads: 0,
    writes: 0,
    operationPolls: 0,
    writesWhilePending: 0,
    writesOnBusyRule: 0,
    foreignWrites: 0,
    enabledWithoutSources: 0,
    unneededWrites: 0,
    defaultedToAnySource: 0,
  };
  /** What a careful client must not do, in words. */
  readonly violations: string[] = [];
  /** Every write request, in order: method, rule name and body. */
  readonly writeLog: Array<{ method: string; rule: string; body: unknown; at: number }> = [];
  readonly project: string;
  readonly #o: GcpSimulatorOptions;
  readonly #networks: Set<string>;
  readonly #prefix: string;
  readonly #firewalls = new Map<string, SimFirewall>();
  readonly #operations = new Map<string, SimOperation>();
  readonly #tokens = new Map<string, { expiresAt: number; scopes: string[] }>();
  #failures: Array<{ status: number; body: unknown; headers?: Record<string, string> }> = [];
  #forbidden = new Set<string>();
  #seq = 1000;

  readonly transport: Transport = { request: async (request) => this.handle(request) };

  constructor(options: GcpSimulatorOptions) {
    this.#o = options;
    this.project = options.account.project;
    this.#networks = new Set(options.networks ?? ['default']);
    this.#prefix = `${options.relayPrefix ?? 'flowtriq-relay'}-`;
  }

  // ---- test controls ----------------------------------------------------------------------

  /** Adds a rule (the operator's, or any) directly, settled. */
  addRule(rule: Partial<SimFirewall> & { name: string }): SimFirewall {
    const stored = this.#materialise({ direction: 'INGRESS', ...rule, network: rule.network ?? `global/networks/default` } as Record<string, unknown>);
    if (typeof stored === 'string') throw new Error(`addRule: ${stored}`);
    this.#firewalls.set(stored.name, stored);
    return clone(stored);
  }

  /** Someone else changes a rule (console, gcloud, Terraform) behind the relay's back. */
  changeBehindRelay(name: string, change: (rule: SimFirewall) => void): void {
    this.#settle();
    const rule = this.#firewalls.get(name);
    if (!rule) throw new Error(`no rule ${name}`);
    change(rule);
  }

  deleteBehindRelay(name: string): void {
    this.#settle();
    this.#firewalls.delete(name);
  }

  /** The next requests to the Compute API fail with this answer (one entry per request). */
  failNext(status: number, body: unknown, headers?: Record<string, string>): void {
    this.#failures.push({ status, body, ...(headers ? { headers } : {}) });
  }

  /** The service account lacks the permission of this method (get, insert, patch, delete). */
  forbid(method: 'get' | 'insert' | 'patch' | 'delete'): void {
    this.#forbidden.add(method);
  }

  /** Every token issued so far stops working (key disabled, token revoked). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** The rule as GET would report it, or undefined. */
  rule(name: string): SimFirewall | undefined {
    this.#settle();
    const rule = this.#firewalls.get(name);
    return rule ? clone(rule) : undefined;
  }

  /** Every rule of the project, by name: the whole account state as the API reports it. */
  account(): SimFirewall[] {
    this.#settle();
    return [...this.#firewalls.values()].sort((a, b) => a.name.localeCompare(b.name)).map(clone);
  }

  /** Operations not DONE yet. */
  pendingOperations(): string[] {
    return [...this.#operations.values()].filter((op) => this.#status(op) !== 'DONE').map((op) => op.name);
  }

  /** Would this packet reach a VM with these tags? */
  admit(packet: Packet): boolean {
    this.#settle();
    const address = parseAddress(packet.source);
    if (!address.ok) throw new Error(`admit: ${packet.source} is not an address`);
    const network = packet.network ?? 'default';
    const matching = [...this.#firewalls.values()]
      .filter((rule) => !rule.disabled && rule.direction === 'INGRESS' && lastSegment(rule.network) === network)
      .filter((rule) => (rule.targetTags ?? []).length === 0 || (rule.targetTags ?? []).some((tag) => packet.tags.includes(tag)))
      .filter((rule) => sourceMatches(rule, address.address))
      .filter((rule) => (rule.allowed ?? rule.denied ?? []).some((entry) => protocolMatches(entry, packet, address.address.family)))
      .sort((a, b) => a.priority - b.priority || Number(b.denied !== undefined) - Number(a.denied !== undefined));
    const first = matching[0];
    return first !== undefined && first.allowed !== undefined;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  handle(request: HttpRequest): HttpResponse {
    this.counters.requests += 1;
    this.#settle();
    if (request.url === TOKEN_URL) return this.#token(request);
    const url = new URL(request.url);
    if (url.origin !== COMPUTE_ORIGIN) throw new Error(`unexpected origin ${url.origin}`);
    const headers = lowerCase(request.headers ?? {});
    const auth = /^Bearer (.+)$/.exec(headers.authorization ?? '');
    const token = auth ? this.#tokens.get(auth[1]!) : undefined;
    if (token === undefined || this.#o.now() >= token.expiresAt) {
      if (token === undefined) this.counters.invalidTokenUses += 1;
      else this.counters.expiredTokenUses += 1;
      this.violations.push(`${request.method} ${url.pathname} with an ${token === undefined ? 'invalid' : 'expired'} token`);
      return googleError(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'UNAUTHENTICATED');
    }
    if (!token.scopes.some((scope) => scope === 'https://www.googleapis.com/auth/compute' || scope === 'https://www.googleapis.com/auth/cloud-platform')) {
      return googleError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED');
    }
    const injected = this.#failures.shift();
    if (injected) return json(injected.status, injected.body, injected.headers);

    const base = `/compute/v1/projects/${this.project}/global`;
    const path = url.pathname;
    if (path.startsWith(`${base}/operations/`)) {
      if (request.method !== 'GET') return googleError(405, 'methodNotAllowed', 'Method not allowed');
      this.counters.operationPolls += 1;
      const op = this.#operations.get(path.slice(`${base}/operations/`.length));
      if (!op) return notFound(`projects/${this.project}/global/operations/${path.slice(`${base}/operations/`.length)}`);
      return json(200, this.#operationJson(op));
    }
    if (path === `${base}/firewalls` && request.method === 'POST') return this.#insert(bodyOf(request));
    const match = new RegExp(`^${base}/firewalls/([^/]+)$`).exec(path);
    if (!match) return notFound(path);
    const name = decodeURIComponent(match[1]!);
    switch (request.method) {
      case 'GET': {
        this.counters.reads += 1;
        if (this.#forbidden.has('get')) return forbidden('compute.firewalls.get', this.#ref(name));
        const rule = this.#firewalls.get(name);
        return rule ? json(200, rule) : notFound(this.#ref(name));
      }
      case 'PATCH':
        return this.#patch(name, bodyOf(request));
      case 'DELETE':
        return this.#delete(name);
      default:
        return googleError(405, 'methodNotAllowed', 'Method not allowed');
    }
  }

  #token(request: HttpRequest): HttpResponse {
    this.counters.tokenRequests += 1;
    const form = new URLSearchParams(typeof request.body === 'string' ? request.body : Buffer.from(request.body ?? new Uint8Array()).toString('utf8'));
    if (request.method !== 'POST') return json(405, { error: 'invalid_request', error_description: 'POST required' });
    if (form.get('grant_type') !== JWT_BEARER) return json(400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' + (form.get('grant_type') ?? '') });
    const assertion = form.get('assertion') ?? '';
    const reject = (description: string) => {
      this.counters.invalidAssertions += 1;
      this.violations.push(`token request rejected: ${description}`);
      return json(400, { error: 'invalid_grant', error_description: description });
    };
    const parts = assertion.split('.');
    if (parts.length !== 3) return reject('Invalid JWT: not a compact JWS');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return reject('Invalid JWT: unreadable header or claims');
    }
    if (header.alg !== 'RS256') return reject('Invalid JWT: alg must be RS256');
    if (header.kid !== undefined && header.kid !== this.#o.account.keyId) return reject('Invalid JWT Signature.');
    const valid = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`, 'utf8'), this.#o.account.publicKey, Buffer.from(parts[2]!, 'base64url'));
    if (!valid) return reject('Invalid JWT Signature.');
    if (claims.iss !== this.#o.account.email) return reject('Invalid email or User ID');
    if (claims.aud !== TOKEN_URL) return reject('Invalid JWT: Failed audience check.');
    const now = Math.floor(this.#o.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (!Number.isInteger(iat) || !Number.isInteger(exp) || iat > now + 60 || exp <= now || exp - iat > 3600) {
      return reject('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
    }
    const scopes = String(claims.scope ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0) return json(400, { error: 'invalid_scope', error_description: 'Empty or missing scope not allowed.' });
    const lifetime = this.#o.tokenLifetimeS ?? 3599;
    const accessToken = `ya29.sim-${(this.#seq += 1)}`;
    this.#tokens.set(accessToken, { expiresAt: this.#o.now() + lifetime * 1000, scopes });
    return json(200, { access_token: accessToken, expires_in: lifetime, token_type: 'Bearer' });
  }

  #insert(body: unknown): HttpResponse {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid('Invalid JSON payload received.');
    const fields = body as Record<string, unknown>;
    const name = String(fields.name ?? '');
    const busy = this.#beforeWrite('POST', name, body);
    if (this.#forbidden.has('insert')) return forbidden('compute.firewalls.create', this.#ref(name));
    if (busy) return busy;
    if (this.#firewalls.has(name) || this.#pendingFor(name) !== undefined) return googleError(409, 'alreadyExists', `The resource '${this.#ref(name)}' already exists`);
    const materialised = this.#materialise(fields);
    if (typeof materialised === 'string') return materialised.startsWith('404:') ? notFound(materialised.slice(4)) : invalid(materialised);
    if (materialised.direction === 'INGRESS' && noSources(fields)) this.counters.defaultedToAnySource += 1;
    return this.#schedule('insert', name, materialised.id, () => {
      this.#firewalls.set(name, materialised);
    });
  }

  #patch(name: string, body: unknown): HttpResponse {
    const busy = this.#beforeWrite('PATCH', name, body);
    if (this.#forbidden.has('patch')) return forbidden('compute.firewalls.update', this.#ref(name));
    if (busy) return busy;
    const current = this.#firewalls.get(name);
    if (!current) return notFound(this.#ref(name));
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid('Invalid JSON payload received.');
    const patch = body as Record<string, unknown>;
    for (const field of ['name', 'network', 'direction'] as const) {
      if (field in patch && patch[field] !== null) {
        const same = field === 'network' ? lastSegment(String(patch[field])) === lastSegment(current.network) : patch[field] === current[field];
        if (!same) return invalid(`Invalid value for field 'resource.${field}': '${String(patch[field])}'. The ${field} of a firewall rule cannot be changed.`);
      }
    }
    const merged: Record<string, unknown> = { ...current };
    for (const [key, value] of Object.entries(patch)) {
      if (OUTPUT_ONLY.has(key)) continue;
      if (!WRITABLE.has(key)) return invalid(`Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    const materialised = this.#materialise(merged, current);
    if (typeof materialised === 'string') return materialised.startsWith('404:') ? notFound(materialised.slice(4)) : invalid(materialised);
    if (JSON.stringify(materialised) === JSON.stringify(current)) {
      this.counters.unneededWrites += 1;
      this.violations.push(`PATCH ${name} changed nothing`);
    }
    return this.#schedule('patch', name, current.id, () => {
      if (this.#firewalls.has(name)) this.#firewalls.set(name, { ...materialised, id: this.#firewalls.get(name)!.id });
    });
  }

  #delete(name: string): HttpResponse {
    const busy = this.#beforeWrite('DELETE', name, undefined);
    if (this.#forbidden.has('delete')) return forbidden('compute.firewalls.delete', this.#ref(name));
    if (busy) return busy;
    const current = this.#firewalls.get(name);
    if (!current) return notFound(this.#ref(name));
    return this.#schedule('delete', name, current.id, () => {
      this.#firewalls.delete(name);
    });
  }

  /** Counts what a careful client must not do before a write; a write on a busy rule is refused. */
  #beforeWrite(method: string, name: string, body: unknown): HttpResponse | undefined {
    this.counters.writes += 1;
    this.writeLog.push({ method, rule: name, body: clone(body ?? null), at: this.#o.now() });
    if (!name.startsWith(this.#prefix)) {
      this.counters.foreignWrites += 1;
      this.violations.push(`${method} of ${name}, which is not the relay's`);
    }
    const running = this.pendingOperations();
    if (running.length > 0) {
      this.counters.writesWhilePending += 1;
      this.violations.push(`${method} ${name} while operation ${running.join(', ')} was not DONE`);
    }
    if (this.#pendingFor(name) !== undefined) {
      this.counters.writesOnBusyRule += 1;
      return googleError(400, 'resourceNotReady', `The resource '${this.#ref(name)}' is not ready`);
    }
    return undefined;
  }

  #pendingFor(name: string): SimOperation | undefined {
    return [...this.#operations.values()].find((op) => op.target === name && this.#status(op) !== 'DONE');
  }

  #schedule(type: SimOperation['operationType'], name: string, targetId: string, apply: () => void): HttpResponse {
    const now = this.#o.now();
    const id = String((this.#seq += 1));
    const op: SimOperation = {
      id,
      name: `operation-${now}-${id}`,
      operationType: type,
      target: name,
      targetId,
      insertTime: new Date(now).toISOString(),
      runningAt: now + (this.#o.pendingMs ?? 0),
      doneAt: now + (this.#o.pendingMs ?? 0) + (this.#o.runningMs ?? 0),
      apply,
      applied: false,
    };
    this.#operations.set(op.name, op);
    this.#settle();
    return json(200, this.#operationJson(op));
  }

  /** Applies every operation whose time has come, in order. */
  #settle(): void {
    for (const op of this.#operations.values()) {
      if (op.applied || this.#o.now() < op.doneAt) continue;
      op.apply();
      op.applied = true;
      const rule = this.#firewalls.get(op.target);
      if (rule && !rule.disabled && rule.direction === 'INGRESS' && noSources(rule as unknown as Record<string, unknown>)) {
        this.counters.enabledWithoutSources += 1;
        this.violations.push(`rule ${rule.name} is enabled without sources, which admits or denies every source`);
      }
    }
  }

  #status(op: SimOperation): 'PENDING' | 'RUNNING' | 'DONE' {
    const now = this.#o.now();
    if (now >= op.doneAt) return 'DONE';
    return now >= op.runningAt ? 'RUNNING' : 'PENDING';
  }

  #operationJson(op: SimOperation): Record<string, unknown> {
    const status = this.#status(op);
    return {
      kind: 'compute#operation',
      id: op.id,
      name: op.name,
      operationType: op.operationType,
      targetLink: `${SELF_LINK_BASE}/${this.#ref(op.target)}`,
      targetId: op.targetId,
      status,
      user: this.#o.account.email,
      progress: status === 'DONE' ? 100 : 0,
      insertTime: op.insertTime,
      ...(status !== 'PENDING' ? { startTime: new Date(op.runningAt).toISOString() } : {}),
      ...(status === 'DONE' ? { endTime: new Date(op.doneAt).toISOString() } : {}),
      selfLink: `${SELF_LINK_BASE}/projects/${this.project}/global/operations/${op.name}`,
    };
  }

  #ref(name: string): string {
    return `projects/${this.project}/global/firewalls/${name}`;
  }

  /** A validated resource from writable fields, or the 400 message ('404:' prefix for a missing network). */
  #materialise(fields: Record<string, unknown>, current?: SimFirewall): SimFirewall | string {
    for (const key of Object.keys(fields)) {
      if (!WRITABLE.has(key) && !OUTPUT_ONLY.has(key)) return `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`;
    }
    const name = String(fields.name ?? '');
    if (!NAME.test(name)) return `Invalid value for field 'resource.name': '${name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`;
    const networkText = String(fields.network ?? 'global/networks/default');
    const network = lastSegment(networkText);
    const projectOf = /projects\/([^/]+)\/global\/networks\//.exec(networkText)?.[1] ?? this.project;
    if (projectOf !== this.project || !this.#networks.has(network)) return `404:projects/${projectOf}/global/networks/${network}`;
    const direction = String(fields.direction ?? 'INGRESS');
    if (direction !== 'INGRESS' && direction !== 'EGRESS') return `Invalid value for field 'resource.direction': '${direction}'.`;
    const priority = fields.priority === undefined ? 1000 : Number(fields.priority);
    if (!Number.isInteger(priority) || priority < 0 || priority > 65535) return `Invalid value for field 'resource.priority': '${String(fields.priority)}'. Must be between 0 and 65535.`;
    const allowed = fields.allowed as SimProtocol[] | undefined;
    const denied = fields.denied as SimProtocol[] | undefined;
    const hasAllowed = Array.isArray(allowed) && allowed.length > 0;
    const hasDenied = Array.isArray(denied) && denied.length > 0;
    if (hasAllowed === hasDenied) return 'Exactly one of allowed or denied must be specified.';
    for (const entry of (hasAllowed ? allowed : denied)!) {
      const protocol = String(entry.IPProtocol ?? '').toLowerCase();
      if (!PROTOCOLS.has(protocol) && !(/^\d{1,3}$/.test(protocol) && Number(protocol) <= 255)) return `Invalid value for field 'resource.${hasAllowed ? 'allowed' : 'denied'}[0].IPProtocol': '${protocol}'.`;
      for (const port of entry.ports ?? []) {
        const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(port);
        if (!PORTED.has(protocol) || !m || Number(m[1]) > 65535 || Number(m[2] ?? m[1]) > 65535 || Number(m[1]) > Number(m[2] ?? m[1])) {
          return `Invalid value for field 'resource.${hasAllowed ? 'allowed' : 'denied'}[0].ports': '${port}'.`;
        }
      }
    }
    const lists: Record<string, string[] | undefined> = {};
    for (const key of ['sourceRanges', 'destinationRanges', 'sourceTags', 'targetTags', 'sourceServiceAccounts', 'targetServiceAccounts']) {
      const value = fields[key];
      if (value === undefined) continue;
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) return `Invalid value for field 'resource.${key}'.`;
      if (value.length > 0) lists[key] = [...(value as string[])];
    }
    for (const key of ['sourceRanges', 'destinationRanges']) {
      const ranges = lists[key] ?? [];
      if (ranges.length > MAX_RANGES) return `Invalid value for field 'resource.${key}': too many ranges (${ranges.length}); at most ${MAX_RANGES} per rule.`;
      const families = new Set<number>();
      for (const range of ranges) {
        const parsed = parseCidr(range);
        if (!parsed.ok) return `Invalid value for field 'resource.${key}': '${range}'. Must be a CIDR range.`;
        families.add(parsed.cidr.family);
      }
      if (families.size > 1) return `Invalid value for field 'resource.${key}': a firewall rule cannot contain both IPv4 and IPv6 ranges.`;
    }
    if (direction === 'INGRESS' && !lists.sourceRanges && !lists.sourceTags && !lists.sourceServiceAccounts && current === undefined) {
      lists.sourceRanges = ['0.0.0.0/0'];
    }
    const id = current?.id ?? String((this.#seq += 1) * 7919);
    const stored: SimFirewall = {
      kind: 'compute#firewall',
      id,
      creationTimestamp: current?.creationTimestamp ?? new Date(this.#o.now()).toISOString(),
      name,
      description: String(fields.description ?? ''),
      network: `${SELF_LINK_BASE}/projects/${this.project}/global/networks/${network}`,
      priority,
      ...Object.fromEntries(Object.entries(lists).map(([key, value]) => [key, value])),
      ...(hasAllowed ? { allowed: clone(allowed!) } : { denied: clone(denied!) }),
      direction,
      logConfig: { enable: Boolean((fields.logConfig as { enable?: boolean } | undefined)?.enable) },
      disabled: Boolean(fields.disabled),
      selfLink: `${SELF_LINK_BASE}/${this.#ref(name)}`,
    } as SimFirewall;
    return stored;
  }
}

function noSources(rule: Record<string, unknown>): boolean {
  const empty = (key: string) => !Array.isArray(rule[key]) || (rule[key] as unknown[]).length === 0;
  return empty('sourceRanges') && empty('sourceTags') && empty('sourceServiceAccounts');
}

function sourceMatches(rule: SimFirewall, address: IpAddress): boolean {
  // Google: an INGRESS rule without sources applies to every source (0.0.0.0/0).
  if (noSources(rule as unknown as Record<string, unknown>)) return true;
  return (rule.sourceRanges ?? []).some((range) => {
    const parsed = parseCidr(range, { hostBits: 'clear' });
    return parsed.ok && parsed.cidr.family === address.family && cidrContains(parsed.cidr, address);
  });
}

function protocolMatches(entry: SimProtocol, packet: Packet, family: 4 | 6): boolean {
  const protocol = entry.IPProtocol.toLowerCase();
  const number = { tcp: '6', udp: '17', icmp: family === 4 ? '1' : '58' }[packet.protocol];
  const name = packet.protocol === 'icmp' && family === 6 ? '58' : packet.protocol;
  if (protocol !== 'all' && protocol !== name && protocol !== number) return false;
  if (entry.ports === undefined || entry.ports.length === 0 || packet.port === undefined) return true;
  return entry.ports.some((spec) => {
    const [low, high] = spec.split('-').map(Number);
    return packet.port! >= low! && packet.port! <= (high ?? low)!;
  });
}

function lastSegment(value: string): string {
  const parts = value.split('/');
  return parts[parts.length - 1] ?? value;
}

function bodyOf(request: HttpRequest): unknown {
  const text = typeof request.body === 'string' ? request.body : Buffer.from(request.body ?? new Uint8Array()).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=UTF-8', ...headers }, body: new TextEncoder().encode(JSON.stringify(body)) };
}

export function googleError(code: number, reason: string, message: string, status?: string): HttpResponse {
  return json(code, { error: { code, message, errors: [{ message, domain: 'global', reason }], ...(status ? { status } : {}) } });
}

function notFound(ref: string): HttpResponse {
  return googleError(404, 'notFound', `The resource '${ref}' was not found`, 'NOT_FOUND');
}

function invalid(message: string): HttpResponse {
  return googleError(400, 'invalid', message, 'INVALID_ARGUMENT');
}

function forbidden(permission: string, ref: string): HttpResponse {
  return googleError(403, 'forbidden', `Required '${permission}' permission for '${ref}'`, 'PERMISSION_DENIED');
}

/** Canonical text of a range, for test assertions. */
export function canonical(range: string): string {
  const parsed = parseCidr(range, { hostBits: 'clear' });
  return parsed.ok ? formatCidr(parsed.cidr) : range;
}
