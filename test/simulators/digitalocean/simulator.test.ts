import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../helpers/clock.ts';
import { DEFAULT_TOKEN, DO_ORIGIN, DigitalOceanSimulator, type DigitalOceanSimulatorOptions, rules } from './api.ts';

function setup(options: Partial<Omit<DigitalOceanSimulatorOptions, 'now'>> = {}) {
  const clock = new ManualClock();
  const sim = new DigitalOceanSimulator({ now: clock.now, ...options });
  const id = sim.addFirewall({
    name: 'web',
    droplet_ids: [11, 12],
    tags: ['frontend'],
    inbound_rules: [rules.tcp('22', '0.0.0.0/0', '::/0'), rules.icmp('0.0.0.0/0')],
    outbound_rules: [{ protocol: 'tcp', ports: '0', destinations: { addresses: ['0.0.0.0/0'] } }],
  });
  const call = (method: string, path: string, body?: unknown, token = DEFAULT_TOKEN) =>
    sim.handle({
      method,
      url: `${DO_ORIGIN}${path}`,
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      timeoutMs: 1000,
    });
  const json = (response: { body: Uint8Array }) => JSON.parse(Buffer.from(response.body).toString('utf8'));
  const get = () => json(call('GET', `/v2/firewalls/${id}`)).firewall;
  const post = (inbound: unknown[]) => call('POST', `/v2/firewalls/${id}/rules`, { inbound_rules: inbound });
  const del = (inbound: unknown[]) => call('DELETE', `/v2/firewalls/${id}/rules`, { inbound_rules: inbound });
  return { clock, sim, id, call, json, get, post, del };
}

