/**
 * The pfSense v1 adapter against the pfSense-pkg-API v1 simulator
 * (test/simulators/pfsense-v1) over real HTTP(S) on 127.0.0.1.
 *
 * One suite at the end reads a file OUTSIDE this repository,
 * ../shared/specs/pfsense-api-v1_openapi.yml, and skips when it is absent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pfsenseIntegrationSchema } from '../../../../lib/config/schema.ts';
import { planDrift } from '../../../../lib/planner/plan-drift.ts';
import { SecretMissingError } from '../../../../lib/config/secrets.ts';
import { deviceTls } from '../../../../lib/providers/device-tls.ts';
import { ProviderError } from '../../../../lib/providers/errors.ts';
import {
  PfSenseV1AliasDetailError,
  PfSenseV1AliasTypeError,
  PfSenseV1AuthError,
  PfSenseV1ConfigError,
} from '../../../../lib/providers/pfsense/v1/errors.ts';
import { relayDetail } from '../../../../lib/providers/pfsense/mark.ts';
import {
  PFSENSE_V1_ALIAS_DESCRIPTION,
  PFSENSE_V1_LIVE_TABLE_NOTE,
  type PfSenseIntegrationConfig,
  PfSenseV1Provider,
  type PfSenseV1Secrets,
  resolvePfSenseV1Secrets,
} from '../../../../lib/providers/pfsense/v1/provider.ts';
import type { BlockEntry, ProviderContext } from '../../../../lib/providers/types.ts';
import { SerialLock } from '../../../../lib/util/serial-lock.ts';
import { JWT_FALLBACK_LIFETIME_MS, jwtRenewAt } from '../../../../lib/providers/pfsense/v1/jwt.ts';
import { createDirectTransport } from '../../../../lib/transport/node-http.ts';
import { benchPfSenseV1 } from '../../../../bench/devices/pfsense-v1.ts';
import type { TlsOptions } from '../../../../lib/transport/types.ts';
import { ManualClock } from '../../../helpers/clock.ts';
import { RecordingLogger } from '../../../helpers/recording-logger.ts';
import { makeSelfSignedCert, type SelfSignedCert } from '../../../helpers/tls.ts';
import type { LoggedRequest } from '../../../simulators/pfsense-v1/device.ts';
import { v1Envelope } from '../../../simulators/pfsense-v1/responses.ts';
import {
  loadPfSenseV1OpenApiPaths,
  operationFields,
  PFSENSE_V1_OPENAPI_PATH,
  pfSenseV1OpenApiAvailable,
} from '../../../simulators/pfsense-v1/openapi.ts';
import {
  type PfSenseV1Simulator,
  type PfSenseV1SimulatorOptions,
  startPfSenseV1Simulator,
} from '../../../simulators/pfsense-v1/server.ts';

const ALIAS = 'flowtriq_blocked';
const ALIAS_PATH = '/api/v1/firewall/alias';
const ENTRY_PATH = '/api/v1/firewall/alias/entry';
const APPLY_PATH = '/api/v1/firewall/apply';
const TOKEN_PATH = '/api/v1/access_token';
const ADMIN: PfSenseV1Secrets = { username: 'admin', password: 'pfsense' };
const CLIENT_ID = Buffer.from('admin').toString('hex');
const CLIENT_TOKEN = '0123456789abcdef0123456789abcdef';

let sim: PfSenseV1Simulator | undefined;
let cert: SelfSignedCert;
let dir: string;

beforeAll(() => {
  cert = makeSelfSignedCert();
  dir = mkdtempSync(join(tmpdir(), 'relay-pfsense-v1-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: PfSenseV1SimulatorOptions = {}): Promise<PfSenseV1Simulator> {
  sim = await startPfSenseV1Simulator(options);
  return sim;
}

interface ProviderOptions {
  auth?: 'basic' | 'jwt' | 'token';
  alias?: string;
  timeout?: string;
  secrets?: PfSenseV1Secrets;
  tls?: TlsOptions;
  now?: () => number;
  /** Default 0 here (no coalescing wait between applies); the coalescing tests set it. */
  applyGapMs?: number;
}

function integration(url: string, auth: 'basic' | 'jwt' | 'token' = 'basic', timeout = '10s'): PfSenseIntegrationConfig {
  return pfsenseIntegrationSchema.parse({
    id: 'fw1',
    type: 'pfsense',
    options: { url, apiVersion: 'v1', auth, timeout, allowInsecureHttp: url.startsWith('http://') },
    secrets:
      auth === 'token'
        ? { clientId: { env: 'PF_CLIENT_ID' }, clientToken: { env: 'PF_CLIENT_TOKEN' } }
        : { username: { env: 'PF_USER' }, password: { env: 'PF_PASSWORD' } },
  });
}

function provider(options: ProviderOptions = {}): PfSenseV1Provider {
  const auth = options.auth ?? 'basic';
  const config = integration(sim!.origin, auth, options.timeout);
  if (options.alias !== undefined) config.options.alias = options.alias;
  const secrets = options.secrets ?? (auth === 'token' ? { clientId: CLIENT_ID, clientToken: CLIENT_TOKEN } : ADMIN);
  return new PfSenseV1Provider(config, {
    transport: createDirectTransport(),
    tls: options.tls ?? {},
    secrets,
    configPath: 'integrations[0]',
    applyGapMs: options.applyGapMs ?? 0,
    ...(options.now ? { now: options.now } : {}),
  });
}

function ctx(): ProviderContext {
  return { signal: new AbortController().signal, logger: new RecordingLogger() };
}

function entries(ips: string[]): BlockEntry[] {
  return ips.map((ip) => ({ ip, expiresAt: Date.parse('2030-01-01T01:00:00Z'), incidents: ['incident-1'] }));
}

/** The relay's mark for `ip`, as `entries()` would have it written. */
function mark(ip: string, incident = 'incident-1'): string {
  return relayDetail(ip, incident);
}

