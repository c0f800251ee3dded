import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { routerosIntegrationSchema } from '../../../lib/config/schema.ts';
import { deviceTls } from '../../../lib/providers/device-tls.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import { RouterOsProvider, type RouterOsIntegrationConfig } from '../../../lib/providers/routeros/provider.ts';
import { RouterOsUnsafeValueError } from '../../../lib/providers/routeros/errors.ts';
import { formatRouterOsInterval, parseRouterOsInterval, timeoutSecondsUntil } from '../../../lib/providers/routeros/interval.ts';
import { parseScriptOutput, scriptLine } from '../../../lib/providers/routeros/script.ts';
import type { BlockEntry, ProviderContext } from '../../../lib/providers/types.ts';
import { createDirectTransport } from '../../../lib/transport/node-http.ts';
import type { HttpRequest, HttpResponse, TlsOptions, Transport } from '../../../lib/transport/types.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { makeSelfSignedCert, type SelfSignedCert } from '../../helpers/tls.ts';
import { RouterOsSimulator, type RouterOsSimulatorOptions } from '../../simulators/routeros/server.ts';

const USER = 'relay';
const PASSWORD = 'relay-password';
const NOW = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;
const LIST = 'flowtriq_blocked';
const TAG = 'flowtriq-relay';

/** One command the adapter may write (IPv6 remove/set lines hold two: the bare and the /128 form). */
const SCRIPT_COMMAND = [
  String.raw`/ip(?:v6)?/firewall/address-list/(?:`,
  String.raw`add list="[A-Za-z0-9_.-]+" address="[0-9a-f:.]+" timeout=[0-9wdhms]+ comment="[A-Za-z0-9_.:-]+"`,
  String.raw`|remove \[find where list="[A-Za-z0-9_.-]+" and address="[0-9a-f:.]+(?:/128)?" and comment="[A-Za-z0-9_.:-]+"\]`,
  String.raw`|set \[find where list="[A-Za-z0-9_.-]+" and address="[0-9a-f:.]+(?:/128)?" and comment="[A-Za-z0-9_.:-]+"\] timeout=[0-9wdhms]+`,
  String.raw`)`,
].join('');
/** Every line the adapter may put into a script, and nothing else. */
const SCRIPT_LINE = new RegExp(
  String.raw`^:do \{${SCRIPT_COMMAND}(?:;${SCRIPT_COMMAND})?;:put "ok [0-9]+"\} on-error=\{:put "err [0-9]+"\}$|^:put "done [0-9]+"$`,
);

let sim: RouterOsSimulator | undefined;
let cert: SelfSignedCert;
let otherCert: SelfSignedCert;
let dir: string;

