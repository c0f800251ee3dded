import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pfsenseIntegrationSchema } from '../../../../lib/config/schema.ts';
import { deviceTls } from '../../../../lib/providers/device-tls.ts';
import { ProviderError } from '../../../../lib/providers/errors.ts';
import { ApplyGates } from '../../../../lib/providers/pfsense/v2/apply-gate.ts';
import { DEFAULT_MIN_APPLY_GAP_MS, type PfSenseIntegrationConfig, PfSenseV2Provider, type PfSenseV2ProviderDeps } from '../../../../lib/providers/pfsense/v2/provider.ts';
import type { PfSenseV2Secrets } from '../../../../lib/providers/pfsense/v2/auth.ts';
import { PfSenseV2ConfigError } from '../../../../lib/providers/pfsense/v2/errors.ts';
import type { BlockEntry, ProviderContext } from '../../../../lib/providers/types.ts';
import { createDirectTransport } from '../../../../lib/transport/node-http.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../../lib/transport/types.ts';
import { ManualClock } from '../../../helpers/clock.ts';
import { RecordingLogger } from '../../../helpers/recording-logger.ts';
import { makeSelfSignedCert, type SelfSignedCert } from '../../../helpers/tls.ts';
import {
  PfSenseV2Simulator,
  type PfSenseV2SimulatorOptions,
  type RunningPfSenseV2Simulator,
  simulatorTransport,
  startPfSenseV2Simulator,
} from '../../../simulators/pfsense-v2/index.ts';

const ALIAS = 'flowtriq_blocked';
const ORIGIN = 'https://pfsense.test';
const BASIC_SECRETS: PfSenseV2Secrets = { username: 'admin', password: 'pfsense' };
const INCIDENT = '3f6c0d2e-8a51-4f0b-9d7e-1c2b3a4d5e6f';
/** The relay's mark for an address added by INCIDENT. */
const mark = (ip: string) => `flowtriq-relay ${INCIDENT} ${ip}`;