function range(count: number, prefix = '10.'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${Math.floor(i / 65536) % 256}.${Math.floor(i / 256) % 256}.${i % 256}`);
}

function sent(method: string, path: string): LoggedRequest[] {
  return sim!.device.log.filter((request) => request.method === method && request.path === path);
}

/** Every `METHOD /path` the simulator was asked for. */
function endpointsCalled(): string[] {
  return [...sim!.device.counters.keys()];
}

describe('PfSenseV1Provider: authentication modes', () => {
  it('basic: every request carries HTTP Basic; a missing alias is created as a host alias and filled', async () => {
    // Prepare
    const { device } = await start();
    const relay = provider();

    // Act
    const results = await relay.add(entries(['198.51.100.1', '198.51.100.2']), ctx());

    // Assess
    expect(results).toEqual([
      { ip: '198.51.100.1', ok: true },
      { ip: '198.51.100.2', ok: true },
    ]);
    expect(device.log.every((request) => request.authorization === `Basic ${Buffer.from('admin:pfsense').toString('base64')}`)).toBe(true);
    const [create] = sent('POST', ALIAS_PATH);
    expect(create?.payload).toEqual({
      name: ALIAS,
      type: 'host',
      descr: PFSENSE_V1_ALIAS_DESCRIPTION,
      address: ['198.51.100.1', '198.51.100.2'],
      detail: ['flowtriq-relay incident-1 198.51.100.1', 'flowtriq-relay incident-1 198.51.100.2'],
      apply: false,
    });
    expect(device.config.aliases.find((alias) => alias.name === ALIAS)?.type).toBe('host');
    expect(device.config.live.get(ALIAS)).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(endpointsCalled().sort()).toEqual([`GET ${ALIAS_PATH}`, `POST ${ALIAS_PATH}`, `POST ${APPLY_PATH}`].sort());
  });

  it('jwt: fetches a token with Basic once, then sends Bearer on every other request', async () => {
    // Prepare
    const { device } = await start({ authMode: 'jwt' });
    const relay = provider({ auth: 'jwt' });

    // Act
    await relay.add(entries(['198.51.100.1']), ctx());
    await relay.remove(entries(['198.51.100.1']), ctx());

    // Assess
    expect(device.count('POST', TOKEN_PATH)).toBe(1);
    const others = device.log.filter((request) => request.path !== TOKEN_PATH);
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((request) => request.authorization?.startsWith('Bearer ') === true)).toBe(true);
    expect(sent('POST', TOKEN_PATH)[0]?.authorization).toMatch(/^Basic /);
    expect(device.aliasEntries(ALIAS)).toEqual([]);
    expect(device.failedAuths).toBe(0);
  });

  it('token: sends "<client-id> <client-token>" on every request', async () => {
    // Prepare
    const { device } = await start({ authMode: 'token', tokens: [{ clientId: CLIENT_ID, clientToken: CLIENT_TOKEN }] });
    const relay = provider({ auth: 'token' });

    // Act
    const results = await relay.add(entries(['198.51.100.1']), ctx());

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(device.log.every((request) => request.authorization === `${CLIENT_ID} ${CLIENT_TOKEN}`)).toBe(true);
    expect(device.count('POST', TOKEN_PATH)).toBe(0);
  });

  it.each([
    ['basic', { authMode: 'local' }, { username: 'admin', password: 'wrong' }, 'secrets.password'],
    ['jwt', { authMode: 'jwt' }, { username: 'admin', password: 'wrong' }, 'secrets.password'],
    ['token', { authMode: 'token', tokens: [{ clientId: CLIENT_ID, clientToken: CLIENT_TOKEN }] }, { clientId: CLIENT_ID, clientToken: 'ffff' }, 'secrets.clientToken'],
  ] as const)('%s: an authentication failure stops at once: exactly one failed request, not retryable, names the fix', async (auth, options, secrets, fix) => {
    // Prepare
    const { device } = await start({ ...options, loginProtection: { threshold: 5, mode: 'drop' } });
    const relay = provider({ auth, secrets });

    // Act
    const error = await relay.add(entries(range(10)), ctx()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PfSenseV1AuthError);
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toContain(`integrations[0].${fix}`);
    expect((error as Error).message).toContain('login protection');
    expect(device.totalRequests).toBe(1);
    expect(device.failedAuths).toBe(1);
  });

  it('a user without alias privileges: one request, not retryable, names the privileges to grant', async () => {
    // Prepare
    const { device } = await start({ users: [{ username: 'relay', password: 'pw', privileges: ['page-dashboard-all'] }] });
    const relay = provider({ secrets: { username: 'relay', password: 'pw' } });

    // Act
    const error = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PfSenseV1AuthError);
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toContain('Alias: Edit');
    expect(device.totalRequests).toBe(1);
  });

  it('jwt with the firewall in local mode: the token request is refused (return 9) with the setting to change', async () => {
    // Prepare
    const { device } = await start({ authMode: 'local' });
    const relay = provider({ auth: 'jwt' });

    // Act
    const error = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PfSenseV1AuthError);
    expect((error as Error).message).toContain('Authentication Mode to JWT');
    expect(device.totalRequests).toBe(1);
  });
});

describe('PfSenseV1Provider: JWT renewal', () => {
  it('renews a minute before exp, with no failed request', async () => {
    // Prepare
    const clock = new ManualClock();
    const { device } = await start({ authMode: 'jwt', jwtExpSeconds: 300, now: clock.now });
    const relay = provider({ auth: 'jwt', now: clock.now });
    await relay.add(entries(['198.51.100.1']), ctx());

    // Act
    clock.advance(239_000);
    await relay.list(ctx());
    const tokensBeforeMargin = device.count('POST', TOKEN_PATH);
    clock.advance(2_000);
    await relay.list(ctx());

    // Assess
    expect(tokensBeforeMargin).toBe(1);
    expect(device.count('POST', TOKEN_PATH)).toBe(2);
    expect(device.failedAuths).toBe(0);
  });

  it('renews once after a 401 to a cached token (revoked on the firewall) and repeats the request', async () => {
    // Prepare
    const { device } = await start({ authMode: 'jwt' });
    const relay = provider({ auth: 'jwt' });
    await relay.add(entries(['198.51.100.1']), ctx());
    device.revokeJwts();

    // Act
    const listed = await relay.list(ctx());

    // Assess
    expect(listed).toEqual([{ ip: '198.51.100.1', owned: true }]);
    expect(device.count('POST', TOKEN_PATH)).toBe(2);
    expect(device.log.filter((request) => request.status === 401)).toHaveLength(1);
  });

  it('stops when the renewed token is refused too (no loop)', async () => {
    // Prepare
    const { device } = await start({ authMode: 'jwt', loginProtection: false });
    const relay = provider({ auth: 'jwt' });
    await relay.list(ctx());
    device.override = (request) =>
      request.path === ALIAS_PATH
        ? { kind: 'response', status: 401, headers: {}, body: JSON.stringify(v1Envelope(3)) }
        : undefined;
    device.resetCounters();

    // Act
    const error = await relay.list(ctx()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PfSenseV1AuthError);
    expect(device.count('GET', ALIAS_PATH)).toBe(2);
    expect(device.count('POST', TOKEN_PATH)).toBe(1);
  });
});

describe('PfSenseV1Provider: add, remove, apply', () => {
  it('add sends only canonical addresses not already in the alias; a repeat sends nothing', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS, address: ['198.51.100.1', '2001:DB8::1'] }] });
    const relay = provider();
    const batch = entries(['198.51.100.1', '198.51.100.2', '198.51.100.2', '2001:db8::1', '2001:DB8:0::2']);

    // Act
    const first = await relay.add(batch, ctx());
    const writesAfterFirst = device.config.writes;
    device.resetCounters();
    const second = await relay.add(batch, ctx());

    // Assess
    expect(first.every((result) => result.ok)).toBe(true);
    expect(second.every((result) => result.ok)).toBe(true);
    expect(device.aliasEntries(ALIAS)).toEqual(['198.51.100.1', '2001:DB8::1', '198.51.100.2', '2001:db8::2']);
    expect(writesAfterFirst).toBe(1);
    expect(device.config.writes).toBe(1);
    expect(endpointsCalled()).toEqual([`GET ${ALIAS_PATH}`]);
  });

  it('remove sends one DELETE with the alias\'s own spelling of each address; absent addresses succeed', async () => {
    // Prepare
    // (Seeded with the relay's marks: remove only ever takes the relay's own entries.)
    const { device } = await start({
      aliases: [
        {
          name: ALIAS,
          address: ['198.51.100.1', 'example.com', '198.51.100.1', '2001:DB8::5', '198.51.100.2'],
          detail: [mark('198.51.100.1'), 'operator host', mark('198.51.100.1'), mark('2001:DB8::5'), 'operator entry'],
        },
      ],
    });
    const relay = provider();

    // Act
    const results = await relay.remove(entries(['198.51.100.1', '2001:db8::5', '203.0.113.99']), ctx());

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    const deletes = sent('DELETE', ENTRY_PATH);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]?.contentType).toBe('application/json');
    expect(deletes[0]?.payload).toEqual({ name: ALIAS, address: ['198.51.100.1', '2001:DB8::5'], apply: false });
    expect(device.aliasEntries(ALIAS)).toEqual(['example.com', '198.51.100.2']);
    expect(device.count('POST', APPLY_PATH)).toBe(1);
  });

  it('one apply per batch: writes pass apply:false, then one POST apply; nothing left pending', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider();

    // Act
    await relay.add(entries(range(50)), ctx());

    // Assess
    expect(device.count('POST', ENTRY_PATH)).toBe(1);
    expect(sent('POST', ENTRY_PATH)[0]?.payload.apply).toBe(false);
    expect(device.count('POST', APPLY_PATH)).toBe(1);
    expect(device.config.writes).toBe(1);
    expect(device.config.reloads).toBe(1);
    expect(device.pendingApply).toBe(false);
    expect(device.config.live.get(ALIAS)).toHaveLength(50);
  });

  it('adds and removes 1,000 addresses in at most 8 device requests (alias created on the way)', async () => {
    // Prepare
    const { device } = await start();
    const relay = provider();
    const ips = range(1000);

    // Act
    const added = await relay.add(entries(ips), ctx());
    const liveAfterAdd = device.config.live.get(ALIAS)?.length;
    const removed = await relay.remove(entries(ips), ctx());

    // Assess
    expect(added.filter((result) => result.ok)).toHaveLength(1000);
    expect(removed.filter((result) => result.ok)).toHaveLength(1000);
    expect(liveAfterAdd).toBe(1000);
    expect(device.config.live.get(ALIAS)).toEqual([]);
    expect(device.totalRequests).toBeLessThanOrEqual(8);
    expect(device.totalRequests).toBe(6);
  });

  it('IPv4 and IPv6 share the host alias; IPv4-mapped and uppercase forms are sent canonical', async () => {
    // Prepare
    const { device } = await start();
    const relay = provider();

    // Act
    await relay.add(entries(['2001:DB8:0:0:0:0:0:1', '::ffff:198.51.100.7', '198.51.100.8', 'fe80::1']), ctx());
    const listed = await relay.list(ctx());
    await relay.remove(entries(['2001:db8::1', '198.51.100.7']), ctx());

    // Assess
    expect(sent('POST', ALIAS_PATH)[0]?.payload.address).toEqual(['2001:db8::1', '198.51.100.7', '198.51.100.8', 'fe80::1']);
    expect(listed.map((entry) => entry.ip).sort()).toEqual(['198.51.100.7', '198.51.100.8', '2001:db8::1', 'fe80::1']);
    expect(device.aliasEntries(ALIAS)).toEqual(['198.51.100.8', 'fe80::1']);
  });

  it('a failed apply is repeated on the next batch even when that batch has nothing to write', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider();
    let failApply = true;
    device.override = (request) => {
      if (request.path !== APPLY_PATH || !failApply) return undefined;
      failApply = false;
      return { kind: 'response', status: 500, headers: {}, body: JSON.stringify(v1Envelope(1)) };
    };

    // Act
    const error = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);
    const pendingAfterFailure = device.pendingApply;
    device.resetCounters();
    const retried = await relay.add(entries(['198.51.100.1']), ctx());

    // Assess
    expect((error as ProviderError).retryable).toBe(true);
    expect(pendingAfterFailure).toBe(true);
    expect(retried).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(endpointsCalled().sort()).toEqual([`GET ${ALIAS_PATH}`, `POST ${APPLY_PATH}`].sort());
    expect(device.pendingApply).toBe(false);
    expect(device.aliasEntries(ALIAS)).toEqual(['198.51.100.1']);
  });

  it('recreates the alias when it vanishes between the read and the write (4055)', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider();
    device.override = (request) => {
      if (request.method === 'POST' && request.path === ENTRY_PATH) device.config.aliases.splice(0, 1);
      return undefined;
    };

    // Act
    const results = await relay.add(entries(['198.51.100.1']), ctx());

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(sent('POST', ENTRY_PATH)[0]?.returnCode).toBe(4055);
    expect(device.count('POST', ALIAS_PATH)).toBe(1);
    expect(device.config.live.get(ALIAS)).toEqual(['198.51.100.1']);
  });

  it('reads the alias when the firewall answers data keyed by config index ({"1": {...}})', async () => {
    // Prepare
    const { device } = await start({
      aliases: [{ name: 'other', address: ['192.0.2.1'] }, { name: ALIAS, address: ['198.51.100.1', 'evil;cmd'] }],
    });
    const relay = provider();

    // Act
    const listed = await relay.list(ctx());

    // Assess
    const data = sent('GET', ALIAS_PATH)[0]?.response?.data;
    expect(Array.isArray(data)).toBe(false);
    expect(Object.keys(data as object)).toEqual(['1']);
    expect(listed).toEqual([{ ip: '198.51.100.1', owned: false }]);
    expect(device.totalRequests).toBe(1);
  });

  it('a removal on a missing alias succeeds without writing', async () => {
    // Prepare
    const { device } = await start();
    const relay = provider();

    // Act
    const results = await relay.remove(entries(['198.51.100.1']), ctx());

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(device.config.writes).toBe(0);
    expect(device.count('DELETE', ENTRY_PATH)).toBe(0);
  });

  it('refuses to use an alias of another type, writing nothing', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS, type: 'network', address: ['192.0.2.0/24'] }] });
    const relay = provider();

    // Act
    const error = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);
    const health = await relay.healthCheck(ctx());

    // Assess
    expect(error).toBeInstanceOf(PfSenseV1AliasTypeError);
    expect((error as ProviderError).retryable).toBe(false);
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('not host');
    expect(device.config.writes).toBe(0);
  });
});

describe('PfSenseV1Provider: errors from the firewall', () => {
  it('return 4058 fails every entry of the batch (per-entry errors) and applies nothing', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider();
    device.override = (request) =>
      request.path === ENTRY_PATH
        ? { kind: 'response', status: 400, headers: {}, body: JSON.stringify(v1Envelope(4058)) }
        : undefined;

    // Act
    const results = await relay.add(entries(['198.51.100.1', '198.51.100.2', 'nonsense']), ctx());

    // Assess
    expect(results.map((result) => result.ok)).toEqual([false, false, false]);
    expect(results[0]).toMatchObject({ ok: false, error: expect.stringContaining('4058') });
    expect(results[2]).toMatchObject({ ok: false, error: expect.stringContaining('invalid address') });
    expect(device.count('POST', APPLY_PATH)).toBe(0);
  });

  it('5xx, a dropped connection and a timeout are retryable', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider({ timeout: '1s' });

    // Act
    device.setDown('error');
    const serverError = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);
    device.setDown('drop');
    const dropped = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);
    device.setDown('hang');
    const timedOut = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);
    device.setDown(false);
    const recovered = await relay.add(entries(['198.51.100.1']), ctx());

    // Assess
    for (const error of [serverError, dropped, timedOut]) {
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).retryable).toBe(true);
    }
    expect((timedOut as Error).message).toContain('no complete response within 1000ms');
    expect(recovered).toEqual([{ ip: '198.51.100.1', ok: true }]);
  });

  it('an answer that is not the v1 envelope names the likely cause', async () => {
    // Prepare
    const { device } = await start();
    const relay = provider();
    device.override = () => ({ kind: 'response', status: 404, headers: {}, body: '<html>not found</html>' });

    // Act
    const error = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);

    // Assess
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toContain('apiVersion: v2');
  });
});

describe('PfSenseV1Provider: hostile values never reach a request unvalidated', () => {
  it('an "IP" with a command, a newline or a prefix is refused per entry and never sent', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider();
    const hostile = ['1.2.3.4; /system reset', '1.2.3.4\n', ' 198.51.100.9', '198.51.100.10/32', '1.2.3.4%eth0', "1.2.3.4'"];

    // Act
    const results = await relay.add(entries([...hostile, '198.51.100.7']), ctx());
    await relay.remove(entries([...hostile, '198.51.100.7']), ctx());

    // Assess
    expect(results.slice(0, hostile.length).every((result) => !result.ok && result.error.startsWith('invalid address'))).toBe(true);
    expect(results.at(-1)).toEqual({ ip: '198.51.100.7', ok: true });
    const writes = device.log.filter((request) => request.path === ENTRY_PATH);
    expect(writes.map((request) => request.payload.address)).toEqual([['198.51.100.7'], ['198.51.100.7']]);
    for (const request of device.log) {
      expect(request.rawBody).not.toMatch(/reset|\\n|%|\/32|'/);
      expect(request.path + JSON.stringify(request.query)).not.toMatch(/reset|%0A|\\n/);
    }
  });

  it('a batch of nothing but hostile values makes no request at all', async () => {
    // Prepare
    const { device } = await start();
    const relay = provider();

    // Act
    const added = await relay.add(entries(['1.2.3.4; /system reset', '1.2.3.4\n']), ctx());
    const removed = await relay.remove(entries(['$(reboot)']), ctx());

    // Assess
    expect([...added, ...removed].every((result) => !result.ok)).toBe(true);
    expect(device.totalRequests).toBe(0);
  });

  it.each(['flowtriq"blocked', "x'; DROP", 'a b', 'line\nbreak', 'much_too_long_for_a_pfsense_alias_name', ''])(
    'an alias name %j passed straight to the constructor is refused before any request',
    async (alias) => {
      // Prepare
      const { device } = await start();

      // Act
      const build = () => provider({ alias });

      // Assess
      expect(build).toThrow(PfSenseV1ConfigError);
      expect(device.totalRequests).toBe(0);
    },
  );

  it('odd entries stored on the firewall are never listed or sent back', async () => {
    // Prepare
    const { device } = await start({
      aliases: [{ name: ALIAS, address: ['198.51.100.1', 'evil;cmd', '1.2.3.4,5.6.7.8'], detail: [mark('198.51.100.1'), mark('1.2.3.4'), mark('1.2.3.4')] }],
    });
    const relay = provider();

    // Act
    const listed = await relay.list(ctx());
    await relay.remove(entries(['198.51.100.1', '1.2.3.4']), ctx());

    // Assess
    expect(listed).toEqual([{ ip: '198.51.100.1', owned: true }]);
    expect(sent('DELETE', ENTRY_PATH)[0]?.payload.address).toEqual(['198.51.100.1']);
    expect(device.aliasEntries(ALIAS)).toEqual(['evil;cmd', '1.2.3.4,5.6.7.8']);
  });

  it('token secrets that would break the Authorization header are refused by the constructor', async () => {
    // Prepare
    await start();

    // Act
    const build = () => provider({ auth: 'token', secrets: { clientId: CLIENT_ID, clientToken: 'abc\r\nX-Injected: 1' } });

    // Assess
    expect(build).toThrow(PfSenseV1ConfigError);
  });
});

describe('PfSenseV1Provider: serialisation', () => {
  it('never runs two requests of one instance at once, even when batches are issued together', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }], realLatencyMs: 15 });
    const relay = provider();

    // Act
    const outcomes = await Promise.all([
      relay.add(entries(['198.51.100.1', '198.51.100.2']), ctx()),
      relay.add(entries(['198.51.100.2', '198.51.100.3']), ctx()),
      relay.list(ctx()),
      relay.remove(entries(['198.51.100.1']), ctx()),
      relay.healthCheck(ctx()),
    ]);

    // Assess
    expect(device.maxInFlight).toBe(1);
    expect(outcomes.slice(0, 2).flat()).toHaveLength(4);
    expect(device.aliasEntries(ALIAS)).toEqual(['198.51.100.2', '198.51.100.3']);
  });
});

describe('PfSenseV1Provider: health check', () => {
  it('reports a missing alias as healthy: it will be created on the first block', async () => {
    // Prepare
    const { device } = await start({ authMode: 'jwt' });
    const relay = provider({ auth: 'jwt' });

    // Act
    const health = await relay.healthCheck(ctx());

    // Assess
    expect(health).toEqual({ ok: true, detail: `alias ${ALIAS} missing: will be created on first block; ${PFSENSE_V1_LIVE_TABLE_NOTE}` });
    expect(device.count('POST', TOKEN_PATH)).toBe(1);
    expect(device.config.writes).toBe(0);
  });

  it('reports the entry count of an existing alias, and bad credentials after one request', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS, address: ['198.51.100.1', '2001:db8::1'], detail: ['operator', mark('2001:db8::1')] }] });

    // Act
    const healthy = await provider().healthCheck(ctx());
    device.resetCounters();
    const refused = await provider({ secrets: { username: 'admin', password: 'nope' } }).healthCheck(ctx());

    // Assess
    expect(healthy).toEqual({ ok: true, detail: `alias ${ALIAS}: 2 addresses (1 the relay's); ${PFSENSE_V1_LIVE_TABLE_NOTE}` });
    expect(refused.ok).toBe(false);
    expect(refused.detail).toContain('authentication failed (401)');
    expect(device.totalRequests).toBe(1);
  });
});

