import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { createStatusRoutes, isLoopback, SECURITY_HEADERS, STATUS_COOKIE, tokensEqual } from '../../lib/status/routes.ts';
import type { StatusDeps } from '../../lib/status/types.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';
import { PLAIN, seededDeps } from './seed.ts';

const TOKEN = 'status-token-Zq8x2Lr9vT4mNp7K';
const BASE = 'http://relay.test';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Every response a test saw, to prove the token never comes back. */
const seen: { headers: string; body: string }[] = [];

async function app(options: { token?: string } = {}): Promise<{ app: Hono; deps: StatusDeps & { store: SqliteStateStore } }> {
  const deps = await seededDeps(options.token === undefined ? {} : { token: options.token });
  cleanups.push(() => deps.store.close());
  return { app: createStatusRoutes(deps), deps };
}

/** A request as @hono/node-server would hand it over: the Node socket in env.incoming. */
async function call(target: Hono, path: string, options: { from?: string; headers?: Record<string, string>; base?: string } = {}): Promise<Response> {
  const env = options.from === undefined ? undefined : { incoming: { socket: { remoteAddress: options.from } } };
  const response = await target.fetch(new Request(`${options.base ?? BASE}${path}`, { headers: options.headers ?? {} }), env);
  const body = await response.clone().text();
  seen.push({ headers: JSON.stringify([...response.headers]), body });
  return response;
}

function expectSecurityHeaders(response: Response) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(response.headers.get(name), name).toBe(value);
}

