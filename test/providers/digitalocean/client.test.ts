import { describe, expect, it } from 'vitest';
import { DigitalOceanClient, type DoOp } from '../../../lib/providers/digitalocean/client.ts';
import { DigitalOceanRejectedError, DigitalOceanUnexpectedAnswerError } from '../../../lib/providers/digitalocean/errors.ts';
import type { HttpRequest, Transport } from '../../../lib/transport/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { DEFAULT_TOKEN, DigitalOceanSimulator, rules } from '../../simulators/digitalocean/api.ts';
import { caught } from './harness.ts';

function setup(wrap: (inner: Transport) => Transport = (inner) => inner) {
  const clock = new ManualClock();
  const simulator = new DigitalOceanSimulator({ now: clock.now, applyDelayMs: 0 });
  const id = simulator.addFirewall({ inbound_rules: [rules.tcp('22', '0.0.0.0/0')] });
  const requests: HttpRequest[] = [];
  const sleeps: number[] = [];
  const inner: Transport = {
    request: (request) => {
      requests.push(request);
      return simulator.transport.request(request);
    },
  };
  const client = new DigitalOceanClient({
    integrationId: 'do1',
    baseUrl: 'https://api.digitalocean.com',
    apiToken: DEFAULT_TOKEN,
    transport: wrap(inner),
    timeoutMs: 10_000,
    now: clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
    random: () => 0,
  });
  const op = (budgetMs = 120_000): DoOp => ({ signal: new AbortController().signal, logger: new RecordingLogger(), deadline: clock.now() + budgetMs });
  return { clock, simulator, id, requests, sleeps, client, op };
}

describe('digitalocean client', () => {
  it('sends the bearer token, JSON and a user agent, and only inbound_rules in writes', async () => {
    // Prepare
    const { client, op, id, requests } = setup();

    // Act
    await client.addInboundRules(op(), id, [rules.tcp('443', '198.51.100.0/24')]);

    // Assess
    expect(requests[0]!.method).toBe('POST');
    expect(requests[0]!.url).toBe(`https://api.digitalocean.com/v2/firewalls/${id}/rules`);
    expect(requests[0]!.headers).toMatchObject({ Authorization: `Bearer ${DEFAULT_TOKEN}`, 'Content-Type': 'application/json', 'User-Agent': expect.stringMatching(/^flowtriq-relay\//) });
    expect(Object.keys(JSON.parse(String(requests[0]!.body)))).toEqual(['inbound_rules']);
  });

  it('retries a GET after a 5xx within the budget', async () => {
    // Prepare
    const { client, op, id, simulator } = setup();
    simulator.failNext(503);

    // Act
    const firewall = await client.getFirewall(op(), id);

    // Assess
    expect(firewall.inbound_rules).toHaveLength(1);
    expect(simulator.counters.gets).toBe(1);
  });

  it('holds every request until ratelimit-reset once an answer says ratelimit-remaining: 0', async () => {
    // Prepare
    const { client, op, id, simulator, clock, sleeps } = setup();
    const reset = String(Math.ceil((clock.now() + 30_000) / 1000));
    simulator.failNext(200, { body: { firewall: simulator.firewall(id) }, headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': reset } });
    await client.getFirewall(op(), id);

    // Act
    await client.getFirewall(op(), id);

    // Assess
    expect(sleeps).toEqual([30_000]);
    expect(simulator.counters.requests).toBe(2);
  });

  it('gives up on a 429 that outlasts the budget with a retryable error carrying the wait', async () => {
    // Prepare
    const { client, op, id, simulator, clock } = setup();
    const reset = String(Math.ceil((clock.now() + 600_000) / 1000));
    simulator.failNext(429, { body: { id: 'too_many_requests', message: 'API rate limit exceeded.' }, headers: { 'ratelimit-reset': reset } });

    // Act
    const error = await caught(client.getFirewall(op(60_000), id));

    // Assess
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(600_000);
    expect(error.message).toContain('250 requests per minute');
  });

  it('refuses an answer that is not a firewall object', async () => {
    // Prepare
    const { client, op, id, simulator } = setup();
    simulator.failNext(200, { body: { firewall: { id, name: 'x', status: 'enabled' } } });

    // Act
    const error = await caught(client.getFirewall(op(), id));

    // Assess
    expect(error).toBeInstanceOf(DigitalOceanUnexpectedAnswerError);
    expect(error.message).toContain('status: must be "waiting", "succeeded" or "failed"');
  });

  it('refuses an answer for another firewall', async () => {
    // Prepare
    const { client, op, id, simulator } = setup();
    const other = simulator.addFirewall();
    simulator.failNext(200, { body: { firewall: simulator.firewall(other) } });

    // Act
    const error = await caught(client.getFirewall(op(), id));

    // Assess
    expect(error).toBeInstanceOf(DigitalOceanUnexpectedAnswerError);
    expect(error.message).toContain(`not ${id}`);
  });

  it('reports DigitalOcean refusing rules as a non-retryable error naming the options', async () => {
    // Prepare
    const { client, op, id } = setup();

    // Act
    const error = await caught(client.addInboundRules(op(), id, [{ protocol: 'tcp', ports: '70000', sources: { addresses: ['192.0.2.1'] } }]));

    // Assess
    expect(error).toBeInstanceOf(DigitalOceanRejectedError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('options.management');
  });

  it('refuses a base URL that is not https', () => {
    // Prepare / Act / Assess
    expect(
      () =>
        new DigitalOceanClient({
          integrationId: 'do1',
          baseUrl: 'http://api.digitalocean.com',
          apiToken: DEFAULT_TOKEN,
          transport: { request: () => Promise.reject(new Error('unused')) },
          timeoutMs: 1_000,
          now: Date.now,
          sleep: async () => {},
        }),
    ).toThrow('https');
  });
});