describe('PfSenseV1Provider: TLS with a self-signed certificate', () => {
  it('works with pinSha256', async () => {
    // Prepare
    const { device } = await start({ tls: cert });
    const relay = provider({ tls: deviceTls({ pinSha256: cert.sha256Hex, insecureSkipVerify: false }) });

    // Act
    const results = await relay.add(entries(['198.51.100.1']), ctx());

    // Assess
    expect(sim!.origin.startsWith('https://')).toBe(true);
    expect(results).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(device.aliasEntries(ALIAS)).toEqual(['198.51.100.1']);
  });

  it('works with caFile', async () => {
    // Prepare
    const caFile = join(dir, 'pfsense-ca.pem');
    writeFileSync(caFile, cert.cert);
    await start({ tls: cert });
    const relay = provider({ tls: deviceTls({ caFile, insecureSkipVerify: false }) });

    // Act
    const health = await relay.healthCheck(ctx());

    // Assess
    expect(health.ok).toBe(true);
  });

  it('a certificate that does not match the pin: not retryable, nothing reaches the firewall', async () => {
    // Prepare
    const other = makeSelfSignedCert();
    const { device } = await start({ tls: cert });
    const relay = provider({ tls: { pinSha256: other.sha256Hex } });

    // Act
    const error = await relay.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toContain('pinSha256');
    expect(device.totalRequests).toBe(0);
  });
});

