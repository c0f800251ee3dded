import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { handle } from 'hono/aws-lambda';
import { describe, expect, it } from 'vitest';
import { createIntakeApp } from '../../lib/intake/app.ts';
import { decodeJob } from '../../lib/engine/job.ts';
import { MessageTooLargeError, QueueUnavailableError } from '../../lib/queue/errors.ts';
import type { OutgoingMessage, SendResult } from '../../lib/queue/types.ts';
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';
import { fixture, signedRequest, TEST_SECRET } from '../helpers/events.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

const FIXTURE_NOW = Date.parse('2025-03-10T14:22:30Z');

/** A queue that keeps what it is sent and drops repeated de-dup ids, like a FIFO queue. */
class MemoryQueue {
  readonly sent: OutgoingMessage[] = [];
  failWith: Error | undefined;
  readonly #seen = new Set<string>();
  async send(message: OutgoingMessage): Promise<SendResult> {
    if (this.failWith) throw this.failWith;
    if (this.#seen.has(message.dedupId)) return { duplicate: true };
    this.#seen.add(message.dedupId);
    this.sent.push(message);
    return { duplicate: false };
  }
}

function setup(options: { secrets?: string[]; insecure?: boolean; now?: number } = {}) {
  const queue = new MemoryQueue();
  const logger = new RecordingLogger();
  const app = createIntakeApp({
    secrets: options.secrets ?? [TEST_SECRET],
    insecure: options.insecure ?? false,
    queue,
    logger,
    now: () => options.now ?? FIXTURE_NOW,
  });
  return { app, queue, logger };
}

async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { error: { code: string } };
  return body.error.code;
}

