import { describe, expect, it } from 'vitest';
import { linodeOptionsSchema } from '../../../lib/providers/linode/config.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { DEFAULT_TOKEN, LINODE_BASE, LinodeApiSimulator, type LinodeSimulatorOptions, rule } from './api.ts';
import { FIREWALL_ID, linodeUnderTest } from './under-test.ts';

const AUTH = { Authorization: `Bearer ${DEFAULT_TOKEN}` };
const JSON_AUTH = { ...AUTH, 'Content-Type': 'application/json' };

function setup(options: Partial<LinodeSimulatorOptions> = {}) {
  const clock = new ManualClock();
  const sim = new LinodeApiSimulator({ now: clock.now, ...options });
  const id = sim.addFirewall({
    id: 100,
    rules: {
      inbound: [rule({ action: 'ACCEPT', protocol: 'TCP', ports: '22', addresses: { ipv4: ['0.0.0.0/0'] }, label: 'ssh' })],
      outbound: [rule({ action: 'ACCEPT', protocol: 'TCP', ports: '25', addresses: { ipv4: ['198.51.100.25/32'] }, label: 'smtp' })],
    },
  });
  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = JSON_AUTH) =>
    sim.handle({ method, url: `${LINODE_BASE}${path}`, headers, timeoutMs: 1000, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const read = (response: { body: Uint8Array }) => JSON.parse(Buffer.from(response.body).toString('utf8'));
  const getRules = () => read(request('GET', `/networking/firewalls/${id}/rules`));
  const writable = (rules: Record<string, unknown>) => ({
    inbound: rules.inbound,
    inbound_policy: rules.inbound_policy,
    outbound: rules.outbound,
    outbound_policy: rules.outbound_policy,
  });
  return { clock, sim, id, request, read, getRules, writable };
}

const allow = (ports: string, ipv4: string[]) => ({ action: 'ACCEPT', protocol: 'TCP', ports, addresses: { ipv4 }, label: 'allow-it' });

describe('Linode API simulator: rules', () => {
  it('replaces the rule set on PUT, reports canonical addresses, and moves version and fingerprint on', () => {
    // Prepare
    const { id, request, read, getRules, writable } = setup();
    const before = getRules();

    // Act
    const put = request('PUT', `/networking/firewalls/${id}/rules`, {
      ...writable(before),
      inbound: [{ action: 'ACCEPT', protocol: 'TCP', ports: '22, 80', addresses: { ipv4: ['192.0.2.1'], ipv6: ['2001:DB8::0/32', '::0/0'] }, label: 'mixed' }],
      inbound_policy: 'DROP',
    });
    const after = getRules();

    // Assess
    expect(put.status).toBe(200);
    expect(read(put)).toEqual(after);
    expect(before.version).toBe(1);
    expect(before.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(after.version).toBe(2);
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.inbound[0].addresses).toEqual({ ipv4: ['192.0.2.1/32'], ipv6: ['2001:db8::/32', '::/0'] });
    expect(after.inbound_policy).toBe('DROP');
    expect(after.outbound).toEqual(before.outbound);
  });

  it('refuses read-only fields (version, fingerprint) in a PUT and counts it', () => {
    // Prepare
    const { sim, id, request, read, getRules } = setup();
    const before = getRules();

    // Act
    const put = request('PUT', `/networking/firewalls/${id}/rules`, before);

    // Assess
    expect(put.status).toBe(400);
    expect(read(put)).toEqual({ errors: [{ reason: 'Keys must be one of: inbound, inbound_policy, outbound, outbound_policy' }] });
    expect(sim.counters.readOnlyFieldPuts).toBe(1);
    expect(getRules()).toEqual(before);
  });

  it('refuses a PUT that drops a key, and counts it', () => {
    // Prepare
    const { sim, id, request, read, getRules } = setup();
    const before = getRules();

    // Act
    const put = request('PUT', `/networking/firewalls/${id}/rules`, { inbound: [], inbound_policy: 'DROP' });

    // Assess
    expect(put.status).toBe(400);
    expect(read(put).errors.map((error: { field: string }) => error.field)).toEqual(['outbound', 'outbound_policy']);
    expect(sim.counters.droppedFieldPuts).toBe(1);
    expect(getRules().version).toBe(before.version);
  });

  it('flags a PUT that changes the outbound rules or policy', () => {
    // Prepare
    const { sim, id, request, getRules, writable } = setup();
    const before = getRules();

    // Act
    request('PUT', `/networking/firewalls/${id}/rules`, { ...writable(before), outbound_policy: 'DROP' });

    // Assess
    expect(sim.counters.outboundChanges).toBe(1);
  });

  it('flags a PUT sent after someone else changed the rules without reading them again', () => {
    // Prepare
    const { sim, id, request, getRules, writable } = setup();
    const before = getRules();
    sim.changeBehindRelay(id, (rules) => rules.inbound.push(rule({ action: 'ACCEPT', protocol: 'ICMP', addresses: { ipv4: ['0.0.0.0/0'] } })));

    // Act
    request('PUT', `/networking/firewalls/${id}/rules`, { ...writable(before), inbound_policy: 'DROP' });
    const reread = getRules();
    request('PUT', `/networking/firewalls/${id}/rules`, { ...writable(reread), inbound_policy: 'ACCEPT' });

    // Assess
    expect(sim.counters.blindPuts).toBe(1);
    expect(sim.counters.puts).toBe(2);
  });

  it('counts a PUT that changes nothing', () => {
    // Prepare
    const { sim, id, request, getRules, writable } = setup();
    const before = getRules();

    // Act
    request('PUT', `/networking/firewalls/${id}/rules`, writable(before));

    // Assess
    expect(sim.counters.unneededPuts).toBe(1);
  });

  it('answers the documented limits with 400: 25 rules per firewall, 255 addresses per rule', () => {
    // Prepare
    const { sim, id, request, read, getRules } = setup();
    const before = getRules();
    const many = Array.from({ length: 25 }, (_, index) => allow(String(1000 + index), ['192.0.2.1/32']));
    const addresses = Array.from({ length: 256 }, (_, index) => `10.0.${Math.floor(index / 250)}.${index % 250}/32`);

    // Act
    const tooManyRules = request('PUT', `/networking/firewalls/${id}/rules`, { inbound: many, inbound_policy: 'DROP', outbound: before.outbound, outbound_policy: 'ACCEPT' });
    const tooManyAddresses = request('PUT', `/networking/firewalls/${id}/rules`, {
      inbound: [allow('22', addresses)],
      inbound_policy: 'DROP',
      outbound: before.outbound,
      outbound_policy: 'ACCEPT',
    });

    // Assess
    expect(tooManyRules.status).toBe(400);
    expect(read(tooManyRules).errors).toEqual([{ reason: expect.stringContaining('at most 25 rules'), field: 'rules' }]);
    expect(tooManyAddresses.status).toBe(400);
    expect(read(tooManyAddresses).errors).toEqual([{ reason: expect.stringContaining('at most 255 addresses'), field: 'inbound[0].addresses' }]);
    expect(sim.counters.limitViolations).toBe(2);
    expect(getRules()).toEqual(before);
  });

  it('validates rules: ports only for TCP/UDP, label 3–32 characters, known protocols, valid addresses', () => {
    // Prepare
    const { sim, id, request, read } = setup();

    // Act
    const put = request('PUT', `/networking/firewalls/${id}/rules`, {
      inbound: [
        { action: 'ACCEPT', protocol: 'ICMP', ports: '8', addresses: { ipv4: ['0.0.0.0/0'] } },
        { action: 'ACCEPT', protocol: 'TCP', ports: '080', addresses: { ipv4: ['0.0.0.0/0'] }, label: 'ab' },
        { action: 'ALLOW', protocol: 'SCTP', addresses: { ipv4: ['2001:db8::/32'] } },
      ],
      inbound_policy: 'DROP',
      outbound: [],
      outbound_policy: 'ACCEPT',
    });

    // Assess
    expect(put.status).toBe(400);
    expect(read(put).errors.map((error: { field: string }) => error.field)).toEqual([
      'inbound[0].ports',
      'inbound[1].ports',
      'inbound[1].label',
      'inbound[2].action',
      'inbound[2].protocol',
      'inbound[2].addresses.ipv4',
    ]);
    expect(sim.counters.invalidPuts).toBe(1);
  });
});

describe('Linode API simulator: auth, rate limit, devices', () => {
  it('answers 401 to a wrong token and 403 naming the scope to a read-only token writing', () => {
    // Prepare
    const { request, read, sim } = setup({ scopes: ['firewall:read_only'] });

    // Act
    const wrong = request('GET', '/networking/firewalls/100/rules', undefined, { Authorization: 'Bearer nope' });
    const readOk = request('GET', '/networking/firewalls/100/rules');
    const write = request('PUT', '/networking/firewalls/100/rules', { inbound: [], inbound_policy: 'DROP', outbound: [], outbound_policy: 'ACCEPT' });

    // Assess
    expect(wrong.status).toBe(401);
    expect(read(wrong)).toEqual({ errors: [{ reason: 'Invalid Token' }] });
    expect(readOk.status).toBe(200);
    expect(write.status).toBe(403);
    expect(write.headers['x-accepted-oauth-scopes']).toBe('firewall:read_write');
    expect(sim.counters).toMatchObject({ authFailures: 1, forbidden: 1 });
  });

  it('answers 429 with Retry-After and X-RateLimit headers, and counts requests sent before it passed', () => {
    // Prepare
    const { request, sim, clock } = setup({ maxRequests: 2, windowMs: 60_000 });
    request('GET', '/networking/firewalls/100');
    clock.advance(10_000);
    request('GET', '/networking/firewalls/100');

    // Act
    const limited = request('GET', '/networking/firewalls/100');
    const tooEarly = request('GET', '/networking/firewalls/100');
    clock.advance(50_000);
    const after = request('GET', '/networking/firewalls/100');

    // Assess
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('50');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-limit']).toBe('2');
    expect(tooEarly.status).toBe(429);
    expect(after.status).toBe(200);
    expect(sim.counters.requestsBeforeRetryAfter).toBe(1);
  });

  it('pages the devices list and refuses a page_size outside 25–500', () => {
    // Prepare
    const { sim, request, read } = setup();
    sim.setEntities(100, Array.from({ length: 30 }, (_, index) => ({ id: 5000 + index, type: 'linode' as const, label: `node-${index}` })));

    // Act
    const first = read(request('GET', '/networking/firewalls/100/devices?page=1&page_size=25'));
    const second = read(request('GET', '/networking/firewalls/100/devices?page=2&page_size=25'));
    const invalid = request('GET', '/networking/firewalls/100/devices?page_size=10');

    // Assess
    expect(first).toMatchObject({ page: 1, pages: 2, results: 30 });
    expect(first.data).toHaveLength(25);
    expect(second.data.map((device: { entity: { id: number } }) => device.entity.id)).toEqual([5025, 5026, 5027, 5028, 5029]);
    expect(second.data[0].entity).toEqual({ id: 5025, type: 'linode', label: 'node-25', url: '/v4/linode/instances/5025', parent_entity: null });
    expect(invalid.status).toBe(400);
  });

  it('answers 404 for a firewall that does not exist', () => {
    // Prepare
    const { request, read } = setup();

    // Act
    const missing = request('GET', '/networking/firewalls/999/rules');

    // Assess
    expect(missing.status).toBe(404);
    expect(read(missing)).toEqual({ errors: [{ reason: 'Not found' }] });
  });
});

describe('Linode API simulator: admit() semantics', () => {
  it('lets the first matching inbound rule decide, else the inbound policy', () => {
    // Prepare
    const { sim } = setup();
    sim.changeBehindRelay(100, (rules) => {
      rules.inbound = [
        rule({ action: 'DROP', protocol: 'TCP', ports: '22', addresses: { ipv4: ['203.0.113.66/32'] } }),
        rule({ action: 'ACCEPT', protocol: 'TCP', ports: '22, 8000-8100', addresses: { ipv4: ['203.0.113.0/24'], ipv6: ['2001:db8::/32'] } }),
        rule({ action: 'ACCEPT', protocol: 'ICMP', addresses: { ipv4: ['0.0.0.0/0'] } }),
      ];
      rules.inbound_policy = 'DROP';
    });

    // Act
    const results = {
      allowedSsh: sim.admit(100, { source: '203.0.113.10', protocol: 'TCP', port: 22 }),
      droppedFirst: sim.admit(100, { source: '203.0.113.66', protocol: 'TCP', port: 22 }),
      range: sim.admit(100, { source: '203.0.113.10', protocol: 'TCP', port: 8050 }),
      v6: sim.admit(100, { source: '2001:db8::5', protocol: 'TCP', port: 22 }),
      otherPort: sim.admit(100, { source: '203.0.113.10', protocol: 'TCP', port: 443 }),
      udp: sim.admit(100, { source: '203.0.113.10', protocol: 'UDP', port: 22 }),
      ping: sim.admit(100, { source: '198.51.100.1', protocol: 'ICMP' }),
      outsider: sim.admit(100, { source: '198.51.100.1', protocol: 'TCP', port: 22 }),
    };
    sim.setStatus(100, 'disabled');
    const disabled = sim.admit(100, { source: '198.51.100.1', protocol: 'TCP', port: 22 });

    // Assess
    expect(results).toEqual({ allowedSsh: true, droppedFirst: false, range: true, v6: true, otherPort: false, udp: false, ping: true, outsider: false });
    expect(disabled).toBe(true);
  });
});

describe('Linode under-test factory', () => {
  it('starts open, can be locked down by hand, and changed behind the relay; account() leaves out the write stamps', () => {
    // Prepare
    const under = linodeUnderTest();
    const before = under.account();

    // Act
    const openAtStart = under.isOn();
    const reachableAtStart = under.managementReachable();
    under.turnOnByHand();
    const onByHand = under.isOn();
    under.changeBehindTheRelay();

    // Assess
    expect(openAtStart).toBe(false);
    expect(reachableAtStart).toBe(true);
    expect(onByHand).toBe(true);
    expect(JSON.stringify(before)).not.toMatch(/"(version|fingerprint|updated)"/);
    expect(under.simulator.rules(FIREWALL_ID).inbound.map((r) => r.label)).toEqual(['ops-only', 'partner-https']);
    expect(under.integration.secrets.token.env).toBe('LINODE_TOKEN');
    expect(linodeOptionsSchema.safeParse(under.integration.options).success).toBe(true);
  });
});
