/**
 * AWS simulator for the relay's Shield Advanced and WAFv2 IP-set providers:
 * the JSON 1.1 endpoints `https://shield.us-east-1.amazonaws.com/` and
 * `https://wafv2.<region>.amazonaws.com/`, written from the service models
 * (boto/botocore `shield/2016-06-02` and `wafv2/2019-07-29` service-2.json)
 * and the API reference (UpdateIPSet "completely replaces the mutable
 * specifications", LockToken/NextLockToken, WAFOptimisticLockException).
 *
 * What it models:
 * - POST / with `Content-Type: application/x-amz-json-1.1` and
 *   `X-Amz-Target: <prefix>.<Operation>`; anything else is rejected the way
 *   AWS does (UnknownOperationException, SerializationException).
 * - SigV4, verified independently of the relay's signer (node:crypto):
 *   unknown key → UnrecognizedClientException; wrong signature →
 *   InvalidSignatureException; scope (region/service) must match the host;
 *   host, x-amz-date, content-type and x-amz-target must be signed, the
 *   session token too for temporary credentials; X-Amz-Date more than 5
 *   minutes off the clock → InvalidSignatureException "Signature expired".
 * - IAM: `deny(action)` answers AccessDeniedException naming the action.
 * - Errors: HTTP 400 (client) / 500 (InternalError…), body
 *   `{"__type":"…","message":"…"}` and the `x-amzn-ErrorType` header.
 * - Shield: subscription ACTIVE/INACTIVE, protections with an optional
 *   ApplicationLayerAutomaticResponseConfiguration; Enable when enabled,
 *   Update/Disable when not enabled, Enable without a web ACL →
 *   InvalidOperationException.
 * - WAFv2 IP sets: a LockToken that changes on every write, a write with a
 *   stale token → WAFOptimisticLockException; more than 10,000 addresses →
 *   WAFLimitsExceededException; malformed/wrong-family/`/0` addresses →
 *   WAFInvalidParameterException; an update without Description clears it
 *   (as the real API does); more than 1 write per second per account and
 *   region → ThrottlingException.
 *
 * Helpers change things behind the relay's back (`setL7`, `adminEditIpSet`,
 * `beforeNextUpdate`) and read the full account state (`shieldState`,
 * `ipSetState`). `counters` records what a careful client must not do.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';

export const SIM_ACCOUNT = '111122223333';
export const SIM_CREDENTIALS = { accessKeyId: 'AKIASIMULATOR0000001', secretAccessKey: 'simulatorSecretKey/0000000000000000000000' };
export const SIM_TEMP_CREDENTIALS = {
  accessKeyId: 'ASIASIMULATOR0000002',
  secretAccessKey: 'simulatorTempSecret/000000000000000000000',
  sessionToken: 'IQoJb3JpZ2luX2VjEFakeSessionTokenForTheSimulator==',
};

export type SimL7 = { Status: 'ENABLED' | 'DISABLED'; Action: { Block: Record<string, never> } | { Count: Record<string, never> } };

export interface SimProtection {
  Id: string;
  Name: string;
  ResourceArn: string;
  ProtectionArn: string;
  HealthCheckIds: string[];
  ApplicationLayerAutomaticResponseConfiguration?: SimL7;
  /** A WAFv2 web ACL is associated with the resource (needed to enable L7 automatic response). */
  webAcl: boolean;
}

export interface SimIpSet {
  Name: string;
  Id: string;
  ARN: string;
  Description?: string;
  IPAddressVersion: 'IPV4' | 'IPV6';
  Addresses: string[];
  scope: 'REGIONAL' | 'CLOUDFRONT';
  region: string;
  lockToken: string;
}

export interface AwsSimCounters {
  requests: number;
  badSignatures: number;
  accessDenied: number;
  /** UpdateIPSet with a LockToken that was no longer current. */
  staleLockWrites: number;
  /** UpdateIPSet less than 1 s after the previous one (same account and region). */
  writesTooFast: number;
  /** UpdateIPSet that changed nothing. */
  unneededWrites: number;
  /** UpdateIPSet without the Description the set had (it is cleared). */
  descriptionDropped: number;
  /** Shield writes that changed nothing, or were refused as invalid operations. */
  shieldUnneededWrites: number;
  invalidOperations: number;
  /** Writes (Shield or WAF) in total. */
  writes: number;
}