describe('PfSenseV1Provider: construction', () => {
  it('refuses a v2 config and missing secrets', () => {
    // Prepare
    const config = integration('https://192.0.2.1');
    const v2 = { ...config, options: { ...config.options, apiVersion: 'v2' as const } };

    // Act
    const wrongVersion = () => new PfSenseV1Provider(v2, { transport: createDirectTransport(), tls: {}, secrets: ADMIN });
    const noPassword = () =>
      new PfSenseV1Provider(config, { transport: createDirectTransport(), tls: {}, secrets: { username: 'admin' } });

    // Assess
    expect(wrongVersion).toThrow(PfSenseV1ConfigError);
    expect(noPassword).toThrow(/needs username and password/);
  });

  it('resolvePfSenseV1Secrets reads the references the auth mode needs', () => {
    // Prepare
    const basic = integration('https://192.0.2.1');
    const token = integration('https://192.0.2.1', 'token');

    // Act
    const resolved = resolvePfSenseV1Secrets(basic, 'integrations[0]', { PF_USER: 'admin', PF_PASSWORD: 'pw' });
    const missing = () => resolvePfSenseV1Secrets(token, 'integrations[1]', { PF_CLIENT_ID: 'aa' });

    // Assess
    expect(resolved).toEqual({ username: 'admin', password: 'pw' });
    expect(missing).toThrow(SecretMissingError);
    expect(missing).toThrow(/integrations\[1\]\.secrets\.clientToken/);
  });
});