describe('DigitalOcean simulator', () => {
  it('reports the firewall in GET form with rate-limit headers', () => {
    // Prepare
    const { call, json, id } = setup();

    // Act
    const response = call('GET', `/v2/firewalls/${id}`);
    const body = json(response);

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({ 'ratelimit-limit': '5000', 'ratelimit-remaining': '4999' });
    expect(Number(response.headers['ratelimit-reset'])).toBeGreaterThan(0);
    expect(body.firewall).toMatchObject({
      id,
      name: 'web',
      status: 'succeeded',
      droplet_ids: [11, 12],
      tags: ['frontend'],
      pending_changes: [],
      inbound_rules: [
        { protocol: 'tcp', ports: '22', sources: { addresses: ['0.0.0.0/0', '::/0'] } },
        { protocol: 'icmp', ports: '0', sources: { addresses: ['0.0.0.0/0'] } },
      ],
    });
  });

  it('appends on POST, reports "waiting" with pending_changes per droplet for applyDelayMs, then succeeded', () => {
    // Prepare
    const { clock, post, get, sim } = setup({ applyDelayMs: 10_000 });

    // Act
    const response = post([{ protocol: 'tcp', ports: 'all', sources: { addresses: ['192.0.2.0/24'] } }]);
    const during = get();
    clock.advance(10_000);
    const after = get();

    // Assess
    expect(response.status).toBe(204);
    expect(response.body.byteLength).toBe(0);
    expect(during.status).toBe('waiting');
    expect(during.pending_changes).toEqual([
      { droplet_id: 11, removing: false, status: 'waiting' },
      { droplet_id: 12, removing: false, status: 'waiting' },
    ]);
    expect(after.status).toBe('succeeded');
    expect(after.pending_changes).toEqual([]);
    expect(after.inbound_rules[2]).toEqual({ protocol: 'tcp', ports: '0', sources: { addresses: ['192.0.2.0/24'] } });
    expect(sim.origins(sim.firewall(after.id).id)).toEqual(['seed', 'seed', 'api']);
  });

  it('matches DELETE by value (order and spelling of sources aside) and removes every equal rule', () => {
    // Prepare
    const { del, get, sim } = setup({ applyDelayMs: 0 });

    // Act
    const response = del([{ protocol: 'tcp', ports: '22', sources: { addresses: ['::/0', '0.0.0.0/0'] } }]);

    // Assess
    expect(response.status).toBe(204);
    expect(get().inbound_rules).toEqual([{ protocol: 'icmp', ports: '0', sources: { addresses: ['0.0.0.0/0'] } }]);
    expect(sim.counters.absentRemovals).toBe(0);
  });

  it('flags a duplicate add, a removal of nothing, a removal of a rule added by hand, and outbound writes', () => {
    // Prepare
    const { post, del, call, id, sim } = setup({ applyDelayMs: 0 });
    sim.addRuleByHand(id, rules.tcp('8080', '192.0.2.0/24'));

    // Act
    post([{ protocol: 'tcp', ports: '22', sources: { addresses: ['0.0.0.0/0', '::/0'] } }]);
    del([{ protocol: 'udp', ports: '53', sources: { addresses: ['0.0.0.0/0'] } }]);
    del([{ protocol: 'tcp', ports: '8080', sources: { addresses: ['192.0.2.0/24'] } }]);
    call('POST', `/v2/firewalls/${id}/rules`, { outbound_rules: [{ protocol: 'udp', ports: '53', destinations: { addresses: ['0.0.0.0/0'] } }] });

    // Assess
    expect(sim.counters).toMatchObject({ duplicateAdds: 1, absentRemovals: 1, foreignRemovals: 1, outboundWrites: 1, ruleWrites: 4 });
  });

  it('flags writes while a change is still being applied', () => {
    // Prepare
    const { post, sim } = setup({ applyDelayMs: 30_000 });
    post([{ protocol: 'tcp', ports: '80', sources: { addresses: ['192.0.2.0/24'] } }]);

    // Act
    post([{ protocol: 'tcp', ports: '81', sources: { addresses: ['192.0.2.0/24'] } }]);

    // Assess
    expect(sim.counters.writesWhilePending).toBe(1);
  });

  it('refuses ports "0", ports on icmp, bad addresses, unknown fields and empty sources with 400 bad_request', () => {
    // Prepare
    const { post, json, sim, get } = setup({ applyDelayMs: 0 });

    // Act
    const answers = [
      post([{ protocol: 'tcp', ports: '0', sources: { addresses: ['192.0.2.0/24'] } }]),
      post([{ protocol: 'icmp', ports: '0', sources: { addresses: ['192.0.2.0/24'] } }]),
      post([{ protocol: 'tcp', ports: '22', sources: { addresses: ['192.0.2.300'] } }]),
      post([{ protocol: 'tcp', ports: '22', sources: { addresses: ['192.0.2.1'] }, description: 'x' }]),
      post([{ protocol: 'tcp', ports: '22', sources: {} }]),
    ];

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 400]);
    expect(json(answers[0]!)).toMatchObject({ id: 'bad_request', request_id: expect.any(String) });
    expect(sim.counters.rejectedWrites).toBe(5);
    expect(get().inbound_rules).toHaveLength(2);
  });

  it('refuses a POST that would pass 50 rules per firewall', () => {
    // Prepare
    const { post, sim } = setup({ applyDelayMs: 0 });
    const many = Array.from({ length: 48 }, (_, i) => ({ protocol: 'tcp', ports: String(1000 + i), sources: { addresses: ['192.0.2.0/24'] } }));

    // Act
    const response = post(many);

    // Assess
    expect(response.status).toBe(400);
    expect(sim.counters.rejectedWrites).toBe(1);
  });

  it('answers 401 without a valid token and 403 with the DO envelope when a scope is missing', () => {
    // Prepare
    const { call, json, id, sim } = setup();
    sim.tokens.set('read-only', new Set(['firewall:read']));

    // Act
    const unknown = call('GET', `/v2/firewalls/${id}`, undefined, 'nope');
    const readOnlyWrite = call('POST', `/v2/firewalls/${id}/rules`, { inbound_rules: [] }, 'read-only');
    const readOnlyGet = call('GET', `/v2/firewalls/${id}`, undefined, 'read-only');

    // Assess
    expect(unknown.status).toBe(401);
    expect(json(unknown)).toMatchObject({ id: 'Unauthorized', message: 'Unable to authenticate you' });
    expect(readOnlyWrite.status).toBe(403);
    expect(json(readOnlyWrite)).toMatchObject({ id: 'Forbidden', message: 'You are not authorized to perform this operation', request_id: expect.any(String) });
    expect(readOnlyGet.status).toBe(200);
    expect(json(readOnlyGet).firewall.droplet_ids).toEqual([]);
    expect(json(readOnlyGet).firewall.tags).toEqual([]);
    expect(sim.counters.authFailures).toBe(2);
  });

  it('answers 404 not_found for an unknown firewall', () => {
    // Prepare
    const { call, json } = setup();

    // Act
    const response = call('GET', '/v2/firewalls/00000000-0000-0000-0000-000000000000');

    // Assess
    expect(response.status).toBe(404);
    expect(json(response).id).toBe('not_found');
  });

  it('limits 250 requests per minute with 429 too_many_requests and counts requests sent before the reset', () => {
    // Prepare
    const { call, json, id, clock, sim } = setup({ rateLimit: { perMinute: 2, perHour: 100 } });
    call('GET', `/v2/firewalls/${id}`);
    clock.advance(1_000);
    call('GET', `/v2/firewalls/${id}`);

    // Act
    const limited = call('GET', `/v2/firewalls/${id}`);
    const early = call('GET', `/v2/firewalls/${id}`);
    clock.set(Number(limited.headers['ratelimit-reset']) * 1000);
    const later = call('GET', `/v2/firewalls/${id}`);

    // Assess
    expect(limited.status).toBe(429);
    expect(json(limited)).toMatchObject({ id: 'too_many_requests', message: 'API rate limit exceeded.' });
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(early.status).toBe(429);
    expect(later.status).toBe(200);
    expect(sim.counters.requestsWhileLimited).toBe(1);
  });

  it('replaces the whole firewall on PUT, resetting what it does not carry, and counts it', () => {
    // Prepare
    const { call, get, sim, id } = setup({ applyDelayMs: 0 });

    // Act
    const response = call('PUT', `/v2/firewalls/${id}`, { name: 'web', inbound_rules: [{ protocol: 'tcp', ports: '22', sources: { addresses: ['192.0.2.1'] } }] });

    // Assess
    expect(response.status).toBe(200);
    expect(sim.counters.puts).toBe(1);
    expect(get()).toMatchObject({ droplet_ids: [], tags: [], outbound_rules: [] });
  });

  it('admits by allow-list with default deny, ports and families checked, and deny rules winning', () => {
    // Prepare
    const { sim, id } = setup();
    sim.addRuleByHand(id, { protocol: 'tcp', ports: '8000-9000', sources: { addresses: ['192.0.2.0/24'] } });
    sim.addRuleByHand(id, { protocol: 'tcp', ports: '22', sources: { addresses: ['198.51.100.7'] }, action: 'deny' });

    // Act / Assess
    expect(sim.admit(id, '203.0.113.5', 'tcp', 22)).toBe(true);
    expect(sim.admit(id, '2001:db8::1', 'tcp', 22)).toBe(true);
    expect(sim.admit(id, '198.51.100.7', 'tcp', 22)).toBe(false);
    expect(sim.admit(id, '203.0.113.5', 'tcp', 80)).toBe(false);
    expect(sim.admit(id, '192.0.2.9', 'tcp', 8500)).toBe(true);
    expect(sim.admit(id, '192.0.2.9', 'udp', 8500)).toBe(false);
    expect(sim.admit(id, '203.0.113.5', 'icmp')).toBe(true);
    expect(sim.admit(id, '2001:db8::1', 'icmp')).toBe(false);
  });

  it('can fail a write after carrying it out (an answer lost after the change)', () => {
    // Prepare
    const { post, get, sim } = setup({ applyDelayMs: 0 });
    sim.failNext(502, { applied: true });

    // Act
    const response = post([{ protocol: 'udp', ports: '53', sources: { addresses: ['192.0.2.0/24'] } }]);

    // Assess
    expect(response.status).toBe(502);
    expect(get().inbound_rules).toHaveLength(3);
  });
});