describe('status routes without a status token (loopback only)', () => {
  it('answers a loopback client with the HTML page and its security headers', async () => {
    // Prepare
    const { app: status } = await app();

    // Act
    const response = await call(status, '/status', { from: '127.0.0.1' });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expectSecurityHeaders(response);
    expect(await response.text()).toContain(PLAIN.incidentA);
  });

  it('answers ::1 and an IPv4-mapped loopback address, with the JSON view', async () => {
    // Prepare
    const { app: status } = await app();

    // Act
    const v6 = await call(status, '/status.json', { from: '::1' });
    const mapped = await call(status, '/status.json', { from: '::ffff:127.0.0.1' });

    // Assess
    expect(v6.status).toBe(200);
    expect(mapped.status).toBe(200);
    expect(v6.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const view = (await v6.json()) as { incidents: { items: { uuid: string }[] } };
    expect(view.incidents.items.map((incident) => incident.uuid).sort()).toEqual([PLAIN.incidentA, PLAIN.incidentB].sort());
  });

  it('refuses a non-loopback client with 403 and says to set the status token', async () => {
    // Prepare
    const { app: status } = await app();

    // Act
    const response = await call(status, '/status', { from: '203.0.113.5' });

    // Assess
    expect(response.status).toBe(403);
    expectSecurityHeaders(response);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('forbidden');
    expect(body.error.message).toContain('set status.token');
  });

  it('refuses when there is no Node socket to tell the client by (fail closed)', async () => {
    // Prepare
    const { app: status } = await app();

    // Act
    const response = await call(status, '/status.json');

    // Assess
    expect(response.status).toBe(403);
  });

  it('refuses a loopback request that came through a reverse proxy (forwarded headers)', async () => {
    // Prepare
    const { app: status } = await app();

    // Act
    const forwarded = await call(status, '/status', { from: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.7' } });
    const rfc = await call(status, '/status', { from: '127.0.0.1', headers: { forwarded: 'for=198.51.100.7' } });

    // Assess
    expect(forwarded.status).toBe(403);
    expect(rfc.status).toBe(403);
    expect(((await forwarded.json()) as { error: { message: string } }).error.message).toContain('proxy');
  });
});

describe('status routes with a status token', () => {
  it('answers 401 with WWW-Authenticate: Bearer without it, even from loopback', async () => {
    // Prepare
    const { app: status } = await app({ token: TOKEN });

    // Act
    const page = await call(status, '/status', { from: '127.0.0.1' });
    const json = await call(status, '/status.json', { from: '127.0.0.1' });

    // Assess
    for (const response of [page, json]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="relay status"');
      expectSecurityHeaders(response);
    }
  });

  it('answers a request with the right bearer token, from anywhere', async () => {
    // Prepare
    const { app: status } = await app({ token: TOKEN });

    // Act
    const page = await call(status, '/status', { from: '203.0.113.5', headers: { authorization: `Bearer ${TOKEN}` } });
    const json = await call(status, '/status.json', { from: '203.0.113.5', headers: { authorization: `bearer ${TOKEN}` } });

    // Assess
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(PLAIN.incidentB);
    expect(json.status).toBe(200);
  });

  it('refuses a wrong bearer token (also one of another length) with 401 invalid_token', async () => {
    // Prepare
    const { app: status } = await app({ token: TOKEN });

    // Act
    const wrong = await call(status, '/status', { from: '127.0.0.1', headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}X` } });
    const short = await call(status, '/status', { from: '127.0.0.1', headers: { authorization: 'Bearer x' } });
    const basic = await call(status, '/status', { from: '127.0.0.1', headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } });

    // Assess
    for (const response of [wrong, short, basic]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="relay status", error="invalid_token"');
    }
  });

  it('turns ?token= into an HttpOnly SameSite=Strict cookie and a redirect without it; the cookie then opens both routes', async () => {
    // Prepare
    const { app: status } = await app({ token: TOKEN });

    // Act
    const login = await call(status, `/status?token=${encodeURIComponent(TOKEN)}`, { from: '203.0.113.5' });
    const setCookie = login.headers.get('set-cookie') ?? '';
    const cookie = setCookie.split(';')[0]!;
    const page = await call(status, '/status', { from: '203.0.113.5', headers: { cookie } });
    const json = await call(status, '/status.json', { from: '203.0.113.5', headers: { cookie } });

    // Assess
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/status');
    expectSecurityHeaders(login);
    expect(cookie.startsWith(`${STATUS_COOKIE}=`)).toBe(true);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/; Secure/); // plain http: a Secure cookie would never come back
    expect(page.status).toBe(200);
    expect(json.status).toBe(200);
  });

  it('marks the cookie Secure when the page is served over https', async () => {
    // Prepare
    const { app: status } = await app({ token: TOKEN });

    // Act
    const login = await call(status, `/status?token=${TOKEN}`, { from: '127.0.0.1', base: 'https://relay.test' });

    // Assess
    expect(login.status).toBe(303);
    expect(login.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('refuses a wrong ?token= (no cookie) and a forged cookie', async () => {
    // Prepare
    const { app: status } = await app({ token: TOKEN });

    // Act
    const login = await call(status, '/status?token=guess', { from: '127.0.0.1' });
    const forged = await call(status, '/status', { from: '127.0.0.1', headers: { cookie: `${STATUS_COOKIE}=${TOKEN}` } });

    // Assess
    expect(login.status).toBe(401);
    expect(login.headers.get('set-cookie')).toBeNull();
    expect(forged.status).toBe(401);
  });

  it('never puts the token in a response: not in a body, a header or the cookie', async () => {
    // Prepare: the responses every test of this file saw so far, plus a full round.
    const { app: status } = await app({ token: TOKEN });
    await call(status, `/status?token=${TOKEN}`, { from: '127.0.0.1' });
    await call(status, '/status.json', { from: '127.0.0.1', headers: { authorization: `Bearer ${TOKEN}` } });
    await call(status, '/status', { from: '127.0.0.1', headers: { authorization: `Bearer ${TOKEN}` } });

    // Act
    const leaks = seen.filter((response) => response.headers.includes(TOKEN) || response.body.includes(TOKEN));

    // Assess
    expect(seen.length).toBeGreaterThan(10);
    expect(leaks).toEqual([]);
  });
});

describe('status routes, other behaviour', () => {
  it('reads the client address from a real @hono/node-server request', async () => {
    // Prepare: a real server on 127.0.0.1, no token.
    const { app: status } = await app();
    const server: Server = createServer(getRequestListener(status.fetch));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;

    const { app: guarded } = await app({ token: TOKEN });
    const tokenServer: Server = createServer(getRequestListener(guarded.fetch));
    await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => tokenServer.close(() => resolve())));

    // Act
    const response = await fetch(`http://127.0.0.1:${port}/status.json`);
    const refused = await fetch(`http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/status`);

    // Assess
    expect(response.status).toBe(200);
    expectSecurityHeaders(response);
    expect(refused.status).toBe(401);
    expectSecurityHeaders(refused);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="relay status"');
  });

  it('answers 500 without the cause when the store fails, and logs the cause', async () => {
    // Prepare
    const { deps } = await app();
    const logger = new RecordingLogger();
    const broken = createStatusRoutes({
      ...deps,
      logger,
      store: new Proxy(deps.store, {
        get(target, name) {
          if (name === 'listIncidents') return async () => Promise.reject(new Error('SQLITE_CORRUPT /var/lib/relay/state.db'));
          const value: unknown = Reflect.get(target, name, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
    });

    // Act
    const response = await call(broken, '/status', { from: '127.0.0.1' });

    // Assess
    expect(response.status).toBe(500);
    expectSecurityHeaders(response);
    expect(await response.text()).not.toContain('SQLITE_CORRUPT');
    expect(logger.lines.map((line) => [line.level, line.message, String(line.attributes.error)])).toEqual([
      ['error', 'status page failed', 'Error: SQLITE_CORRUPT /var/lib/relay/state.db'],
    ]);
  });

  it('mounted into another app, touches none of its other routes', async () => {
    // Prepare
    const { app: status } = await app({ token: TOKEN });
    const parent = new Hono();
    parent.get('/healthz', (c) => c.json({ ok: true }));
    parent.route('/', status);

    // Act
    const health = await parent.fetch(new Request(`${BASE}/healthz`));
    const page = await parent.fetch(new Request(`${BASE}/status`));

    // Assess
    expect(health.status).toBe(200);
    expect(health.headers.get('content-security-policy')).toBeNull();
    expect(page.status).toBe(401);
  });

  it('compares tokens in constant time whatever their lengths, and knows loopback addresses', () => {
    // Prepare / Act / Assess
    expect(tokensEqual(TOKEN, TOKEN)).toBe(true);
    expect(tokensEqual(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokensEqual('', TOKEN)).toBe(false);
    expect(['127.0.0.1', '127.8.9.10', '::1'].map(isLoopback)).toEqual([true, true, true]);
    expect(['10.0.0.1', '::ffff:127.0.0.1', '1127.0.0.1', undefined, '0.0.0.0'].map(isLoopback)).toEqual([false, false, false, false, false]);
  });
});