describe('pfSense v1 JWT renewal time', () => {
  const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

  it('uses the lifetime (exp - nbf) on the relay clock, so a skewed firewall clock does not matter', () => {
    // Prepare
    const receivedAt = Date.parse('2026-01-01T00:00:00Z');
    const firewallNow = receivedAt / 1000 + 7200; // the firewall runs two hours ahead

    // Act
    const renewAt = jwtRenewAt(jwt({ nbf: firewallNow, exp: firewallNow + 3600 }), receivedAt);

    // Assess
    expect(renewAt).toBe(receivedAt + 3_540_000);
  });

  it('compares exp with the relay clock when there is no nbf/iat, and falls back to 5 minutes when unreadable', () => {
    // Prepare
    const receivedAt = Date.parse('2026-01-01T00:00:00Z');

    // Act
    const withExpOnly = jwtRenewAt(jwt({ exp: receivedAt / 1000 + 600 }), receivedAt);
    const unreadable = jwtRenewAt('e30.bm90LWpzb24.c2ln', receivedAt);

    // Assess
    expect(withExpOnly).toBe(receivedAt + 540_000);
    expect(unreadable).toBe(receivedAt + JWT_FALLBACK_LIFETIME_MS - 60_000);
  });
});

describe('pfSense v1 SerialLock', () => {
  it('a waiter whose signal aborts never runs, and later waiters still wait for the running task', async () => {
    // Prepare
    const mutex = new SerialLock();
    const order: string[] = [];
    let finishFirst!: () => void;
    const first = mutex.run(
      () =>
        new Promise<void>((resolve) => {
          order.push('first start');
          finishFirst = () => {
            order.push('first end');
            resolve();
          };
        }),
    );
    const controller = new AbortController();
    const aborted = mutex.run(async () => order.push('aborted ran'), controller.signal);
    const third = mutex.run(async () => order.push('third'));

    // Act
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await new Promise((resolve) => setTimeout(resolve, 10));
    finishFirst();
    await Promise.all([first, third]);

    // Assess
    expect(order).toEqual(['first start', 'first end', 'third']);
  });
});

