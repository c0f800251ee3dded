/**
 * Azure simulator: the Entra ID client-credentials token endpoint and the
 * Azure Resource Manager network security group API (Microsoft.Network,
 * api-version 2024-05-01), written from Microsoft's documentation:
 * azure-rest-api-specs `networkSecurityGroup.json` (paths, SecurityRule
 * schema, long-running-operation options), the examples
 * `NetworkSecurityGroupGet.json` (default rules), "Track asynchronous Azure
 * operations" (learn.microsoft.com, Azure-AsyncOperation/Location/
 * Retry-After and the status body), the NSG overview (names, priorities,
 * evaluation order) and the networking limits table.
 *
 * What it models:
 * - Token endpoint `POST {login}/{tenant}/oauth2/v2.0/token` (form body):
 *   unknown tenant → 400 invalid_request AADSTS90002; unknown client → 400
 *   unauthorized_client AADSTS700016; wrong secret → 401 invalid_client
 *   AADSTS7000215; other scope → 400 invalid_scope AADSTS70011 (statuses
 *   UNVERIFIED beyond the error codes). Success: `{token_type, expires_in,
 *   ext_expires_in, access_token}`; tokens expire on the injectable clock.
 * - ARM auth: no/unknown token → 401 InvalidAuthenticationToken, expired →
 *   401 ExpiredAuthenticationToken; an action the application's role lacks →
 *   403 AuthorizationFailed naming the action and scope.
 * - One NSG with its own rules (insertion order), the six default rules
 *   (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound 65001,
 *   DenyAllInBound 65500 and the three Outbound ones), references to
 *   attached NICs/subnets, `provisioningState`, and one etag shared by the
 *   NSG and every rule in it, renewed on every write (as public API
 *   captures show; not stated in the docs: UNVERIFIED).
 * - PUT of a rule validates the SecurityRulePropertiesFormat (required
 *   access/direction/priority/protocol; priority 100–4096, unique per
 *   direction → 400 SecurityRuleConflict (UNVERIFIED code); one of
 *   sourceAddressPrefix/-es; no mixed IPv4/IPv6 prefixes → 400
 *   ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies; ports;
 *   4,000 source prefixes per NSG and 1,000 rules per NSG (UNVERIFIED
 *   codes)), answers 201/200 with the rule `Updating` and an
 *   `Azure-AsyncOperation` URL (+ Retry-After), and applies it
 *   `operationDelayMs` later. DELETE answers 202 with Location (and
 *   Azure-AsyncOperation), 204 when the rule does not exist. A delay of 0
 *   finishes the operation before answering (200/201 `Succeeded`, DELETE
 *   200).
 * - If-Match: a mismatch → 412 PreconditionFailed (UNVERIFIED for child
 *   rules: the spec lists no If-Match parameter; kubernetes' Azure cloud
 *   provider sends it on NSG writes).
 * - A write to the NSG while one of its operations runs → 429
 *   AnotherOperationInProgress with Retry-After (status UNVERIFIED; the
 *   code and message are Azure's).
 * - Throttling: `throttleNext(n, seconds)` and an optional write budget per
 *   window → 429 SubscriptionRequestsThrottled with Retry-After.
 * - Semantics: `admit(packet)` evaluates the effective Inbound rules
 *   (custom and default) by priority, first match wins, with the service
 *   tags VirtualNetwork, AzureLoadBalancer (168.63.129.16) and Internet.
 *
 * What a careful client must not do is counted in `counters` (tests assert
 * zero): writes to a rule not named like the relay's, writes to an existing
 * rule without If-Match, writes while an operation runs, priority clashes,
 * PUTs that drop fields the rule had, PUTs that change nothing.
 */
import { formatAddress, parseAddress } from '../../../lib/ip/address.ts';
import { cidrContains, parseCidr } from '../../../lib/ip/cidr.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const ARM = 'https://management.azure.com';
export const LOGIN = 'https://login.microsoftonline.com';
export const TENANT = '9d2b6c1e-4f3a-4b8e-9c7d-2a1f0e3b5c6d';
export const CLIENT_ID = '3f8a1c2e-7b4d-4e9a-8c1f-5d6e7f8a9b0c';
export const CLIENT_SECRET = 'sim~Q8.secret-value_0123456789abcdefghij';
export const SUBSCRIPTION = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
export const RESOURCE_GROUP = 'rg-web';
export const NSG_NAME = 'nsg-web';
export const LOCATION = 'westeurope';
export const API_VERSION = '2024-05-01';
export const ARM_SCOPE = 'https://management.azure.com/.default';
/** Azure's health-probe source (the AzureLoadBalancer tag). */
export const AZURE_LB_ADDRESS = '168.63.129.16';

