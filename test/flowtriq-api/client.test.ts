import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FlowtriqApiClient } from '../../lib/flowtriq-api/client.ts';
import {
  FlowtriqApiAuthError,
  FlowtriqApiConfigError,
  FlowtriqApiError,
  FlowtriqApiNotFoundError,
  FlowtriqApiRateLimitedError,
  FlowtriqApiTimeoutError,
} from '../../lib/flowtriq-api/errors.ts';
import type { FlowtriqApiClientOptions } from '../../lib/flowtriq-api/types.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { createFetchTransport } from '../helpers/fetch-transport.ts';

const TOKEN = 'a1'.repeat(32);
const UUID = 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
let seen: { method: string; url: string; authorization: string | undefined }[];
let clock: number;

function reply(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

function client(options: Partial<FlowtriqApiClientOptions> = {}): FlowtriqApiClient {
  return new FlowtriqApiClient({
    baseUrl,
    token: TOKEN,
    transport: createFetchTransport(),
    timeoutMs: 2_000,
    now: () => clock,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push({ method: request.method ?? '', url: request.url ?? '', authorization: request.headers.authorization });
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  clock = Date.now();
  handler = reply(200, { ok: true, incident: { uuid: UUID } });
});

describe('FlowtriqApiClient.getIncidentSources: success', () => {
  it('GETs the incident with the bearer token and returns its sources', async () => {
    // Prepare
    handler = reply(200, {
      ok: true,
      incident: {
        uuid: UUID,
        top_src_ips: [{ ip: '45.1.1.1', count: 900, confidence: 91, tcp: 3 }],
        attacker_ips: ['45.2.2.2'],
        spoofing_detected: true,
      },
    });

    // Act
    const sources = await client().getIncidentSources(UUID);

    // Assess
    expect(seen).toEqual([{ method: 'GET', url: `/api/v1/incidents/${UUID}`, authorization: `Bearer ${TOKEN}` }]);
    expect(sources).toEqual({
      uuid: UUID,
      candidates: [{ ip: '45.1.1.1', count: 900, confidence: 91 }, { ip: '45.2.2.2' }],
      spoofed: true,
      present: true,
      malformed: 0,
      fetchedAt: clock,
    });
  });

  it.each([
    ['under data', { ok: true, data: { uuid: UUID, top_src_ips: [{ ip: '45.1.1.1' }] } }],
    ['under data.incident', { ok: true, data: { incident: { top_src_ips: [{ ip: '45.1.1.1' }] } } }],
    ['at the top level', { ok: true, uuid: UUID, top_src_ips: [{ ip: '45.1.1.1' }] }],
    ['without an ok field', { uuid: UUID, top_src_ips: [{ ip: '45.1.1.1' }] }],
  ])('finds the incident %s', async (_where, body) => {
    // Prepare
    handler = reply(200, body);

    // Act
    const sources = await client().getIncidentSources(UUID);

    // Assess
    expect(sources.candidates).toEqual([{ ip: '45.1.1.1' }]);
  });

  it('returns an empty list, not an error, when Flowtriq sends no source field', async () => {
    // Prepare
    handler = reply(200, { ok: true, incident: { uuid: UUID, source_ip_count: 8429 } });

    // Act
    const sources = await client().getIncidentSources(UUID);

    // Assess
    expect(sources).toMatchObject({ candidates: [], present: false, malformed: 0 });
  });

  it('URL-encodes the uuid and refuses dot segments', async () => {
    // Prepare
    const api = client();

    // Act
    await api.getIncidentSources('a/b?c#d e');
    const dots = await failure(api.getIncidentSources('..'));

    // Assess
    expect(seen.map((request) => request.url)).toEqual(['/api/v1/incidents/a%2Fb%3Fc%23d%20e']);
    expect(dots).toBeInstanceOf(FlowtriqApiError);
    expect(dots).toMatchObject({ retryable: false });
  });
});

describe('FlowtriqApiClient.getIncidentSources: errors', () => {
  it('turns an { ok: false } envelope into a non-retryable error with the API code', async () => {
    // Prepare
    handler = reply(200, { ok: false, error: { code: 'invalid_parameter', message: 'uuid is malformed' } });

    // Act
    const error = await failure(client().getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiError);
    expect(error).toMatchObject({
      retryable: false,
      status: 200,
      apiCode: 'invalid_parameter',
      message: 'Flowtriq API reported an error: invalid_parameter: uuid is malformed',
    });
  });

  it.each([401, 403])('raises an auth error on %i, never echoing the token', async (status) => {
    // Prepare
    handler = reply(status, { ok: false, error: { code: 'unauthorized', message: `token ${TOKEN} is invalid` } });

    // Act
    const error = await failure(client().getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiAuthError);
    expect(error).toMatchObject({ retryable: false, status, code: 'flowtriq_api_auth' });
    expect((error as Error).message).not.toContain(TOKEN);
    expect((error as Error).message).toContain('[redacted]');
    expect((error as Error).message).toContain('check flowtriq.apiToken');
  });

  it('raises a not-found error on 404', async () => {
    // Prepare
    handler = reply(404, { ok: false, error: { code: 'not_found', message: 'Incident not found' } });

    // Act
    const error = await failure(client().getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiNotFoundError);
    expect(error).toMatchObject({ retryable: false, status: 404, apiCode: 'not_found' });
  });

  it('raises a rate-limited error on 429 with Retry-After and holds off until then', async () => {
    // Prepare
    handler = reply(429, { ok: false, error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '7' });
    const api = client();

    // Act
    const first = await failure(api.getIncidentSources(UUID));
    const held = await failure(api.getIncidentSources('other'));
    clock += 7_000;
    handler = reply(200, { ok: true });
    const after = await api.getIncidentSources('other');

    // Assess
    expect(first).toBeInstanceOf(FlowtriqApiRateLimitedError);
    expect(first).toMatchObject({ retryable: true, status: 429, retryAfterMs: 7_000 });
    expect(held).toBeInstanceOf(FlowtriqApiRateLimitedError);
    expect(held).toMatchObject({ retryAfterMs: 7_000 });
    expect(after.candidates).toEqual([]);
    expect(seen).toHaveLength(2);
  });

  it('reads an HTTP-date Retry-After, and falls back to the default when it is missing', async () => {
    // Prepare
    const at = new Date(Math.ceil(clock / 1000) * 1000 + 20_000).toUTCString();

    // Act
    handler = reply(429, {}, { 'retry-after': at });
    const dated = await failure(client().getIncidentSources(UUID));
    handler = reply(429, {});
    const bare = await failure(client({ defaultRetryAfterMs: 1_234 }).getIncidentSources(UUID));

    // Assess
    expect((dated as FlowtriqApiRateLimitedError).retryAfterMs).toBeGreaterThan(19_000);
    expect((dated as FlowtriqApiRateLimitedError).retryAfterMs).toBeLessThanOrEqual(21_000);
    expect(bare).toMatchObject({ retryAfterMs: 1_234 });
  });

  it.each([
    [500, true],
    [503, true],
    [408, true],
    [400, false],
    [302, false],
  ])('marks HTTP %i as retryable: %s', async (status, retryable) => {
    // Prepare
    handler = reply(status, 'oops', status === 302 ? { location: 'https://example.invalid/' } : {});

    // Act
    const error = await failure(client().getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiError);
    expect(error).toMatchObject({ retryable, status });
  });

  it('rejects a 200 whose body is not a JSON object', async () => {
    // Prepare
    handler = reply(200, '<html>login</html>');

    // Act
    const error = await failure(client().getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiError);
    expect((error as Error).message).toMatch(/not a JSON object; check flowtriq\.baseUrl/);
  });

  it('reports a refused connection as a retryable error', async () => {
    // Prepare
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    // Act
    const error = await failure(client({ baseUrl: `http://127.0.0.1:${port}/api/v1` }).getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiError);
    expect(error).toMatchObject({ retryable: true, code: 'flowtriq_api_error' });
    expect((error as Error).message).toMatch(/^request to the Flowtriq API failed: /);
  });
});

describe('FlowtriqApiClient: timeout', () => {
  it('gives up after timeoutMs when the server does not answer', async () => {
    // Prepare
    handler = () => undefined; // never answers; afterAll closes the socket
    const started = Date.now();

    // Act
    const error = await failure(client({ timeoutMs: 200 }).getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiTimeoutError);
    expect(error).toMatchObject({ retryable: true, timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('enforces the deadline even with a transport that ignores it', async () => {
    // Prepare
    const stuck: Transport = { request: () => new Promise(() => undefined) };

    // Act
    const error = await failure(client({ timeoutMs: 100, transport: stuck }).getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiTimeoutError);
  });
});

describe('FlowtriqApiClient: transport failures', () => {
  function failing(error: Error & { code?: string }): Transport {
    return { request: () => Promise.reject(error) };
  }

  it("reports the transport's own timeout as a timeout", async () => {
    // Prepare
    const timeout = Object.assign(new Error('no complete response within 50ms'), { code: 'transport_timeout' });
    const transport = failing(timeout);

    // Act
    const error = await failure(client({ transport }).getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiTimeoutError);
  });

  it.each([
    ['tls_verification', false],
    ['response_too_large', false],
    ['transport_connection', true],
  ])('marks a transport error with code %s as retryable: %s', async (code, retryable) => {
    // Prepare
    const transport = failing(Object.assign(new Error(`failed with ${code}`), { code }));

    // Act
    const error = await failure(client({ transport }).getIncidentSources(UUID));

    // Assess
    expect(error).toBeInstanceOf(FlowtriqApiError);
    expect(error).toMatchObject({
      retryable,
      message: `request to the Flowtriq API failed: Error: failed with ${code}`,
    });
  });
});

describe('FlowtriqApiClient: cache and coalescing', () => {
  it('serves a repeat call from the cache until the TTL has passed', async () => {
    // Prepare
    const api = client({ cacheTtlMs: 30_000 });

    // Act
    await api.getIncidentSources(UUID);
    clock += 29_999;
    await api.getIncidentSources(UUID);
    const beforeExpiry = seen.length;
    clock += 1;
    await api.getIncidentSources(UUID);

    // Assess
    expect(beforeExpiry).toBe(1);
    expect(seen).toHaveLength(2);
  });

  it('refetches when asked to bypass the cache, after invalidate, and always with a TTL of 0', async () => {
    // Prepare
    const api = client();
    const uncached = client({ cacheTtlMs: 0 });

    // Act
    await api.getIncidentSources(UUID);
    await api.getIncidentSources(UUID, { bypassCache: true });
    api.invalidate(UUID);
    await api.getIncidentSources(UUID);
    await uncached.getIncidentSources(UUID);
    await uncached.getIncidentSources(UUID);

    // Assess
    expect(seen).toHaveLength(5);
  });

  it('does not cache failures', async () => {
    // Prepare
    const api = client();
    handler = reply(503, {});
    await failure(api.getIncidentSources(UUID));
    handler = reply(200, { ok: true, top_src_ips: [{ ip: '45.1.1.1' }] });

    // Act
    const sources = await api.getIncidentSources(UUID);

    // Assess
    expect(sources.candidates).toEqual([{ ip: '45.1.1.1' }]);
    expect(seen).toHaveLength(2);
  });

  it('shares one request among concurrent calls for the same uuid', async () => {
    // Prepare
    const api = client();
    const answer = reply(200, { ok: true, incident: { top_src_ips: [{ ip: '45.1.1.1', confidence: 90 }] } });
    handler = (request, response) => {
      setTimeout(() => answer(request, response), 100);
    };

    // Act
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => api.getIncidentSources(UUID)),
      api.getIncidentSources('another-incident'),
    ]);

    // Assess
    expect(seen.map((request) => request.url).sort()).toEqual([
      '/api/v1/incidents/another-incident',
      `/api/v1/incidents/${UUID}`,
    ]);
    expect(results.every((result) => result.candidates[0]?.ip === '45.1.1.1')).toBe(true);
  });

  it('hands out copies, so a caller cannot change what others receive', async () => {
    // Prepare
    handler = reply(200, { ok: true, top_src_ips: [{ ip: '45.1.1.1', confidence: 90 }] });
    const api = client();
    const first = await api.getIncidentSources(UUID);

    // Act
    first.candidates[0]!.confidence = 0;
    first.candidates.push({ ip: '10.0.0.1' });
    const second = await api.getIncidentSources(UUID);

    // Assess
    expect(second.candidates).toEqual([{ ip: '45.1.1.1', confidence: 90 }]);
  });
});

describe('FlowtriqApiClient: client-side rate limit', () => {
  it('refuses to send beyond requestsPerMinute and recovers as the bucket refills', async () => {
    // Prepare
    const api = client({ requestsPerMinute: 2 });

    // Act
    await api.getIncidentSources('one');
    await api.getIncidentSources('two');
    const refused = await failure(api.getIncidentSources('three'));
    clock += 30_000;
    const later = await api.getIncidentSources('three');

    // Assess
    expect(refused).toBeInstanceOf(FlowtriqApiRateLimitedError);
    expect(refused).toMatchObject({ retryAfterMs: 30_000, retryable: true });
    expect((refused as FlowtriqApiRateLimitedError).status).toBeUndefined();
    expect(later.uuid).toBe('three');
    expect(seen).toHaveLength(3);
  });

  it('still answers cached incidents while the limiter is empty', async () => {
    // Prepare
    const api = client({ requestsPerMinute: 1 });
    await api.getIncidentSources(UUID);

    // Act
    const cached = await api.getIncidentSources(UUID);

    // Assess
    expect(cached.uuid).toBe(UUID);
    expect(seen).toHaveLength(1);
  });
});

describe('FlowtriqApiClient: construction', () => {
  it.each([
    [{ token: '' }, /token is empty/],
    [{ token: `${TOKEN}\r\nX-Evil: 1` }, /whitespace or control characters/],
    [{ baseUrl: 'not a url' }, /is not a URL/],
    [{ baseUrl: 'ftp://flowtriq.com/api/v1' }, /must be an https:\/\/ URL/],
    [{ timeoutMs: 0 }, /timeout must be a positive duration/],
  ])('rejects unusable options %j', (override, pattern) => {
    // Act
    const act = () => client(override);

    // Assess
    expect(act).toThrow(FlowtriqApiConfigError);
    expect(act).toThrow(pattern);
  });
});
