import { afterEach, describe, expect, it } from 'vitest';
import { TransportConnectionError, TransportTimeoutError } from '../../../lib/transport/errors.ts';
import { createDirectTransport } from '../../../lib/transport/node-http.ts';
import type { Transport } from '../../../lib/transport/types.ts';
import { makeSelfSignedCert } from '../../helpers/tls.ts';
import {
  PfSenseV2Simulator,
  type PfSenseV2SimulatorOptions,
  REALTIME_BENCH_COST,
  type RunningPfSenseV2Simulator,
  simulatorTransport,
  startPfSenseV2Simulator,
} from './index.ts';

const BASIC = `Basic ${Buffer.from('admin:pfsense').toString('base64')}`;
const WRONG = `Basic ${Buffer.from('admin:wrong').toString('base64')}`;

interface Answer {
  status: number;
  headers: Record<string, string>;
  json: { code: number; status: string; response_id: string; message: string; data: unknown };
}

/** A tiny pfrest client over the in-process transport. */
function client(sim: PfSenseV2Simulator, transport: Transport = simulatorTransport(sim), origin = 'https://pfsense.sim') {
  return async (method: string, path: string, body?: unknown, auth: Record<string, string> = { Authorization: BASIC }): Promise<Answer> => {
    const response = await transport.request({
      method,
      url: `${origin}${path}`,
      headers: { ...auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: 2_000,
    });
    return { status: response.status, headers: response.headers, json: JSON.parse(Buffer.from(response.body).toString('utf8')) };
  };
}

function simulator(options: PfSenseV2SimulatorOptions = {}) {
  const sim = new PfSenseV2Simulator(options);
  return { sim, api: client(sim) };
}

let running: RunningPfSenseV2Simulator | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe('pfrest v2 simulator: envelope and authentication', () => {
  it('answers in the package envelope and accepts BasicAuth by default', async () => {
    // Prepare
    const { api } = simulator();

    // Act
    const answer = await api('GET', '/api/v2/firewall/aliases');

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ code: 200, status: 'ok', response_id: 'SUCCESS', message: '', data: [] });
  });

  it('rejects wrong credentials and methods that are not enabled with the 401 envelope', async () => {
    // Prepare
    const { sim, api } = simulator({ loginProtection: { threshold: 100, windowMs: 1e9, blockMs: 1 } });
    const key = sim.createApiKey();

    // Act
    const wrong = await api('GET', '/api/v2/firewall/aliases', undefined, { Authorization: WRONG });
    const keyNotEnabled = await api('GET', '/api/v2/firewall/aliases', undefined, { 'X-API-Key': key });

    // Assess
    for (const answer of [wrong, keyNotEnabled]) {
      expect(answer.status).toBe(401);
      expect(answer.json).toMatchObject({ code: 401, status: 'unauthorized', response_id: 'AUTH_AUTHENTICATION_FAILED', data: [] });
    }
    expect(sim.counters.authFailures).toBe(2);
  });

  it('accepts X-API-Key and Bearer JWTs when KeyAuth and JWTAuth are enabled; the JWT login needs BasicAuth', async () => {
    // Prepare
    let wall = Date.parse('2030-01-01T00:00:00Z');
    const { sim, api } = simulator({ authMethods: ['BasicAuth', 'KeyAuth', 'JWTAuth'], jwtExpSeconds: 300, wallClock: () => wall });
    const key = sim.createApiKey();

    // Act
    const withKey = await api('GET', '/api/v2/firewall/aliases', undefined, { 'X-API-Key': key });
    const login = await api('POST', '/api/v2/auth/jwt', {});
    const token = (login.json.data as { token: string }).token;
    const withToken = await api('GET', '/api/v2/firewall/aliases', undefined, { Authorization: `Bearer ${token}` });
    const loginWithKey = await api('POST', '/api/v2/auth/jwt', {}, { 'X-API-Key': key });
    wall += 301_000;
    const expired = await api('GET', '/api/v2/firewall/aliases', undefined, { Authorization: `Bearer ${token}` });

    // Assess
    expect(withKey.status).toBe(200);
    expect(login.status).toBe(200);
    expect(token.split('.')).toHaveLength(3);
    expect(withToken.status).toBe(200);
    expect(loginWithKey.status).toBe(401);
    expect(expired.status).toBe(401);
  });

  it('login protection drops the client after three failures', async () => {
    // Prepare
    const { sim, api } = simulator();
    for (let i = 0; i < 3; i += 1) await api('GET', '/api/v2/firewall/aliases', undefined, { Authorization: WRONG });

    // Act
    const attempt = api('GET', '/api/v2/firewall/aliases');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(TransportConnectionError);
    expect(sim.counters.authFailures).toBe(3);
    expect(sim.counters.refusedConnections).toBe(1);
  });

  it('answers 403 without the privilege and 405 for writes in read-only mode', async () => {
    // Prepare
    const limited = simulator({ privileges: ['api-v2-firewall-aliases-get'] });
    const readOnly = simulator({ readOnly: true });

    // Act
    const read = await limited.api('GET', '/api/v2/firewall/aliases');
    const write = await limited.api('POST', '/api/v2/firewall/alias', { name: 'x', type: 'host' });
    const refused = await readOnly.api('POST', '/api/v2/firewall/apply', {});

    // Assess
    expect(read.status).toBe(200);
    expect(write.status).toBe(403);
    expect(write.json.message).toContain('api-v2-firewall-alias-post');
    expect(refused.status).toBe(405);
    expect(refused.json.response_id).toBe('ENDPOINT_METHOD_NOT_ALLOWED_IN_READ_ONLY_MODE');
  });
});

