/**
 * The LAPI simulator itself behaves like the real 1.4.6 answers it was
 * written from (recorded on this machine), and flags what a client must not do.
 */
import { describe, expect, it } from 'vitest';
import type { HttpResponse } from '../../../lib/transport/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { CrowdsecLapiSimulator, SIM_BOUNCER_KEY, SIM_MACHINE, SIM_PASSWORD, SIM_URL, goDurationMs } from './lapi.ts';

const UA = { 'User-Agent': 'test/1.0', 'Content-Type': 'application/json' };
const body = (response: HttpResponse) => JSON.parse(new TextDecoder().decode(response.body)) as unknown;

async function loggedIn(version: '1.3' | '1.4' | 'current' = '1.4') {
  const clock = new ManualClock();
  const sim = new CrowdsecLapiSimulator({ now: clock.now, version });
  const login = await sim.transport.request({ method: 'POST', url: `${SIM_URL}/v1/watchers/login`, headers: UA, body: JSON.stringify({ machine_id: SIM_MACHINE, password: SIM_PASSWORD }), timeoutMs: 1000 });
  const token = (body(login) as { token: string }).token;
  const call = (method: string, path: string, payload?: unknown) =>
    sim.transport.request({ method, url: `${SIM_URL}${path}`, headers: { ...UA, Authorization: `Bearer ${token}` }, timeoutMs: 1000, ...(payload === undefined ? {} : { body: JSON.stringify(payload) }) });
  return { clock, sim, call, login };
}

describe('CrowdSec LAPI simulator', () => {
  it('refuses a login whose User-Agent is not name/version, and flags it', async () => {
    // Prepare
    const sim = new CrowdsecLapiSimulator({ now: () => 0 });
    // Act
    const response = await sim.transport.request({ method: 'POST', url: `${SIM_URL}/v1/watchers/login`, headers: { 'User-Agent': 'node' }, body: JSON.stringify({ machine_id: SIM_MACHINE, password: SIM_PASSWORD }), timeoutMs: 1000 });
    // Assess
    expect(response.status).toBe(401);
    expect(sim.flags.badUserAgents).toBe(1);
  });

  it('answers a login with a token and an RFC 3339 expiry one hour ahead', async () => {
    // Prepare / Act
    const { login, clock } = await loggedIn();
    // Assess
    const answer = body(login) as { code: number; expire: string; token: string };
    expect(login.status).toBe(200);
    expect(answer.code).toBe(200);
    expect(Date.parse(answer.expire) - clock.now()).toBe(3_600_000);
  });

  it('refuses an expired token with 401 and flags it', async () => {
    // Prepare
    const { clock, sim, call } = await loggedIn();
    clock.advance(3_600_000);
    // Act
    const response = await call('GET', '/v1/alerts');
    // Assess
    expect(response.status).toBe(401);
    expect(sim.flags.expiredTokenUsed).toBe(1);
  });

  it('answers invalid input with 500, as 1.4.x does', async () => {
    // Prepare
    const { call } = await loggedIn();
    // Act
    const missing = await call('POST', '/v1/alerts', [{ scenario: 'x' }]);
    const badDuration = await call('POST', '/v1/alerts', [
      { scenario: 's', scenario_hash: '', scenario_version: '', message: '', events_count: 0, start_at: '', stop_at: '', capacity: 0, leakspeed: '0', simulated: false, events: [], source: { scope: 's', value: '' }, decisions: [{ origin: 'o', type: 'ban', scope: 'Ip', value: '192.0.2.1', duration: '1d', scenario: 's' }] },
    ]);
    // Assess
    expect(missing.status).toBe(500);
    expect((body(missing) as { message: string }).message).toContain('scenario_hash in body is required');
    expect(badDuration.status).toBe(500);
  });

  it('refuses the swagger\'s `scope` on DELETE (the code wants `scopes`), and `scenario` on a 1.3 LAPI', async () => {
    // Prepare
    const v14 = await loggedIn('1.4');
    const v13 = await loggedIn('1.3');
    // Act
    const scope = await v14.call('DELETE', '/v1/decisions?scope=Ip&ip=192.0.2.1');
    const scopes = await v14.call('DELETE', '/v1/decisions?scopes=Ip&ip=192.0.2.1');
    const scenario13 = await v13.call('DELETE', '/v1/decisions?scenario=x&ip=192.0.2.1');
    // Assess
    expect([scope.status, body(scope)]).toEqual([500, { message: "'scope' doesn't exist: invalid filter" }]);
    expect([scopes.status, body(scopes)]).toEqual([200, { nbDeleted: '0' }]);
    expect(scenario13.status).toBe(500);
  });

  it('expires every decision on an unfiltered DELETE, and flags both the wipe and the foreign decisions it touched', async () => {
    // Prepare
    const { sim, call } = await loggedIn();
    sim.addOperatorDecision('192.0.2.9');
    // Act
    const response = await call('DELETE', '/v1/decisions');
    // Assess
    expect(body(response)).toEqual({ nbDeleted: '1' });
    expect(sim.active()).toEqual([]);
    expect(sim.flags.unfilteredDeletes).toBe(1);
    expect(sim.flags.foreignDecisionsTouched).toBe(1);
  });

  it('answers null when no alert or decision matches, and keeps bouncer reads for API keys', async () => {
    // Prepare
    const { sim, call } = await loggedIn();
    // Act
    const alerts = await call('GET', '/v1/alerts?scenario=none');
    const withJwt = await call('GET', '/v1/decisions?ip=192.0.2.1');
    const bouncer = await sim.transport.request({ method: 'GET', url: `${SIM_URL}/v1/decisions?ip=192.0.2.1`, headers: { 'X-Api-Key': SIM_BOUNCER_KEY }, timeoutMs: 1000 });
    // Assess
    expect(body(alerts)).toBeNull();
    expect(withJwt.status).toBe(403);
    expect(body(bouncer)).toBeNull();
  });

  it('parses Go durations the way time.ParseDuration does for h/m/s/ms', () => {
    // Prepare / Act / Assess
    expect(goDurationMs('1h30m')).toBe(5_400_000);
    expect(goDurationMs('2h5s')).toBe(7_205_000);
    expect(goDurationMs('1d')).toBeUndefined();
  });
});