interface Failure {
  status: number;
  code: string;
  message: string;
  retryAfter?: string;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

class SimError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

export interface AwsSimulatorOptions {
  now: () => number;
  /** Known credentials (default: SIM_CREDENTIALS and SIM_TEMP_CREDENTIALS). */
  credentials?: Array<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  /** Least time between IP set writes per account and region (ms; default 1000). */
  writeIntervalMs?: number;
}

export class AwsSimulator {
  readonly counters: AwsSimCounters = {
    requests: 0,
    badSignatures: 0,
    accessDenied: 0,
    staleLockWrites: 0,
    writesTooFast: 0,
    unneededWrites: 0,
    descriptionDropped: 0,
    shieldUnneededWrites: 0,
    invalidOperations: 0,
    writes: 0,
  };
  /** Every authenticated call, in order. */
  readonly calls: Array<{ service: string; operation: string; at: number; input: Record<string, unknown> }> = [];
  subscription: 'ACTIVE' | 'INACTIVE' = 'ACTIVE';
  readonly #now: () => number;
  readonly #credentials: Map<string, { secretAccessKey: string; sessionToken?: string }>;
  readonly #protections: SimProtection[] = [];
  readonly #ipSets: SimIpSet[] = [];
  readonly #denied = new Set<string>();
  readonly #failures: Array<{ operation: string; failure: Failure }> = [];
  readonly #lastWrite = new Map<string, number>();
  readonly #writeIntervalMs: number;
  #beforeUpdate: Array<() => void> = [];

  readonly transport: Transport = { request: async (request) => this.handle(request) };

  constructor(options: AwsSimulatorOptions) {
    this.#now = options.now;
    this.#writeIntervalMs = options.writeIntervalMs ?? 1000;
    this.#credentials = new Map(
      (options.credentials ?? [SIM_CREDENTIALS, SIM_TEMP_CREDENTIALS]).map((c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => [
        c.accessKeyId,
        { secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) },
      ]),
    );
  }

  // ---- helpers for tests -------------------------------------------------