describe('pfrest v2 simulator: aliases', () => {
  it('filters by query and uses array positions as ids, which shift when an earlier alias is deleted', async () => {
    // Prepare
    const { sim, api } = simulator();
    sim.addAlias({ name: 'office' });
    sim.addAlias({ name: 'servers' });
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ['192.0.2.1'] });

    // Act
    const before = await api('GET', '/api/v2/firewall/aliases?name=blocked');
    const prefix = await api('GET', '/api/v2/firewall/aliases?name__startswith=s');
    sim.deleteAlias('office');
    const after = await api('GET', '/api/v2/firewall/aliases?name=blocked');
    const byId = await api('GET', '/api/v2/firewall/alias?id=1');

    // Assess
    expect(before.json.data).toEqual([{ id: 2, name: 'blocked', type: 'host', descr: '', address: ['192.0.2.1'], detail: [] }]);
    expect((prefix.json.data as Array<{ name: string }>).map((alias) => alias.name)).toEqual(['servers']);
    expect((after.json.data as Array<{ id: number }>)[0]?.id).toBe(1);
    expect((byId.json.data as { name: string }).name).toBe('blocked');
  });

  it('validates create: unique, valid names, valid host addresses', async () => {
    // Prepare
    const { api } = simulator();
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host' });

    // Act
    const duplicate = await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host' });
    const badName = await api('POST', '/api/v2/firewall/alias', { name: 'a"b', type: 'host' });
    const badAddress = await api('POST', '/api/v2/firewall/alias', { name: 'other', type: 'host', address: ['1.2.3.4; /system reset'] });

    // Assess
    expect(duplicate.json.response_id).toBe('FIELD_MUST_BE_UNIQUE');
    expect(badName.json.response_id).toBe('INVALID_FIREWALL_ALIAS_NAME');
    expect(badAddress.status).toBe(400);
    expect(badAddress.json.response_id).toBe('INVALID_HOST_ALIAS_ADDRESS');
    expect(badAddress.json.message).toBe('Host alias `address` value `1.2.3.4; /system reset` is not a valid IP, FQDN, or alias.');
  });

  it('append is array_merge without de-duplication, and a no-op when the sent list equals the stored one', async () => {
    // Prepare
    const { sim, api } = simulator();
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ['192.0.2.1'] });

    // Act
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1', '192.0.2.2'], append: true });
    const afterMerge = sim.alias('blocked')?.address;
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1', '192.0.2.1', '192.0.2.2'], append: true });

    // Assess
    expect(afterMerge).toEqual(['192.0.2.1', '192.0.2.1', '192.0.2.2']);
    expect(sim.alias('blocked')?.address).toEqual(['192.0.2.1', '192.0.2.1', '192.0.2.2']);
  });

  it('remove is array_diff (every occurrence), a silent no-op for the complete list, and a plain replace empties', async () => {
    // Prepare
    const { sim, api } = simulator();
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ['192.0.2.1', '192.0.2.2', '192.0.2.1', '192.0.2.3'] });

    // Act
    const diff = await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1'], remove: true });
    const afterDiff = sim.alias('blocked')?.address;
    const noop = await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.2', '192.0.2.3'], remove: true });
    const afterNoop = sim.alias('blocked')?.address;
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: [], detail: [] });

    // Assess
    expect((diff.json.data as { address: unknown }).address).toEqual({ 1: '192.0.2.2', 3: '192.0.2.3' }); // PHP keeps keys
    expect(afterDiff).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(noop.status).toBe(200);
    expect(afterNoop).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(sim.alias('blocked')?.address).toEqual([]);
  });

  it('refuses a PATCH whose name differs from the alias at that id (name is not editable)', async () => {
    // Prepare
    const { sim, api } = simulator();
    sim.addAlias({ name: 'office', address: ['10.0.0.1'] });
    sim.addAlias({ name: 'blocked' });

    // Act
    const wrongTarget = await api('PATCH', '/api/v2/firewall/alias', { id: 0, name: 'blocked', address: ['192.0.2.9'], append: true });
    const right = await api('PATCH', '/api/v2/firewall/alias', { id: 1, name: 'blocked', address: ['192.0.2.9'], append: true });

    // Assess
    expect(wrongTarget.json.response_id).toBe('FIELD_VALUE_CHANGED_WHEN_NOT_EDITABLE');
    expect(sim.alias('office')?.address).toEqual(['10.0.0.1']);
    expect(right.status).toBe(200);
    expect(sim.alias('blocked')?.address).toEqual(['192.0.2.9']);
  });

  it('old packages: 128 items at most, checked after append (result scope) or per request (request scope)', async () => {
    // Prepare
    const ips = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `10.0.${(from + i) >> 8}.${(from + i) & 255}`);
    const result = simulator({ manyMaximum: 128 });
    const request = simulator({ manyMaximum: 128, manyMaximumScope: 'request' });
    for (const { api } of [result, request]) await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ips(100) });

    // Act
    const tooMany = await result.api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ips(129, 200), append: true });
    const overTotal = await result.api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ips(50, 200), append: true });
    const perRequest = await request.api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ips(50, 200), append: true });

    // Assess
    expect(tooMany.status).toBe(400);
    expect(tooMany.json).toMatchObject({ response_id: 'LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT', message: 'Field `address` exceeds the maximum array length of 128.' });
    expect(overTotal.json.response_id).toBe('LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT');
    expect(result.sim.alias('blocked')?.address).toHaveLength(100);
    expect(perRequest.status).toBe(200);
    expect(request.sim.alias('blocked')?.address).toHaveLength(150);
  });

  it('details: a short detail list stays short (the padding is overwritten, Model::validate); the stamp knob keeps it; more details than addresses is TOO_MANY_ALIAS_DETAILS', async () => {
    // Prepare
    const read = simulator();
    const stamp = simulator({ detailPadding: 'stamp' });
    for (const { sim } of [read, stamp]) sim.addAlias({ name: 'blocked', address: ['192.0.2.1', '192.0.2.2'], detail: ['first', 'second'] });

    // Act
    for (const { api } of [read, stamp]) await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.3'], append: true });
    const remove = await read.api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1', '192.0.2.2'], remove: true });

    // Assess
    expect(read.sim.alias('blocked')?.detail).toEqual(['first', 'second']);
    expect(stamp.sim.alias('blocked')?.detail).toHaveLength(3);
    expect(stamp.sim.alias('blocked')?.detail[2]).toMatch(/^Entry added /);
    expect(remove.status).toBe(400);
    expect(remove.json.response_id).toBe('TOO_MANY_ALIAS_DETAILS');
  });

  it('detail is its own field: append/remove merge or diff it by value, an identical list is a no-op, a repeated value is not', async () => {
    // Prepare
    const { sim, api } = simulator();
    sim.addAlias({ name: 'blocked', address: ['192.0.2.1', '192.0.2.2'], detail: ['same', 'same'] });

    // Act
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.3'], detail: ['third'], append: true });
    const afterAppend = sim.alias('blocked');
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1'], detail: ['same'], remove: true });
    const byValue = sim.alias('blocked');
    sim.editAlias('blocked', { address: ['192.0.2.9'], detail: ['last'] });
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.9'], detail: ['last'], remove: true });
    const noop = sim.alias('blocked');
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.9', '192.0.2.9'], detail: ['last', 'last'], remove: true });

    // Assess
    expect(afterAppend).toMatchObject({ address: ['192.0.2.1', '192.0.2.2', '192.0.2.3'], detail: ['same', 'same', 'third'] });
    expect(byValue).toMatchObject({ address: ['192.0.2.2', '192.0.2.3'], detail: ['third'] }); // both "same" went: misaligned
    expect(noop).toMatchObject({ address: ['192.0.2.9'], detail: ['last'] });
    expect(sim.alias('blocked')).toMatchObject({ address: [], detail: [] });
  });

  it('config.xml round trip: empty descriptions between others survive, a lone empty description reads back as none', async () => {
    // Prepare
    const { sim, api } = simulator();
    await api('POST', '/api/v2/firewall/alias', { name: 'a', type: 'host', address: ['192.0.2.1', '192.0.2.2'], detail: ['', 'x'] });

    // Act
    await api('POST', '/api/v2/firewall/alias', { name: 'b', type: 'host', address: ['192.0.2.1'], detail: [''] });

    // Assess
    expect(sim.alias('a')?.detail).toEqual(['', 'x']);
    expect(sim.alias('b')?.detail).toEqual([]);
  });
});

