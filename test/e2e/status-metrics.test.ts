/**
 * The one-box relay's own pages: /metrics scraped after an attack's start
 * and end shows the counters and gauges; /status.json shows the incident,
 * its blocks and the audit trail; with status.token set, nothing is served
 * without it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { startTestRelay, type TestRelay } from '../helpers/test-relay.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function relayWith(status: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<TestRelay> {
  return startTestRelay(
    { integrations: [{ id: 'fw', type: 'dry-run' }, { id: 'scrub', type: 'dry-run', options: { kind: 'switch' } }], config: { status }, env },
    cleanups,
  );
}

/** The value of one sample line of a scrape. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('status page and metrics on the one-box relay', () => {
  it('scrapes the counters and gauges of a start/end cycle from /metrics, and shows it on /status.json', async () => {
    // Prepare
    const { relay, send } = await relayWith();
    const ips = publicIps(3, 83);

    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-m', at: Date.now(), ips }));
    const during = await (await fetch(`${relay.url}/metrics`)).text();
    const status = (await (await fetch(`${relay.url}/status.json`)).json()) as { incidents: { items: { uuid: string }[] }; audit: unknown[] };
    const page = await fetch(`${relay.url}/status`);
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-m', at: Date.now() + 1 }));
    const forged = await fetch(relay.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-flowtriq-signature': `sha256=${'0'.repeat(64)}` }, body: '{}' });
    const after = await (await fetch(`${relay.url}/metrics`)).text();

    // Assess
    expect(sample(during, 'flowtriq_relay_active_incidents')).toBe(1);
    expect(sample(during, 'flowtriq_relay_active_blocks{integration="fw"}')).toBe(3);
    expect(sample(during, 'flowtriq_relay_switch_active{integration="scrub"}')).toBe(1);
    expect(sample(during, 'flowtriq_relay_device_requests_total{integration="fw",action="add",outcome="ok"}')).toBe(1);
    expect(status.incidents.items.map((incident) => incident.uuid)).toEqual(['inc-m']);
    expect(status.audit.length).toBeGreaterThan(0);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(forged.status).toBe(401);
    expect(sample(after, 'flowtriq_relay_webhooks_total{outcome="accepted"}')).toBe(2);
    expect(sample(after, 'flowtriq_relay_webhooks_total{outcome="signature_mismatch"}')).toBe(1);
    expect(sample(after, 'flowtriq_relay_active_incidents')).toBe(0);
    expect(sample(after, 'flowtriq_relay_active_blocks{integration="fw"}')).toBe(0);
    expect(sample(after, 'flowtriq_relay_device_requests_total{integration="fw",action="remove",outcome="ok"}')).toBe(1);
    expect(after).not.toMatch(/inc-m|45\.\d+\.\d+\.\d+"/);
  }, 30_000);

  it('with status.token set, answers /status, /status.json and /metrics only to its bearer', async () => {
    // Prepare
    const token = 'status-token-0123456789abcdef0123456789';
    const { relay } = await relayWith({ token: { env: 'STATUS_TOKEN' } }, { STATUS_TOKEN: token });
    const bearer = { authorization: `Bearer ${token}` };

    // Act
    const answers = await Promise.all(['/status', '/status.json', '/metrics'].map((path) => fetch(`${relay.url}${path}`)));
    const wrong = await fetch(`${relay.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    const right = await Promise.all(['/status', '/status.json', '/metrics'].map((path) => fetch(`${relay.url}${path}`, { headers: bearer })));

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401]);
    expect(wrong.status).toBe(401);
    expect(right.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(await answers[0]!.text()).not.toContain(token);
  }, 30_000);

  it('serves none of them with status.enabled: false', async () => {
    const { relay } = await relayWith({ enabled: false });
    const answers = await Promise.all(['/status', '/status.json', '/metrics'].map((path) => fetch(`${relay.url}${path}`)));
    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404]);
  }, 30_000);
});
