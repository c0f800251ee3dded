import { describe, expect, it } from 'vitest';
import { ovhSignedHeaders } from '../../../lib/providers/ovh/signing.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_CONSUMER_KEY, OVH_EU_BASE, OvhApiSimulator, type OvhSimulatorOptions } from './api.ts';

const BLOCK = '203.0.113.0/24';
const ENCODED = '203.0.113.0%2F24';

function setup(options: Partial<OvhSimulatorOptions> = {}) {
  const clock = new ManualClock();
  const sim = new OvhApiSimulator({ now: clock.now, blocks: [BLOCK], createDelayMs: 10_000, removeDelayMs: 10_000, ...options });
  const call = (method: string, path: string, body = '', overrides: { timestamp?: number; secret?: string } = {}) => {
    const url = `${OVH_EU_BASE}${path}`;
    const headers = ovhSignedHeaders({
      applicationKey: DEFAULT_APP_KEY,
      applicationSecret: overrides.secret ?? DEFAULT_APP_SECRET,
      consumerKey: DEFAULT_CONSUMER_KEY,
      method,
      url,
      body,
      timestamp: overrides.timestamp ?? sim.serverSeconds(),
    });
    const response = sim.handle({ method, url, headers, timeoutMs: 1000, ...(body ? { body } : {}) });
    const text = Buffer.from(response.body).toString('utf8');
    return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
  return { clock, sim, call };
}

describe('OVH API simulator', () => {
  it('answers /auth/time unsigned with the skewed server clock as a bare integer', () => {
    // Prepare
    const { sim, clock } = setup({ serverSkewMs: 5_000 });

    // Act
    const response = sim.handle({ method: 'GET', url: `${OVH_EU_BASE}/auth/time`, timeoutMs: 1000 });

    // Assess
    expect(JSON.parse(Buffer.from(response.body).toString('utf8'))).toBe(Math.floor((clock.now() + 5_000) / 1000));
  });

  it('rejects a wrong signature and a stale timestamp with OVH error bodies, and counts them', () => {
    // Prepare
    const { sim, call } = setup();

    // Act
    const badSignature = call('GET', `/ip/${ENCODED}`, '', { secret: 'wrong' });
    const stale = call('GET', `/ip/${ENCODED}`, '', { timestamp: sim.serverSeconds() - 600 });
    const good = call('GET', `/ip/${ENCODED}`);

    // Assess
    expect(badSignature).toMatchObject({ status: 400, json: { errorCode: 'INVALID_SIGNATURE', message: 'Invalid signature' } });
    expect(stale).toMatchObject({ status: 400, json: { errorCode: 'QUERY_TIME_OUT', message: 'Query out of time' } });
    expect(good.status).toBe(200);
    expect(sim.counters).toMatchObject({ badSignatures: 1, staleTimestamps: 1 });
  });

  it('refuses a call whose access rule was revoked with NOT_GRANTED_CALL', () => {
    // Prepare
    const { sim, call } = setup();
    sim.revokeRule('DELETE', '/ip/*/mitigation/*');
    sim.operatorEnable(BLOCK, '203.0.113.10');

    // Act
    const response = call('DELETE', `/ip/${ENCODED}/mitigation/203.0.113.10`);

    // Assess
    expect(response).toMatchObject({ status: 403, json: { errorCode: 'NOT_GRANTED_CALL', message: 'This call has not been granted' } });
    expect(sim.counters.notGranted).toBe(1);
  });

  it('answers 404 to a block whose slash is not percent-encoded', () => {
    // Prepare
    const { sim, call } = setup();

    // Act
    const response = call('GET', '/ip/203.0.113.0/24/mitigation/203.0.113.10');

    // Assess
    expect(response.status).toBe(404);
    expect(sim.counters.unencodedPaths).toBe(1);
  });

  it('moves an entry creationPending → ok → removalPending → gone, and counts unneeded writes', () => {
    // Prepare
    const { clock, sim, call } = setup();
    const path = `/ip/${ENCODED}/mitigation/203.0.113.10`;

    // Act
    const created = call('POST', `/ip/${ENCODED}/mitigation`, '{"ipOnMitigation":"203.0.113.10"}');
    const again = call('POST', `/ip/${ENCODED}/mitigation`, '{"ipOnMitigation":"203.0.113.10"}');
    clock.advance(10_000);
    const ready = call('GET', path);
    const deleted = call('DELETE', path);
    clock.advance(10_000);
    const gone = call('GET', path);
    const deleteAgain = call('DELETE', path);

    // Assess
    expect(created.json).toEqual({ ipOnMitigation: '203.0.113.10', permanent: true, auto: false, state: 'creationPending' });
    expect(again.status).toBe(409);
    expect(ready.json.state).toBe('ok');
    expect(deleted.json.state).toBe('removalPending');
    expect(gone.status).toBe(404);
    expect(deleteAgain.status).toBe(404);
    expect(sim.counters.unneededWrites).toBe(2);
  });

  it("counts a DELETE of OVH's automatic entry as touching someone else's", () => {
    // Prepare
    const { sim, call } = setup();
    sim.autoMitigate(BLOCK, '203.0.113.10');

    // Act
    call('DELETE', `/ip/${ENCODED}/mitigation/203.0.113.10`);

    // Assess
    expect(sim.counters.deletesOfOthersEntries).toBe(1);
  });

  it('rate-limits with 429 + Retry-After and counts requests sent during the block', () => {
    // Prepare
    const { sim, call } = setup({ rateLimit: { max: 2, windowMs: 10_000 } });

    // Act
    call('GET', '/ip');
    call('GET', '/ip');
    const limited = call('GET', '/ip');
    const during = call('GET', '/ip');

    // Assess
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('10');
    expect(during.status).toBe(429);
    expect(sim.counters.requestsWhileRateLimited).toBe(1);
  });
});