describe('pfrest v2 simulator: violation counters and admin helpers', () => {
  it('replaces: a PATCH setting address or detail without append/remove; duplicateWrites: appending an address already held', async () => {
    // Prepare
    const { sim, api } = simulator();
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ['192.0.2.1', '2001:db8::1'] });

    // Act
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.2'], append: true });
    const clean = { ...sim.counters };
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1', '2001:DB8::1', '192.0.2.3'], append: true });
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: [], detail: [] });

    // Assess
    expect(clean).toMatchObject({ replaces: 0, duplicateWrites: 0 });
    expect(sim.counters).toMatchObject({ replaces: 1, duplicateWrites: 2 });
  });

  it('foreignTouched: an operator entry removed or its description moved by the API counts; admin changes do not', async () => {
    // Prepare
    const { sim, api } = simulator();
    sim.addAlias({ name: 'blocked', address: ['192.0.2.1', '192.0.2.2'], detail: ['office', 'lab'] });
    sim.adminAdd('blocked', '192.0.2.3', 'vpn');
    sim.adminRemove('blocked', '192.0.2.2');

    // Act
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['198.51.100.1'], detail: ['relay'], append: true });
    const afterAppend = sim.counters.foreignTouched;
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1'], detail: ['relay'], remove: true }); // the wrong description sent: the others shift

    // Assess
    expect(afterAppend).toBe(0);
    expect(sim.alias('blocked')).toMatchObject({ address: ['192.0.2.3', '198.51.100.1'], detail: ['office', 'vpn'] });
    expect(sim.counters.foreignTouched).toBe(2); // 192.0.2.1 removed; 192.0.2.3 now stands beside "office"
  });

  it('appliesWhileFull and appliesIgnoringRetryAfter: applies received while full, and before an earlier Retry-After ran out', async () => {
    // Prepare
    const { sim, api } = simulator({ retryAfterSeconds: 300 });
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host' });
    sim.occupyDispatcher(10, 10_000);

    // Act
    await api('POST', '/api/v2/firewall/apply', {});
    const afterFirst = { ...sim.counters };
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.1'], append: true, apply: true });
    sim.advance(20_000); // the slots are free again, but Retry-After (300 s) still runs
    await api('POST', '/api/v2/firewall/apply', {});
    sim.advance(300_000);
    await api('POST', '/api/v2/firewall/apply', {});

    // Assess
    expect(afterFirst).toMatchObject({ appliesWhileFull: 1, appliesIgnoringRetryAfter: 0 });
    expect(sim.counters).toMatchObject({ appliesWhileFull: 2, appliesIgnoringRetryAfter: 2, appliesStarted: 2 });
  });

  it('a reload loads the config as it was when it started: a write during a reload is not live until a later reload', async () => {
    // Prepare
    const { sim, api } = simulator({ applyBaseMs: 1000, applyPerEntryMs: 0 });
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ['192.0.2.1'], apply: true });

    // Act
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.2'], append: true });
    sim.advance(2000);
    const before = sim.liveTable('blocked');
    await api('POST', '/api/v2/firewall/apply', {});
    sim.advance(2000);

    // Assess
    expect(before).toEqual(['192.0.2.1']);
    expect(sim.liveTable('blocked')).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  it('real-time mode over loopback HTTP: answers after 35 ms + 1 ms per entry, one request at a time; identical writes in flight count', async () => {
    // Prepare
    running = await startPfSenseV2Simulator({ realTime: true, cost: REALTIME_BENCH_COST });
    const api = client(running.sim, createDirectTransport(), running.origin);
    const address = Array.from({ length: 40 }, (_, i) => `10.0.0.${i}`);
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address });

    // Act
    const started = performance.now();
    await api('GET', '/api/v2/firewall/aliases');
    const oneRead = performance.now() - started;
    const body = { id: 0, address: ['192.0.2.1'], detail: ['x'], remove: true };
    const startedPair = performance.now();
    await Promise.all([api('PATCH', '/api/v2/firewall/alias', body), api('PATCH', '/api/v2/firewall/alias', body)]);
    const pair = performance.now() - startedPair;

    // Assess
    expect(oneRead).toBeGreaterThanOrEqual(35 + 40 - 2);
    expect(pair).toBeGreaterThanOrEqual(2 * (35 + 40) - 4); // served one after the other
    expect(running.sim.counters.duplicateWrites).toBe(1);
  });
});

