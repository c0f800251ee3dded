/**
 * GET /status (HTML) and GET /status.json for the one-box relay.
 *
 * Access
 * - With a status token: every request needs it. A client sends
 *   `Authorization: Bearer <token>`; a browser opens `/status?token=<token>`
 *   once, which sets an HttpOnly, SameSite=Strict cookie and redirects to the
 *   same path without the token (so it leaves the address bar and history).
 *   The cookie holds an HMAC of the token, never the token itself; changing
 *   the token invalidates it. Tokens are compared in constant time (SHA-256
 *   digests of both sides through crypto.timingSafeEqual).
 * - Without a status token: only clients on a loopback address (127.0.0.0/8,
 *   ::1) are answered, as read from the Node socket
 *   (`c.env.incoming.socket.remoteAddress`, @hono/node-server); forwarded
 *   headers are never trusted. A loopback request that carries proxy headers
 *   (Forwarded, X-Forwarded-For, X-Real-IP) came through a reverse proxy
 *   and is refused too. Without a Node socket (Lambda, app.request) the
 *   answer is 403: fail closed.
 * - Missing or wrong token: 401 with `WWW-Authenticate: Bearer`. The token
 *   is never logged (these routes log nothing) nor echoed.
 *
 * Every answer (errors and redirects included) carries a strict
 * Content-Security-Policy (inline style only; no script, no external
 * asset), nosniff, no-store and no-referrer.
 *
 * Routes are registered per path (no `use('*')`), so mounting this app with
 * `app.route('/', createStatusRoutes(deps))` affects no other route.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { generateCookie, getCookie } from 'hono/cookie';
import { describeError } from '../errors.ts';
import { HttpError } from '../intake/errors.ts';
import { clientAddressOf } from '../intake/server-limits.ts';
import { collectStatusView } from './collect.ts';
import { renderStatusPage } from './page.ts';
import type { StatusDeps } from './types.ts';

export const STATUS_PATH = '/status';
export const STATUS_JSON_PATH = '/status.json';
export const STATUS_COOKIE = 'relay_status';
/** How long the browser cookie lasts. */
export const STATUS_COOKIE_MAX_AGE_SECONDS = 12 * 3600;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

/**
 * A copy of the response with the security headers. (Not set in place:
 * @hono/node-server replaces the global Response with a lighter one whose
 * headers may not take a later set().)
 */
function withSecurityHeaders(response: Response): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, headers });
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time string comparison (equal-length digests, so the length leaks nothing either). */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

/** What the cookie holds: derived from the token, so the token itself never travels in a Set-Cookie. */
function cookieValueFor(token: string): string {
  return createHmac('sha256', token).update('flowtriq-relay status page cookie v1').digest('base64url');
}

/** 127.0.0.0/8 and ::1 (an IPv4-mapped address has lost its ::ffff: prefix in clientAddressOf). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (address === '::1' || address === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** The client's socket address under @hono/node-server; undefined anywhere else. */
function socketAddress(env: unknown): string | undefined {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return clientAddressOf(incoming?.socket);
}

function bearerOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : '';
}

function unauthorized(reason: 'missing' | 'invalid'): Response {
  const message =
    reason === 'missing'
      ? `the status page needs the status token: send "Authorization: Bearer <token>", or open ${STATUS_PATH}?token=<token> once in a browser`
      : 'the status token is not valid';
  const challenge = reason === 'missing' ? 'Bearer realm="relay status"' : 'Bearer realm="relay status", error="invalid_token"';
  return new HttpError(401, 'unauthorized', message, { headers: { 'www-authenticate': challenge } }).toResponse();
}

function forbidden(message: string): Response {
  return new HttpError(403, 'forbidden', message).toResponse();
}

export type Access = { ok: true } | { ok: false; response: Response };

/**
 * Who may read the one-box relay's own pages (/status, /status.json,
 * /metrics): with a token, its bearer (or the cookie `?token=` set); without
 * one, only this machine, and not through a proxy.
 */
export function checkAccess(c: Context, token: string | undefined): Access {
  if (token === undefined) {
    if (!isLoopback(socketAddress(c.env))) {
      return {
        ok: false,
        response: forbidden(
          'no status token is set, so the status page answers only requests from this machine (127.0.0.1 or ::1); set status.token in the relay config to open it from elsewhere',
        ),
      };
    }
    if (PROXY_HEADERS.some((name) => c.req.header(name) !== undefined)) {
      return {
        ok: false,
        response: forbidden('this request came through a proxy and no status token is set; set status.token in the relay config to open the status page through a proxy'),
      };
    }
    return { ok: true };
  }

  const bearer = bearerOf(c.req.header('authorization'));
  if (bearer !== undefined) return tokensEqual(bearer, token) ? { ok: true } : { ok: false, response: unauthorized('invalid') };

  const cookie = getCookie(c, STATUS_COOKIE);
  if (cookie !== undefined) return tokensEqual(cookie, cookieValueFor(token)) ? { ok: true } : { ok: false, response: unauthorized('invalid') };

  return { ok: false, response: unauthorized('missing') };
}

/**
 * `?token=` from a browser: a valid one becomes the cookie and the browser is
 * sent to the same path without it; an invalid one is refused.
 */
function tokenLogin(c: Context, token: string | undefined): Response | undefined {
  const presented = c.req.query('token');
  if (presented === undefined || token === undefined) return undefined;
  if (!tokensEqual(presented, token)) return unauthorized('invalid');
  const secure = new URL(c.req.url).protocol === 'https:';
  const cookie = generateCookie(STATUS_COOKIE, cookieValueFor(token), {
    path: '/',
    httpOnly: true,
    sameSite: 'Strict',
    secure,
    maxAge: STATUS_COOKIE_MAX_AGE_SECONDS,
  });
  return new Response(null, { status: 303, headers: { location: c.req.path, 'set-cookie': cookie } });
}

export function createStatusRoutes(deps: StatusDeps): Hono {
  const token = deps.token === undefined || deps.token === '' ? undefined : deps.token;
  const app = new Hono();

  const guarded = (render: (c: Context) => Promise<Response>) => async (c: Context) => {
    const login = tokenLogin(c, token);
    if (login) return withSecurityHeaders(login);
    const access = checkAccess(c, token);
    if (!access.ok) return withSecurityHeaders(access.response);
    try {
      return withSecurityHeaders(await render(c));
    } catch (error) {
      // The cause is not shown: it may hold a path or a device's words. The relay's log has it.
      deps.logger?.error('status page failed', { path: c.req.path, error: describeError(error) });
      return withSecurityHeaders(new HttpError(500, 'internal_error', 'the status could not be read; see the relay log').toResponse());
    }
  };

  app.get(
    STATUS_PATH,
    guarded(async () => {
      const html = await renderStatusPage(await collectStatusView(deps));
      return new Response(html, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } });
    }),
  );
  app.get(
    STATUS_JSON_PATH,
    guarded(async () => {
      const view = await collectStatusView(deps);
      return new Response(JSON.stringify(view), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } });
    }),
  );
  return app;
}