  addProtection(p: { id: string; name: string; resourceArn: string; l7?: { status: 'ENABLED' | 'DISABLED'; action: 'Block' | 'Count' }; webAcl?: boolean }): void {
    this.#protections.push({
      Id: p.id,
      Name: p.name,
      ResourceArn: p.resourceArn,
      ProtectionArn: `arn:aws:shield::${SIM_ACCOUNT}:protection/${p.id}`,
      HealthCheckIds: [],
      ...(p.l7 ? { ApplicationLayerAutomaticResponseConfiguration: l7(p.l7.status, p.l7.action) } : {}),
      webAcl: p.webAcl ?? true,
    });
  }

  /** Changes a protection's L7 setting behind the relay's back (undefined: never configured). */
  setL7(ref: string, setting: { status: 'ENABLED' | 'DISABLED'; action: 'Block' | 'Count' } | undefined): void {
    const p = this.#protection(ref);
    if (setting === undefined) delete p.ApplicationLayerAutomaticResponseConfiguration;
    else p.ApplicationLayerAutomaticResponseConfiguration = l7(setting.status, setting.action);
  }

  /** The whole Shield side of the account, for field-by-field comparison. */
  shieldState(): { subscription: string; protections: SimProtection[] } {
    return structuredClone({ subscription: this.subscription, protections: this.#protections });
  }

  addIpSet(s: { name: string; id: string; region?: string; scope?: 'REGIONAL' | 'CLOUDFRONT'; description?: string; version?: 'IPV4' | 'IPV6'; addresses?: string[] }): void {
    const region = s.region ?? 'eu-west-1';
    const scope = s.scope ?? 'REGIONAL';
    this.#ipSets.push({
      Name: s.name,
      Id: s.id,
      ARN: `arn:aws:wafv2:${region}:${SIM_ACCOUNT}:${scope === 'CLOUDFRONT' ? 'global' : 'regional'}/ipset/${s.name}/${s.id}`,
      ...(s.description !== undefined ? { Description: s.description } : {}),
      IPAddressVersion: s.version ?? 'IPV4',
      Addresses: [...(s.addresses ?? [])],
      scope,
      region,
      lockToken: randomUUID(),
    });
  }

  /** An administrator edits the IP set (console/CLI): the lock token changes. */
  adminEditIpSet(id: string, edit: (addresses: string[]) => string[]): void {
    const set = this.#ipSet(id);
    set.Addresses = edit([...set.Addresses]);
    set.lockToken = randomUUID();
  }

  /** Runs `hook` inside the next UpdateIPSet, before its lock token is checked (an edit between the relay's Get and Update). */
  beforeNextUpdate(hook: () => void): void {
    this.#beforeUpdate.push(hook);
  }

  ipSetState(id: string): Omit<SimIpSet, 'lockToken'> {
    const { lockToken: _lockToken, ...rest } = structuredClone(this.#ipSet(id));
    return rest;
  }

  /** IAM: the relay's identity is not allowed `action` (e.g. `wafv2:UpdateIPSet`). */
  deny(action: string): void {
    this.#denied.add(action);
  }

  /** The next call of `operation` fails with this error (then normal service). */
  failNext(operation: string, failure: Failure): void {
    this.#failures.push({ operation, failure });
  }

  // ---- HTTP ----------------------------------------------------------------

  async handle(request: HttpRequest): Promise<HttpResponse> {
    this.counters.requests += 1;
    const url = new URL(request.url);
    const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const body = request.body === undefined ? '' : typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
    const host = url.host;
    const shield = host === 'shield.us-east-1.amazonaws.com';
    const waf = /^wafv2\.([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
    if (!shield && !waf) return reply({ status: 404, body: { message: `no such host ${host}` } });
    const service = shield ? 'shield' : 'wafv2';
    const region = shield ? 'us-east-1' : waf![1]!;
    const prefix = shield ? 'AWSShield_20160616' : 'AWSWAF_20190729';
    const typePrefix = shield ? 'com.amazonaws.shield#' : '';
    try {
      if (request.method !== 'POST' || url.pathname !== '/') throw new SimError(404, 'UnknownOperationException', 'only POST / is served');
      this.#verifySignature(request.method, url, headers, body, service, region);
      const target = headers['x-amz-target'] ?? '';
      if (!target.startsWith(`${prefix}.`)) throw new SimError(400, 'UnknownOperationException', `unknown target ${target}`);
      if (headers['content-type'] !== 'application/x-amz-json-1.1') throw new SimError(400, 'SerializationException', 'expected application/x-amz-json-1.1');
      const operation = target.slice(prefix.length + 1);
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(body) as Record<string, unknown>;
      } catch {
        throw new SimError(400, 'SerializationException', 'body is not JSON');
      }
      if (this.#denied.has(`${service}:${operation}`)) {
        this.counters.accessDenied += 1;
        throw new SimError(
          400,
          'AccessDeniedException',
          `User: arn:aws:iam::${SIM_ACCOUNT}:user/relay is not authorized to perform: ${service}:${operation} because no identity-based policy allows the ${service}:${operation} action`,
        );
      }
      const failIndex = this.#failures.findIndex((f) => f.operation === operation);
      if (failIndex !== -1) {
        const { failure } = this.#failures.splice(failIndex, 1)[0]!;
        return reply(
          { status: failure.status, body: { __type: `${typePrefix}${failure.code}`, message: failure.message }, headers: { 'x-amzn-errortype': failure.code, ...(failure.retryAfter ? { 'retry-after': failure.retryAfter } : {}) } });
      }
      this.calls.push({ service, operation, at: this.#now(), input });
      const result = shield ? this.#shield(operation, input) : this.#waf(operation, input, region, headers['authorization'] ?? '');
      return reply({ status: 200, body: result });
    } catch (error) {
      if (!(error instanceof SimError)) throw error;
      return reply(
        { status: error.status, body: { __type: `${typePrefix}${error.code}`, message: error.message }, headers: { 'x-amzn-errortype': `${error.code}:http://internal.amazon.com/coral/com.amazon.coral.service/` } });
    }
  }

  #verifySignature(method: string, url: URL, headers: Record<string, string>, body: string, service: string, region: string): void {
    const auth = headers['authorization'];
    const bad = (code: string, message: string, status = 403): never => {
      this.counters.badSignatures += 1;
      throw new SimError(status, code, message);
    };
    if (!auth) bad('MissingAuthenticationTokenException', 'Missing Authentication Token', 400);
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth!);
    if (!match) return bad('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature', 400);
    const [, keyId, date, scopeRegion, scopeService, signedHeaders, signature] = match as unknown as string[];
    const known = this.#credentials.get(keyId!);
    if (!known) return bad('UnrecognizedClientException', 'The security token included in the request is invalid.', 400);
    if (scopeRegion !== region || scopeService !== service) {
      return bad('InvalidSignatureException', `Credential should be scoped to a valid region and service: ${region}/${service}`);
    }
    const amzDate = headers['x-amz-date'] ?? '';
    const parsedDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!parsedDate || amzDate.slice(0, 8) !== date) return bad('IncompleteSignatureException', 'X-Amz-Date missing or not matching the credential scope', 400);
    const at = Date.UTC(+parsedDate[1]!, +parsedDate[2]! - 1, +parsedDate[3]!, +parsedDate[4]!, +parsedDate[5]!, +parsedDate[6]!);
    if (Math.abs(at - this.#now()) > 5 * 60_000) return bad('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier/later than allowed`);
    const names = signedHeaders!.split(';');
    const required = ['content-type', 'host', 'x-amz-date', 'x-amz-target', ...(known.sessionToken ? ['x-amz-security-token'] : [])];
    for (const name of required) {
      if (!names.includes(name)) return bad('InvalidSignatureException', `'${name}' must be a signed header`);
    }
    if (known.sessionToken && headers['x-amz-security-token'] !== known.sessionToken) {
      return bad('UnrecognizedClientException', 'The security token included in the request is invalid.', 400);
    }
    const canonicalHeaders = names.map((name) => `${name}:${(name === 'host' ? url.host : (headers[name] ?? '')).trim().replace(/\s+/g, ' ')}\n`).join('');
    const canonicalRequest = [method, '/', url.search.slice(1), canonicalHeaders, signedHeaders, sha256(body)].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${known.secretAccessKey}`, date!), region), service), 'aws4_request');
    const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
    if (expected !== signature) {
      return bad('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    }
  }

  // ---- Shield --------------------------------------------------------------

  #shield(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetSubscriptionState':
        return { SubscriptionState: this.subscription };
      case 'DescribeProtection': {
        const byArn = typeof input.ResourceArn === 'string';
        const byId = typeof input.ProtectionId === 'string';
        if (byArn === byId) throw new SimError(400, 'InvalidParameterException', 'Specify exactly one of ResourceArn or ProtectionId');
        const p = this.#protections.find((x) => (byArn ? x.ResourceArn === input.ResourceArn : x.Id === input.ProtectionId));
        if (!p || this.subscription !== 'ACTIVE') throw new SimError(400, 'ResourceNotFoundException', 'The referenced protection does not exist.');
        const { webAcl: _webAcl, ...protection } = structuredClone(p);
        return { Protection: protection };
      }
      case 'EnableApplicationLayerAutomaticResponse':
      case 'UpdateApplicationLayerAutomaticResponse':
      case 'DisableApplicationLayerAutomaticResponse': {
        const p = this.#protections.find((x) => x.ResourceArn === input.ResourceArn);
        if (!p) throw new SimError(400, 'ResourceNotFoundException', 'The referenced protection does not exist.');
        const current = p.ApplicationLayerAutomaticResponseConfiguration;
        const enabled = current?.Status === 'ENABLED';
        this.counters.writes += 1;
        if (operation === 'DisableApplicationLayerAutomaticResponse') {
          if (!enabled) return this.#invalid('Application layer automatic response is not enabled for this resource.');
          p.ApplicationLayerAutomaticResponseConfiguration = { ...current!, Status: 'DISABLED' };
          return {};
        }
        const action = parseAction(input.Action);
        if (operation === 'EnableApplicationLayerAutomaticResponse') {
          if (enabled) return this.#invalid('Application layer automatic response is already enabled; use UpdateApplicationLayerAutomaticResponse.');
          if (!p.webAcl) return this.#invalid('The resource must be associated with a web ACL to enable application layer automatic response.');
        } else {
          if (!enabled) return this.#invalid('Application layer automatic response is not enabled for this resource.');
          if (actionOf(current!) === action) this.counters.shieldUnneededWrites += 1;
        }
        p.ApplicationLayerAutomaticResponseConfiguration = l7('ENABLED', action);
        return {};
      }
      default:
        throw new SimError(400, 'UnknownOperationException', `${operation} is not simulated`);
    }
  }

  #invalid(message: string): never {
    this.counters.invalidOperations += 1;
    this.counters.shieldUnneededWrites += 1;
    throw new SimError(400, 'InvalidOperationException', message);
  }

  #protection(ref: string): SimProtection {
    const p = this.#protections.find((x) => x.Id === ref || x.ResourceArn === ref);
    if (!p) throw new Error(`simulator: no protection ${ref}`);
    return p;
  }

  // ---- WAFv2 ---------------------------------------------------------------

  #waf(operation: string, input: Record<string, unknown>, region: string, authorization: string): unknown {
    switch (operation) {
      case 'GetIPSet': {
        const set = this.#find(input, region);
        const { lockToken, scope: _s, region: _r, ...ipSet } = structuredClone(set);
        return { IPSet: ipSet, LockToken: lockToken };
      }
      case 'UpdateIPSet': {
        const set = this.#find(input, region);
        if (typeof input.LockToken !== 'string') throw new SimError(400, 'WAFInvalidParameterException', 'LockToken is required');
        if (!Array.isArray(input.Addresses)) throw new SimError(400, 'WAFInvalidParameterException', 'Addresses is required');
        const account = authorization.includes(SIM_TEMP_CREDENTIALS.accessKeyId) || authorization.includes(SIM_CREDENTIALS.accessKeyId) ? SIM_ACCOUNT : 'other';
        const rateKey = `${account}|${region}`;
        const last = this.#lastWrite.get(rateKey);
        if (last !== undefined && this.#now() - last < this.#writeIntervalMs) {
          this.counters.writesTooFast += 1;
          throw new SimError(400, 'ThrottlingException', 'Rate exceeded');
        }
        for (const hook of this.#beforeUpdate.splice(0)) hook();
        if (input.LockToken !== set.lockToken) {
          this.counters.staleLockWrites += 1;
          throw new SimError(
            400,
            'WAFOptimisticLockException',
            "AWS WAF couldn't save your changes because you tried to update or delete a resource that has changed since you last retrieved it. Get the resource again, make any changes you need to make to the new copy, and retry your operation.",
          );
        }
        const addresses = input.Addresses as unknown[];
        for (const address of addresses) {
          if (typeof address !== 'string' || !validCidr(address, set.IPAddressVersion)) {
            throw new SimError(400, 'WAFInvalidParameterException', `Error reason: The parameter contains formatting that is not valid., field: IP_ADDRESS, parameter: ${String(address)}`);
          }
        }
        if (addresses.length > 10_000) {
          throw new SimError(400, 'WAFLimitsExceededException', "AWS WAF couldn't perform the operation because you exceeded your resource limit. For example, the maximum number of WebACL objects that you can create for an Amazon Web Services account.");
        }
        this.#lastWrite.set(rateKey, this.#now());
        this.counters.writes += 1;
        const description = typeof input.Description === 'string' ? input.Description : undefined;
        if (set.Description !== undefined && description === undefined) this.counters.descriptionDropped += 1;
        if (description === set.Description && sameList(addresses as string[], set.Addresses)) this.counters.unneededWrites += 1;
        set.Addresses = [...(addresses as string[])];
        if (description === undefined) delete set.Description;
        else set.Description = description;
        set.lockToken = randomUUID();
        return { NextLockToken: set.lockToken };
      }
      default:
        throw new SimError(400, 'UnknownOperationException', `${operation} is not simulated`);
    }
  }

  #find(input: Record<string, unknown>, region: string): SimIpSet {
    if (input.Scope !== 'REGIONAL' && input.Scope !== 'CLOUDFRONT') throw new SimError(400, 'WAFInvalidParameterException', 'Error reason: field: SCOPE_VALUE');
    if (input.Scope === 'CLOUDFRONT' && region !== 'us-east-1') {
      throw new SimError(400, 'WAFInvalidParameterException', 'Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: CLOUDFRONT');
    }
    const set = this.#ipSets.find((s) => s.Id === input.Id && s.Name === input.Name && s.scope === input.Scope && s.region === region);
    if (!set) throw new SimError(400, 'WAFNonexistentItemException', "AWS WAF couldn't perform the operation because your resource doesn't exist.");
    return set;
  }

  #ipSet(id: string): SimIpSet {
    const set = this.#ipSets.find((s) => s.Id === id);
    if (!set) throw new Error(`simulator: no IP set ${id}`);
    return set;
  }
}

function l7(status: 'ENABLED' | 'DISABLED', action: 'Block' | 'Count'): SimL7 {
  return { Status: status, Action: action === 'Block' ? { Block: {} } : { Count: {} } };
}

function actionOf(config: SimL7): 'Block' | 'Count' {
  return 'Block' in config.Action ? 'Block' : 'Count';
}

function parseAction(action: unknown): 'Block' | 'Count' {
  if (action && typeof action === 'object') {
    const keys = Object.keys(action);
    if (keys.length === 1 && (keys[0] === 'Block' || keys[0] === 'Count')) return keys[0];
  }
  throw new SimError(400, 'InvalidParameterException', 'Action must be {"Block":{}} or {"Count":{}}');
}

function validCidr(text: string, version: 'IPV4' | 'IPV6'): boolean {
  const [address, prefix, extra] = text.split('/');
  if (extra !== undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  const length = Number(prefix);
  if (version === 'IPV4') {
    const parts = address!.split('.');
    return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255) && length >= 1 && length <= 32;
  }
  return address!.includes(':') && /^[0-9a-fA-F:.]+$/.test(address!) && length >= 1 && length <= 128;
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = (list: string[]) => [...list].sort();
  const x = sorted(a);
  const y = sorted(b);
  return x.every((value, index) => value === y[index]);
}

function reply(r: Reply): HttpResponse {
  return {
    status: r.status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), ...r.headers },
    body: new TextEncoder().encode(JSON.stringify(r.body)),
  };
}