describe('pfrest v2 simulator: apply, live table and cost model', () => {
  it('apply is asynchronous: the live table exists only after the reload, while GET /firewall/apply already says applied', async () => {
    // Prepare
    const { sim, api } = simulator({ applyBaseMs: 1000, applyPerEntryMs: 0 });
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ['192.0.2.1', '2001:DB8::1'] });
    const pending = await api('GET', '/api/v2/firewall/apply');

    // Act
    await api('POST', '/api/v2/firewall/apply', {});
    const status = await api('GET', '/api/v2/firewall/apply');
    const early = await api('GET', '/api/v2/diagnostics/table?id=blocked');
    sim.advance(1000);
    const late = await api('GET', '/api/v2/diagnostics/table?id=blocked');

    // Assess
    expect(pending.json.data).toEqual({ applied: false, pending_subsystems: ['aliases'] });
    expect(status.json.data).toEqual({ applied: true, pending_subsystems: [] });
    expect(early.json.response_id).toBe('MODEL_OBJECT_NOT_FOUND'); // pf has no table for the new alias yet
    expect(late.json.data).toEqual({ id: 'blocked', entries: ['192.0.2.1', '2001:db8::1'] });
  });

  it('the dispatcher queues at most 10 reloads: then 503 with Retry-After, after the PATCH was written', async () => {
    // Prepare
    const { sim, api } = simulator();
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host' });
    sim.occupyDispatcher(10, 60_000);

    // Act
    const apply = await api('POST', '/api/v2/firewall/apply', {});
    const patch = await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['192.0.2.7'], append: true, apply: true });
    const pending = sim.pendingSubsystems();
    sim.advance(60_000);
    const later = await api('POST', '/api/v2/firewall/apply', {});

    // Assess
    expect(apply.status).toBe(503);
    expect(apply.headers['retry-after']).toBe('300');
    expect(apply.json.response_id).toBe('DISPATCHER_TOO_MANY_QUEUED_PROCESSES');
    expect(patch.status).toBe(503);
    expect(sim.alias('blocked')?.address).toEqual(['192.0.2.7']);
    expect(pending).toEqual(['aliases']);
    expect(later.status).toBe(200);
    expect(sim.counters.dispatcherRejections).toBe(2);
  });

  it('runtime tables: DELETE and the flush hook empty them, a filter reload rebuilds them from config', async () => {
    // Prepare
    const { sim, api } = simulator();
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address: ['192.0.2.1'], apply: true });
    sim.advance(10_000);

    // Act
    const live = sim.liveTable('blocked');
    sim.flushRuntimeTable('blocked');
    const flushed = sim.liveTable('blocked');
    sim.reloadFilter();
    const reloaded = sim.liveTable('blocked');
    const deleted = await api('DELETE', '/api/v2/diagnostics/table?id=blocked');
    const missing = await api('GET', '/api/v2/diagnostics/table?id=nothing');

    // Assess
    expect(live).toEqual(['192.0.2.1']);
    expect(flushed).toEqual([]);
    expect(reloaded).toEqual(['192.0.2.1']);
    expect(deleted.status).toBe(200);
    expect(sim.liveTable('blocked')).toEqual([]);
    expect(sim.alias('blocked')?.address).toEqual(['192.0.2.1']);
    expect(missing.json.response_id).toBe('MODEL_OBJECT_NOT_FOUND');
  });

  it('charges 60 ms per request plus 0.5 ms per alias entry handled, on one virtual clock', async () => {
    // Prepare
    const { sim, api } = simulator();
    const address = Array.from({ length: 100 }, (_, i) => `10.0.0.${i}`);

    // Act
    await api('POST', '/api/v2/firewall/alias', { name: 'blocked', type: 'host', address });
    await api('GET', '/api/v2/firewall/aliases?name=blocked');
    await api('PATCH', '/api/v2/firewall/alias', { id: 0, address: ['10.0.1.1'], append: true });
    await api('GET', '/api/v2/firewall/apply');

    // Assess
    expect(sim.clockMs).toBe(60 + 50 + (60 + 50) + (60 + 50.5) + 60);
    expect(sim.counters).toMatchObject({ requests: 4, configWrites: 2, entries: 301 });
    expect(sim.counters.byRoute['PATCH /api/v2/firewall/alias']).toBe(1);
    expect(sim.log.map((entry) => entry.costMs)).toEqual([110, 110, 110.5, 60]);
  });

  it('counts calls to endpoints it does not implement (e.g. rules) and answers 404 ENDPOINT_NOT_FOUND', async () => {
    // Prepare
    const { sim, api } = simulator();

    // Act
    const rules = await api('GET', '/api/v2/firewall/rules');

    // Assess
    expect(rules.json.response_id).toBe('ENDPOINT_NOT_FOUND');
    expect(sim.counters.byRoute['GET /api/v2/firewall/rules']).toBe(1);
  });
});