describe('webhook intake', () => {
  it('accepts a signed attack_start with 202 and enqueues it grouped by incident', async () => {
    // Prepare
    const { app, queue } = setup();
    const body = JSON.stringify(fixture('attack_start'));
    // Act
    const response = await app.request(signedRequest(body));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]!.groupId).toBe('d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70');
    expect(queue.sent[0]!.dedupId).toMatch(/^[0-9a-z]{9}-[0-9a-f]{64}$/);
    const job = decodeJob(queue.sent[0]!.body);
    expect(job.event.incident?.title).toBe('UDP Flood on web-prod-1');
    expect(job.event.incident?.ai_summary).toContain('UDP flood'); // unknown fields pass through
  });

  it('accepts a signature made with the second (rotation) secret', async () => {
    // Prepare
    const { app, queue } = setup({ secrets: ['old-secret', 'new-secret'] });
    const body = JSON.stringify(fixture('attack_start'));
    // Act
    const response = await app.request(signedRequest(body, { secret: 'new-secret' }));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });

  it.each([
    ['forged (wrong secret)', { secret: 'not-the-secret' }, 'signature_mismatch'],
    ['unsigned', { signature: null }, 'signature_missing'],
    ['malformed signature', { signature: 'sha1=abc' }, 'signature_malformed'],
  ] as const)('refuses a %s request with 401 and enqueues nothing', async (_name, options, code) => {
    // Prepare
    const { app, queue } = setup();
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_start')), options));
    // Assess
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe(code);
    expect(queue.sent).toHaveLength(0);
  });

  it('refuses a tampered body (signed, then changed) with 401', async () => {
    // Prepare
    const { app, queue } = setup();
    const original = JSON.stringify(fixture('attack_start'));
    const signature = signFlowtriq(TEST_SECRET, original);
    const tampered = original.replace('"critical"', '"low"');
    // Act
    const response = await app.request(signedRequest(tampered, { signature }));
    // Assess
    expect(response.status).toBe(401);
    expect(queue.sent).toHaveLength(0);
  });

  it('verifies the raw bytes, not re-serialised JSON (whitespace and key order kept)', async () => {
    // Prepare
    const { app, queue } = setup();
    const body = `{ "timestamp":"2025-03-10T14:22:00Z",\n  "event_type" : "attack_start", "incident": ${JSON.stringify(fixture('attack_start').incident)}, "node": ${JSON.stringify(fixture('attack_start').node)} }`;
    // Act
    const response = await app.request(signedRequest(body));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });

  it('acts once on a replayed delivery: 202 again, nothing new enqueued', async () => {
    // Prepare
    const { app, queue } = setup();
    const body = JSON.stringify(fixture('attack_start'));
    await app.request(signedRequest(body));
    // Act
    const replay = await app.request(signedRequest(body));
    // Assess
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ duplicate: true });
    expect(queue.sent).toHaveLength(1);
  });

  it('refuses a stale attack_start outside the replay window with 401', async () => {
    // Prepare
    const { app, queue } = setup({ now: Date.parse('2025-03-10T14:27:01Z') });
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_start'))));
    // Assess
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('stale_event');
    expect(queue.sent).toHaveLength(0);
  });

  it('refuses an event dated too far in the future with 401', async () => {
    // Prepare
    const { app, queue } = setup({ now: Date.parse('2025-03-10T14:10:00Z') });
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_start'))));
    // Assess
    expect(response.status).toBe(401);
    expect(queue.sent).toHaveLength(0);
  });

  it('still accepts a late attack_end: removing what an ended incident added is always safe', async () => {
    // Prepare
    const { app, queue } = setup({ now: Date.parse('2025-03-10T15:40:00Z') });
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_end'))));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });

  it('refuses a body over 256 KiB with 413 without reading it all', async () => {
    // Prepare
    const { app, queue } = setup();
    const event = fixture('attack_start');
    (event.incident as Record<string, unknown>).padding = 'x'.repeat(262_144);
    const body = JSON.stringify(event);
    // Act
    const response = await app.request(signedRequest(body));
    // Assess
    expect(response.status).toBe(413);
    expect(queue.sent).toHaveLength(0);
  });

  it('refuses a non-JSON content type with 415', async () => {
    // Prepare
    const { app, queue } = setup();
    // Act
    const response = await app.request(
      signedRequest('event_type=attack_start', { contentType: 'application/x-www-form-urlencoded' }),
    );
    // Assess
    expect(response.status).toBe(415);
    expect(queue.sent).toHaveLength(0);
  });

  it('refuses a signed body that is not JSON with 400', async () => {
    // Prepare
    const { app, queue } = setup();
    // Act
    const response = await app.request(signedRequest('{"event_type": "attack_start",'));
    // Assess
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe('malformed_json');
    expect(queue.sent).toHaveLength(0);
  });

  it('refuses GET with 405 and an Allow header', async () => {
    // Prepare
    const { app, queue } = setup();
    // Act
    const response = await app.request(signedRequest('', { method: 'GET' }));
    // Assess
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(queue.sent).toHaveLength(0);
  });

  it('refuses a schema-invalid event with 400 naming the field', async () => {
    // Prepare
    const { app, queue } = setup();
    const event = fixture('attack_start');
    (event.incident as Record<string, unknown>).peak_pps = 'lots';
    // Act
    const response = await app.request(signedRequest(JSON.stringify(event)));
    // Assess
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string; issues: { path: string }[] } };
    expect(body.error.code).toBe('invalid_event');
    expect(body.error.message).toContain('incident.peak_pps');
    expect(body.error.issues.map((issue) => issue.path)).toContain('incident.peak_pps');
    expect(queue.sent).toHaveLength(0);
  });

  it('accepts an attack_end that carries only the incident uuid', async () => {
    // Prepare
    const { app, queue } = setup({ now: Date.parse('2025-03-10T14:40:10Z') });
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_end_minimal'))));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });

  it('answers an unknown event type with 202, logs it and enqueues nothing', async () => {
    // Prepare
    const { app, queue, logger } = setup({ now: Date.parse('2025-03-10T14:23:00Z') });
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('unknown_type'))));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(0);
    expect(logger.lines.find((line) => line.message === 'webhook')?.attributes.outcome).toBe('ignored_unknown_type');
  });

  it('enqueues a test event so workers run health checks', async () => {
    // Prepare
    const { app, queue } = setup();
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('test'))));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
  });

  it('answers 503 with Retry-After when the queue cannot take the event', async () => {
    // Prepare
    const { app, queue } = setup();
    queue.failWith = new QueueUnavailableError('queue is down');
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_start'))));
    // Assess
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
  });

  it('answers 413 when the queue says the message is too large', async () => {
    // Prepare
    const { app, queue } = setup();
    queue.failWith = new MessageTooLargeError(300_000, 262_144);
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_start'))));
    // Assess
    expect(response.status).toBe(413);
  });

  it('never answers bad input with a 5xx', async () => {
    // Prepare
    const { app } = setup();
    const bodies = ['', 'null', '[]', '"x"', '{}', '{"event_type":1}', '\u0000\u00ff', '{"event_type":"attack_start","timestamp":"yesterday"}'];
    for (const body of bodies) {
      // Act
      const response = await app.request(signedRequest(body));
      // Assess
      expect(response.status, body).toBeGreaterThanOrEqual(400);
      expect(response.status, body).toBeLessThan(500);
    }
  });

  it('in insecure development mode accepts unsigned events and says so on every request log', async () => {
    // Prepare
    const { app, queue, logger } = setup({ secrets: [], insecure: true });
    // Act
    const response = await app.request(signedRequest(JSON.stringify(fixture('attack_start')), { signature: null }));
    // Assess
    expect(response.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
    expect(String(logger.lines.find((line) => line.message === 'webhook')?.attributes.insecure)).toContain('NOT verified');
  });

  it('refuses to build without a secret unless insecure mode is explicit', () => {
    // Act / Assess
    expect(() => createIntakeApp({ secrets: [], queue: new MemoryQueue(), logger: new RecordingLogger() })).toThrow(
      /secret/,
    );
  });

  it('logs the Function URL source IP with a refused webhook in Lambda, and no address elsewhere', async () => {
    // Prepare: the app behind the real hono/aws-lambda adapter, as functions/webhook.ts serves it.
    const { app, logger } = setup();
    const handler = handle(app) as unknown as (event: LambdaFunctionURLEvent, context: Context) => Promise<{ statusCode: number }>;
    const body = JSON.stringify(fixture('attack_start'));
    const event = {
      version: '2.0',
      rawPath: '/webhooks/flowtriq',
      rawQueryString: '',
      headers: { 'content-type': 'application/json', 'x-flowtriq-signature': signFlowtriq('forged', body), host: 'relay.lambda-url.on.aws' },
      requestContext: { http: { method: 'POST', path: '/webhooks/flowtriq', protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'x' } },
      body,
      isBase64Encoded: false,
    } as unknown as LambdaFunctionURLEvent;

    // Act
    const result = await handler(event, {} as Context);
    await app.request(signedRequest(body, { secret: 'forged' }));

    // Assess
    expect(result.statusCode).toBe(401);
    const [lambda, plain] = logger.lines.filter((line) => line.message === 'webhook');
    expect(lambda?.attributes).toMatchObject({ status: 401, clientAddress: '198.51.100.7' });
    expect(plain?.attributes.status).toBe(401);
    expect(plain?.attributes).not.toHaveProperty('clientAddress');
  });

  it('never logs the secret or the signature', async () => {
    // Prepare
    const { app, logger } = setup();
    // Act
    await app.request(signedRequest(JSON.stringify(fixture('attack_start'))));
    await app.request(signedRequest(JSON.stringify(fixture('attack_start')), { secret: 'forged' }));
    // Assess
    const text = JSON.stringify(logger.lines);
    expect(text).not.toContain(TEST_SECRET);
    expect(text).not.toContain('sha256=');
  });
});
