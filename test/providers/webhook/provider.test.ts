import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webhookIntegrationSchema } from '../../../lib/config/schema.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { BlockEntry, ProviderContext } from '../../../lib/providers/types.ts';
import {
  CaFileError,
  parseRetryAfter,
  WEBHOOK_USER_AGENT,
  WebhookProvider,
  type WebhookProviderDeps,
} from '../../../lib/providers/webhook/provider.ts';
import { verifyRelay } from '../../../lib/signature/relay.ts';
import { createDirectTransport } from '../../../lib/transport/node-http.ts';
import { type LoopbackServer, type RecordedRequest, startLoopbackServer } from '../../helpers/loopback-server.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { makeSelfSignedCert, type SelfSignedCert } from '../../helpers/tls.ts';

const SECRET = 'test-signing-secret';
const INCIDENT = '0b8e6f0e-3c1a-4d55-9a77-6f1c2b9d4e01';
const EXPIRES = Date.parse('2030-01-01T01:00:00.000Z');

type Reply = (response: ServerResponse, raw: IncomingMessage) => void;

let cert: SelfSignedCert;
let otherCert: SelfSignedCert;
let dir: string;
let caFile: string;
let server: LoopbackServer;
/** Replies for the next requests, in order; afterwards every request gets 204. */
let script: Reply[] = [];
/** Arrival time (ms) of each request. */
let arrivals: number[] = [];

const noContent: Reply = (response) => {
  response.writeHead(204);
  response.end();
};
const status =
  (code: number, headers: Record<string, string> = {}, body = ''): Reply =>
  (response) => {
    response.writeHead(code, headers);
    response.end(body);
  };
const reset: Reply = (_response, raw) => raw.socket.destroy();
const hang: Reply = () => {
  // never answers
};

