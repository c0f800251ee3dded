import { describe, expect, it } from 'vitest';
import type { HttpResponse } from '../../../lib/transport/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { ACCOUNT, CF_BASE, CloudflareApiSimulator, DEFAULT_TOKEN, ZONE } from './api.ts';

const auth = { Authorization: `Bearer ${DEFAULT_TOKEN}` };

function body(response: HttpResponse): { success: boolean; errors: { code: number; message: string }[]; result: Record<string, unknown> | null } {
  return JSON.parse(Buffer.from(response.body).toString('utf8'));
}

function setup() {
  const clock = new ManualClock();
  const sim = new CloudflareApiSimulator({ now: clock.now, advertiseDelayMs: 120_000, withdrawDelayMs: 900_000 });
  const ids = sim.addPrefix('203.0.113.0/24');
  const bgpUrl = `${CF_BASE}/accounts/${ACCOUNT}/addressing/prefixes/${ids.prefixId}/bgp/prefixes/${ids.bgpPrefixId}`;
  const patch = (advertised: boolean, headers: Record<string, string> = auth) =>
    sim.handle({ method: 'PATCH', url: bgpUrl, headers, body: JSON.stringify({ on_demand: { advertised } }), timeoutMs: 1 });
  return { clock, sim, ids, bgpUrl, patch };
}

describe('cloudflare API simulator', () => {
  it('applies an advertisement after the delay, moving advertised_modified_at to the flip time', () => {
    // Prepare
    const { clock, sim, ids, patch } = setup();

    // Act
    const answer = body(patch(true));
    clock.advance(60_000);
    const halfway = sim.onDemand(ids.prefixId, ids.bgpPrefixId);
    clock.advance(60_000);
    const done = sim.onDemand(ids.prefixId, ids.bgpPrefixId);

    // Assess
    expect(answer).toMatchObject({ success: true, errors: [], result: { on_demand: { advertised: false } } });
    expect(halfway.advertised).toBe(false);
    expect(done).toMatchObject({ advertised: true, advertised_modified_at: '2026-01-01T00:02:00.000Z' });
  });

  it('counts unneeded writes and refused writes to locked prefixes', () => {
    // Prepare
    const { sim, ids, patch } = setup();

    // Act
    patch(true);
    patch(true);
    sim.setFlags(ids.prefixId, ids.bgpPrefixId, { on_demand_locked: true });
    const refused = patch(false);

    // Assess
    expect(sim.counters).toMatchObject({ patches: 3, unneededWrites: 1, refusedWrites: 1 });
    expect(refused.status).toBe(400);
    expect(body(refused).success).toBe(false);
  });

  it('answers 403 10000 for a missing permission and 9109 for a zone outside the token', () => {
    // Prepare
    const { sim, patch } = setup();
    sim.addZone(ZONE);
    sim.setToken('ro', ['IP Prefixes: BGP On Demand Read'], { zones: [] });

    // Act
    const write = patch(true, { Authorization: 'Bearer ro' });
    const zone = sim.handle({ method: 'GET', url: `${CF_BASE}/zones/${ZONE}/settings/security_level`, headers: { Authorization: 'Bearer ro' }, timeoutMs: 1 });

    // Assess
    expect(write.status).toBe(403);
    expect(body(write).errors).toEqual([{ code: 10000, message: 'Authentication error' }]);
    expect(zone.status).toBe(403);
    expect(body(zone).errors[0]!.code).toBe(9109);
  });

  it('blocks every call for 5 minutes after a 429 and counts requests sent meanwhile', () => {
    // Prepare
    const { clock, sim, bgpUrl } = setup();
    sim.failNext({ status: 429, retryAfter: '300' });
    const get = () => sim.handle({ method: 'GET', url: bgpUrl, headers: auth, timeoutMs: 1 });

    // Act
    const first = get();
    clock.advance(299_000);
    const during = get();
    clock.advance(1_000);
    const after = get();

    // Assess
    expect(first.status).toBe(429);
    expect(during.status).toBe(429);
    expect(during.headers['retry-after']).toBe('1');
    expect(after.status).toBe(200);
    expect(sim.counters.requestsWhileBlocked).toBe(1);
  });

  it('stamps modified_on when the security level changes, not when it is written unchanged', () => {
    // Prepare
    const { clock, sim } = setup();
    sim.addZone(ZONE, { value: 'medium' });
    const url = `${CF_BASE}/zones/${ZONE}/settings/security_level`;

    // Act
    clock.advance(1_000);
    const changed = body(sim.handle({ method: 'PATCH', url, headers: auth, body: '{"value":"under_attack"}', timeoutMs: 1 }));
    clock.advance(1_000);
    const same = body(sim.handle({ method: 'PATCH', url, headers: auth, body: '{"value":"under_attack"}', timeoutMs: 1 }));

    // Assess
    expect(changed.result).toMatchObject({ id: 'security_level', value: 'under_attack', modified_on: '2026-01-01T00:00:01.000000Z', editable: true });
    expect(same.result).toMatchObject({ modified_on: '2026-01-01T00:00:01.000000Z' });
    expect(sim.counters.unneededWrites).toBe(1);
  });
});