describe('pfSense v1 device bench', () => {
  it('meets its target: 1,000 addresses added and removed in at most 8 device requests, far below per-IP', async () => {
    // Prepare / Act
    const rows = await benchPfSenseV1();

    // Assess
    const relay = rows.find((row) => row.approach === 'relay' && row.ips === 1000)!;
    const perIp = rows.find((row) => row.approach === 'per-ip' && row.ips === 1000)!;
    expect(rows).toHaveLength(6);
    expect(relay.addRequests + relay.removeRequests).toBeLessThanOrEqual(8);
    expect(perIp.addRequests + perIp.removeRequests).toBe(2002);
    expect(relay.addSimMs + relay.removeSimMs).toBeLessThan((perIp.addSimMs + perIp.removeSimMs) / 10);
  });
});

// Reads ../shared/specs/pfsense-api-v1_openapi.yml, a file OUTSIDE this repository
// (the shared workspace). Skipped, with the path in the test name, when absent.
describe('PfSenseV1Provider: requests match the package OpenAPI spec', () => {
  const label = pfSenseV1OpenApiAvailable
    ? 'every endpoint used is in the v1 spec and every body field is one the spec names'
    : `SKIPPED: ${PFSENSE_V1_OPENAPI_PATH} not found (the shared workspace is not next to this repository)`;

  it.skipIf(!pfSenseV1OpenApiAvailable)(label, async () => {
    // Prepare
    const paths = loadPfSenseV1OpenApiPaths()!;
    const { device } = await start({ authMode: 'jwt' });
    const relay = provider({ auth: 'jwt' });

    // Act
    await relay.add(entries(['198.51.100.1']), ctx());
    await relay.add(entries(['198.51.100.2']), ctx());
    await relay.remove(entries(['198.51.100.1', '198.51.100.2']), ctx());

    // Assess
    const problems: string[] = [];
    for (const request of device.log) {
      // GET filters are the object's own fields (the package's generic query filter), as named for POST.
      const fields = operationFields(paths, request.method, request.path);
      if (request.method === 'GET') for (const field of operationFields(paths, 'POST', request.path) ?? []) fields?.add(field);
      if (fields === undefined) {
        problems.push(`${request.method} ${request.path} is not in the spec`);
        continue;
      }
      const used = [...Object.keys(request.query), ...Object.keys(request.contentType ? request.payload : {})];
      for (const field of used) if (!fields.has(field)) problems.push(`${request.method} ${request.path}: ${field}`);
    }
    expect(problems).toEqual([]);
    expect(device.log.map((request) => `${request.method} ${request.path}`)).toContain(`DELETE ${ENTRY_PATH}`);
  });
});