beforeAll(() => {
  cert = makeSelfSignedCert();
  otherCert = makeSelfSignedCert();
  dir = mkdtempSync(join(tmpdir(), 'relay-webhook-'));
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, cert.cert);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(): Promise<void> {
  script = [];
  arrivals = [];
  server = await startLoopbackServer((_request, response, raw) => {
    arrivals.push(Date.now());
    (script.shift() ?? noContent)(response, raw);
  }, cert);
}

afterEach(async () => {
  await server?.close();
});

function provider(
  options: { path?: string; maxAttempts?: number; timeout?: string; caFile?: string } = {},
  deps: Partial<WebhookProviderDeps> = {},
): WebhookProvider {
  const config = webhookIntegrationSchema.parse({
    id: 'siem',
    type: 'webhook',
    options: {
      url: `${server.origin}${options.path ?? '/hooks/relay'}`,
      caFile: options.caFile ?? caFile,
      maxAttempts: options.maxAttempts ?? 4,
      timeout: options.timeout ?? '5s',
    },
    secrets: { signingSecret: { env: 'RELAY_SIGNING_SECRET' } },
  });
  return new WebhookProvider(config, {
    transport: createDirectTransport(),
    signingSecret: SECRET,
    baseDelayMs: 1,
    ...deps,
  });
}

function entries(...ips: string[]): BlockEntry[] {
  return ips.map((ip) => ({ ip, expiresAt: EXPIRES, incidents: [INCIDENT] }));
}

function context(signal = new AbortController().signal): ProviderContext & { logger: RecordingLogger } {
  return { signal, logger: new RecordingLogger() };
}

function verifies(request: RecordedRequest | undefined): boolean {
  if (request === undefined) return false;
  const timestamp = request.headers['x-relay-timestamp'] as string | undefined;
  return verifyRelay(
    SECRET,
    { timestamp, signature: request.headers['x-relay-signature'] as string | undefined },
    request.body,
    Number(timestamp),
  );
}

describe('WebhookProvider delivery', () => {
  it('POSTs the documented JSON body with signed headers and reports every entry ok', async () => {
    // Prepare
    await startServer();
    const webhook = provider();

    // Act
    const results = await webhook.add(entries('203.0.113.7', '2001:db8::1'), context());

    // Assess
    expect(results).toEqual([
      { ip: '203.0.113.7', ok: true },
      { ip: '2001:db8::1', ok: true },
    ]);
    expect(server.requests).toHaveLength(1);
    const request = server.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks/relay');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toBe(WEBHOOK_USER_AGENT);
    expect(request.headers['user-agent']).toMatch(/^flowtriq-relay\/\d+\.\d+\.\d+/);
    expect(request.headers['x-relay-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyRelay(SECRET, {
      timestamp: request.headers['x-relay-timestamp'] as string,
      signature: request.headers['x-relay-signature'] as string,
    }, request.body, Math.floor(Date.now() / 1000))).toBe(true);
    const body = JSON.parse(request.body);
    expect(body).toEqual({
      type: 'block.add',
      integration: 'siem',
      sentAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      entries: [
        { ip: '203.0.113.7', expiresAt: '2030-01-01T01:00:00.000Z', incidents: [INCIDENT] },
        { ip: '2001:db8::1', expiresAt: '2030-01-01T01:00:00.000Z', incidents: [INCIDENT] },
      ],
    });
  });

  it('sends block.remove for remove', async () => {
    // Prepare
    await startServer();

    // Act
    const results = await provider().remove(entries('203.0.113.7'), context());

    // Assess
    expect(results).toEqual([{ ip: '203.0.113.7', ok: true }]);
    expect(JSON.parse(server.requests[0]!.body).type).toBe('block.remove');
  });

  it('sends nothing for an empty batch', async () => {
    // Prepare
    await startServer();

    // Act
    const results = await provider().add([], context());

    // Assess
    expect(results).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('splits a batch larger than maxBatch into several POSTs', async () => {
    // Prepare
    await startServer();
    const webhook = provider();
    const batch = entries(...Array.from({ length: 1_200 }, (_, i) => `198.51.${Math.floor(i / 256)}.${i % 256}`));

    // Act
    const results = await webhook.add(batch, context());

    // Assess
    expect(webhook.maxBatch).toBe(500);
    expect(server.requests.map((request) => JSON.parse(request.body).entries.length)).toEqual([500, 500, 200]);
    expect(results).toHaveLength(1_200);
    expect(results.every((result) => result.ok)).toBe(true);
  });

  it('reports the entries of a later failed POST as failed and keeps the earlier successes', async () => {
    // Prepare
    await startServer();
    script = [noContent, status(400, {}, 'bad entry')];
    const batch = entries(...Array.from({ length: 600 }, (_, i) => `192.0.2.${i % 250}`));

    // Act
    const results = await provider().add(batch, context());

    // Assess
    expect(results.slice(0, 500).every((result) => result.ok)).toBe(true);
    expect(results.slice(500).every((result) => !result.ok && result.error.includes('400'))).toBe(true);
  });
});

describe('WebhookProvider retries', () => {
  it.each([
    ['503', status(503)],
    ['429', status(429)],
    ['408', status(408)],
    ['a connection reset', reset],
  ])('retries after %s and then succeeds', async (_case, failure) => {
    // Prepare
    await startServer();
    script = [failure];
    const ctx = context();

    // Act
    const results = await provider().add(entries('203.0.113.7'), ctx);

    // Assess
    expect(results).toEqual([{ ip: '203.0.113.7', ok: true }]);
    expect(server.requests).toHaveLength(2);
    expect(ctx.logger.messages()).toContain('webhook attempt failed; retrying');
  });

  it('retries after a timeout and then succeeds', async () => {
    // Prepare
    await startServer();
    script = [hang];

    // Act
    const results = await provider({ timeout: '200ms' }).add(entries('203.0.113.7'), context());

    // Assess
    expect(results).toEqual([{ ip: '203.0.113.7', ok: true }]);
    expect(server.requests).toHaveLength(2);
  });

  it('re-signs every attempt with a fresh timestamp', async () => {
    // Prepare
    await startServer();
    script = [status(503), status(503)];
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const now = () => {
      clock += 7_000;
      return clock;
    };

    // Act
    await provider({}, { now }).add(entries('203.0.113.7'), context());

    // Assess
    expect(server.requests).toHaveLength(3);
    const timestamps = server.requests.map((request) => request.headers['x-relay-timestamp']);
    expect(new Set(timestamps).size).toBe(3);
    expect(server.requests.every(verifies)).toBe(true);
    const sentAts = server.requests.map((request) => JSON.parse(request.body).sentAt);
    expect(new Set(sentAts).size).toBe(3);
  });

  it.each([400, 401, 403, 404])('fails at once, not retryable, on %i', async (code) => {
    // Prepare
    await startServer();
    script = [status(code, {}, 'nope')];

    // Act
    const failure = await provider().add(entries('203.0.113.7'), context()).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(ProviderError);
    expect(failure).toMatchObject({ retryable: false, status: code });
    expect((failure as Error).message).toContain(`${code}`);
    expect(server.requests).toHaveLength(1);
  });

  it('does not follow a redirect and fails without retrying', async () => {
    // Prepare
    await startServer();
    script = [status(307, { Location: 'https://127.0.0.1:1/elsewhere' })];

    // Act
    const failure = await provider().add(entries('203.0.113.7'), context()).catch((error: unknown) => error);

    // Assess
    expect(failure).toMatchObject({ retryable: false, status: 307 });
    expect((failure as Error).message).toContain('must not redirect');
    expect(server.requests).toHaveLength(1);
  });

  it('honours Retry-After in seconds', async () => {
    // Prepare
    await startServer();
    script = [status(429, { 'Retry-After': '1' })];

    // Act
    await provider().add(entries('203.0.113.7'), context());

    // Assess
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(950);
  });

  it('caps a long Retry-After at maxRetryAfterMs', async () => {
    // Prepare
    await startServer();
    script = [status(503, { 'Retry-After': '3600' })];
    const started = Date.now();

    // Act
    await provider({}, { maxRetryAfterMs: 50 }).add(entries('203.0.113.7'), context());

    // Assess
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('gives up after maxAttempts with a retryable ProviderError that names the origin, not the path', async () => {
    // Prepare
    await startServer();
    script = [status(500), status(500), status(500), status(500)];

    // Act
    const failure = await provider({ maxAttempts: 3, path: '/hooks/tok-in-path-secret' })
      .add(entries('203.0.113.7'), context())
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(ProviderError);
    expect(failure).toMatchObject({ retryable: true, status: 500 });
    expect((failure as Error).message).toContain('gave up after 3 attempts');
    expect((failure as Error).message).toContain(server.origin);
    expect((failure as Error).message).not.toContain('tok-in-path-secret');
    expect((failure as Error).message).not.toContain(SECRET);
    expect(server.requests).toHaveLength(3);
  });

  it('fails without retrying when the server certificate is not trusted', async () => {
    // Prepare
    await startServer();
    const untrusting = join(dir, 'other-ca.pem');
    writeFileSync(untrusting, otherCert.cert);

    // Act
    const failure = await provider({ caFile: untrusting })
      .add(entries('203.0.113.7'), context())
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toMatchObject({ retryable: false });
    expect(failure).toBeInstanceOf(ProviderError);
    expect(server.requests).toHaveLength(0);
  });

  it('stops waiting between attempts as soon as the signal aborts', async () => {
    // Prepare
    await startServer();
    script = [status(503), status(503), status(503), status(503)];
    const controller = new AbortController();
    const reason = new Error('shutdown');
    const started = Date.now();
    const webhook = provider({}, { baseDelayMs: 20_000 });
    const ctx = context(controller.signal);
    const pending = webhook.add(entries('203.0.113.7'), ctx).catch((error: unknown) => error);
    const sleeping = () => ctx.logger.messages().includes('webhook attempt failed; retrying');
    for (let i = 0; i < 200 && !sleeping(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sleeping()).toBe(true);

    // Act
    controller.abort(reason);
    const failure = await pending;

    // Assess
    expect(failure).toBe(reason);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.requests).toHaveLength(1);
  });

  it('aborts an in-flight request when the signal aborts', async () => {
    // Prepare
    await startServer();
    script = [hang];
    const controller = new AbortController();
    const reason = new Error('shutdown');
    const pending = provider().add(entries('203.0.113.7'), context(controller.signal)).catch((error: unknown) => error);
    for (let i = 0; i < 100 && arrivals.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));

    // Act
    controller.abort(reason);
    const failure = await pending;

    // Assess
    expect(failure).toBe(reason);
    expect(server.requests).toHaveLength(1);
  });
});

describe('WebhookProvider health check', () => {
  it('sends relay.test with no entries and is healthy on 2xx', async () => {
    // Prepare
    await startServer();

    // Act
    const health = await provider().healthCheck(context());

    // Assess
    expect(health.ok).toBe(true);
    expect(health.detail).toContain('204');
    const body = JSON.parse(server.requests[0]!.body);
    expect(body).toMatchObject({ type: 'relay.test', integration: 'siem', entries: [] });
    expect(verifies(server.requests[0])).toBe(true);
  });

  it('is unhealthy after a single failed attempt, with the status in the detail', async () => {
    // Prepare
    await startServer();
    script = [status(503)];

    // Act
    const health = await provider().healthCheck(context());

    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('503');
    expect(server.requests).toHaveLength(1);
  });
});

describe('WebhookProvider construction', () => {
  it('fails at startup naming the config path when caFile cannot be read', async () => {
    // Prepare
    await startServer();

    // Act
    const act = () =>
      provider({ caFile: join(dir, 'missing.pem') }, { configPath: 'integrations[3]' });

    // Assess
    expect(act).toThrow(CaFileError);
    expect(act).toThrow('integrations[3].options.caFile: cannot read');
  });

  it('fails at startup when caFile holds no PEM certificate', async () => {
    // Prepare
    await startServer();
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');

    // Act
    const act = () => provider({ caFile: notPem });

    // Assess
    expect(act).toThrow(CaFileError);
    expect(act).toThrow('contains no PEM certificate');
  });

  it('reads caFile once, at construction', async () => {
    // Prepare
    await startServer();
    let reads = 0;
    const webhook = provider({}, {
      readFile: () => {
        reads += 1;
        return cert.cert;
      },
    });

    // Act
    await webhook.add(entries('203.0.113.7'), context());
    await webhook.remove(entries('203.0.113.7'), context());

    // Assess
    expect(reads).toBe(1);
    expect(server.requests).toHaveLength(2);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds, HTTP dates and ignores garbage', () => {
    // Prepare
    const now = Date.parse('2030-01-01T00:00:00Z');

    // Act
    const seconds = parseRetryAfter('5', now);
    const date = parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now);
    const past = parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now);
    const garbage = parseRetryAfter('soon', now);
    const absent = parseRetryAfter(undefined, now);

    // Assess
    expect(seconds).toBe(5_000);
    expect(date).toBe(30_000);
    expect(past).toBe(0);
    expect(garbage).toBeUndefined();
    expect(absent).toBeUndefined();
  });
});