beforeAll(() => {
  cert = makeSelfSignedCert();
  otherCert = makeSelfSignedCert();
  dir = mkdtempSync(join(tmpdir(), 'relay-routeros-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: RouterOsSimulatorOptions = {}): Promise<RouterOsSimulator> {
  sim = await RouterOsSimulator.start({ username: USER, password: PASSWORD, ...options });
  return sim;
}

function config(options: Record<string, unknown> = {}): RouterOsIntegrationConfig {
  return routerosIntegrationSchema.parse({
    id: 'edge',
    type: 'routeros',
    options: { url: sim!.origin, allowInsecureHttp: sim!.origin.startsWith('http://'), ...options },
    secrets: { username: { env: 'ROUTEROS_USER' }, password: { env: 'ROUTEROS_PASSWORD' } },
  });
}

function provider(
  options: Record<string, unknown> = {},
  deps: { password?: string; transport?: Transport; tls?: TlsOptions; config?: RouterOsIntegrationConfig } = {},
): RouterOsProvider {
  return new RouterOsProvider(
    deps.config ?? config(options),
    { username: USER, password: deps.password ?? PASSWORD },
    deps.transport ?? createDirectTransport(),
    deps.tls ?? {},
    { now: () => NOW },
  );
}

function entries(...ips: string[]): BlockEntry[] {
  return ips.map((ip) => ({ ip, expiresAt: NOW + HOUR, incidents: ['0b8e6f0e-3c1a-4d55-9a77-6f1c2b9d4e01'] }));
}

function manyAddresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
}

function context(): ProviderContext & { logger: RecordingLogger } {
  return { signal: new AbortController().signal, logger: new RecordingLogger() };
}

function json(status: number, value: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode(JSON.stringify(value)) };
}

/**
 * Wraps a transport: `answer` may reply instead of the router (return a
 * response) or let the request through (return undefined). Counts requests in flight.
 */
function tap(inner: Transport, answer: (request: HttpRequest) => HttpResponse | undefined = () => undefined) {
  const state = { inFlight: 0, maxInFlight: 0, requests: [] as HttpRequest[] };
  const transport: Transport = {
    async request(request) {
      state.requests.push(request);
      state.inFlight += 1;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      try {
        return answer(request) ?? (await inner.request(request));
      } finally {
        state.inFlight -= 1;
      }
    },
  };
  return { transport, state };
}

function scriptOf(request: HttpRequest): string {
  return (JSON.parse(String(request.body)) as { script: string }).script;
}

function v4(address?: string): Array<Record<string, string>> {
  return sim!.device.entries(4, LIST).filter((entry) => address === undefined || entry.address === address);
}

describe('RouterOsProvider add (script mode)', () => {
  // Was: read both lists back after the script (list: 2 afterwards, refs from the read-back). Now both lists are
  // read before writing (to skip what is there) and a line that printed "ok" is not read back: no ref.
  it('reads both lists first, then adds IPv4 and IPv6 addresses in one script with the relay comment', async () => {
    // Prepare
    await start();
    const routeros = provider();

    // Act
    const results = await routeros.add(entries('198.51.100.7', '2001:db8::1'), context());

    // Assess
    expect(results).toEqual([
      { ip: '198.51.100.7', ok: true },
      { ip: '2001:db8::1', ok: true },
    ]);
    expect(v4()).toEqual([expect.objectContaining({ address: '198.51.100.7', comment: TAG, timeout: '1h', dynamic: 'true' })]);
    expect(sim!.device.entries(6, LIST)).toEqual([expect.objectContaining({ address: '2001:db8::1/128', comment: TAG, timeout: '1h' })]);
    expect(sim!.device.counters).toMatchObject({ execute: 1, list: 2, put: 0 });
    expect(sim!.device.log.map((entry) => entry.method)).toEqual(['GET', 'GET', 'POST']);
    expect(sim!.device.duplicateWrites).toBe(0);
    expect(sim!.device.scripts[0]).toContain('/ipv6/firewall/address-list/add list="flowtriq_blocked" address="2001:db8::1"');
    for (const line of sim!.device.scripts[0]!.split('\n')) expect(line).toMatch(SCRIPT_LINE);
  });

  it('sets each timeout from expiresAt, at most 35w3d13h13m56s and at least 1s', async () => {
    // Prepare
    await start();
    const batch: BlockEntry[] = [
      { ip: '192.0.2.1', expiresAt: NOW + 90_061_000, incidents: [] },
      { ip: '192.0.2.2', expiresAt: NOW + 400 * 86_400_000, incidents: [] },
      { ip: '192.0.2.3', expiresAt: NOW - 5_000, incidents: [] },
    ];

    // Act
    await provider().add(batch, context());

    // Assess
    const script = sim!.device.scripts[0]!;
    expect(script).toContain('address="192.0.2.1" timeout=1d1h1m1s ');
    expect(script).toContain('address="192.0.2.2" timeout=35w3d13h13m56s ');
    expect(script).toContain('address="192.0.2.3" timeout=1s ');
    expect(v4().map((entry) => entry.timeout)).toEqual(['1d1h1m1s', '35w3d13h13m56s', '1s']);
  });

  // Was: sent the add anyway (refused: "already have such entry") and answered a plain ok.
  it('answers an address the operator already lists as foreign, sends no add for it and leaves that entry untouched', async () => {
    // Prepare
    await start();
    sim!.device.adminAdd(4, { list: LIST, address: '198.51.100.7', comment: 'admin' });

    // Act
    const results = await provider().add(entries('198.51.100.7'), context());

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.7', ok: true, foreign: true }]);
    expect(sim!.device.counters).toMatchObject({ execute: 0, list: 1, put: 0 });
    expect(sim!.device.duplicateWrites).toBe(0);
    expect(sim!.device.foreignTouched).toBe(0);
    expect(v4()).toEqual([expect.objectContaining({ address: '198.51.100.7', comment: 'admin', dynamic: 'false' })]);
    expect(v4()[0]).not.toHaveProperty('timeout');
  });

  it('refreshes the timeout of its own entry that would expire before the relay removes it', async () => {
    // Prepare
    await start();
    sim!.device.seed(4, { list: LIST, address: '198.51.100.8', comment: TAG, timeout: '5m' });

    // Act
    const results = await provider().add(entries('198.51.100.8'), context());

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.8', ok: true, ref: expect.stringMatching(/^\*/) }]);
    expect(v4('198.51.100.8')[0]?.timeout).toBe('1h');
    // Was 2 scripts (a refused add, then the refresh): the entry is found before writing, so only the refresh is sent.
    expect(sim!.device.counters.execute).toBe(1);
    expect(sim!.device.scripts[0]).toContain('/ip/firewall/address-list/set [find where list="flowtriq_blocked" and address="198.51.100.8"');
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it('returns one result per entry in the caller\'s order, writing a repeated address once', async () => {
    // Prepare
    await start();

    // Act
    const results = await provider().add(entries('192.0.2.1', '192.0.2.2', '192.0.2.1'), context());

    // Assess
    expect(results.map((result) => [result.ip, result.ok])).toEqual([
      ['192.0.2.1', true],
      ['192.0.2.2', true],
      ['192.0.2.1', true],
    ]);
    expect(sim!.device.scripts[0]!.split('\n').filter((line) => line.includes('/add '))).toHaveLength(2);
  });

  it('sends nothing for an empty batch', async () => {
    // Prepare
    await start();

    // Act
    const results = await provider().add([], context());

    // Assess
    expect(results).toEqual([]);
    expect(sim!.device.totalRequests).toBe(0);
  });

  it('reports an address the router refused once the read-back shows it missing', async () => {
    // Prepare
    await start();
    const { transport } = tap(createDirectTransport(), (request) =>
      request.url.endsWith('/rest/execute') ? json(200, { ret: 'ok 0\r\nerr 1\r\ndone 2\r\n' }) : undefined,
    );

    // Act
    const results = await provider({}, { transport }).add(entries('192.0.2.1', '192.0.2.2'), context());

    // Assess
    expect(results[0]).toEqual({ ip: '192.0.2.1', ok: false, error: expect.stringContaining('reported it added, but it is not on list') });
    expect(results[1]).toEqual({ ip: '192.0.2.2', ok: false, error: expect.stringContaining('RouterOS refused the add') });
  });
});

describe('RouterOsProvider remove (script mode)', () => {
  it('removes only entries carrying the relay comment and verifies by reading back', async () => {
    // Prepare
    await start();
    const routeros = provider();
    await routeros.add(entries('198.51.100.7', '2001:db8::1'), context());
    sim!.device.seed(4, { list: LIST, address: '203.0.113.9', comment: 'admin' });
    sim!.device.resetCounters();

    // Act
    const results = await routeros.remove(entries('198.51.100.7', '2001:db8::1', '203.0.113.9'), context());

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(v4().map((entry) => [entry.address, entry.comment])).toEqual([['203.0.113.9', 'admin']]);
    expect(sim!.device.entries(6, LIST)).toEqual([]);
    expect(sim!.device.counters).toMatchObject({ execute: 1, list: 2, delete: 0 });
    const script = sim!.device.scripts.at(-1)!;
    expect(script).toContain('/ip/firewall/address-list/remove [find where list="flowtriq_blocked" and address="203.0.113.9" and comment="flowtriq-relay"]');
    for (const line of script.split('\n')) expect(line).toMatch(SCRIPT_LINE);
  });

  it('succeeds for an address that is not on the list', async () => {
    // Prepare
    await start();

    // Act
    const results = await provider().remove(entries('192.0.2.99'), context());

    // Assess
    expect(results).toEqual([{ ip: '192.0.2.99', ok: true }]);
  });

  it('deletes by .id whatever relay entries the remove script left behind', async () => {
    // Prepare
    await start();
    const routeros = provider();
    await routeros.add(entries('192.0.2.1', '192.0.2.2'), context());
    sim!.device.resetCounters();
    const { transport } = tap(createDirectTransport(), (request) =>
      request.url.endsWith('/rest/execute') && scriptOf(request).includes('/remove ')
        ? json(200, { ret: 'ok 0\r\nok 1\r\ndone 2\r\n' })
        : undefined,
    );
    const ctx = context();

    // Act
    const results = await provider({}, { transport }).remove(entries('192.0.2.1', '192.0.2.2'), ctx);

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(v4()).toEqual([]);
    expect(sim!.device.counters).toMatchObject({ list: 1, delete: 2 });
    expect(ctx.logger.messages()).toContain('routeros: relay entries still on the list after the remove script; deleting them by .id');
  });
});

describe('RouterOsProvider per-entry mode', () => {
  it('asks for batches small enough to finish within one call (one request per address)', async () => {
    await start();
    expect(provider({ mode: 'per-entry' }).maxBatch).toBe(200);
    expect(provider({ mode: 'script' }).maxBatch).toBe(10_000);
  });

  it('adds with a PUT per address and removes with one read and a DELETE per address, at most `concurrency` at once', async () => {
    // Prepare
    await start();
    const { transport, state } = tap(createDirectTransport());
    const routeros = provider({ mode: 'per-entry', concurrency: 3 }, { transport });
    const batch = entries(...manyAddresses(10));

    // Act
    const added = await routeros.add(batch, context());
    const afterAdd = { ...sim!.device.counters };
    const removed = await routeros.remove(batch, context());

    // Assess
    expect(added.every((result) => result.ok && result.ref !== undefined)).toBe(true);
    expect(removed.every((result) => result.ok)).toBe(true);
    // The list is read once before adding (was: list 0 after the add).
    expect(afterAdd).toMatchObject({ put: 10, list: 1, execute: 0 });
    expect(sim!.device.counters).toMatchObject({ put: 10, list: 2, delete: 10, execute: 0 });
    expect(state.maxInFlight).toBe(3);
    expect(v4()).toEqual([]);
  });

  // Was: PUT anyway and count "already have such entry" as a plain ok.
  it('answers an operator\'s address as foreign without a PUT for it', async () => {
    // Prepare
    await start();
    sim!.device.adminAdd(4, { list: LIST, address: '192.0.2.5', comment: 'admin' });

    // Act
    const results = await provider({ mode: 'per-entry' }).add(entries('192.0.2.5', '192.0.2.6'), context());

    // Assess
    expect(results).toEqual([
      { ip: '192.0.2.5', ok: true, foreign: true },
      { ip: '192.0.2.6', ok: true, ref: expect.stringMatching(/^\*/) },
    ]);
    expect(sim!.device.counters.put).toBe(1);
    expect(v4('192.0.2.5')[0]?.comment).toBe('admin');
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it('answers "already have such entry" from a PUT as foreign once the read-back shows an operator\'s entry', async () => {
    // Prepare
    await start();
    // The operator adds the address between the relay's read and its PUT.
    const { transport } = tap(createDirectTransport(), (request) => {
      if (request.method === 'PUT') sim!.device.adminAdd(4, { list: LIST, address: '192.0.2.7', comment: 'admin' });
      return undefined;
    });

    // Act
    const results = await provider({ mode: 'per-entry' }, { transport }).add(entries('192.0.2.7'), context());

    // Assess
    expect(results).toEqual([{ ip: '192.0.2.7', ok: true, foreign: true }]);
    expect(v4()).toEqual([expect.objectContaining({ address: '192.0.2.7', comment: 'admin' })]);
  });

  it('falls back to per-entry by itself when /execute is forbidden, and says so in the health check', async () => {
    // Prepare
    await start();
    sim!.device.forbidExecute = true;
    const routeros = provider();
    const ctx = context();

    // Act
    const first = await routeros.add(entries('192.0.2.1', '192.0.2.2', '192.0.2.3'), ctx);
    const second = await routeros.add(entries('192.0.2.4'), ctx);
    const health = await routeros.healthCheck(ctx);

    // Assess
    expect([...first, ...second].every((result) => result.ok)).toBe(true);
    expect(v4()).toHaveLength(4);
    expect(sim!.device.counters.put).toBe(4);
    expect(routeros.effectiveMode).toBe('per-entry');
    expect(health).toEqual({ ok: true, detail: expect.stringContaining('script mode unavailable: not enough permissions (9); using per-entry') });
    expect(ctx.logger.messages()).toContain('routeros: script mode unavailable; using per-entry requests (slower)');
  });

  it('falls back to per-entry until restart when RouterOS cannot parse the relay\'s script', async () => {
    // Prepare
    await start();
    const { transport } = tap(createDirectTransport(), (request) =>
      request.url.endsWith('/rest/execute') && scriptOf(request).includes('/add ')
        ? json(400, { error: 400, message: 'Bad Request', detail: 'syntax error (line 1 column 5)' })
        : undefined,
    );
    const routeros = provider({}, { transport });

    // Act
    const results = await routeros.add(entries('192.0.2.1', '192.0.2.2'), context());
    const health = await routeros.healthCheck(context());

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(sim!.device.counters.put).toBe(2);
    expect(health.detail).toMatch(/script mode unavailable: syntax error \(line 1 column 5\); using per-entry$/);
    expect(routeros.effectiveMode).toBe('per-entry');
  });

  it('returns to script mode when the health check finds /execute allowed again', async () => {
    // Prepare
    await start();
    sim!.device.forbidExecute = true;
    const routeros = provider();
    await routeros.add(entries('192.0.2.1'), context());
    sim!.device.forbidExecute = false;

    // Act
    const health = await routeros.healthCheck(context());

    // Assess
    expect(health.detail).toMatch(/mode: script$/);
    expect(routeros.effectiveMode).toBe('script');
  });
});

describe('RouterOsProvider failures', () => {
  it.each([
    ['script', 'add'],
    ['script', 'remove'],
    ['per-entry', 'add'],
    ['per-entry', 'remove'],
  ] as const)('stops at the first 401 in %s mode (%s) with a non-retryable error that names the fix', async (mode, operation) => {
    // Prepare
    await start();
    const routeros = provider({ mode, concurrency: 4 }, { password: 'wrong' });

    // Act
    const outcome = routeros[operation](entries(...manyAddresses(20)), context());

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ProviderError);
    await expect(outcome).rejects.toMatchObject({ retryable: false, status: 401 });
    await expect(outcome).rejects.toThrow('check the user/password; RouterOS counts failed logins');
    expect(sim!.device.totalRequests).toBe(1);
    expect(sim!.device.failedLogins).toBe(1);
  });

  it('reports bad credentials in the health check after one request', async () => {
    // Prepare
    await start();

    // Act
    const health = await provider({}, { password: 'wrong' }).healthCheck(context());

    // Assess
    expect(health).toEqual({ ok: false, detail: expect.stringContaining('rejected the credentials (401 Unauthorized)') });
    expect(sim!.device.totalRequests).toBe(1);
  });

  it.each([
    ['answers 503', 'unavailable', '5s'],
    ['refuses connections', 'refused', '5s'],
    ['never answers', 'hang', '1s'],
  ] as const)('throws a retryable error when the router %s', async (_label, mode, timeout) => {
    // Prepare
    await start();
    await sim!.setDown(mode);

    // Act
    const outcome = provider({ timeout }).add(entries('192.0.2.1', '192.0.2.2'), context());

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ProviderError);
    await expect(outcome).rejects.toMatchObject({ retryable: true });
  });

  it('keeps what ran before RouterOS closed the session and fails the rest with a hint to lower scriptChunk', async () => {
    // Prepare
    await start({ cost: { entryMs: 200 } });
    const batch = entries(...manyAddresses(400));

    // Act
    const results = await provider({ scriptChunk: 350 }).add(batch, context());

    // Assess
    const failed = results.filter((result) => !result.ok);
    expect(results.filter((result) => result.ok)).toHaveLength(300);
    expect(failed).toHaveLength(100);
    for (const result of failed) expect(result).toMatchObject({ error: expect.stringContaining('lower options.scriptChunk (now 350)') });
    expect(failed.filter((result) => !result.ok && result.error.startsWith('not attempted'))).toHaveLength(50);
    expect(sim!.device.counters.execute).toBe(1);
  });

  it('throws a retryable "Session closed" error when nothing of the batch made it', async () => {
    // Prepare
    await start({ cost: { entryMs: 70_000 } });

    // Act
    const outcome = provider().add(entries('192.0.2.1'), context());

    // Assess
    await expect(outcome).rejects.toMatchObject({ retryable: true, message: expect.stringMatching(/Session closed.*lower options\.scriptChunk/) });
  });

  it('passes RouterOS\'s detail for a rejected PUT on as one sanitised line', async () => {
    // Prepare
    await start();
    const { transport } = tap(createDirectTransport(), (request) =>
      request.method === 'PUT'
        ? json(400, { error: 400, message: 'Bad Request', detail: 'failure: bad\n\u0007thing\r\n:put "x"' })
        : undefined,
    );

    // Act
    const results = await provider({ mode: 'per-entry' }, { transport }).add(entries('192.0.2.1'), context());

    // Assess
    expect(results).toEqual([{ ip: '192.0.2.1', ok: false, error: expect.stringContaining('400 Bad Request: failure: bad thing :put "x"') }]);
    expect(results[0]!.ok === false && /[\u0000-\u001f]/.test(results[0]!.error)).toBe(false);
  });

  it('sends nothing once the caller has aborted', async () => {
    // Prepare
    await start();
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));

    // Act
    const outcome = provider().add(entries('192.0.2.1'), { signal: controller.signal, logger: new RecordingLogger() });

    // Assess
    await expect(outcome).rejects.toThrow('shutting down');
    expect(sim!.device.totalRequests).toBe(0);
  });

  it('turns a body RouterOS would not send into a clear non-retryable error', async () => {
    // Prepare
    await start();
    const { transport } = tap(createDirectTransport(), (request) => (request.method === 'GET' ? json(200, { hello: 'world' }) : undefined));
    const routeros = provider({}, { transport });

    // Act
    const health = await routeros.healthCheck(context());
    const listing = routeros.list(context());

    // Assess
    expect(health).toEqual({ ok: false, detail: expect.stringContaining('unexpected body') });
    await expect(listing).rejects.toMatchObject({ retryable: false, message: expect.stringContaining('RouterOS v7.1+ REST') });
  });
});

describe('RouterOsProvider hostile input', () => {
  const hostile = [
    '1.2.3.4; /system reset',
    '1.2.3.4" ; /system reset ; "',
    '$(/system reset)',
    '1.2.3.4\n/system reset',
    '1.2.3.4\r\n:put "x"',
    '[/system/reset]',
    '1.2.3.4 ',
    '01.2.3.4',
    '1.2.3.4/32',
    'fe80::1%eth0',
    '::1"]; /system reset; :put "',
  ];

  it.each(['add', 'remove'] as const)('never lets a non-address reach a script (%s)', async (operation) => {
    // Prepare
    await start();
    const batch = entries(...hostile, '192.0.2.10');

    // Act
    const results = await provider()[operation](batch, context());

    // Assess
    expect(results).toHaveLength(hostile.length + 1);
    hostile.forEach((ip, index) => {
      expect(results[index]).toEqual({ ip, ok: false, error: expect.stringMatching(/^not an IP address \(.*\); nothing sent$/) });
    });
    expect(results.at(-1)).toMatchObject({ ip: '192.0.2.10', ok: true });
    const sent = sim!.device.scripts.join('\n');
    expect(sent).not.toMatch(/system|reset|\$|\\/);
    for (const line of sent.split('\n')) expect(line).toMatch(SCRIPT_LINE);
    expect(sim!.device.rejections).toEqual([]);
  });

  it.each([
    ['list', 'blk" ; /system reset ; "'],
    ['list', 'blk\n/system/reset'],
    ['list', ''],
    ['comment', '$(/system/reset)'],
    ['comment', 'x] ; /system/reset ; ['],
    ['comment', 'tag\r\n:put "x"'],
  ])('refuses a hostile %s given past the schema and sends nothing (%j)', async (field, value) => {
    // Prepare
    await start();
    const valid = config();
    const routeros = provider({}, { config: { ...valid, options: { ...valid.options, [field]: value } } });

    // Act
    const added = await routeros.add(entries('192.0.2.1'), context());
    const removed = await routeros.remove(entries('192.0.2.1'), context());
    const health = await routeros.healthCheck(context());
    const listing = routeros.list(context());

    // Assess
    for (const result of [...added, ...removed]) {
      expect(result).toEqual({ ip: '192.0.2.1', ok: false, error: expect.stringContaining(`options.${field} must be`) });
    }
    expect(health.ok).toBe(false);
    await expect(listing).rejects.toMatchObject({ retryable: false });
    expect(sim!.device.totalRequests).toBe(0);
    expect(sim!.device.scripts).toEqual([]);
  });

  it.each([
    ['list', { list: 'blk" ; /system reset', comment: TAG }, { family: 4, address: '192.0.2.1' }],
    ['comment', { list: LIST, comment: 'a$(b)' }, { family: 4, address: '192.0.2.1' }],
    ['IPv4 address', { list: LIST, comment: TAG }, { family: 4, address: '192.0.2.1"' }],
    ['IPv4 address given as IPv6', { list: LIST, comment: TAG }, { family: 4, address: '::1' }],
    ['IPv6 address', { list: LIST, comment: TAG }, { family: 6, address: '::1;' }],
    ['IPv6 address without a colon', { list: LIST, comment: TAG }, { family: 6, address: '1.2.3.4' }],
    ['family', { list: LIST, comment: TAG }, { family: 5, address: '192.0.2.1' }],
    ['timeout', { list: LIST, comment: TAG }, { family: 4, address: '192.0.2.1', timeout: '1h ; /system reset' }],
  ])('checks the %s again where it is written into a script', (_label, scope, item) => {
    // Prepare
    const line = () => scriptLine('add', 0, scope, { timeout: '1h', ...item } as Parameters<typeof scriptLine>[3]);

    // Act
    let thrown: unknown;
    try {
      line();
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(RouterOsUnsafeValueError);
    expect((thrown as Error).message).not.toMatch(/system|\$|;|"/);
  });
});

describe('RouterOsProvider list and drift', () => {
  it('lists the entries of both lists with canonical addresses, the relay\'s marked owned', async () => {
    // Prepare
    await start();
    const routeros = provider();
    await routeros.add(entries('198.51.100.7', '2001:DB8:0:0::1'), context());
    sim!.device.seed(4, { list: LIST, address: '203.0.113.9', comment: 'admin' });
    sim!.device.seed(4, { list: 'other-list', address: '203.0.113.10', comment: TAG });

    // Act
    const listed = await routeros.list(context());

    // Assess (was: only the relay's entries; now every single-address entry with its owner)
    expect(listed.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '198.51.100.7', ref: expect.stringMatching(/^\*/), owned: true },
      { ip: '2001:db8::1', ref: expect.stringMatching(/^\*/), owned: true },
      { ip: '203.0.113.9', ref: expect.stringMatching(/^\*/), owned: false },
    ]);
  });

  it('shows entries lost in a reboot as gone, and keeps a static relay entry', async () => {
    // Prepare
    await start();
    const routeros = provider();
    await routeros.add(entries('192.0.2.1', '192.0.2.2', '2001:db8::5'), context());
    sim!.device.seed(4, { list: LIST, address: '192.0.2.3', comment: TAG });
    const before = await routeros.list(context());

    // Act
    sim!.device.reboot();
    const after = await routeros.list(context());

    // Assess
    expect(before).toHaveLength(4);
    expect(after).toEqual([{ ip: '192.0.2.3', ref: expect.stringMatching(/^\*/), owned: true }]);
  });

  it('loses entries on the router when their timeout passes, without the relay', async () => {
    // Prepare
    await start();
    const routeros = provider();
    await routeros.add(entries('192.0.2.1'), context());

    // Act
    sim!.device.advance(HOUR + 1_000);
    const listed = await routeros.list(context());

    // Assess
    expect(listed).toEqual([]);
  });
});

describe('RouterOsProvider health check', () => {
  it('reports the relay\'s entries on the list and the mode', async () => {
    // Prepare
    await start();
    sim!.device.seed(4, { list: LIST, address: '192.0.2.1', comment: TAG });
    sim!.device.seed(4, { list: LIST, address: '192.0.2.2', comment: 'admin' });

    // Act
    const script = await provider().healthCheck(context());
    const perEntry = await provider({ mode: 'per-entry' }).healthCheck(context());

    // Assess
    expect(script).toEqual({ ok: true, detail: expect.stringMatching(/IPv4 list "flowtriq_blocked" holds 1 relay entries; mode: script$/) });
    expect(perEntry.detail).toMatch(/mode: per-entry \(configured\)$/);
    expect(sim!.device.counters.execute).toBe(1);
  });
});

describe('RouterOsProvider TLS', () => {
  it('reaches a router with a self-signed certificate pinned by pinSha256', async () => {
    // Prepare
    await start({ tls: cert });
    const tls = deviceTls({ pinSha256: cert.sha256Hex, insecureSkipVerify: false }, { where: 'integrations[0].options' });

    // Act
    const results = await provider({}, { tls }).add(entries('192.0.2.1'), context());

    // Assess
    expect(results).toEqual([{ ip: '192.0.2.1', ok: true }]);
  });

  it('trusts the CA bundle named by caFile', async () => {
    // Prepare
    await start({ tls: cert });
    const caFile = join(dir, 'router-ca.pem');
    writeFileSync(caFile, cert.cert);
    const tls = deviceTls({ caFile, insecureSkipVerify: false }, { where: 'integrations[0].options' });

    // Act
    const health = await provider({}, { tls }).healthCheck(context());

    // Assess
    expect(health).toMatchObject({ ok: true });
  });

  it('fails without retrying when the certificate does not match the pin, before any request', async () => {
    // Prepare
    await start({ tls: cert });
    const tls = deviceTls({ pinSha256: otherCert.sha256Base64, insecureSkipVerify: false }, { where: 'integrations[0].options' });

    // Act
    const outcome = provider({}, { tls }).add(entries('192.0.2.1'), context());

    // Assess
    await expect(outcome).rejects.toMatchObject({ retryable: false, message: expect.stringContaining('certificate rejected') });
    expect(sim!.device.totalRequests).toBe(0);
  });
});

describe('RouterOsProvider at scale', () => {
  it('adds and removes 1,000 addresses in at most 8 requests', async () => {
    // Prepare
    await start();
    const routeros = provider();
    const batch = entries(...manyAddresses(1_000));

    // Act
    const added = await routeros.add(batch, context());
    const onList = v4().length;
    const removed = await routeros.remove(batch, context());

    // Assess
    expect(added.every((result) => result.ok)).toBe(true);
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(onList).toBe(1_000);
    expect(v4()).toEqual([]);
    expect(sim!.device.totalRequests).toBeLessThanOrEqual(8);
    expect(sim!.device.rejections).toEqual([]);
  });
});

describe('RouterOS intervals and script output', () => {
  it('formats whole seconds the way RouterOS writes intervals', () => {
    // Prepare
    const cases: Array<[number, string]> = [
      [1, '1s'],
      [59, '59s'],
      [3_600, '1h'],
      [3_599, '59m59s'],
      [90_061, '1d1h1m1s'],
      [694_861, '1w1d1h1m1s'],
      [21_474_836, '35w3d13h13m56s'],
      [99_999_999, '35w3d13h13m56s'],
    ];

    // Act
    const formatted = cases.map(([seconds]) => formatRouterOsInterval(seconds));

    // Assess
    expect(formatted).toEqual(cases.map(([, text]) => text));
  });

  it('reads both interval styles RouterOS prints', () => {
    // Prepare
    const cases: Array<[string, number | undefined]> = [
      ['23h59m58s', 86_398],
      ['1w2d', 777_600],
      ['00:10:00', 600],
      ['1d00:00:05', 86_405],
      ['500ms', 0.5],
      ['90', 90],
      ['soon', undefined],
      ['1h1h', undefined],
    ];

    // Act
    const parsed = cases.map(([text]) => parseRouterOsInterval(text));

    // Assess
    expect(parsed).toEqual(cases.map(([, seconds]) => seconds));
  });

  it('rounds the time left up to whole seconds within 1s … the RouterOS maximum', () => {
    // Act
    const values = [timeoutSecondsUntil(NOW + 1_001, NOW), timeoutSecondsUntil(NOW - 1, NOW), timeoutSecondsUntil(Number.POSITIVE_INFINITY, NOW)];

    // Assess
    expect(values).toEqual([2, 1, 21_474_836]);
  });

  it('reads result markers and notices a script that did not finish', () => {
    // Act
    const finished = parseScriptOutput('ok 0\r\nerr 1\r\nnoise\r\ndone 3\r\n', 3);
    const cut = parseScriptOutput('ok 0\r\n', 2);

    // Assess
    expect(finished).toEqual({ lines: ['ok', 'err', undefined], complete: true, unexpected: 1 });
    expect(cut).toEqual({ lines: ['ok', undefined], complete: false, unexpected: 0 });
  });
});

describe.each(['prefix128', 'bare'] as const)('RouterOsProvider IPv6 hosts listed as %s', (ipv6HostForm) => {
  const listed = ipv6HostForm === 'bare' ? '2001:db8::1' : '2001:db8::1/128';

  it('adds, lists, skips on a second add and removes an IPv6 host with the script alone', async () => {
    // Prepare
    await start({ ipv6HostForm });
    const routeros = provider();

    // Act
    const added = await routeros.add(entries('2001:DB8:0:0::1'), context());
    const onDevice = sim!.device.entries(6, LIST).map((entry) => entry.address);
    const listedAfterAdd = await routeros.list(context());
    const executesBefore = sim!.device.counters.execute;
    const again = await routeros.add(entries('2001:db8::1'), context());
    const executesAgain = sim!.device.counters.execute - executesBefore;
    const removed = await routeros.remove(entries('2001:db8::1'), context());

    // Assess
    expect(added).toEqual([{ ip: '2001:DB8:0:0::1', ok: true }]);
    expect(onDevice).toEqual([listed]);
    expect(listedAfterAdd).toEqual([{ ip: '2001:db8::1', ref: expect.stringMatching(/^\*/), owned: true }]);
    expect(again).toEqual([{ ip: '2001:db8::1', ok: true, ref: expect.stringMatching(/^\*/) }]);
    expect(executesAgain).toBe(0);
    expect(removed).toEqual([{ ip: '2001:db8::1', ok: true }]);
    expect(sim!.device.entries(6, LIST)).toEqual([]);
    expect(sim!.device.counters.delete).toBe(0);
    expect(sim!.device.duplicateWrites).toBe(0);
    expect(sim!.device.foreignTouched).toBe(0);
  });

  it('removes with one command per form in the same line, so either form is found', async () => {
    // Prepare
    await start({ ipv6HostForm });
    sim!.device.adminAdd(6, { list: LIST, address: '2001:db8::1', comment: TAG });

    // Act
    await provider().remove(entries('2001:db8::1'), context());

    // Assess
    const script = sim!.device.scripts[0]!;
    expect(script).toContain('remove [find where list="flowtriq_blocked" and address="2001:db8::1" and comment="flowtriq-relay"]');
    expect(script).toContain('remove [find where list="flowtriq_blocked" and address="2001:db8::1/128" and comment="flowtriq-relay"]');
    for (const line of script.split('\n')) expect(line).toMatch(SCRIPT_LINE);
    expect(sim!.device.entries(6, LIST)).toEqual([]);
    expect(sim!.device.counters.delete).toBe(0);
  });

  it('answers an operator\'s IPv6 host as foreign in any spelling and never removes it', async () => {
    // Prepare
    await start({ ipv6HostForm });
    sim!.device.adminAdd(6, { list: LIST, address: '2001:db8::1', comment: 'admin' });
    sim!.device.adminAdd(6, { list: LIST, address: '2001:db8::2' });
    const routeros = provider();

    // Act
    const added = await routeros.add(entries('2001:0DB8::1', '2001:db8:0::2'), context());
    const removed = await routeros.remove(entries('2001:db8::1', '2001:db8::2'), context());
    const listing = await routeros.list(context());

    // Assess
    expect(added).toEqual([
      { ip: '2001:0DB8::1', ok: true, foreign: true },
      { ip: '2001:db8:0::2', ok: true, foreign: true },
    ]);
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(sim!.device.entries(6, LIST).map((entry) => [entry.address, entry.comment])).toEqual([
      [listed, 'admin'],
      [ipv6HostForm === 'bare' ? '2001:db8::2' : '2001:db8::2/128', undefined],
    ]);
    expect(listing.map((entry) => [entry.ip, entry.owned]).sort()).toEqual([
      ['2001:db8::1', false],
      ['2001:db8::2', false],
    ]);
    expect(sim!.device.scripts.some((script) => script.includes('/add '))).toBe(false);
    expect(sim!.device.foreignTouched).toBe(0);
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it('deletes by .id a relay IPv6 entry the remove script did not reach, leaving the operator\'s', async () => {
    // Prepare
    await start({ ipv6HostForm });
    sim!.device.adminAdd(6, { list: LIST, address: '2001:db8::1', comment: TAG });
    sim!.device.adminAdd(6, { list: LIST, address: '2001:db8::9', comment: 'admin' });
    // A router whose find matched neither form: the script runs "ok" and removes nothing.
    const { transport } = tap(createDirectTransport(), (request) =>
      request.url.endsWith('/rest/execute') && scriptOf(request).includes('/remove ') ? json(200, { ret: 'ok 0\r\nok 1\r\ndone 2\r\n' }) : undefined,
    );
    const ctx = context();

    // Act
    const results = await provider({}, { transport }).remove(entries('2001:db8::1', '2001:db8::9'), ctx);

    // Assess
    expect(results).toEqual([
      { ip: '2001:db8::1', ok: true },
      { ip: '2001:db8::9', ok: true },
    ]);
    expect(sim!.device.counters.delete).toBe(1);
    expect(sim!.device.entries(6, LIST).map((entry) => entry.comment)).toEqual(['admin']);
    expect(sim!.device.foreignTouched).toBe(0);
    expect(ctx.logger.messages()).toContain('routeros: relay entries still on the list after the remove script; deleting them by .id');
  });

  it('refreshes a short timeout of its own IPv6 entry in either form', async () => {
    // Prepare
    await start({ ipv6HostForm });
    sim!.device.adminAdd(6, { list: LIST, address: '2001:db8::1', comment: TAG, timeout: '5m' });

    // Act
    const results = await provider().add(entries('2001:db8::1'), context());

    // Assess
    expect(results).toEqual([{ ip: '2001:db8::1', ok: true, ref: expect.stringMatching(/^\*/) }]);
    expect(sim!.device.entries(6, LIST)[0]?.timeout).toBe('1h');
    expect(sim!.device.scripts.map((script) => script.includes('/add '))).toEqual([false]);
  });
});

describe('RouterOsProvider ownership', () => {
  it('adds only the addresses not listed yet; operator entries with and without a comment are foreign and untouched', async () => {
    // Prepare
    await start();
    sim!.device.adminAdd(4, { list: LIST, address: '192.0.2.1', comment: 'admin' });
    sim!.device.adminAdd(4, { list: LIST, address: '192.0.2.2' });
    sim!.device.adminAdd(4, { list: 'other-list', address: '192.0.2.3', comment: 'admin' });
    const routeros = provider();

    // Act
    const added = await routeros.add(entries('192.0.2.1', '192.0.2.2', '192.0.2.3'), context());
    const removed = await routeros.remove(entries('192.0.2.1', '192.0.2.2', '192.0.2.3'), context());

    // Assess
    expect(added).toEqual([
      { ip: '192.0.2.1', ok: true, foreign: true },
      { ip: '192.0.2.2', ok: true, foreign: true },
      { ip: '192.0.2.3', ok: true },
    ]);
    expect(sim!.device.scripts[0]!.split('\n').filter((line) => line.includes('/add '))).toEqual([
      expect.stringContaining('address="192.0.2.3"'),
    ]);
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(v4().map((entry) => [entry.address, entry.comment])).toEqual([
      ['192.0.2.1', 'admin'],
      ['192.0.2.2', undefined],
    ]);
    expect(sim!.device.entries(4, 'other-list')).toHaveLength(1);
    expect(sim!.device.foreignTouched).toBe(0);
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it.each([false, true])('sends nothing for a retried add of entries already on the list (resumed: %s) and answers ok', async (resumed) => {
    // Prepare
    await start();
    const routeros = provider();
    const batch = entries(...manyAddresses(50), '2001:db8::50');
    await routeros.add(batch, context());
    sim!.device.resetCounters();

    // Act
    const results = await routeros.add(batch.map((entry) => ({ ...entry, resumed })), context());

    // Assess
    expect(results.every((result) => result.ok && result.ref !== undefined && !('foreign' in result))).toBe(true);
    expect(sim!.device.counters).toMatchObject({ execute: 0, put: 0, patch: 0, list: 2 });
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it('fails the whole batch with a retryable error, and writes nothing, when the list cannot be read first', async () => {
    // Prepare
    await start();
    const { transport } = tap(createDirectTransport(), (request) =>
      request.method === 'GET' ? json(503, { error: 503, message: 'Service Unavailable' }) : undefined,
    );

    // Act
    const outcome = provider({}, { transport }).add(entries('192.0.2.1'), context());

    // Assess
    await expect(outcome).rejects.toMatchObject({ retryable: true, status: 503 });
    expect(sim!.device.scripts).toEqual([]);
  });

  it('lists single addresses only: CIDR blocks, ranges and DNS names are left out', async () => {
    // Prepare
    await start();
    const { transport } = tap(createDirectTransport(), (request) => {
      if (request.method !== 'GET') return undefined;
      return request.url.includes('/ipv6/')
        ? json(200, [
            { '.id': '*20', address: '2001:db8::/64', comment: TAG },
            { '.id': '*21', address: '2001:DB8::7/128', comment: TAG },
          ])
        : json(200, [
            { '.id': '*1', address: '198.51.100.0/24', comment: TAG },
            { '.id': '*2', address: '198.51.100.1-198.51.100.9', comment: TAG },
            { '.id': '*3', address: 'example.com', comment: TAG },
            { '.id': '*4', address: '198.51.100.7/32', comment: TAG },
            { '.id': '*5', address: '203.0.113.9' },
          ]);
    });

    // Act
    const listed = await provider({}, { transport }).list(context());

    // Assess
    expect(listed).toEqual([
      { ip: '198.51.100.7', ref: '*4', owned: true },
      { ip: '203.0.113.9', ref: '*5', owned: false },
      { ip: '2001:db8::7', ref: '*21', owned: true },
    ]);
  });
});

describe('RouterOsProvider writes each batch once', () => {
  it('adds 2,000 addresses with distinct scripts and no duplicate write', async () => {
    // Prepare
    await start();
    const batch = entries(...manyAddresses(2_000));

    // Act
    const results = await provider().add(batch, context());

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(v4()).toHaveLength(2_000);
    expect(new Set(sim!.device.scripts).size).toBe(sim!.device.scripts.length);
    expect(sim!.device.scripts.join('\n').split('\n').filter((line) => line.includes('/add '))).toHaveLength(2_000);
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it('removes 10,000 addresses in one call within the cost model\'s floor: 27 scripts + 1 read, ≤ 11 s simulated, no duplicate', async () => {
    // Prepare: 35 ms per request, 1 ms per entry written, 0.1 ms per entry read (bench/devices/routeros.ts).
    const local = RouterOsSimulator.inProcess({ username: USER, password: PASSWORD, cost: { requestMs: 35, entryMs: 1, readEntryMs: 0.1 } });
    const routeros = new RouterOsProvider(
      routerosIntegrationSchema.parse({
        id: 'edge',
        type: 'routeros',
        options: { url: 'http://192.0.2.1', allowInsecureHttp: true },
        secrets: { username: { env: 'U' }, password: { env: 'P' } },
      }),
      { username: USER, password: PASSWORD },
      local.transport(),
      {},
      { now: () => NOW },
    );
    const batch = entries(...Array.from({ length: 10_000 }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`));
    await routeros.add(batch, context());
    const requestsBefore = local.device.totalRequests;
    const scriptsBefore = local.device.scripts.length;
    const started = local.device.now();

    // Act
    const results = await routeros.remove(batch, context());

    // Assess
    const requests = local.device.totalRequests - requestsBefore;
    const simulatedMs = local.device.now() - started;
    const scripts = local.device.scripts.slice(scriptsBefore);
    expect(results.every((result) => result.ok)).toBe(true);
    expect(local.device.entries(4, LIST)).toEqual([]);
    expect(requests).toBe(28);
    expect(scripts).toHaveLength(27);
    expect(new Set(scripts).size).toBe(scripts.length);
    // 10,000 entries × 1 ms is the floor; the rest is one request cost per script and the read-back.
    expect(simulatedMs).toBe(10_000 + requests * 35);
    expect(simulatedMs).toBeLessThanOrEqual(11_000);
    expect(local.device.duplicateWrites).toBe(0);
    await local.close();
  });
});

describe('RouterOsProvider against the simulator in real time over loopback HTTP', () => {
  it('adds and removes at 35 ms per request + 1 ms per entry, taking the simulated time in wall time', async () => {
    // Prepare
    await start({ cost: { requestMs: 35, entryMs: 1 }, realDelayFactor: 1 });
    const routeros = provider();
    const batch = entries(...manyAddresses(40), '2001:db8::40');
    const startedAt = performance.now();

    // Act
    const added = await routeros.add(batch, context());
    const removed = await routeros.remove(batch, context());

    // Assess
    const wallMs = performance.now() - startedAt;
    expect(added.every((result) => result.ok)).toBe(true);
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(sim!.device.now()).toBe(sim!.device.totalRequests * 35 + 41 + 42);
    expect(wallMs).toBeGreaterThanOrEqual(sim!.device.now() - 5);
    expect(sim!.maxConcurrent).toBe(1);
    expect(sim!.device.duplicateWrites).toBe(0);
  });
});