describe('pfrest v2 simulator over HTTP(S)', () => {
  it('serves HTTPS with the given certificate', async () => {
    // Prepare
    const cert = makeSelfSignedCert();
    running = await startPfSenseV2Simulator({ tls: cert });
    const transport = createDirectTransport();

    // Act
    const response = await transport.request({
      method: 'GET',
      url: `${running.origin}/api/v2/firewall/aliases`,
      headers: { Authorization: BASIC },
      timeoutMs: 5_000,
      tls: { pinSha256: cert.sha256Hex },
    });

    // Assess
    expect(running.origin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(response.status).toBe(200);
  });

  it('device down: reset refuses the connection, hang never answers', async () => {
    // Prepare
    running = await startPfSenseV2Simulator();
    const api = client(running.sim, createDirectTransport(), running.origin);

    // Act
    running.sim.setDown('reset');
    const reset = api('GET', '/api/v2/firewall/aliases');
    await expect(reset).rejects.toBeInstanceOf(TransportConnectionError);
    running.sim.setDown('hang');
    const hang = createDirectTransport().request({ method: 'GET', url: `${running.origin}/api/v2/firewall/aliases`, headers: { Authorization: BASIC }, timeoutMs: 200 });
    await expect(hang).rejects.toBeInstanceOf(TransportTimeoutError);
    running.sim.setDown(false);
    const up = await api('GET', '/api/v2/firewall/aliases');

    // Assess
    expect(up.status).toBe(200);
    expect(running.sim.counters.refusedConnections).toBe(2);
  });
});