export const PERMISSIONS = [
  'Microsoft.Network/networkSecurityGroups/read',
  'Microsoft.Network/networkSecurityGroups/securityRules/read',
  'Microsoft.Network/networkSecurityGroups/securityRules/write',
  'Microsoft.Network/networkSecurityGroups/securityRules/delete',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** A rule's properties as the relay or an operator writes them. */
export interface SimRuleProperties {
  description?: string;
  protocol: string;
  sourcePortRange?: string;
  sourcePortRanges?: string[];
  destinationPortRange?: string;
  destinationPortRanges?: string[];
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  destinationAddressPrefix?: string;
  destinationAddressPrefixes?: string[];
  access: 'Allow' | 'Deny';
  priority: number;
  direction: 'Inbound' | 'Outbound';
}

interface StoredRule {
  name: string;
  properties: SimRuleProperties;
  provisioningState: 'Succeeded' | 'Updating' | 'Deleting' | 'Failed';
  /** What packets see: the content once applied (undefined until the first apply). */
  effective: SimRuleProperties | undefined;
}

interface Operation {
  id: string;
  kind: 'put' | 'delete';
  rule: string;
  finishAt: number;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  failure?: { code: string; message: string };
}

export interface SimCounters {
  requests: number;
  tokenRequests: number;
  gets: number;
  puts: number;
  deletes: number;
  polls: number;
  /** PUT/DELETE of a rule whose name is not the relay's. */
  foreignWrites: number;
  /** PUT/DELETE of an existing rule without If-Match. */
  writesWithoutIfMatch: number;
  /** Writes sent while an operation on the NSG was still running. */
  writesWhileOperationPending: number;
  /** PUTs refused for a priority another rule of the same direction has. */
  priorityClashes: number;
  /** PUTs that replaced a rule without a field it had (a PUT replaces the whole rule). */
  droppedFields: number;
  /** PUTs that changed nothing. */
  unneededWrites: number;
  preconditionFailures: number;
  throttled: number;
  authFailures: number;
  /** Requests with an api-version other than 2024-05-01. */
  otherApiVersions: number;
}

export interface SimRequest {
  method: string;
  path: string;
  ifMatch?: string;
  body?: unknown;
  at: number;
}

export interface AzureSimulatorOptions {
  now: () => number;
  /** How long Azure takes to apply a write (0: done before the answer). */
  operationDelayMs?: number;
  /** Retry-After (seconds) on accepted writes and running operations; the network RP sends 10. */
  retryAfterSeconds?: number;
  /** Names the relay may write start with this. */
  relayPrefix?: string;
  tokenLifetimeSeconds?: number;
  /** The virtual network's address space (the VirtualNetwork tag). */
  vnet?: string[];
  /** DELETE answers with Location only (no Azure-AsyncOperation). */
  deleteLocationOnly?: boolean;
  /** Writes allowed per window before 429 (undefined: no limit). */
  writeLimit?: { max: number; windowMs: number };
}

/** A packet as admit() sees it. */
export interface SimPacket {
  source: string;
  protocol: 'tcp' | 'udp' | 'icmp';
  port?: number;
}

const DEFAULT_RULES: { name: string; properties: SimRuleProperties }[] = [
  { name: 'AllowVnetInBound', properties: { description: 'Allow inbound traffic from all VMs in VNET', protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefix: 'VirtualNetwork', destinationAddressPrefix: 'VirtualNetwork', access: 'Allow', priority: 65000, direction: 'Inbound' } },
  { name: 'AllowAzureLoadBalancerInBound', properties: { description: 'Allow inbound traffic from azure load balancer', protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefix: 'AzureLoadBalancer', destinationAddressPrefix: '*', access: 'Allow', priority: 65001, direction: 'Inbound' } },
  { name: 'DenyAllInBound', properties: { description: 'Deny all inbound traffic', protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Deny', priority: 65500, direction: 'Inbound' } },
  { name: 'AllowVnetOutBound', properties: { description: 'Allow outbound traffic from all VMs to all VMs in VNET', protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefix: 'VirtualNetwork', destinationAddressPrefix: 'VirtualNetwork', access: 'Allow', priority: 65000, direction: 'Outbound' } },
  { name: 'AllowInternetOutBound', properties: { description: 'Allow outbound traffic from all VMs to Internet', protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefix: '*', destinationAddressPrefix: 'Internet', access: 'Allow', priority: 65001, direction: 'Outbound' } },
  { name: 'DenyAllOutBound', properties: { description: 'Deny all outbound traffic', protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Deny', priority: 65500, direction: 'Outbound' } },
];

const PROTOCOLS = ['Tcp', 'Udp', 'Icmp', 'Esp', 'Ah', '*'];
const TAGS = ['*', 'VirtualNetwork', 'AzureLoadBalancer', 'Internet'];
const RULE_NAME = /^\w(?:[\w.-]{0,78}\w)?$/;
const LIST_FIELDS = ['sourcePortRanges', 'destinationPortRanges', 'sourceAddressPrefixes', 'destinationAddressPrefixes'] as const;

class SimError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export class AzureArmSimulator {
  readonly transport: Transport;
  readonly counters: SimCounters = {
    requests: 0,
    tokenRequests: 0,
    gets: 0,
    puts: 0,
    deletes: 0,
    polls: 0,
    foreignWrites: 0,
    writesWithoutIfMatch: 0,
    writesWhileOperationPending: 0,
    priorityClashes: 0,
    droppedFields: 0,
    unneededWrites: 0,
    preconditionFailures: 0,
    throttled: 0,
    authFailures: 0,
    otherApiVersions: 0,
  };
  readonly requests: SimRequest[] = [];
  readonly permissions = new Set<Permission>(PERMISSIONS);
  /** Client secrets the application accepts. */
  readonly secrets = new Set<string>([CLIENT_SECRET]);

  readonly #o: Required<Omit<AzureSimulatorOptions, 'writeLimit'>> & Pick<AzureSimulatorOptions, 'writeLimit'>;
  readonly #rules = new Map<string, StoredRule>();
  readonly #operations = new Map<string, Operation>();
  readonly #tokens = new Map<string, number>();
  #etagSeq = 0;
  #etag: string;
  #opSeq = 0;
  #tokenSeq = 0;
  #throttle: { count: number; retryAfterSeconds: number } | undefined;
  #foreignUntil = 0;
  #failNext: { code: string; message: string } | undefined;
  #writes: number[] = [];
  nics: string[] = [];
  subnets: string[] = [];

  constructor(options: AzureSimulatorOptions) {
    this.#o = {
      operationDelayMs: 0,
      retryAfterSeconds: 10,
      relayPrefix: 'flowtriq-relay-',
      tokenLifetimeSeconds: 3599,
      vnet: ['10.0.0.0/16'],
      deleteLocationOnly: false,
      ...options,
    };
    this.#etag = this.#nextEtag();
    this.transport = { request: async (request: HttpRequest) => this.handle(request) };
  }

  // ---- test controls -------------------------------------------------------

  /** An operator's rule (or any rule), as if created long ago: applied, not counted. */
  addRule(name: string, properties: SimRuleProperties): void {
    this.#rules.set(name, { name, properties: normalize(properties), provisioningState: 'Succeeded', effective: normalize(properties) });
    this.#etag = this.#nextEtag();
  }

  /** Someone edits a rule behind the relay's back (portal, CLI): applied at once, new etag. */
  editRule(name: string, patch: Partial<SimRuleProperties>): void {
    const rule = this.#rules.get(name);
    if (!rule) throw new Error(`no rule ${name}`);
    rule.properties = normalize({ ...rule.properties, ...patch });
    rule.effective = rule.properties;
    this.#etag = this.#nextEtag();
  }

  /** Someone deletes a rule by hand. */
  removeRule(name: string): void {
    this.#rules.delete(name);
    this.#etag = this.#nextEtag();
  }

  /** Someone else's change to the NSG is being applied for `durationMs` (the NSG shows Updating). */
  startForeignOperation(durationMs: number): void {
    this.#foreignUntil = this.#o.now() + durationMs;
  }

  /** The next `count` ARM requests are answered 429 with this Retry-After. */
  throttleNext(count: number, retryAfterSeconds: number): void {
    this.#throttle = { count, retryAfterSeconds };
  }

  /** The next long-running operation ends Failed with this error (the rule shows provisioningState Failed). */
  failNextOperation(code: string, message: string): void {
    this.#failNext = { code, message };
  }

  /** Every token issued so far expires now. */
  expireTokens(): void {
    for (const token of this.#tokens.keys()) this.#tokens.set(token, this.#o.now() - 1);
  }

  attach(nics: string[], subnets: string[]): void {
    this.nics = nics;
    this.subnets = subnets;
  }

  // ---- reads for tests -----------------------------------------------------

  /** The NSG as GET reports it. */
  nsgJson(): Record<string, unknown> {
    this.#tick();
    const base = this.#nsgId();
    return {
      name: NSG_NAME,
      id: base,
      etag: this.#etag,
      type: 'Microsoft.Network/networkSecurityGroups',
      location: LOCATION,
      properties: {
        provisioningState: this.#busy() ? 'Updating' : 'Succeeded',
        resourceGuid: 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e',
        securityRules: [...this.#rules.values()].map((rule) => this.#ruleJson(rule)),
        defaultSecurityRules: DEFAULT_RULES.map((rule) => ({
          name: rule.name,
          id: `${base}/defaultSecurityRules/${rule.name}`,
          etag: this.#etag,
          type: 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules',
          properties: { provisioningState: 'Succeeded', ...normalize(rule.properties) },
        })),
        networkInterfaces: this.nics.map((nic) => ({ id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Network/networkInterfaces/${nic}` })),
        subnets: this.subnets.map((subnet) => ({ id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/vnet-web/subnets/${subnet}` })),
      },
    };
  }

  /** The whole account state for field-for-field comparison: the NSG without its etags (renewed on any write). */
  account(): unknown {
    return stripEtags(this.nsgJson());
  }

  /** A rule as GET reports it, or undefined. */
  rule(name: string): Record<string, unknown> | undefined {
    this.#tick();
    const rule = this.#rules.get(name);
    return rule ? this.#ruleJson(rule) : undefined;
  }

  ruleNames(): string[] {
    this.#tick();
    return [...this.#rules.keys()];
  }

  get etag(): string {
    this.#tick();
    return this.#etag;
  }

  /** Would this inbound packet be admitted? Effective rules, lowest priority number first, first match wins. */
  admit(packet: SimPacket): boolean {
    this.#tick();
    const candidates = [
      ...[...this.#rules.values()].flatMap((rule) => (rule.effective ? [rule.effective] : [])),
      ...DEFAULT_RULES.map((rule) => rule.properties),
    ]
      .filter((rule) => rule.direction === 'Inbound')
      .sort((a, b) => a.priority - b.priority);
    for (const rule of candidates) {
      if (this.#matches(rule, packet)) return rule.access === 'Allow';
    }
    return false;
  }

  // ---- HTTP ----------------------------------------------------------------

  handle(request: HttpRequest): HttpResponse {
    this.counters.requests += 1;
    this.#tick();
    const url = new URL(request.url);
    const body = request.body === undefined ? '' : typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
    const headers = lower(request.headers ?? {});
    try {
      if (url.origin === LOGIN) return this.#token(request.method, url, body, headers);
      if (url.origin !== ARM) throw new SimError(404, 'NotFound', `unknown host ${url.host}`);
      return this.#arm(request.method, url, body, headers);
    } catch (error) {
      if (error instanceof SimError) {
        return json(error.status, { error: { code: error.code, message: error.message, details: [] } }, error.headers);
      }
      throw error;
    }
  }

  #token(method: string, url: URL, body: string, headers: Record<string, string>): HttpResponse {
    this.counters.tokenRequests += 1;
    const match = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (method !== 'POST' || !match) return json(404, { error: 'not_found' });
    const aad = (status: number, error: string, code: number, description: string) =>
      json(status, { error, error_description: `AADSTS${code}: ${description} Trace ID: 0000 Correlation ID: 0000 Timestamp: 2026-01-01 00:00:00Z`, error_codes: [code], timestamp: '2026-01-01 00:00:00Z', trace_id: '0000', correlation_id: '0000' });
    if (!(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return aad(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    const form = new URLSearchParams(body);
    if (decodeURIComponent(match[1]!) !== TENANT) return aad(400, 'invalid_request', 90002, `Tenant '${match[1]}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') return aad(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    if (form.get('client_id') !== CLIENT_ID) return aad(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory.`);
    if (!this.secrets.has(form.get('client_secret') ?? '')) {
      this.counters.authFailures += 1;
      return aad(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    }
    if (form.get('scope') !== ARM_SCOPE) return aad(400, 'invalid_scope', 70011, 'The provided request must include a \'scope\' input parameter.');
    this.#tokenSeq += 1;
    const token = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.sim-${this.#tokenSeq}.sig`;
    this.#tokens.set(token, this.#o.now() + this.#o.tokenLifetimeSeconds * 1000);
    return json(200, { token_type: 'Bearer', expires_in: this.#o.tokenLifetimeSeconds, ext_expires_in: this.#o.tokenLifetimeSeconds, access_token: token });
  }

  #arm(method: string, url: URL, body: string, headers: Record<string, string>): HttpResponse {
    this.#authenticate(headers);
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion === null) throw new SimError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    if (apiVersion !== API_VERSION) this.counters.otherApiVersions += 1;
    if (this.#throttle && this.#throttle.count > 0) {
      this.#throttle.count -= 1;
      this.counters.throttled += 1;
      throw new SimError(429, 'SubscriptionRequestsThrottled', 'Number of requests for subscription exceeded the limit.', { 'retry-after': String(this.#throttle.retryAfterSeconds) });
    }
    const path = decodeURIComponent(url.pathname);
    const opMatch = new RegExp(`^/subscriptions/${SUBSCRIPTION}/providers/Microsoft\\.Network/locations/${LOCATION}/(operations|operationResults)/([^/]+)$`).exec(path);
    if (opMatch && method === 'GET') return this.#poll(opMatch[1] as 'operations' | 'operationResults', opMatch[2]!);
    const match = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityGroups\/([^/]+)(?:\/securityRules(?:\/([^/]+))?)?$/i.exec(path);
    if (!match) throw new SimError(404, 'InvalidResourceType', `The resource type could not be found for ${path}.`);
    const [, sub, rg, nsg, ruleName] = match;
    const listing = ruleName === undefined && path.endsWith('/securityRules');
    if (sub !== SUBSCRIPTION) throw new SimError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
    if (rg!.toLowerCase() !== RESOURCE_GROUP.toLowerCase()) throw new SimError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    if (nsg!.toLowerCase() !== NSG_NAME.toLowerCase()) {
      throw new SimError(404, 'ResourceNotFound', `The Resource 'Microsoft.Network/networkSecurityGroups/${nsg}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
    }
    const scope = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Network/networkSecurityGroups/${NSG_NAME}`;
    if (ruleName === undefined && !listing) {
      if (method !== 'GET') throw new SimError(405, 'MethodNotAllowed', 'Only GET of the NSG is simulated.');
      this.#authorize('Microsoft.Network/networkSecurityGroups/read', scope);
      this.counters.gets += 1;
      this.requests.push({ method, path, at: this.#o.now() });
      return json(200, this.nsgJson());
    }
    if (listing) {
      this.#authorize('Microsoft.Network/networkSecurityGroups/securityRules/read', scope);
      this.counters.gets += 1;
      return json(200, { value: [...this.#rules.values()].map((rule) => this.#ruleJson(rule)) });
    }
    const name = ruleName!;
    const ifMatch = headers['if-match'];
    const record = (parsed?: unknown) => this.requests.push({ method, path, at: this.#o.now(), ...(ifMatch !== undefined ? { ifMatch } : {}), ...(parsed !== undefined ? { body: parsed } : {}) });
    switch (method) {
      case 'GET': {
        this.#authorize('Microsoft.Network/networkSecurityGroups/securityRules/read', `${scope}/securityRules/${name}`);
        this.counters.gets += 1;
        record();
        const rule = this.#rules.get(name);
        if (!rule) throw new SimError(404, 'NotFound', `Resource ${scope}/securityRules/${name} not found.`);
        return json(200, this.#ruleJson(rule));
      }
      case 'PUT': {
        this.#authorize('Microsoft.Network/networkSecurityGroups/securityRules/write', `${scope}/securityRules/${name}`);
        this.counters.puts += 1;
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          throw new SimError(400, 'InvalidRequestFormat', 'Cannot parse the request.');
        }
        record(parsed);
        return this.#put(name, parsed, ifMatch, scope);
      }
      case 'DELETE': {
        this.#authorize('Microsoft.Network/networkSecurityGroups/securityRules/delete', `${scope}/securityRules/${name}`);
        this.counters.deletes += 1;
        record();
        return this.#delete(name, ifMatch);
      }
      default:
        throw new SimError(405, 'MethodNotAllowed', `${method} is not supported.`);
    }
  }

  #writeChecks(name: string, ifMatch: string | undefined, exists: boolean): void {
    if (!name.startsWith(this.#o.relayPrefix)) this.counters.foreignWrites += 1;
    if (exists && ifMatch === undefined) this.counters.writesWithoutIfMatch += 1;
    if (this.#busy()) {
      this.counters.writesWhileOperationPending += 1;
      const running = [...this.#operations.values()].find((op) => op.status === 'InProgress');
      throw new SimError(
        429,
        'AnotherOperationInProgress',
        `Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri: ${this.#operationUrl(running?.id ?? 'foreign')}.`,
        { 'retry-after': String(this.#o.retryAfterSeconds) },
      );
    }
    if (ifMatch !== undefined && ifMatch !== '*' && (ifMatch !== this.#etag || !exists)) {
      this.counters.preconditionFailures += 1;
      throw new SimError(412, 'PreconditionFailed', `Precondition failed: the If-Match etag ${ifMatch} does not match the resource's etag.`);
    }
    if (ifMatch === '*' && !exists) {
      this.counters.preconditionFailures += 1;
      throw new SimError(412, 'PreconditionFailed', 'Precondition failed: the resource does not exist.');
    }
    if (this.#o.writeLimit) {
      const now = this.#o.now();
      this.#writes = this.#writes.filter((at) => at > now - this.#o.writeLimit!.windowMs);
      if (this.#writes.length >= this.#o.writeLimit.max) {
        this.counters.throttled += 1;
        const wait = Math.ceil((this.#writes[0]! + this.#o.writeLimit.windowMs - now) / 1000);
        throw new SimError(429, 'SubscriptionRequestsThrottled', 'Number of write requests for subscription exceeded the limit.', { 'retry-after': String(Math.max(1, wait)) });
      }
      this.#writes.push(now);
    }
  }

  #put(name: string, parsed: unknown, ifMatch: string | undefined, scope: string): HttpResponse {
    if (!RULE_NAME.test(name)) throw new SimError(400, 'InvalidResourceName', `Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'.`);
    const existing = this.#rules.get(name);
    this.#writeChecks(name, ifMatch, existing !== undefined);
    const properties = validateRule(name, parsed, scope);
    const clash = [...this.#rules.values()].find((rule) => rule.name !== name && rule.properties.direction === properties.direction && rule.properties.priority === properties.priority);
    if (clash) {
      this.counters.priorityClashes += 1;
      throw new SimError(400, 'SecurityRuleConflict', `Security rule ${name} conflicts with rule ${clash.name}. Rules cannot have the same Priority and Direction.`);
    }
    const sources = [...this.#rules.values()].filter((rule) => rule.name !== name).reduce((sum, rule) => sum + prefixCount(rule.properties), 0) + prefixCount(properties);
    if (sources > 4000) throw new SimError(400, 'SecurityRuleParameterContainsTooManyPrefixes', `Network security group ${NSG_NAME} would have ${sources} source address prefixes; the limit is 4000.`); // UNVERIFIED code
    if (!existing && this.#rules.size >= 1000) throw new SimError(400, 'NetworkSecurityGroupRuleLimitReached', `Network security group ${NSG_NAME} has 1000 rules, the most allowed.`); // UNVERIFIED code
    if (existing) {
      for (const [field, value] of Object.entries(existing.properties)) {
        const present = Array.isArray(value) ? value.length > 0 : value !== undefined && value !== '';
        const next = (properties as unknown as Record<string, unknown>)[field];
        const kept = Array.isArray(next) ? next.length > 0 : next !== undefined && next !== '';
        const moved = (field === 'sourceAddressPrefix' && (properties.sourceAddressPrefixes?.length ?? 0) > 0) || (field === 'sourceAddressPrefixes' && properties.sourceAddressPrefix);
        if (present && !kept && !moved) {
          this.counters.droppedFields += 1;
          break;
        }
      }
      if (existing.provisioningState === 'Succeeded' && JSON.stringify(existing.properties) === JSON.stringify(properties)) this.counters.unneededWrites += 1;
    }
    const stored: StoredRule = { name, properties, provisioningState: 'Updating', effective: existing?.effective };
    this.#rules.set(name, stored);
    this.#etag = this.#nextEtag();
    const op = this.#start('put', name);
    const status = existing ? 200 : 201;
    this.#tick();
    return json(status, this.#ruleJson(stored), op.status !== 'Succeeded' ? { 'azure-asyncoperation': this.#operationUrl(op.id), 'retry-after': String(this.#o.retryAfterSeconds) } : { 'azure-asyncoperation': this.#operationUrl(op.id) });
  }

  #delete(name: string, ifMatch: string | undefined): HttpResponse {
    const existing = this.#rules.get(name);
    if (!existing && ifMatch === undefined) {
      if (!name.startsWith(this.#o.relayPrefix)) this.counters.foreignWrites += 1;
      return { status: 204, headers: {}, body: new Uint8Array() };
    }
    this.#writeChecks(name, ifMatch, existing !== undefined);
    existing!.provisioningState = 'Deleting';
    this.#etag = this.#nextEtag();
    const op = this.#start('delete', name);
    this.#tick();
    if (op.status === 'Succeeded') return { status: 200, headers: {}, body: new Uint8Array() };
    const headers: Record<string, string> = { location: this.#operationResultUrl(op.id), 'retry-after': String(this.#o.retryAfterSeconds) };
    if (!this.#o.deleteLocationOnly) headers['azure-asyncoperation'] = this.#operationUrl(op.id);
    return { status: 202, headers, body: new Uint8Array() };
  }

  #poll(kind: 'operations' | 'operationResults', id: string): HttpResponse {
    this.counters.polls += 1;
    const op = this.#operations.get(id);
    if (!op) throw new SimError(404, 'NotFound', `Operation ${id} not found.`);
    const running = op.status === 'InProgress';
    if (kind === 'operations') {
      const body = op.failure && op.status === 'Failed' ? { status: 'Failed', error: { code: op.failure.code, message: op.failure.message, details: [] } } : { status: op.status };
      return json(200, body, running ? { 'retry-after': String(this.#o.retryAfterSeconds) } : {});
    }
    if (op.status === 'Failed') throw new SimError(400, op.failure!.code, op.failure!.message);
    // Location: 202 while running, 204 when done (UNVERIFIED: the network RP may answer 200).
    if (running) return { status: 202, headers: { location: this.#operationResultUrl(id), 'retry-after': String(this.#o.retryAfterSeconds) }, body: new Uint8Array() };
    return { status: 204, headers: {}, body: new Uint8Array() };
  }

  #start(kind: 'put' | 'delete', rule: string): Operation {
    this.#opSeq += 1;
    const op: Operation = { id: `0f0e0d0c-0000-4000-8000-${String(this.#opSeq).padStart(12, '0')}`, kind, rule, finishAt: this.#o.now() + this.#o.operationDelayMs, status: 'InProgress' };
    if (this.#failNext) {
      op.failure = this.#failNext;
      this.#failNext = undefined;
    }
    this.#operations.set(op.id, op);
    return op;
  }

  /** Finishes operations whose time has come. */
  #tick(): void {
    const now = this.#o.now();
    for (const op of this.#operations.values()) {
      if (op.status !== 'InProgress' || op.finishAt > now) continue;
      const rule = this.#rules.get(op.rule);
      if (op.failure) {
        op.status = 'Failed';
        if (rule) rule.provisioningState = 'Failed';
        this.#etag = this.#nextEtag();
        continue;
      }
      op.status = 'Succeeded';
      if (op.kind === 'delete') this.#rules.delete(op.rule);
      else if (rule) {
        rule.provisioningState = 'Succeeded';
        rule.effective = rule.properties;
      }
      this.#etag = this.#nextEtag();
    }
  }

  #busy(): boolean {
    return this.#o.now() < this.#foreignUntil || [...this.#operations.values()].some((op) => op.status === 'InProgress');
  }

  #authenticate(headers: Record<string, string>): void {
    const header = headers['authorization'] ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : undefined;
    const expires = token === undefined ? undefined : this.#tokens.get(token);
    if (expires === undefined) {
      this.counters.authFailures += 1;
      throw new SimError(401, header ? 'InvalidAuthenticationToken' : 'AuthenticationFailed', header ? 'The access token is invalid.' : "Authentication failed. The 'Authorization' header is missing.", { 'www-authenticate': 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token"' });
    }
    if (expires <= this.#o.now()) {
      this.counters.authFailures += 1;
      throw new SimError(401, 'ExpiredAuthenticationToken', 'The access token expiry UTC time is earlier than current UTC time.', { 'www-authenticate': 'Bearer error="invalid_token", error_description="The access token has expired."' });
    }
  }

  #authorize(action: Permission, scope: string): void {
    if (this.permissions.has(action)) return;
    throw new SimError(
      403,
      'AuthorizationFailed',
      `The client '${CLIENT_ID}' with object id '${CLIENT_ID}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
  }

  #ruleJson(rule: StoredRule): Record<string, unknown> {
    return {
      name: rule.name,
      id: `${this.#nsgId()}/securityRules/${rule.name}`,
      etag: this.#etag,
      type: 'Microsoft.Network/networkSecurityGroups/securityRules',
      properties: { provisioningState: rule.provisioningState, ...rule.properties },
    };
  }

  #nsgId(): string {
    return `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Network/networkSecurityGroups/${NSG_NAME}`;
  }

  #operationUrl(id: string): string {
    return `${ARM}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Network/locations/${LOCATION}/operations/${id}?api-version=${API_VERSION}`;
  }

  #operationResultUrl(id: string): string {
    return `${ARM}/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Network/locations/${LOCATION}/operationResults/${id}?api-version=${API_VERSION}`;
  }

  #nextEtag(): string {
    this.#etagSeq += 1;
    return `W/"5296c4dd-d876-43ce-b2dc-${String(this.#etagSeq).padStart(12, '0')}"`;
  }

  #matches(rule: SimRuleProperties, packet: SimPacket): boolean {
    if (rule.protocol !== '*' && rule.protocol.toLowerCase() !== packet.protocol) return false;
    const sources = [...(rule.sourceAddressPrefixes ?? []), ...(rule.sourceAddressPrefix ? [rule.sourceAddressPrefix] : [])];
    if (!sources.some((prefix) => this.#inPrefix(prefix, packet.source))) return false;
    if (packet.protocol !== 'icmp') {
      const ports = [...(rule.destinationPortRanges ?? []), ...(rule.destinationPortRange ? [rule.destinationPortRange] : [])];
      if (!ports.some((range) => inRange(range, packet.port))) return false;
    }
    // Destination: the packet goes to a VM of the virtual network.
    const destinations = [...(rule.destinationAddressPrefixes ?? []), ...(rule.destinationAddressPrefix ? [rule.destinationAddressPrefix] : [])];
    return destinations.some((prefix) => prefix === '*' || prefix === 'VirtualNetwork');
  }

  #inPrefix(prefix: string, source: string): boolean {
    const address = parseAddress(source);
    if (!address.ok) return false;
    const inVnet = this.#o.vnet.some((range) => contains(range, source));
    switch (prefix) {
      case '*':
        return true;
      case 'VirtualNetwork':
        return inVnet;
      case 'AzureLoadBalancer':
        return formatAddress(address.address) === AZURE_LB_ADDRESS;
      case 'Internet':
        return !inVnet && formatAddress(address.address) !== AZURE_LB_ADDRESS;
      default:
        return contains(prefix, source);
    }
  }
}

function contains(prefix: string, source: string): boolean {
  const cidr = parseCidr(prefix, { hostBits: 'clear' });
  const address = parseAddress(source);
  return cidr.ok && address.ok && cidrContains(cidr.cidr, address.address);
}

function inRange(range: string, port: number | undefined): boolean {
  if (range === '*') return true;
  if (port === undefined) return false;
  const [low, high] = range.split('-').map(Number);
  return port >= low! && port <= (high ?? low)!;
}

function prefixCount(properties: SimRuleProperties): number {
  return (properties.sourceAddressPrefixes?.length ?? 0) + (properties.sourceAddressPrefix && !TAGS.includes(properties.sourceAddressPrefix) ? 1 : 0);
}

/** Properties as GET shows them: list fields present (empty when unset). */
function normalize(properties: SimRuleProperties): SimRuleProperties {
  const out: Record<string, unknown> = { ...properties };
  for (const field of LIST_FIELDS) if (out[field] === undefined) out[field] = [];
  return out as unknown as SimRuleProperties;
}

function validateRule(name: string, parsed: unknown, scope: string): SimRuleProperties {
  const id = `${scope}/securityRules/${name}`;
  const bad = (message: string, code = 'InvalidRequestFormat') => new SimError(400, code, message);
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { properties?: unknown }).properties !== 'object') throw bad('Cannot parse the request: properties is required.');
  const p = (parsed as { properties: Record<string, unknown> }).properties;
  for (const field of ['access', 'direction', 'priority', 'protocol']) {
    if (p[field] === undefined) throw bad(`Security rule ${id} is missing required property ${field}.`, 'SecurityRuleInvalidParameter'); // UNVERIFIED code
  }
  if (p.access !== 'Allow' && p.access !== 'Deny') throw bad(`Security rule ${id} has invalid access ${String(p.access)}.`, 'SecurityRuleInvalidAccess');
  if (p.direction !== 'Inbound' && p.direction !== 'Outbound') throw bad(`Security rule ${id} has invalid direction ${String(p.direction)}.`, 'SecurityRuleInvalidDirection');
  if (typeof p.priority !== 'number' || !Number.isInteger(p.priority) || p.priority < 100 || p.priority > 4096) {
    throw bad(`Security rule ${id} has invalid Priority. Value provided: ${String(p.priority)}. Allowed range 100-4096.`, 'SecurityRuleInvalidPriority');
  }
  if (typeof p.protocol !== 'string' || !PROTOCOLS.includes(p.protocol)) throw bad(`Security rule ${id} has invalid protocol ${String(p.protocol)}.`, 'SecurityRuleInvalidProtocol');
  const single = p.sourceAddressPrefix;
  const list = p.sourceAddressPrefixes;
  const hasSingle = typeof single === 'string' && single !== '';
  const hasList = Array.isArray(list) && list.length > 0;
  if (hasSingle === hasList) throw bad(`Security rule ${id} must specify exactly one of SourceAddressPrefix or SourceAddressPrefixes.`, 'SecurityRuleParameterContainsUnsupportedValue');
  if (hasList) {
    const families = new Set<number>();
    for (const value of list as unknown[]) {
      const cidr = typeof value === 'string' ? parseCidr(value) : { ok: false as const, reason: 'not a string' };
      if (!cidr.ok) throw bad(`Security rule parameter SourceAddressPrefixes for rule with Id ${id} contains an invalid value: ${String(value)}.`, 'SecurityRuleParameterContainsUnsupportedValue');
      families.add(cidr.cidr.family);
    }
    if (families.size > 1) {
      throw bad(`Resource ${id} contains IP addresses or prefixes that belong to different address families. All IP addresses or prefixes in the resource should belong to the same address family.`, 'ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies');
    }
  } else if (!TAGS.includes(single as string) && !parseCidr(single as string).ok) {
    throw bad(`Security rule parameter SourceAddressPrefix for rule with Id ${id} contains an invalid value: ${String(single)}.`, 'SecurityRuleParameterContainsUnsupportedValue');
  }
  for (const field of ['sourcePortRange', 'destinationPortRange']) {
    const range = p[field];
    const listField = `${field}s`;
    const ranges = p[listField];
    if ((range === undefined || range === '') && !(Array.isArray(ranges) && ranges.length > 0)) throw bad(`Security rule ${id} must specify ${field} or ${listField}.`, 'SecurityRuleParameterContainsUnsupportedValue');
    for (const value of [...(typeof range === 'string' && range !== '' ? [range] : []), ...(Array.isArray(ranges) ? ranges : [])]) {
      if (typeof value !== 'string' || !validPortRange(value)) throw bad(`Security rule ${id} has invalid port range ${String(value)}.`, 'SecurityRuleInvalidPortRange');
    }
  }
  if ((p.destinationAddressPrefix === undefined || p.destinationAddressPrefix === '') && !(Array.isArray(p.destinationAddressPrefixes) && p.destinationAddressPrefixes.length > 0)) {
    throw bad(`Security rule ${id} must specify DestinationAddressPrefix or DestinationAddressPrefixes.`, 'SecurityRuleParameterContainsUnsupportedValue');
  }
  if (p.description !== undefined && (typeof p.description !== 'string' || p.description.length > 140)) throw bad(`Security rule ${id} description is longer than 140 characters.`, 'SecurityRuleInvalidDescription');
  const { provisioningState: _ignored, ...rest } = p;
  return normalize(rest as unknown as SimRuleProperties);
}

function validPortRange(value: string): boolean {
  if (value === '*') return true;
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  if (!match) return false;
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  return low >= 0 && high <= 65535 && low <= high;
}

function stripEtags(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripEtags);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'etag').map(([key, inner]) => [key, stripEtags(inner)]));
  }
  return value;
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-ms-request-id': '00000000-0000-4000-8000-000000000000', ...headers },
    body: new TextEncoder().encode(JSON.stringify(body)),
  };
}
