/**
 * The one-box adapter over real HTTP on 127.0.0.1: the hot route is read
 * from Node's stream, the rest falls back to the Hono app; statuses match
 * the Hono adapter's.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createIntakeApp } from '../../lib/intake/app.ts';
import { createIngest, type IntakeOptions } from '../../lib/intake/ingest.ts';
import { createNodeListener } from '../../lib/intake/node-listener.ts';
import { QueueUnavailableError } from '../../lib/queue/errors.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';
import { fixture, TEST_SECRET } from '../helpers/events.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function start(options_: { queueDown?: boolean } = {}) {
  const sent: OutgoingMessage[] = [];
  const seen = new Set<string>();
  const logger = new RecordingLogger();
  const options: IntakeOptions = {
    secrets: [TEST_SECRET],
    logger,
    queue: {
      async send(message) {
        if (options_.queueDown) throw new QueueUnavailableError('disk full');
        if (seen.has(message.dedupId)) return { duplicate: true };
        seen.add(message.dedupId);
        sent.push(message);
        return { duplicate: false };
      },
    },
  };
  const server = createServer(createNodeListener({ ingest: createIngest(options), app: createIntakeApp(options), maxBodyBytes: 1_024 }));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { url, sent, logger };
}

function freshEvent(): string {
  return JSON.stringify({ ...fixture('attack_end_minimal'), timestamp: new Date().toISOString() });
}

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${url}/webhooks/flowtriq`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-flowtriq-signature': signFlowtriq(TEST_SECRET, body), ...headers },
    body,
  });
}

describe('Node listener (one-box adapter)', () => {
  it('accepts a signed event with 202 and enqueues it', async () => {
    const { url, sent } = await start();
    const response = await post(url, freshEvent());
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: true });
    expect(sent).toHaveLength(1);
  });

  it('answers JSON with its exact length', async () => {
    const { url } = await start();
    const response = await post(url, freshEvent());
    const text = await response.text();
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
  });

  it('answers 503 with Retry-After when the queue cannot take the event', async () => {
    const { url } = await start({ queueDown: true });
    const response = await post(url, freshEvent());
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({ error: { code: 'queue_unavailable' } });
  });

  it('closes the connection after refusing an oversized body unread', async () => {
    const { url } = await start();
    const response = await post(url, 'x'.repeat(2_000));
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
  });

  it('answers a re-delivery 202 duplicate without enqueuing again', async () => {
    const { url, sent } = await start();
    const body = freshEvent();
    await post(url, body);
    const again = await post(url, body);
    expect(await again.json()).toEqual({ accepted: true, duplicate: true });
    expect(sent).toHaveLength(1);
  });

  it('refuses a forged signature with 401', async () => {
    const { url, sent } = await start();
    const response = await post(url, freshEvent(), { 'x-flowtriq-signature': signFlowtriq('wrong', 'x') });
    expect(response.status).toBe(401);
    expect(sent).toHaveLength(0);
  });

  it('refuses a non-JSON content type with 415 without reading the body', async () => {
    const { url } = await start();
    const response = await post(url, freshEvent(), { 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
  });

  it('refuses a declared oversized body with 413 before reading it', async () => {
    const { url, sent } = await start();
    const response = await post(url, 'x'.repeat(2_000));
    expect(response.status).toBe(413);
    expect(sent).toHaveLength(0);
  });

  it('refuses a chunked body that grows past the limit with 413', async () => {
    // Prepare
    const { url, sent } = await start();
    // Act: no content-length, the body streams in chunks.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${url}/webhooks/flowtriq`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i += 1) req.write('y'.repeat(512));
      req.end();
    });
    // Assess
    expect(status).toBe(413);
    expect(sent).toHaveLength(0);
  });

  it('refuses a malformed body with 400 naming the problem', async () => {
    const { url } = await start();
    const response = await post(url, '{"event_type":');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'malformed_json' } });
  });

  it('hands other methods and paths to the Hono app (405 with Allow, 404, health)', async () => {
    const { url } = await start();
    const get = await fetch(`${url}/webhooks/flowtriq`);
    const missing = await fetch(`${url}/nope`);
    const health = await fetch(`${url}/healthz`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(missing.status).toBe(404);
    expect(await health.json()).toEqual({ ok: true });
  });

  it.each<[string, number, Record<string, string>, string]>([
    ['a forged signature', 401, { 'x-flowtriq-signature': signFlowtriq('wrong', 'x') }, ''],
    ['a non-JSON content type', 415, { 'content-type': 'text/plain' }, ''],
    ['a declared oversized body', 413, {}, 'x'.repeat(2_000)],
  ])('logs the client address with the refusal of %s', async (_case, status, headers, oversized) => {
    // Prepare
    const { url, logger } = await start();

    // Act
    const response = await post(url, oversized || freshEvent(), headers);
    await response.arrayBuffer();

    // Assess
    expect(response.status).toBe(status);
    const lines = logger.lines.filter((line) => line.message === 'webhook');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', attributes: { status, clientAddress: '127.0.0.1' } });
  });

  it('logs the client address with an accepted event too', async () => {
    // Prepare
    const { url, logger } = await start();

    // Act
    await (await post(url, freshEvent())).arrayBuffer();

    // Assess
    expect(logger.lines.find((line) => line.message === 'webhook')).toMatchObject({
      level: 'info',
      attributes: { status: 202, outcome: 'accepted', clientAddress: '127.0.0.1' },
    });
  });

  it('ignores a query string on the webhook path', async () => {
    const { url, sent } = await start();
    const body = freshEvent();
    const response = await fetch(`${url}/webhooks/flowtriq?source=flowtriq`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-flowtriq-signature': signFlowtriq(TEST_SECRET, body) },
      body,
    });
    expect(response.status).toBe(202);
    expect(sent).toHaveLength(1);
  });
});
