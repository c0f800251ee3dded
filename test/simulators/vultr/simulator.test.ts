import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../helpers/clock.ts';
import { DEFAULT_API_KEY, VULTR_ORIGIN, VultrSimulator, type VultrSimulatorOptions } from './api.ts';

const INSTANCE = 'cb676a46-66fd-4dfb-b839-443f2e6c0b60';

function world(options: Partial<VultrSimulatorOptions> = {}) {
  const clock = new ManualClock();
  const sim = new VultrSimulator({ now: clock.now, ...options });
  const web = sim.addGroup('web', [{ ip_type: 'v4', protocol: 'tcp', port: '80', subnet: '0.0.0.0', subnet_size: 0 }]);
  sim.addInstance(INSTANCE, { firewall_group_id: web });
  const call = async (method: string, path: string, body?: unknown, key = DEFAULT_API_KEY) => {
    const response = await sim.transport.request({
      method,
      url: `${VULTR_ORIGIN}/v2${path}`,
      headers: { Authorization: `Bearer ${key}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      timeoutMs: 1000,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = Buffer.from(response.body).toString('utf8');
    return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  };
  return { clock, sim, web, call };
}

const ssh = { ip_type: 'v4', protocol: 'tcp', subnet: '203.0.113.0', subnet_size: 24, port: '22' };

describe('Vultr simulator', () => {
  it('answers with Vultr\'s envelopes and status codes, and refuses a wrong key with 401', async () => {
    // Prepare
    const { call, web } = world();

    // Act
    const instance = await call('GET', `/instances/${INSTANCE}`);
    const created = await call('POST', '/firewalls', { description: 'mine' });
    const rule = await call('POST', `/firewalls/${created.json!.firewall_group.id}/rules`, ssh);
    const removed = await call('DELETE', `/firewalls/${created.json!.firewall_group.id}/rules/${rule.json!.firewall_rule.id}`);
    const patched = await call('PATCH', `/instances/${INSTANCE}`, { firewall_group_id: created.json!.firewall_group.id });
    const missing = await call('GET', '/instances/00000000-0000-4000-8000-000000000000');
    const denied = await call('GET', `/instances/${INSTANCE}`, undefined, 'WRONG');

    // Assess
    expect(instance).toMatchObject({ status: 200, json: { instance: { id: INSTANCE, firewall_group_id: web } } });
    expect(created).toMatchObject({ status: 201, json: { firewall_group: { description: 'mine', rule_count: 0, max_rule_count: 50, instance_count: 0 } } });
    expect(rule).toMatchObject({ status: 201, json: { firewall_rule: { action: 'accept', ip_type: 'v4', type: 'v4', port: '22', source: '', notes: '' } } });
    expect(removed.status).toBe(204);
    expect(patched).toMatchObject({ status: 202, json: { instance: { firewall_group_id: created.json!.firewall_group.id } } });
    expect(missing).toMatchObject({ status: 404, json: { error: expect.any(String), status: 404 } });
    expect(denied).toMatchObject({ status: 401, json: { status: 401 } });
  });

  it('pages lists with per_page and an opaque cursor, next empty on the last page', async () => {
    // Prepare
    const { call, sim } = world({ pageSizeCap: 2 });
    for (let i = 0; i < 3; i += 1) sim.addGroup(`g${i}`);

    // Act
    const first = await call('GET', '/firewalls?per_page=500');
    const second = await call('GET', `/firewalls?per_page=500&cursor=${encodeURIComponent(first.json!.meta.links.next)}`);
    const bad = await call('GET', '/firewalls?per_page=501');

    // Assess
    expect(first.json!.firewall_groups).toHaveLength(2);
    expect(first.json!.meta).toMatchObject({ total: 4, links: { prev: '' } });
    expect(second.json!.firewall_groups.map((group: { description: string }) => group.description)).toEqual(['g1', 'g2']);
    expect(second.json!.meta.links.next).toBe('');
    expect(bad.status).toBe(400);
  });

  it('flags rule writes in a group the relay did not create, duplicate rules, redundant and over-wide PATCHes', async () => {
    // Prepare
    const { call, sim, web } = world();
    const mine = (await call('POST', '/firewalls', { description: 'mine' })).json!.firewall_group.id as string;

    // Act
    await call('POST', `/firewalls/${web}/rules`, ssh);
    const first = await call('POST', `/firewalls/${mine}/rules`, ssh);
    const duplicate = await call('POST', `/firewalls/${mine}/rules`, { ...ssh, subnet: '203.0.113.0', notes: 'again' });
    await call('PATCH', `/instances/${INSTANCE}`, { firewall_group_id: web });
    await call('PATCH', `/instances/${INSTANCE}`, { firewall_group_id: mine, label: 'x' });
    await call('DELETE', `/firewalls/${web}`);

    // Assess
    expect(first.status).toBe(201);
    expect(duplicate.status).toBe(400);
    expect(sim.flags).toMatchObject({ foreignRuleWrites: 1, duplicateRuleCreates: 1, redundantInstancePatches: 1, patchesWithOtherFields: 1, groupDeletesOrEdits: 1 });
  });

  it('refuses malformed rules and a full group', async () => {
    // Prepare
    const { call, sim } = world({ maxRuleCount: 1 });
    const mine = (await call('POST', '/firewalls', { description: 'mine' })).json!.firewall_group.id as string;

    // Act
    const answers = [
      await call('POST', `/firewalls/${mine}/rules`, { ...ssh, ip_type: 'v6' }),
      await call('POST', `/firewalls/${mine}/rules`, { ...ssh, port: '0' }),
      await call('POST', `/firewalls/${mine}/rules`, { ...ssh, protocol: 'icmp' }),
      await call('POST', `/firewalls/${mine}/rules`, { ...ssh, subnet_size: 33 }),
      await call('POST', `/firewalls/${mine}/rules`, { ...ssh, action: 'drop' }),
    ];
    const first = await call('POST', `/firewalls/${mine}/rules`, ssh);
    const full = await call('POST', `/firewalls/${mine}/rules`, { ...ssh, port: '23' });

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 400]);
    expect(sim.flags.invalidBodies).toBe(5);
    expect(first.status).toBe(201);
    expect(full).toMatchObject({ status: 400, json: { error: expect.stringContaining('at most 1 rules') } });
  });

  it('answers 429 with Retry-After above the per-second limit, and serves again a second later', async () => {
    // Prepare
    const { call, sim, clock } = world({ perSecond: 2 });

    // Act
    const answers = [await call('GET', `/instances/${INSTANCE}`), await call('GET', `/instances/${INSTANCE}`), await call('GET', `/instances/${INSTANCE}`)];
    clock.advance(1000);
    const later = await call('GET', `/instances/${INSTANCE}`);

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 429]);
    expect(answers[2]!.headers['retry-after']).toBe('1');
    expect(later.status).toBe(200);
    expect(sim.flags.rateLimited).toBe(1);
  });

  it('admits a packet only when a rule of the instance\'s group matches it; no group admits all', async () => {
    // Prepare
    const { call, sim } = world();
    const lockdown = sim.addGroup('lockdown', [
      { ip_type: 'v4', protocol: 'tcp', port: '22', subnet: '203.0.113.0', subnet_size: 24 },
      { ip_type: 'v6', protocol: 'udp', port: '8000:9000', subnet: '2001:db8::', subnet_size: 32 },
      { ip_type: 'v4', protocol: 'icmp', port: '', subnet: '198.51.100.0', subnet_size: 24 },
    ]);

    // Act
    await call('PATCH', `/instances/${INSTANCE}`, { firewall_group_id: lockdown });
    const during = [
      sim.admit(INSTANCE, { source: '203.0.113.9', protocol: 'tcp', port: 22 }),
      sim.admit(INSTANCE, { source: '203.0.114.9', protocol: 'tcp', port: 22 }),
      sim.admit(INSTANCE, { source: '203.0.113.9', protocol: 'tcp', port: 80 }),
      sim.admit(INSTANCE, { source: '2001:db8::5', protocol: 'udp', port: 8500 }),
      sim.admit(INSTANCE, { source: '2001:db8::5', protocol: 'tcp', port: 8500 }),
      sim.admit(INSTANCE, { source: '198.51.100.1', protocol: 'icmp' }),
    ];
    await call('PATCH', `/instances/${INSTANCE}`, { firewall_group_id: '' });
    const none = sim.admit(INSTANCE, { source: '192.0.2.1', protocol: 'udp', port: 53 });

    // Assess
    expect(during).toEqual([true, false, false, true, false, true]);
    expect(sim.instance(INSTANCE).firewall_group_id).toBe('');
    expect(none).toBe(true);
  });

  it('models an ignored detach when asked, and lets a test fail one request after applying it', async () => {
    // Prepare
    const clock = new ManualClock();
    const sim = new VultrSimulator({ now: clock.now, ignoreDetach: true });
    const group = sim.addGroup('g');
    sim.addInstance(INSTANCE, { firewall_group_id: group });
    const patch = (body: unknown) =>
      sim.transport.request({ method: 'PATCH', url: `${VULTR_ORIGIN}/v2/instances/${INSTANCE}`, headers: { Authorization: `Bearer ${DEFAULT_API_KEY}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body), timeoutMs: 1 });
    const other = sim.addGroup('h');
    sim.failWhen('PATCH', /^\/instances\//, 500, { error: 'boom', status: 500 }, { afterApplying: true });

    // Act
    const lost = await patch({ firewall_group_id: other });
    const ignored = await patch({ firewall_group_id: '' });

    // Assess
    expect(lost.status).toBe(500);
    expect(ignored.status).toBe(202);
    expect(sim.instance(INSTANCE).firewall_group_id).toBe(other);
  });
});