describe('PfSenseV1Provider: ownership (the relay removes exactly what it added)', () => {
  it('operator entries survive add, remove and drift repair; list marks only the relay\'s entries as owned', async () => {
    // Prepare
    const { device } = await start({
      aliases: [{ name: ALIAS, address: ['192.0.2.10', '198.51.100.20'], detail: ['office gateway', 'Entry added Tue, 02 Jan 2024 10:00:00 +0000'] }],
    });
    const relay = provider();
    await relay.add(entries(['198.51.100.1', '198.51.100.2']), ctx());
    device.adminAddEntry(ALIAS, '203.0.113.5', 'added by the admin later');

    // Act
    const listed = await relay.list(ctx());
    const drift = planDrift([], listed, Date.now());
    const removed = await relay.remove(drift.removeStale.map((entry) => ({ ip: entry.ip, expiresAt: 0, incidents: [] })), ctx());

    // Assess
    expect(listed.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '192.0.2.10', owned: false },
      { ip: '198.51.100.1', owned: true },
      { ip: '198.51.100.2', owned: true },
      { ip: '198.51.100.20', owned: false },
      { ip: '203.0.113.5', owned: false },
    ]);
    expect(drift.removeStale.map((entry) => entry.ip).sort()).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(device.aliasPairs(ALIAS)).toEqual([
      { address: '192.0.2.10', detail: 'office gateway' },
      { address: '198.51.100.20', detail: 'Entry added Tue, 02 Jan 2024 10:00:00 +0000' },
      { address: '203.0.113.5', detail: 'added by the admin later' },
    ]);
    expect(device.violations).toEqual({ duplicateWrites: 0, foreignTouched: 0, replaces: 0 });
    expect(device.count('PUT', ALIAS_PATH)).toBe(0);
  });

  it('every address the relay adds carries its mark, on create and on append', async () => {
    // Prepare
    const { device } = await start();
    const relay = provider();

    // Act
    await relay.add([{ ip: '198.51.100.1', expiresAt: 0, incidents: ['inc-a', 'inc-b'] }], ctx());
    await relay.add([{ ip: '2001:DB8::7', expiresAt: 0, incidents: [] }], ctx());

    // Assess
    expect(sent('POST', ALIAS_PATH)[0]?.payload.detail).toEqual(['flowtriq-relay inc-a 198.51.100.1']);
    expect(sent('POST', ENTRY_PATH)[0]?.payload.detail).toEqual(['flowtriq-relay - 2001:db8::7']);
    expect(device.aliasPairs(ALIAS)).toEqual([
      { address: '198.51.100.1', detail: 'flowtriq-relay inc-a 198.51.100.1' },
      { address: '2001:db8::7', detail: 'flowtriq-relay - 2001:db8::7' },
    ]);
  });

  it('an address the operator already lists is answered foreign:true and never written', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS, address: ['198.51.100.7'], detail: ['office'] }] });
    const relay = provider();

    // Act
    const onlyForeign = await relay.add(entries(['198.51.100.7']), ctx());
    const mixed = await relay.add(entries(['198.51.100.7', '198.51.100.8']), ctx());

    // Assess
    expect(onlyForeign).toEqual([{ ip: '198.51.100.7', ok: true, foreign: true }]);
    expect(mixed).toEqual([
      { ip: '198.51.100.7', ok: true, foreign: true },
      { ip: '198.51.100.8', ok: true },
    ]);
    expect(sent('POST', ENTRY_PATH).map((request) => request.payload.address)).toEqual([['198.51.100.8']]);
    expect(device.violations).toEqual({ duplicateWrites: 0, foreignTouched: 0, replaces: 0 });
  });

  it('an address present under the relay\'s mark is ok and not sent again', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS, address: ['198.51.100.7'], detail: [mark('198.51.100.7', 'older-incident')] }] });
    const relay = provider();

    // Act
    const results = await relay.add(entries(['198.51.100.7']), ctx());

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.7', ok: true }]);
    expect(device.count('POST', ENTRY_PATH)).toBe(0);
    expect(device.violations.duplicateWrites).toBe(0);
  });

  it('an address with both an operator entry and a relay entry is left on removal (the operator\'s entry survives), answered ok and logged', async () => {
    // Prepare
    const { device } = await start({
      aliases: [{ name: ALIAS, address: ['198.51.100.9', '198.51.100.9', '198.51.100.10'], detail: ['office', mark('198.51.100.9'), mark('198.51.100.10')] }],
    });
    const relay = provider();
    const logger = new RecordingLogger();

    // Act
    const results = await relay.remove(entries(['198.51.100.9', '198.51.100.10']), { signal: new AbortController().signal, logger });

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(sent('DELETE', ENTRY_PATH).map((request) => request.payload.address)).toEqual([['198.51.100.10']]);
    expect(device.aliasPairs(ALIAS)).toEqual([
      { address: '198.51.100.9', detail: 'office' },
      { address: '198.51.100.9', detail: mark('198.51.100.9') },
    ]);
    expect(logger.lines.some((line) => line.message.includes('operator also lists'))).toBe(true);
    expect(device.violations.foreignTouched).toBe(0);
  });

  it('an alias with fewer descriptions than addresses: add is refused naming the fix, nothing written; removing the relay\'s own entries keeps every description in place', async () => {
    // Prepare: the operator's second entry has no description (e.g. added through another API)
    const { device } = await start({
      aliases: [{ name: ALIAS, address: ['198.51.100.1', '192.0.2.10', '192.0.2.11'], detail: [mark('198.51.100.1'), 'office'] }],
    });
    const relay = provider();

    // Act
    const refused = await relay.add(entries(['198.51.100.2']), ctx()).catch((caught: unknown) => caught);
    const writesAfterAdd = device.config.writes;
    const health = await relay.healthCheck(ctx());
    const removed = await relay.remove(entries(['198.51.100.1']), ctx());

    // Assess
    expect(refused).toBeInstanceOf(PfSenseV1AliasDetailError);
    expect((refused as ProviderError).retryable).toBe(false);
    expect((refused as Error).message).toContain('give every entry a description');
    expect(writesAfterAdd).toBe(0);
    expect(health.ok).toBe(false);
    expect(removed).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(device.aliasPairs(ALIAS)).toEqual([
      { address: '192.0.2.10', detail: 'office' },
      { address: '192.0.2.11', detail: undefined },
    ]);
    expect(device.violations.foreignTouched).toBe(0);
  });

  it('an empty description before other entries: a removal that would shift descriptions is refused, nothing written', async () => {
    // Prepare: the package drops empty details on delete, so 'printer' would move to 192.0.2.10
    const { device } = await start({
      aliases: [{ name: ALIAS, address: ['192.0.2.10', '198.51.100.1', '192.0.2.12'], detail: ['', mark('198.51.100.1'), 'printer'] }],
    });
    const relay = provider();

    // Act
    const error = await relay.remove(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PfSenseV1AliasDetailError);
    expect(device.count('DELETE', ENTRY_PATH)).toBe(0);
    expect(device.aliasPairs(ALIAS)?.[2]).toEqual({ address: '192.0.2.12', detail: 'printer' });
    expect(device.violations.foreignTouched).toBe(0);
  });

  it('no duplicate writes across a series of overlapping batches, sequential and concurrent', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS, address: ['192.0.2.10'], detail: ['office'] }], realLatencyMs: 5 });
    const relay = provider();
    const other = provider();

    // Act
    await relay.add(entries(['198.51.100.1', '198.51.100.2']), ctx());
    await relay.add(entries(['198.51.100.2', '198.51.100.3', '192.0.2.10']), ctx());
    await Promise.all([
      relay.add(entries(['198.51.100.3', '198.51.100.4']), ctx()),
      other.add(entries(['198.51.100.4', '198.51.100.5']), ctx()),
      other.add(entries(['198.51.100.4', '198.51.100.5']), ctx()),
    ]);
    await relay.remove(entries(['198.51.100.1']), ctx());
    await relay.add(entries(['198.51.100.1']), ctx());

    // Assess
    expect(device.violations).toEqual({ duplicateWrites: 0, foreignTouched: 0, replaces: 0 });
    expect([...(device.aliasEntries(ALIAS) ?? [])].sort()).toEqual(
      ['192.0.2.10', '198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'].sort(),
    );
    expect(device.maxInFlight).toBe(1);
  });
});

