import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pfsenseIntegrationSchema } from '../../../../lib/config/schema.ts';
import { deviceTls } from '../../../../lib/providers/device-tls.ts';
import { ProviderError } from '../../../../lib/providers/errors.ts';
import { type PfSenseIntegrationConfig, PfSenseV2Provider, type PfSenseV2ProviderDeps } from '../../../../lib/providers/pfsense/v2/provider.ts';
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
    ...deps,
  });
  return { sim, spy, provider, sleeps, clock };
}

function entries(...ips: string[]): BlockEntry[] {
  return ips.map((ip) => ({ ip, expiresAt: Date.parse('2030-01-01T01:00:00Z'), incidents: ['3f6c0d2e-8a51-4f0b-9d7e-1c2b3a4d5e6f'] }));
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
    const provider = new PfSenseV2Provider(config({ auth: 'apiKey' }), { transport: spy, tls: {}, secrets: { apiKey: key } });

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
  it('creates a missing host alias with the first addresses, a description and no details; never touches rules', async () => {
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
    expect(create).not.toHaveProperty('detail');
    expect(sim.alias(ALIAS)).toMatchObject({ type: 'host', detail: [], address: ['198.51.100.7', '2001:db8::7'] });
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
    expect(json(spy.writes().at(-1)?.body ?? '{}')).toEqual({ id: 0, address: ['198.51.100.2'], append: true, apply: true });
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

  it('remove sends the stored spellings with remove: true and keeps everything else', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['198.51.100.1', '2001:DB8::5', 'blocked.example.org', '198.51.100.2'] });

    // Act
    const results = await provider.remove(entries('198.51.100.1', '2001:db8::5', '203.0.113.99'), context());

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    expect(json(spy.writes()[0]?.body ?? '{}')).toEqual({ id: 0, name: ALIAS, address: ['198.51.100.1', '2001:DB8::5'], remove: true, apply: true });
    expect(sim.alias(ALIAS)?.address).toEqual(['blocked.example.org', '198.51.100.2']);
  });

  it('removing the last addresses empties the alias with a plain replace (remove with the whole list is a no-op)', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    await provider.add(entries('198.51.100.1', '198.51.100.2'), context());

    // Act
    const results = await provider.remove(entries('198.51.100.2', '198.51.100.1'), context());

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    expect(json(spy.writes().at(-1)?.body ?? '{}')).toEqual({ id: 0, name: ALIAS, address: [], detail: [], apply: true });
    expect(sim.alias(ALIAS)?.address).toEqual([]);
  });

  it('an alias with per-entry descriptions is changed by replace, keeping each description with its address', async () => {
    // Prepare
    const { sim, spy, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['198.51.100.1', '198.51.100.2', '198.51.100.3'], detail: ['one', 'two', 'three'] });

    // Act
    const results = await provider.remove(entries('198.51.100.2'), context());

    // Assess
    expect(results[0]?.ok).toBe(true);
    expect(json(spy.writes()[0]?.body ?? '{}')).toMatchObject({ address: ['198.51.100.1', '198.51.100.3'], detail: ['one', 'three'] });
    expect(sim.alias(ALIAS)).toMatchObject({ address: ['198.51.100.1', '198.51.100.3'], detail: ['one', 'three'] });
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

  it('list(): the configured addresses, canonical, without FQDNs or nested aliases', async () => {
    // Prepare
    const { sim, provider } = setup();
    sim.addAlias({ name: ALIAS, address: ['198.51.100.1', '2001:DB8::5', 'blocked.example.org', '198.51.100.1'] });

    // Act
    const listed = await provider.list(context());

    // Assess
    expect(listed).toEqual([{ ip: '198.51.100.1' }, { ip: '2001:db8::5' }]);
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

  it('a Retry-After longer than the operation may take fails retryable at once; the next call applies', async () => {
    // Prepare
    const { sim, spy, provider, sleeps } = setup({ retryAfterSeconds: 300 });
    sim.addAlias({ name: ALIAS });
    sim.occupyDispatcher(10, 10_000);

    // Act
    const error = await failure(provider.add(entries('198.51.100.7'), context()));
    sim.advance(10_000);
    const retry = await provider.add(entries('198.51.100.7'), context());

    // Assess
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('Retry-After');
    expect(sleeps).toEqual([]);
    expect(retry[0]?.ok).toBe(true);
    expect(spy.routes().slice(-2)).toEqual(['GET /api/v2/firewall/aliases', 'POST /api/v2/firewall/apply']);
    expect(sim.pendingSubsystems()).toEqual([]);
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