/** A Transport wrapper that records requests, measures concurrency and can act between requests. */
class SpyTransport implements Transport {
  readonly requests: Array<{ method: string; path: string; body: string; headers: Record<string, string> }> = [];
  maxInFlight = 0;
  #inFlight = 0;
  /** Runs before each request is passed on; may return a reply instead. */
  before: ((request: HttpRequest, index: number) => HttpResponse | undefined) | undefined;
  readonly #inner: Transport;
  constructor(inner: Transport) {
    this.#inner = inner;
  }
  async request(request: HttpRequest): Promise<HttpResponse> {
    const url = new URL(request.url);
    const body = request.body === undefined ? '' : String(request.body);
    this.requests.push({ method: request.method, path: `${url.pathname}${url.search}`, body, headers: request.headers ?? {} });
    this.#inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    try {
      const canned = this.before?.(request, this.requests.length - 1);
      // A macrotask, so overlapping callers really would overlap.
      await new Promise((resolve) => setTimeout(resolve, 1));
      return canned ?? (await this.#inner.request(request));
    } finally {
      this.#inFlight -= 1;
    }
  }
  writes() {
    return this.requests.filter((r) => r.method !== 'GET');
  }
  routes() {
    return this.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`);
  }
}

function config(options: Record<string, unknown> = {}, url = ORIGIN): PfSenseIntegrationConfig {
  const auth = (options.auth as string | undefined) ?? 'basic';
  return pfsenseIntegrationSchema.parse({
    id: 'edge-fw',
    type: 'pfsense',
    options: { url, apiVersion: 'v2', allowInsecureHttp: url.startsWith('http://'), ...options },
    secrets: auth === 'apiKey' ? { apiKey: { env: 'PF_KEY' } } : { username: { env: 'PF_USER' }, password: { env: 'PF_PASS' } },
  });
}

interface Setup {
  sim: PfSenseV2Simulator;
  spy: SpyTransport;
  provider: PfSenseV2Provider;
  sleeps: number[];
  clock: ManualClock;
}

/** The provider on an in-process simulator; sleeping advances the simulator's clock (and the test clock). */
function setup(
  simOptions: PfSenseV2SimulatorOptions = {},
  options: Record<string, unknown> = {},
  deps: Partial<PfSenseV2ProviderDeps> = {},
): Setup {
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  const sim = new PfSenseV2Simulator({ wallClock: clock.now, ...simOptions });
  const spy = new SpyTransport(simulatorTransport(sim));
  const sleeps: number[] = [];
  const provider = new PfSenseV2Provider(config(options), {
    transport: spy,
    tls: {},
    secrets: BASIC_SECRETS,
    now: clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      sim.advance(ms);
      clock.advance(ms);
    },
    verifyIntervalMs: 1000,
    applyGates: new ApplyGates(),
    // The reload gap is the subject of its own tests below; elsewhere every batch applies at once.
    minApplyGapMs: 0,
    ...deps,
  });
  return { sim, spy, provider, sleeps, clock };
}

function entries(...ips: string[]): BlockEntry[] {
  return ips.map((ip) => ({ ip, expiresAt: Date.parse('2030-01-01T01:00:00Z'), incidents: [INCIDENT] }));
}

function context(signal = new AbortController().signal): ProviderContext & { logger: RecordingLogger } {
  return { signal, logger: new RecordingLogger() };
}

function ipv4s(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `198.51.${(from + i) >> 8}.${(from + i) & 255}`);
}

function json(body: string): Record<string, unknown> {
  return JSON.parse(body) as Record<string, unknown>;
}

function envelopeResponse(status: number, responseId: string, message: string): HttpResponse {
  const body = JSON.stringify({ code: status, status: 'bad request', response_id: responseId, message, data: [] });
  return { status, headers: { 'content-type': 'application/json' }, body: new Uint8Array(Buffer.from(body)) };
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe('PfSenseV2Provider: authentication', () => {
  it('basic: sends Authorization: Basic on every request', async () => {
    // Prepare
    const { spy, provider } = setup();

    // Act
    const results = await provider.add(entries('198.51.100.7'), context());

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.7', ok: true }]);
    const expected = `Basic ${Buffer.from('admin:pfsense').toString('base64')}`;
    expect(spy.requests.every((r) => r.headers.Authorization === expected)).toBe(true);
  });

  it('apiKey: sends X-API-Key and no Authorization header', async () => {
    // Prepare
    const sim = new PfSenseV2Simulator({ authMethods: ['KeyAuth'] });
    const key = sim.createApiKey();
    const spy = new SpyTransport(simulatorTransport(sim));
    const provider = new PfSenseV2Provider(config({ auth: 'apiKey' }), { transport: spy, tls: {}, secrets: { apiKey: key }, applyGates: new ApplyGates() });

    // Act
    const results = await provider.add(entries('198.51.100.7'), context());

    // Assess
    expect(results[0]?.ok).toBe(true);
    expect(spy.requests.every((r) => r.headers['X-API-Key'] === key && r.headers.Authorization === undefined)).toBe(true);
  });

  it('jwt: logs in once with Basic, reuses the Bearer token, and renews it before it expires', async () => {
    // Prepare
    const { spy, provider, clock } = setup({ authMethods: ['JWTAuth'], jwtExpSeconds: 600 }, { auth: 'jwt' });

    // Act
    await provider.add(entries('198.51.100.1'), context());
    await provider.add(entries('198.51.100.2'), context());
    clock.advance(541_000); // within the renewal margin (60 s before exp)
    await provider.add(entries('198.51.100.3'), context());

    // Assess
    const logins = spy.requests.filter((r) => r.path === '/api/v2/auth/jwt');
    expect(logins).toHaveLength(2);
    expect(logins.every((r) => r.headers.Authorization?.startsWith('Basic '))).toBe(true);
    const others = spy.requests.filter((r) => r.path !== '/api/v2/auth/jwt');
    expect(others.every((r) => r.headers.Authorization?.startsWith('Bearer '))).toBe(true);
    expect(spy.routes().slice(0, 3)).toEqual(['POST /api/v2/auth/jwt', 'GET /api/v2/firewall/aliases', 'POST /api/v2/firewall/alias']);
  });

  it('jwt: a rejected Bearer token (firewall restarted) is renewed once and the request repeated', async () => {
    // Prepare
    const { spy, provider } = setup({ authMethods: ['JWTAuth'] }, { auth: 'jwt' });
    await provider.add(entries('198.51.100.1'), context());
    let rejected = false;
    spy.before = (request) => {
      if (!rejected && request.headers?.Authorization?.startsWith('Bearer ')) {
        rejected = true;
        return envelopeResponse(401, 'AUTH_AUTHENTICATION_FAILED', 'Authentication failed.');
      }
      return undefined;
    };

    // Act
    const results = await provider.add(entries('198.51.100.2'), context());

    // Assess
    expect(results[0]?.ok).toBe(true);
    expect(spy.routes().filter((route) => route === 'POST /api/v2/auth/jwt')).toHaveLength(2);
  });

  it.each([
    { name: 'basic with a wrong password', sim: {}, options: {}, secrets: { username: 'admin', password: 'wrong' }, fix: 'secrets.password' },
    { name: 'apiKey while KeyAuth is not enabled', sim: {}, options: { auth: 'apiKey' }, secrets: { apiKey: 'abc123' }, fix: 'KeyAuth' },
    { name: 'jwt with a wrong password', sim: { authMethods: ['JWTAuth'] as const }, options: { auth: 'jwt' }, secrets: { username: 'admin', password: 'wrong' }, fix: 'refused to issue a JWT' },
  ])('auth failure ($name): stops after exactly one failed request and names the fix', async ({ sim: simOptions, options, secrets, fix }) => {
    // Prepare
    const { sim, spy, provider, clock } = setup({ ...simOptions, authMethods: simOptions.authMethods ? [...simOptions.authMethods] : undefined }, options, { secrets });

    // Act
    const first = await failure(provider.add(entries('198.51.100.7', '198.51.100.8'), context()));
    const second = await failure(provider.remove(entries('198.51.100.7'), context()));
    const health = await provider.healthCheck(context());
    const requestsWhileStopped = spy.requests.length;
    clock.advance(30 * 60_000);
    await failure(provider.add(entries('198.51.100.7'), context()));

    // Assess
    expect(first.retryable).toBe(false);
    expect(first.status).toBe(401);
    expect(first.message).toContain(fix);
    expect(first.message).toContain('login protection');
    expect(first.message).not.toContain('wrong');
    expect(second.retryable).toBe(false);
    expect(health.ok).toBe(false);
    expect(requestsWhileStopped).toBe(1);
    expect(sim.counters.authFailures).toBe(2); // one more only after the cooldown
  });

  it('403: stops and names the missing privilege', async () => {
    // Prepare
    const { spy, provider } = setup({ privileges: ['api-v2-firewall-aliases-get'] });

    // Act
    const error = await failure(provider.add(entries('198.51.100.7'), context()));
    await failure(provider.add(entries('198.51.100.7'), context()));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('api-v2-firewall-alias-post');
    expect(spy.requests).toHaveLength(2); // the GET, then the refused POST; nothing after
  });
});

describe('PfSenseV2Provider: the alias', () => {
  it('creates a missing host alias with the first addresses, each marked as the relay\'s; never touches rules', async () => {
    // Prepare
    const { sim, spy, provider } = setup();

    // Act
    const results = await provider.add(entries('198.51.100.7', '2001:db8::7'), context());

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    expect(spy.routes()).toEqual(['GET /api/v2/firewall/aliases', 'POST /api/v2/firewall/alias']);
    const create = json(spy.requests[1]?.body ?? '{}');
    expect(create).toMatchObject({ name: ALIAS, type: 'host', address: ['198.51.100.7', '2001:db8::7'], apply: true });
    expect(create.descr).toContain('Managed by Flowtriq Relay');
    expect(create.detail).toEqual([mark('198.51.100.7'), mark('2001:db8::7')]);
    expect(sim.alias(ALIAS)).toMatchObject({ type: 'host', detail: [mark('198.51.100.7'), mark('2001:db8::7')], address: ['198.51.100.7', '2001:db8::7'] });
    expect(Object.keys(sim.counters.byRoute).some((route) => /rule|PUT/.test(route))).toBe(false);
  });

  it('resolves the id by name before every write, also after other aliases were deleted', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: 'office', address: ['10.0.0.1'] });
    sim.addAlias({ name: 'servers', address: ['10.0.0.2'] });
    await provider.add(entries('198.51.100.1'), context());
    sim.deleteAlias('office');

    // Act
    await provider.add(entries('198.51.100.2'), context());
    sim.deleteAlias('servers');
    await provider.remove(entries('198.51.100.1'), context());

    // Assess
    const writes = spy.writes().map((w) => json(w.body));
    expect(writes.map((w) => w.id)).toEqual([undefined, 1, 0]);
    const routes = spy.routes();
    routes.forEach((route, i) => {
      if (route.startsWith('PATCH') || route.startsWith('POST /api/v2/firewall/alias')) expect(routes[i - 1]).toBe('GET /api/v2/firewall/aliases');
    });
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.2']);
  });

  it('an id that moves between the read and the write changes no other alias: the write is refused and resolved again', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    await provider.add(entries('198.51.100.1'), context());
    spy.before = (request) => {
      // Right after the relay read the id, an operator adds an alias at the top (ids shift up).
      if (request.method === 'PATCH' && sim.aliasNames()[0] !== 'zz_new') sim.addAlias({ name: 'zz_new', address: ['10.9.9.9'] }, 0);
      return undefined;
    };

    // Act
    const results = await provider.add(entries('198.51.100.2'), context());

    // Assess
    expect(results[0]?.ok).toBe(true);
    expect(sim.alias('zz_new')?.address).toEqual(['10.9.9.9']);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.1', '198.51.100.2']);
    const patches = spy.requests.filter((r) => r.method === 'PATCH').map((r) => json(r.body));
    expect(patches.map((p) => [p.id, p.name])).toEqual([
      [0, ALIAS],
      [1, ALIAS],
    ]);
  });

  it('a package that refuses an unchanged name in PATCH: the instance falls back to writing by id alone', async () => {
    // Prepare
    const { sim, spy, provider } = setup({ rejectNameInPatch: true });
    sim.addAlias({ name: ALIAS });
    const ctx = context();

    // Act
    const first = await provider.add(entries('198.51.100.1'), ctx);
    const writesFirst = spy.writes().length;
    const second = await provider.add(entries('198.51.100.2'), ctx);

    // Assess
    expect(first[0]?.ok && second[0]?.ok).toBe(true);
    expect(writesFirst).toBe(3);
    expect(json(spy.writes().at(-1)?.body ?? '{}')).toEqual({ id: 0, address: ['198.51.100.2'], detail: [mark('198.51.100.2')], append: true, apply: true });
    expect(ctx.logger.lines.some((l) => l.level === 'warn' && l.message.includes('refuses `name`'))).toBe(true);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.1', '198.51.100.2']);
  });

  it('a create race (FIELD_MUST_BE_UNIQUE) resolves again and appends', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    spy.before = (request) => {
      if (request.method === 'POST' && sim.alias(ALIAS) === undefined) sim.addAlias({ name: ALIAS, address: ['198.51.100.9'] });
      return undefined;
    };

    // Act
    const results = await provider.add(entries('198.51.100.1'), context());

    // Assess
    expect(results[0]?.ok).toBe(true);
    expect(spy.routes()).toEqual([
      'GET /api/v2/firewall/aliases',
      'POST /api/v2/firewall/alias',
      'GET /api/v2/firewall/aliases',
      'PATCH /api/v2/firewall/alias',
    ]);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.9', '198.51.100.1']);
  });

  it('add de-duplicates: only addresses not yet in the alias are appended; nothing to append sends no write', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['198.51.100.1', '2001:DB8::5'] });

    // Act
    const first = await provider.add(entries('198.51.100.1', '198.51.100.2', '2001:db8::5', '198.51.100.2'), context());
    const writesAfterFirst = spy.writes().length;
    const again = await provider.add(entries('198.51.100.2', '2001:db8:0:0::5'), context());

    // Assess
    expect(first.every((r) => r.ok) && again.every((r) => r.ok)).toBe(true);
    expect(json(spy.writes()[0]?.body ?? '{}')).toMatchObject({ address: ['198.51.100.2'], append: true, apply: true });
    expect(writesAfterFirst).toBe(1);
    expect(spy.routes().slice(-2)).toEqual(['GET /api/v2/firewall/aliases', 'GET /api/v2/firewall/apply']);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.1', '2001:DB8::5', '198.51.100.2']);
  });

  it('remove sends only the relay entries (address + exact mark) with remove: true; operator entries stay', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['198.51.100.1', 'blocked.example.org'], detail: ['office', 'a host name'] });
    await provider.add(entries('2001:db8::5', '198.51.100.2'), context());
    sim.resetCounters();

    // Act
    const results = await provider.remove(entries('2001:db8::5', '198.51.100.2', '203.0.113.99'), context());

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    expect(json(spy.writes().at(-1)?.body ?? '{}')).toEqual({
      id: 0,
      name: ALIAS,
      address: ['2001:db8::5', '198.51.100.2'],
      detail: [mark('2001:db8::5'), mark('198.51.100.2')],
      remove: true,
      apply: true,
    });
    expect(sim.alias(ALIAS)).toMatchObject({ address: ['198.51.100.1', 'blocked.example.org'], detail: ['office', 'a host name'] });
    expect(sim.counters).toMatchObject({ foreignTouched: 0, replaces: 0 });
  });

  it('removing the last relay entries empties the alias by remove (last value repeated: an identical list is a no-op), never a replace', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    await provider.add(entries('198.51.100.1', '198.51.100.2'), context());

    // Act
    const results = await provider.remove(entries('198.51.100.2', '198.51.100.1'), context());

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    expect(json(spy.writes().at(-1)?.body ?? '{}')).toEqual({
      id: 0,
      name: ALIAS,
      address: ['198.51.100.1', '198.51.100.2', '198.51.100.2'],
      detail: [mark('198.51.100.1'), mark('198.51.100.2'), mark('198.51.100.2')],
      remove: true,
      apply: true,
    });
    expect(sim.alias(ALIAS)).toMatchObject({ address: [], detail: [] });
    expect(sim.counters.replaces).toBe(0);
  });

  it('operator entries with and without descriptions survive add, remove, removal of the last relay entry, and list', async () => {
    // Prepare: an operator alias whose detail list is shorter than its addresses (one entry has no description)
    const { sim, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['192.0.2.10', '192.0.2.11', 'lan_hosts'], detail: ['jump host'] });
    const ctx = context();

    // Act
    const added = await provider.add(entries('198.51.100.1', '198.51.100.2'), ctx);
    const afterAdd = sim.alias(ALIAS);
    sim.adminAdd(ALIAS, '192.0.2.12'); // added by hand meanwhile, no description
    const listed = await provider.list(ctx);
    const removed = await provider.remove(entries('198.51.100.1', '198.51.100.2'), ctx);

    // Assess
    expect(added.every((r) => r.ok && r.foreign !== true)).toBe(true);
    expect(afterAdd).toMatchObject({
      address: ['192.0.2.10', '192.0.2.11', 'lan_hosts', '198.51.100.1', '198.51.100.2'],
      detail: ['jump host', '', '', mark('198.51.100.1'), mark('198.51.100.2')],
    });
    expect(listed).toEqual([
      { ip: '192.0.2.10', owned: false },
      { ip: '192.0.2.11', owned: false },
      { ip: '198.51.100.1', owned: true },
      { ip: '198.51.100.2', owned: true },
      { ip: '192.0.2.12', owned: false },
    ]);
    expect(removed.every((r) => r.ok)).toBe(true);
    expect(sim.alias(ALIAS)).toMatchObject({ address: ['192.0.2.10', '192.0.2.11', 'lan_hosts', '192.0.2.12'], detail: ['jump host', '', '', ''] });
    expect(sim.counters).toMatchObject({ foreignTouched: 0, replaces: 0, duplicateWrites: 0 });
  });

  it('with a package whose padding sticks, marks still land beside the relay\'s addresses', async () => {
    // Prepare
    const { sim, provider } = setup({ detailPadding: 'stamp' });
    sim.addAlias({ name: ALIAS, address: ['192.0.2.10', '192.0.2.11'], detail: ['jump host'] });

    // Act
    await provider.add(entries('198.51.100.1'), context());
    const listed = await provider.list(context());

    // Assess
    expect(sim.alias(ALIAS)?.detail).toEqual(['jump host', '', mark('198.51.100.1')]);
    expect(listed.filter((entry) => entry.owned)).toEqual([{ ip: '198.51.100.1', owned: true }]);
    expect(sim.counters.foreignTouched).toBe(0);
  });

  it('add: an address the operator already lists is foreign: nothing sent for it; one under the relay\'s mark is ok and not re-sent', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['198.51.100.1', '2001:DB8::5'], detail: ['', 'partner'] });
    await provider.add(entries('198.51.100.3'), context());
    const writesBefore = spy.writes().length;

    // Act
    const results = await provider.add(entries('198.51.100.1', '2001:db8::5', '198.51.100.3'), context());

    // Assess
    expect(results).toEqual([
      { ip: '198.51.100.1', ok: true, foreign: true },
      { ip: '2001:db8::5', ok: true, foreign: true },
      { ip: '198.51.100.3', ok: true },
    ]);
    expect(spy.writes().length).toBe(writesBefore);
    expect(sim.counters).toMatchObject({ duplicateWrites: 0, foreignTouched: 0 });
  });

  it('remove: an address that also has an operator entry keeps both entries (removal is by value) and is answered ok, logged', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS });
    await provider.add(entries('198.51.100.1', '198.51.100.2'), context());
    sim.adminAdd(ALIAS, '198.51.100.1', 'blocked by hand too');
    const ctx = context();

    // Act
    const results = await provider.remove(entries('198.51.100.1', '198.51.100.2'), ctx);

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    const body = json(spy.writes().at(-1)?.body ?? '{}');
    expect(body).toMatchObject({ address: ['198.51.100.2'], detail: [mark('198.51.100.2')], remove: true });
    expect(sim.alias(ALIAS)).toMatchObject({ address: ['198.51.100.1', '198.51.100.1'], detail: [mark('198.51.100.1'), 'blocked by hand too'] });
    expect(ctx.logger.lines.some((l) => l.message.includes('the operator also lists'))).toBe(true);
    expect(sim.counters.foreignTouched).toBe(0);
  });

  it('an alias with more descriptions than addresses is refused with the fix named, nothing written', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['192.0.2.1'], detail: ['one', 'two'] });

    // Act
    const error = await failure(provider.add(entries('198.51.100.1'), context()));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('TOO_MANY_ALIAS_DETAILS');
    expect(error.message).toContain('Firewall > Aliases');
    expect(spy.writes()).toHaveLength(0);
  });

  it('an existing alias of another type is refused, not changed', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, type: 'network', address: ['10.0.0.0/8'] });

    // Act
    const error = await failure(provider.add(entries('198.51.100.7'), context()));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('type network');
    expect(spy.writes()).toHaveLength(0);
  });

  it('IPv4 and IPv6 share the alias; IPv4-mapped and uncompressed IPv6 are sent canonical', async () => {
    // Prepare
    const { sim, provider } = setup();

    // Act
    const results = await provider.add(entries('::ffff:198.51.100.7', '2001:0DB8:0000:0000:0000:0000:0000:0001', '198.51.100.8'), context());

    // Assess
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(results.map((r) => r.ip)).toEqual(['::ffff:198.51.100.7', '2001:0DB8:0000:0000:0000:0000:0000:0001', '198.51.100.8']);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.7', '2001:db8::1', '198.51.100.8']);
  });

  it('list(): every single-address entry, canonical, owned only under the relay\'s mark for that address; no FQDNs or nested aliases', async () => {
    // Prepare
    const { sim, provider } = setup();
    sim.addAlias({
      name: ALIAS,
      address: ['198.51.100.1', '2001:DB8::5', 'blocked.example.org', '198.51.100.1', '198.51.100.9'],
      detail: ['', mark('2001:db8::5'), '', '', mark('198.51.100.1')], // the last mark names another address
    });
    sim.reloadFilter();

    // Act
    const listed = await provider.list(context());

    // Assess
    expect(listed).toEqual([
      { ip: '198.51.100.1', owned: false },
      { ip: '2001:db8::5', owned: true },
      { ip: '198.51.100.9', owned: false },
    ]);
  });
});

describe('PfSenseV2Provider: size limits', () => {
  it('legacyArrayLimit: chunks of 128, a fresh read before each, apply only on the last', async () => {
    // Prepare
    const { sim, spy, provider } = setup({ manyMaximum: 128, manyMaximumScope: 'request' }, { legacyArrayLimit: true });
    sim.addAlias({ name: ALIAS });
    const ips = ipv4s(300);

    // Act
    const results = await provider.add(entries(...ips), context());

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    expect(spy.routes()).toEqual(Array.from({ length: 3 }, () => ['GET /api/v2/firewall/aliases', 'PATCH /api/v2/firewall/alias']).flat());
    const patches = spy.writes().map((w) => json(w.body));
    expect(patches.map((p) => (p.address as string[]).length)).toEqual([128, 128, 44]);
    expect(patches.map((p) => p.apply)).toEqual([false, false, true]);
    expect(sim.alias(ALIAS)?.address).toHaveLength(300);
  });

  it('detects the 128 limit from LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT and remembers it for the instance', async () => {
    // Prepare
    const { sim, spy, provider } = setup({ manyMaximum: 128, manyMaximumScope: 'request' });
    sim.addAlias({ name: ALIAS });
    const ctx = context();

    // Act
    const first = await provider.add(entries(...ipv4s(200)), ctx);
    const requestsFirst = spy.requests.length;
    const second = await provider.remove(entries(...ipv4s(150)), ctx);
    const health = await provider.healthCheck(context());

    // Assess
    expect(first.every((r) => r.ok) && second.every((r) => r.ok)).toBe(true);
    expect(requestsFirst).toBe(6); // GET, PATCH 200 → 400, then 2 × (GET, PATCH)
    const removes = spy.writes().slice(3).map((w) => (json(w.body).address as string[]).length);
    expect(removes).toEqual([128, 22]);
    expect(spy.writes().slice(3).every((w) => (json(w.body).detail as string[]).length <= 128)).toBe(true);
    expect(sim.alias(ALIAS)?.address).toHaveLength(50);
    expect(ctx.logger.lines.some((l) => l.level === 'warn' && l.message.includes('limits requests to 128'))).toBe(true);
    expect(health.detail).toContain('at most 128 addresses per request (detected)');
  });

  it('packages < 2.5.4 check the size after append: fills the alias to 128 and reports the rest per entry, naming the upgrade', async () => {
    // Prepare
    const { sim, provider } = setup({ manyMaximum: 128 });
    sim.addAlias({ name: ALIAS, address: ipv4s(100) });

    // Act
    const results = await provider.add(entries(...ipv4s(50, 100)), context());
    const again = await provider.add(entries(...ipv4s(5, 1000)), context());

    // Assess
    expect(results.filter((r) => r.ok)).toHaveLength(28);
    const failed = results.filter((r): r is { ip: string; ok: false; error: string } => !r.ok);
    expect(failed).toHaveLength(22);
    expect(failed[0]?.error).toContain('upgrade the package to 2.5.4');
    expect(again.every((r) => !r.ok)).toBe(true);
    expect(sim.alias(ALIAS)?.address).toHaveLength(128);
  });
});

describe('PfSenseV2Provider: apply, 503 and verification', () => {
  it('honours 503 + Retry-After: waits, then pays the owed apply', async () => {
    // Prepare
    const { sim, spy, provider, sleeps } = setup({ retryAfterSeconds: 2 });
    sim.addAlias({ name: ALIAS });
    sim.occupyDispatcher(10, 1500);

    // Act
    const results = await provider.add(entries('198.51.100.7'), context());

    // Assess
    expect(results[0]?.ok).toBe(true);
    expect(sleeps).toEqual([2000]);
    expect(spy.routes()).toEqual([
      'GET /api/v2/firewall/aliases',
      'PATCH /api/v2/firewall/alias',
      'GET /api/v2/firewall/aliases',
      'POST /api/v2/firewall/apply',
    ]);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.7']); // appended once, not twice
    expect(sim.pendingSubsystems()).toEqual([]);
  });

  // Was: a retryable ProviderError for the whole batch. The write has landed, so the entries are now answered
  // "written; reload deferred" with retryAfterMs, and nothing applies before Retry-After runs out.
  it('a Retry-After longer than the operation may take: entries answered deferred with retryAfterMs; the retry then applies', async () => {
    // Prepare
    const { sim, spy, provider, sleeps, clock } = setup({ retryAfterSeconds: 300 });
    sim.addAlias({ name: ALIAS });
    sim.occupyDispatcher(10, 10_000);

    // Act
    const first = await provider.add(entries('198.51.100.7'), context());
    sim.advance(10_000);
    clock.advance(10_000);
    const early = await provider.add(entries('198.51.100.7'), context());
    const appliesEarly = spy.routes().filter((r) => r === 'POST /api/v2/firewall/apply').length;
    sim.advance(290_000);
    clock.advance(290_000);
    const retry = await provider.add([{ ...entries('198.51.100.7')[0]!, resumed: true }], context());

    // Assess
    expect(first[0]).toMatchObject({ ok: false, retryAfterMs: 300_000 });
    expect(first[0]?.ok === false && first[0].error).toMatch(/written; filter reload deferred until .* \(pfSense apply queue full, Retry-After 300 s\)/);
    expect(early[0]).toMatchObject({ ok: false, retryAfterMs: 290_000 });
    expect(appliesEarly).toBe(0);
    expect(sleeps).toEqual([]);
    expect(retry[0]).toEqual({ ip: '198.51.100.7', ok: true });
    expect(spy.routes().slice(-2)).toEqual(['GET /api/v2/firewall/aliases', 'POST /api/v2/firewall/apply']);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.7']);
    expect(sim.counters).toMatchObject({ appliesWhileFull: 1, appliesIgnoringRetryAfter: 0, duplicateWrites: 0 });
  });

  it('aborting while waiting for Retry-After rejects with the signal reason', async () => {
    // Prepare
    const { sim, provider } = setup({ retryAfterSeconds: 2 }, {}, { sleep: (_ms, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) });
    sim.addAlias({ name: ALIAS });
    sim.occupyDispatcher(10, 60_000);
    const controller = new AbortController();

    // Act
    const pending = provider.add(entries('198.51.100.7'), context(controller.signal));
    setTimeout(() => controller.abort(new Error('deadline')), 20);

    // Assess
    await expect(pending).rejects.toThrow('deadline');
  });

  it('verify: confirms the change in the live pf table via diagnostics/table, polling while the reload runs', async () => {
    // Prepare
    const { sim, spy, provider, sleeps } = setup({ applyBaseMs: 2500, applyPerEntryMs: 0 }, { verify: true });

    // Act
    const added = await provider.add(entries('198.51.100.7', '2001:db8::7'), context());
    const liveAfterAdd = sim.liveTable(ALIAS);
    const removed = await provider.remove(entries('198.51.100.7'), context());

    // Assess
    expect(added.every((r) => r.ok) && removed.every((r) => r.ok)).toBe(true);
    expect(liveAfterAdd).toEqual(['198.51.100.7', '2001:db8::7']);
    expect(sim.liveTable(ALIAS)).toEqual(['2001:db8::7']);
    expect(spy.routes().filter((r) => r === 'GET /api/v2/diagnostics/table').length).toBeGreaterThanOrEqual(4);
    expect(sleeps.every((ms) => ms === 1000)).toBe(true);
  });

  it('verify: addresses not live after the polls are per-entry retryable errors', async () => {
    // Prepare
    const { sim, provider } = setup({ applyBaseMs: 3_600_000 }, { verify: true }, { verifyAttempts: 3 });

    // Act
    const results = await provider.add(entries('198.51.100.7'), context());

    // Assess
    expect(results[0]?.ok).toBe(false);
    expect(results[0]?.ok === false && results[0].error).toContain('not yet in the live pf table after 3 checks');
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.7']);
  });

  it('drift: a flushed runtime table shows in list() with verify, and re-adding applies again', async () => {
    // Prepare
    const { sim, spy, provider } = setup({ applyBaseMs: 500 }, { verify: true });
    await provider.add(entries('198.51.100.7', '198.51.100.8'), context());
    sim.flushRuntimeTable(ALIAS);

    // Act
    const listed = await provider.list(context());
    const writesBefore = spy.writes().length;
    const reasserted = await provider.add(entries('198.51.100.7', '198.51.100.8'), context());

    // Assess
    expect(listed).toEqual([]);
    expect(reasserted.every((r) => r.ok)).toBe(true);
    expect(spy.writes().slice(writesBefore).map((w) => `${w.method} ${w.path}`)).toEqual(['POST /api/v2/firewall/apply']);
    expect(sim.liveTable(ALIAS)).toEqual(['198.51.100.7', '198.51.100.8']);
  });
});

describe('PfSenseV2Provider: filter reloads across batches (apply gate)', () => {
  /** Start times (device clock) of the reloads requested, from the simulator's log. */
  function applyTimes(sim: PfSenseV2Simulator): number[] {
    return sim.log
      .filter((entry) => entry.status === 200 && (entry.path.startsWith('/api/v2/firewall/apply') ? entry.method === 'POST' : /"apply":true/.test(entry.body)))
      .map((entry) => entry.startMs);
  }

  it('20 incidents in quick succession, one add batch each: written at once, reloads coalesced 0.5 s apart, the dispatcher never fills, no duplicate write', async () => {
    // Prepare: a reload takes 1.5 s (the simulator default); batches arrive every 100 ms.
    const { sim, provider, clock } = setup({}, {}, { minApplyGapMs: DEFAULT_MIN_APPLY_GAP_MS });
    sim.addAlias({ name: ALIAS });
    const pending = new Map<string, number>();

    // Act: as the reconciler does, a deferred entry is tried again (resumed) once its retryAfterMs has passed.
    const results = [];
    for (let step = 0; step < 40; step += 1) {
      const batch = step < 20 ? entries(`198.51.100.${step + 1}`) : [];
      for (const [ip, dueAt] of pending) {
        if (dueAt <= clock.now()) {
          batch.push({ ...entries(ip)[0]!, resumed: true });
          pending.delete(ip);
        }
      }
      if (batch.length > 0) {
        for (const result of await provider.add(batch, context())) {
          results.push(result);
          if (!result.ok) pending.set(result.ip, clock.now() + (result.retryAfterMs ?? 0));
        }
      }
      sim.advance(100);
      clock.advance(100);
    }
    sim.advance(5000);

    // Assess
    const deferred = results.filter((r) => !r.ok);
    expect(deferred.length).toBeGreaterThan(0);
    expect(deferred.every((r) => !r.ok && r.deferred === true && (r.retryAfterMs ?? Infinity) <= DEFAULT_MIN_APPLY_GAP_MS)).toBe(true);
    expect(pending.size).toBe(0);
    const times = applyTimes(sim);
    expect(times.length).toBeLessThan(20);
    expect(times.slice(1).every((t, i) => t - (times[i] as number) >= DEFAULT_MIN_APPLY_GAP_MS)).toBe(true);
    expect(sim.counters).toMatchObject({ appliesWhileFull: 0, appliesIgnoringRetryAfter: 0, dispatcherRejections: 0, duplicateWrites: 0, replaces: 0 });
    expect(sim.liveTable(ALIAS)).toHaveLength(20);
  });

  it('dispatcher full (others filled it): one 503, then writes without apply and no apply before Retry-After; the resumed retry applies once', async () => {
    // Prepare
    const { sim, spy, provider, clock } = setup({ retryAfterSeconds: 300 });
    sim.addAlias({ name: ALIAS });
    sim.occupyDispatcher(10, 200_000);

    // Act
    const first: Array<Awaited<ReturnType<PfSenseV2Provider['add']>>> = [];
    for (let i = 0; i < 20; i += 1) {
      first.push(await provider.add(entries(`198.51.100.${i + 1}`), context()));
      sim.advance(1000);
      clock.advance(1000);
    }
    const appliesBefore = sim.counters.appliesStarted;
    const notBefore = Math.max(...first.flat().map((r) => (r.ok ? 0 : clock.now() + (r.retryAfterMs ?? 0))));
    sim.advance(notBefore - clock.now());
    clock.set(notBefore);
    const retried = await provider.add(
      Array.from({ length: 20 }, (_, i) => ({ ...entries(`198.51.100.${i + 1}`)[0]!, resumed: true })),
      context(),
    );
    sim.advance(2000);

    // Assess
    expect(first.flat().every((r) => !r.ok && r.retryAfterMs !== undefined && r.error.includes('Retry-After 300 s'))).toBe(true);
    expect(appliesBefore).toBe(0);
    const patches = spy.requests.filter((r) => r.method === 'PATCH').map((r) => json(r.body));
    expect(patches.map((p) => p.apply)).toEqual([true, ...Array.from({ length: 19 }, () => false)]);
    expect(retried.every((r) => r.ok)).toBe(true);
    expect(spy.routes().filter((r) => r === 'POST /api/v2/firewall/apply')).toHaveLength(1);
    expect(sim.counters).toMatchObject({ appliesWhileFull: 1, appliesIgnoringRetryAfter: 0, duplicateWrites: 0 });
    expect(sim.liveTable(ALIAS)).toHaveLength(20);
  });

  it('two integrations on one firewall share the gate: never two requests in flight, reloads 0.5 s apart (later batches deferred)', async () => {
    // Prepare
    const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
    const sim = new PfSenseV2Simulator({ wallClock: clock.now });
    const spy = new SpyTransport(simulatorTransport(sim));
    const gates = new ApplyGates();
    const make = (alias: string, id: string) =>
      new PfSenseV2Provider(
        { ...config({ alias }), id },
        {
          transport: spy,
          tls: {},
          secrets: BASIC_SECRETS,
          now: clock.now,
          sleep: async (ms) => {
            sim.advance(ms);
            clock.advance(ms);
          },
          applyGates: gates,
          minApplyGapMs: DEFAULT_MIN_APPLY_GAP_MS,
        },
      );
    const a = make('relay_a', 'fw-a');
    const b = make('relay_b', 'fw-b');

    // Act
    const results = await Promise.all([
      a.add(entries('198.51.100.1'), context()),
      b.add(entries('198.51.100.2'), context()),
      a.add(entries('198.51.100.3'), context()),
      b.add(entries('198.51.100.4'), context()),
    ]);

    // Assess: the first batch applies; the three that follow within the gap are written and deferred to the shared slot.
    const flat = results.flat();
    expect(flat[0]?.ok).toBe(true);
    expect(flat.slice(1).every((r) => !r.ok && r.deferred === true)).toBe(true);
    expect(spy.maxInFlight).toBe(1);
    expect(applyTimes(sim)).toHaveLength(1);
    expect(sim.counters.duplicateWrites).toBe(0);
  });

  it('drift without verify: list() leaves out relay entries a flush took from the live table; a resumed add re-applies, writes nothing', async () => {
    // Prepare
    const { sim, spy, provider, clock } = setup({ applyBaseMs: 500 });
    sim.addAlias({ name: ALIAS, address: ['192.0.2.1'], detail: ['office'] });
    await provider.add(entries('198.51.100.7', '198.51.100.8'), context());
    sim.advance(60_000);
    clock.advance(60_000);
    sim.flushRuntimeTable(ALIAS);

    // Act
    const listed = await provider.list(context());
    const writesBefore = spy.writes().length;
    const reasserted = await provider.add(
      entries('198.51.100.7', '198.51.100.8').map((entry) => ({ ...entry, resumed: true })),
      context(),
    );
    sim.advance(1000);

    // Assess
    expect(listed).toEqual([{ ip: '192.0.2.1', owned: false }]);
    expect(reasserted.every((r) => r.ok)).toBe(true);
    expect(spy.writes().slice(writesBefore).map((w) => `${w.method} ${w.path}`)).toEqual(['POST /api/v2/firewall/apply']);
    expect(sim.liveTable(ALIAS)).toEqual(['192.0.2.1', '198.51.100.7', '198.51.100.8']);
    expect(sim.counters).toMatchObject({ duplicateWrites: 0, foreignTouched: 0 });
  });

  it('list() reads the live table on every call; with no table (no rule references the alias) it reports the configuration', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['198.51.100.7'], detail: [mark('198.51.100.7')] });

    // Act
    const listed = await provider.list(context());

    // Assess
    expect(spy.routes()).toEqual(['GET /api/v2/firewall/aliases', 'GET /api/v2/diagnostics/table']);
    expect(listed).toEqual([{ ip: '198.51.100.7', owned: true }]);
  });

  it('a resumed batch with nothing to write applies even when this process saw no reload (the cut-off attempt may have written without one)', async () => {
    // Prepare: config already holds the entry (written by an earlier process), never applied
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS });
    sim.editAlias(ALIAS, { address: ['198.51.100.7'], detail: [mark('198.51.100.7')] });

    // Act
    const results = await provider.add([{ ...entries('198.51.100.7')[0]!, resumed: true }], context());

    // Assess
    expect(results[0]).toEqual({ ip: '198.51.100.7', ok: true });
    expect(spy.routes()).toEqual(['GET /api/v2/firewall/aliases', 'GET /api/v2/diagnostics/table', 'POST /api/v2/firewall/apply']);
  });
});

describe('PfSenseV2Provider: failures and safety', () => {
  it('hostile values never reach a request: per-entry errors, valid addresses still sent', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    const hostile = ['1.2.3.4; /system reset', '198.51.100.1\n', '198.51.100.0/24', 'fe80::1%em0', '', '01.2.3.4', '$(reboot)'];

    // Act
    const results = await provider.add(entries(...hostile, '198.51.100.9'), context());

    // Assess
    expect(results.slice(0, hostile.length).every((r) => !r.ok && r.error.startsWith('not a single IP address'))).toBe(true);
    expect(results.at(-1)).toEqual({ ip: '198.51.100.9', ok: true });
    const sent = spy.requests.map((r) => `${r.path} ${r.body}`).join('\n');
    for (const value of ['system reset', '198.51.100.1\\n', '/24', '%em0', '01.2.3.4', 'reboot']) expect(sent).not.toContain(value);
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.9']);
  });

  it('only hostile values: no request at all', async () => {
    // Prepare
    const { spy, provider } = setup();

    // Act
    const results = await provider.remove(entries('1.2.3.4; /system reset'), context());

    // Assess
    expect(results[0]?.ok).toBe(false);
    expect(spy.requests).toHaveLength(0);
  });

  it('refuses unsafe construction: an alias name with quotes, apiVersion v1, a key with a newline, a username with ":"', () => {
    // Prepare
    const transport = simulatorTransport(new PfSenseV2Simulator());
    const base = config();
    const build = (overrides: Partial<PfSenseIntegrationConfig['options']>, secrets: PfSenseV2Secrets = BASIC_SECRETS) =>
      () => new PfSenseV2Provider({ ...base, options: { ...base.options, ...overrides } }, { transport, tls: {}, secrets });

    // Act & Assess
    expect(build({ alias: 'x"; DROP' })).toThrow(PfSenseV2ConfigError);
    expect(build({ alias: "it's" })).toThrow(PfSenseV2ConfigError);
    expect(build({ apiVersion: 'v1' })).toThrow(/apiVersion/);
    expect(build({ auth: 'apiKey' }, { apiKey: 'abc\r\nX-Evil: 1' })).toThrow(/secrets.apiKey/);
    expect(build({}, { username: 'ad:min', password: 'x' })).toThrow(/secrets.username/);
    expect(build({ url: 'https://10.0.0.1/api?x=1' })).toThrow(/options.url/);
  });

  it('INVALID_HOST_ALIAS_ADDRESS naming one address fails that entry and retries the rest', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS });
    let refused = false;
    spy.before = (request) => {
      if (request.method !== 'PATCH' || refused) return undefined;
      refused = true;
      return envelopeResponse(400, 'INVALID_HOST_ALIAS_ADDRESS', 'Host alias `address` value `198.51.100.2` is not a valid IP, FQDN, or alias.');
    };

    // Act
    const results = await provider.add(entries('198.51.100.1', '198.51.100.2', '198.51.100.3'), context());

    // Assess
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]?.ok === false && results[1].error).toContain('INVALID_HOST_ALIAS_ADDRESS');
    expect(sim.alias(ALIAS)?.address).toEqual(['198.51.100.1', '198.51.100.3']);
  });

  it('device down, timeouts and 5xx are retryable batch failures; 4xx is not', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS });

    // Act
    sim.setDown('reset');
    const down = await failure(provider.add(entries('198.51.100.7'), context()));
    sim.setDown('hang');
    const timeout = await failure(provider.add(entries('198.51.100.7'), context()));
    sim.setDown(false);
    spy.before = (request) => (request.method === 'PATCH' ? envelopeResponse(500, 'SERVER_ERROR', 'boom') : undefined);
    const serverError = await failure(provider.add(entries('198.51.100.7'), context()));
    spy.before = (request) => (request.method === 'PATCH' ? envelopeResponse(400, 'FIELD_INVALID_TYPE', 'nope') : undefined);
    const clientError = await failure(provider.add(entries('198.51.100.7'), context()));

    // Assess
    expect(down.retryable).toBe(true);
    expect(timeout.retryable).toBe(true);
    expect(timeout.message).toContain('no complete response');
    expect(serverError.retryable).toBe(true);
    expect(clientError.retryable).toBe(false);
  });

  it('never has two requests in flight, even when called concurrently', async () => {
    // Prepare
    const { spy, provider } = setup();

    // Act
    const calls = await Promise.all([
      provider.add(entries(...ipv4s(10)), context()),
      provider.remove(entries(...ipv4s(5)), context()),
      provider.list(context()),
      provider.add(entries(...ipv4s(10, 50)), context()),
      provider.healthCheck(context()),
    ]);

    // Assess
    expect(calls).toHaveLength(5);
    expect(spy.requests.length).toBeGreaterThan(5);
    expect(spy.maxInFlight).toBe(1);
  });

  it('healthCheck: authenticates, reads the alias without creating it, reports limits', async () => {
    // Prepare
    const { sim, spy, provider } = setup({}, { legacyArrayLimit: true });

    // Act
    const missing = await provider.healthCheck(context());
    sim.addAlias({ name: ALIAS, address: ['198.51.100.1'] });
    const present = await provider.healthCheck(context());

    // Assess
    expect(missing).toEqual({ ok: true, detail: expect.stringContaining('does not exist yet') });
    expect(present.ok).toBe(true);
    expect(present.detail).toContain('holds 1 entries');
    expect(present.detail).toContain('at most 128 addresses per request (configured)');
    expect(spy.writes()).toHaveLength(0);
  });
});

describe('PfSenseV2Provider over HTTPS', () => {
  let cert: SelfSignedCert;
  let dir: string;
  let running: RunningPfSenseV2Simulator | undefined;

  beforeAll(() => {
    cert = makeSelfSignedCert();
    dir = mkdtempSync(join(tmpdir(), 'relay-pfsense-v2-'));
    writeFileSync(join(dir, 'ca.pem'), cert.cert);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  async function httpsProvider(tls: Record<string, unknown>) {
    running = await startPfSenseV2Simulator({ tls: cert });
    const integration = config({ tls }, running.origin);
    const spy = new SpyTransport(createDirectTransport());
    const provider = new PfSenseV2Provider(integration, {
      transport: spy,
      tls: deviceTls(integration.options.tls, { where: 'integrations[0].options', baseDir: dir }),
      secrets: BASIC_SECRETS,
      applyGates: new ApplyGates(),
      minApplyGapMs: 0, // real clock here: no 3 s wait between the add's reload and the remove's
    });
    return { provider, spy, sim: running.sim };
  }

  it('adds and removes 1,000 IPs in at most 8 device requests (package >= 2.5.4)', async () => {
    // Prepare
    const { provider, sim } = await httpsProvider({ pinSha256: cert.sha256Hex });
    const ips = [...ipv4s(900), ...Array.from({ length: 100 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`)];

    // Act
    const added = await provider.add(entries(...ips), context());
    const afterAdd = sim.alias(ALIAS)?.address.length;
    const removed = await provider.remove(entries(...ips), context());

    // Assess
    expect(added.every((r) => r.ok) && removed.every((r) => r.ok)).toBe(true);
    expect(afterAdd).toBe(1000);
    expect(sim.alias(ALIAS)?.address).toEqual([]);
    expect(sim.counters.requests).toBeLessThanOrEqual(8);
    expect(sim.counters.requests).toBe(4);
  });

  it('trusts the device through caFile', async () => {
    // Prepare
    const { provider } = await httpsProvider({ caFile: 'ca.pem' });

    // Act
    const results = await provider.add(entries('198.51.100.7'), context());

    // Assess
    expect(results[0]?.ok).toBe(true);
  });

  it('a certificate that does not match the pin is a non-retryable failure before any request reaches the API', async () => {
    // Prepare
    const other = makeSelfSignedCert();
    const { provider, sim } = await httpsProvider({ pinSha256: other.sha256Base64 });

    // Act
    const error = await failure(provider.add(entries('198.51.100.7'), context()));

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('PIN_MISMATCH');
    expect(sim.counters.requests).toBe(0);
  });
});