describe('PfSenseV1Provider: resumed batches and the apply gate', () => {
  it('an alias written but never applied (a kill mid-batch) is applied by the resumed retry, though nothing is left to write', async () => {
    // Prepare: this process has applied everything it knows of
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider();
    await relay.add(entries(['192.0.2.1']), ctx());
    // a previous process wrote 300 addresses with the relay's marks and died before applying
    const ips = range(300, '10.');
    const alias = device.config.aliases[0]!;
    alias.addresses.push(...ips);
    alias.details.push(...ips.map((ip) => mark(ip)));
    device.config.write();
    device.resetCounters();

    // Act
    const notResumed = await relay.add(entries(ips), ctx());
    const appliesWithoutResumed = device.count('POST', APPLY_PATH);
    const resumed = await relay.add(entries(ips).map((entry) => ({ ...entry, resumed: true })), ctx());

    // Assess
    expect(notResumed.every((result) => result.ok)).toBe(true);
    expect(appliesWithoutResumed).toBe(0);
    expect(resumed.every((result) => result.ok)).toBe(true);
    expect(device.count('POST', APPLY_PATH)).toBe(1);
    expect(device.count('POST', ENTRY_PATH)).toBe(0);
    expect(device.unappliedWrites).toBe(0);
    expect(device.config.live.get(ALIAS)).toHaveLength(301);
  });

  it('a resumed removal with nothing left to delete still applies once', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    const relay = provider();
    await relay.add(entries(['192.0.2.1']), ctx());
    device.resetCounters();

    // Act
    await relay.remove([{ ip: '198.51.100.1', expiresAt: 0, incidents: [], resumed: true }], ctx());

    // Assess
    expect(device.count('DELETE', ENTRY_PATH)).toBe(0);
    expect(device.count('POST', APPLY_PATH)).toBe(1);
  });

  it('coalesces: batches asking for an apply within the gap share one, and one apply at most is in flight per firewall', async () => {
    // Prepare: two integrations (two aliases) on one firewall
    const { device } = await start({ aliases: [{ name: ALIAS }, { name: 'second_alias' }], realLatencyMs: 5 });
    const first = provider({ applyGapMs: 400 });
    const second = provider({ applyGapMs: 400, alias: 'second_alias' });
    await first.add(entries(['198.51.100.1']), ctx());
    device.resetCounters();

    // Act
    const started = Date.now();
    await Promise.all([
      first.add(entries(['198.51.100.2']), ctx()),
      second.add(entries(['198.51.100.3']), ctx()),
    ]);
    const elapsed = Date.now() - started;

    // Assess
    expect(device.count('POST', ENTRY_PATH)).toBe(2);
    expect(device.count('POST', APPLY_PATH)).toBe(1);
    expect(device.maxInFlight).toBe(1);
    expect(device.unappliedWrites).toBe(0);
    expect(elapsed).toBeGreaterThanOrEqual(300);
  });

  it('honours Retry-After: the error carries it, nothing is sent before it ends, and an operation that can wait does', async () => {
    // Prepare
    const { device } = await start({ aliases: [{ name: ALIAS }] });
    let busy = true;
    device.override = (request) => {
      if (request.path !== APPLY_PATH || !busy) return undefined;
      busy = false;
      return { kind: 'response', status: 503, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: JSON.stringify(v1Envelope(1)) };
    };
    const impatient = new PfSenseV1Provider(integration(sim!.origin), {
      transport: createDirectTransport(),
      tls: {},
      secrets: ADMIN,
      applyGapMs: 0,
      opBudgetMs: 300,
    });
    const patient = provider();

    // Act
    const first = await impatient.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);
    const requestsAfterFirst = device.totalRequests;
    const second = await impatient.add(entries(['198.51.100.1']), ctx()).catch((caught: unknown) => caught);
    const requestsAfterSecond = device.totalRequests;
    const third = await patient.add(entries(['198.51.100.1']), ctx());

    // Assess
    expect((first as ProviderError).retryable).toBe(true);
    expect((first as ProviderError).retryAfterMs).toBe(1000);
    expect((second as ProviderError).retryable).toBe(true);
    expect((second as ProviderError).retryAfterMs).toBeGreaterThan(0);
    expect(requestsAfterSecond).toBe(requestsAfterFirst);
    expect(third).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(device.unappliedWrites).toBe(0);
  });

  it('the health check states that a flushed pf table cannot be detected on v1', async () => {
    // Prepare
    await start({ aliases: [{ name: ALIAS }] });

    // Act
    const health = await provider().healthCheck(ctx());

    // Assess
    expect(health.ok).toBe(true);
    expect(health.detail).toContain('a flushed pf table cannot be detected on v1');
  });
});
