/**
 * The crowdsec provider against the strict LAPI simulator: what the real
 * LAPI cannot show on demand (token expiry on a manual clock, 429, 5xx, a
 * version without the scenario filter on DELETE, the current version).
 * The real LAPI is exercised in lapi.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CrowdsecClient } from '../../../lib/providers/crowdsec/client.ts';
import { CrowdsecLoginError } from '../../../lib/providers/crowdsec/errors.ts';
import { formatGoDuration, parseGoDuration } from '../../../lib/providers/crowdsec/model.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { CrowdsecLapiSimulator, SIM_MACHINE, SIM_PASSWORD, SIM_URL } from '../../simulators/crowdsec/lapi.ts';
import { HOUR, INCIDENT, setup } from './harness.ts';

let current: ReturnType<typeof setup> | undefined;
function start(...args: Parameters<typeof setup>) {
  current = setup(...args);
  return current;
}
afterEach(() => {
  // Whatever a test did, the relay never wiped, touched someone else's decision or used an expired token.
  if (current) {
    expect(current.simulator.flags.unfilteredDeletes).toBe(0);
    expect(current.simulator.flags.foreignDecisionsTouched).toBe(0);
    expect(current.simulator.flags.expiredTokenUsed).toBe(0);
    expect(current.simulator.flags.badUserAgents).toBe(0);
  }
  current = undefined;
});

describe('add', () => {
  it('pushes one alert per batch, one ban per address, with the remaining TTL as a Go duration', async () => {
    // Prepare
    const { provider, simulator, ctx, block, clock } = start();
    const entries = [block('198.51.100.1', HOUR + 1_500), block('2001:db8::1', 90 * 60_000)];
    // Act
    const results = await provider.add(entries, ctx);
    // Assess
    expect(results).toEqual([
      { ip: '198.51.100.1', ok: true },
      { ip: '2001:db8::1', ok: true },
    ]);
    expect(simulator.alerts).toHaveLength(1);
    expect(simulator.alerts[0]).toMatchObject({ scenario: 'flowtriq-relay/cs1', machine: SIM_MACHINE });
    expect(simulator.alerts[0]!.message).toContain(INCIDENT);
    const [v4, v6] = simulator.decisions;
    expect(v4).toMatchObject({ origin: 'flowtriq-relay', scenario: 'flowtriq-relay/cs1', type: 'ban', scope: 'Ip', value: '198.51.100.1' });
    expect(v4!.until - clock.now()).toBe(HOUR + 2_000); // 1 h 1.5 s, rounded up to whole seconds
    expect(v6!.until - clock.now()).toBe(90 * 60_000);
    expect(simulator.flags.duplicateDecisions).toBe(0);
  });

  it('sends nothing for a block whose TTL is already over', async () => {
    // Prepare
    const { provider, simulator, ctx, block } = start();
    // Act
    const results = await provider.add([block('198.51.100.2', -1)], ctx);
    // Assess
    expect(results).toEqual([{ ip: '198.51.100.2', ok: true }]);
    expect(simulator.requests).toEqual([]);
  });

  it('reports an address it cannot parse and still pushes the others', async () => {
    // Prepare
    const { provider, relayActive, ctx, block } = start();
    // Act
    const results = await provider.add([block('not-an-ip'), block('198.51.100.3')], ctx);
    // Assess
    expect(results[0]).toMatchObject({ ip: 'not-an-ip', ok: false });
    expect(results[1]).toEqual({ ip: '198.51.100.3', ok: true });
    expect(relayActive().map((decision) => decision.value)).toEqual(['198.51.100.3']);
  });

  it('sends POST /v1/alerts once on an unclear failure; the resumed retry looks first and does not duplicate', async () => {
    // Prepare: the alert lands, but the answer is lost (a proxy answers 503).
    const { provider, simulator, ctx, block, relayActive } = start();
    const entry = block('198.51.100.4');
    await provider.add([block('198.51.100.99')], ctx); // logged in, one unrelated decision
    simulator.failNext(503, { match: 'POST /v1/alerts' });
    // Act
    const failure = await provider.add([entry], ctx).catch((error: unknown) => error);
    const pushesAfterFailure = simulator.requests.filter((r) => r.startsWith('POST /v1/alerts')).length;
    await provider.add([{ ...entry, resumed: true }], ctx); // not there: pushed now
    const again = await provider.add([{ ...entry, resumed: true }], ctx); // there: not pushed again
    // Assess
    expect(failure).toBeInstanceOf(ProviderError);
    expect((failure as ProviderError).retryable).toBe(true);
    expect(pushesAfterFailure).toBe(2);
    expect(again).toEqual([{ ip: '198.51.100.4', ok: true }]);
    expect(relayActive('198.51.100.4')).toHaveLength(1);
    expect(simulator.flags.duplicateDecisions).toBe(0);
  });

  it('pushes a resumed block again when the relay\'s decision would end too early, replacing the shorter one', async () => {
    // Prepare: a 10-minute decision already there, the block now lasts an hour.
    const { provider, ctx, block, relayActive } = start();
    await provider.add([block('198.51.100.5', 10 * 60_000)], ctx);
    const before = relayActive('198.51.100.5');
    // Act
    await provider.add([block('198.51.100.5', HOUR, { resumed: true })], ctx);
    // Assess: one decision, the longer one.
    const after = relayActive('198.51.100.5');
    expect(after).toHaveLength(1);
    expect(after[0]!.until).toBeGreaterThan(before[0]!.until + 45 * 60_000);
  });
});

describe('remove', () => {
  it('expires only the relay\'s decisions with a filtered DELETE (scenario, origin, ip, type, scopes)', async () => {
    // Prepare: the operator bans the same address and another one.
    const { provider, simulator, ctx, block } = start();
    simulator.addOperatorDecision('198.51.100.10');
    simulator.addOperatorDecision('198.51.100.11');
    await provider.add([block('198.51.100.10')], ctx);
    // Act
    const results = await provider.remove([block('198.51.100.10'), block('198.51.100.11')], ctx);
    // Assess
    expect(results).toEqual([
      { ip: '198.51.100.10', ok: true },
      { ip: '198.51.100.11', ok: true },
    ]);
    const deletes = simulator.requests.filter((r) => r.startsWith('DELETE'));
    expect(deletes).toHaveLength(2);
    for (const request of deletes) {
      const query = new URL(`http://x${request.slice('DELETE '.length)}`).searchParams;
      expect(query.get('scenario')).toBe('flowtriq-relay/cs1');
      expect(query.get('origin')).toBe('flowtriq-relay');
      expect(query.get('scopes')).toBe('Ip');
      expect(query.has('scope')).toBe(false);
    }
    expect(simulator.active().map((decision) => [decision.origin, decision.value])).toEqual([
      ['cscli', '198.51.100.10'],
      ['cscli', '198.51.100.11'],
    ]);
    expect(provider.deleteMode).toBe('filter');
  });

  it('on the current LAPI version the same filtered DELETE works', async () => {
    // Prepare
    const { provider, ctx, block, relayActive } = start({ version: 'current' });
    await provider.add([block('198.51.100.12')], ctx);
    // Act
    const results = await provider.remove([block('198.51.100.12')], ctx);
    // Assess
    expect(results).toEqual([{ ip: '198.51.100.12', ok: true }]);
    expect(relayActive()).toEqual([]);
    expect(provider.deleteMode).toBe('filter');
  });

  it('falls back to deleting by decision id when the LAPI does not know the scenario filter, and stays there', async () => {
    // Prepare: an older LAPI whose DELETE /v1/decisions has no `scenario` key.
    const { provider, simulator, ctx, block, relayActive, logger } = start({ version: '1.3' });
    simulator.addOperatorDecision('198.51.100.20');
    await provider.add([block('198.51.100.20'), block('198.51.100.21'), block('198.51.100.22')], ctx);
    // Act
    const first = await provider.remove([block('198.51.100.20'), block('198.51.100.21')], ctx);
    const filteredBefore = simulator.requests.filter((r) => r.startsWith('DELETE /v1/decisions?')).length;
    const second = await provider.remove([block('198.51.100.22')], ctx);
    const filteredAfter = simulator.requests.filter((r) => r.startsWith('DELETE /v1/decisions?')).length;
    // Assess
    expect([...first, ...second].every((result) => result.ok)).toBe(true);
    expect(provider.deleteMode).toBe('by-id');
    expect(filteredAfter).toBe(filteredBefore); // no more filtered attempts once known unsupported
    expect(simulator.requests.filter((r) => /^DELETE \/v1\/decisions\/\d+$/.test(r))).toHaveLength(3);
    expect(relayActive()).toEqual([]);
    expect(simulator.active().map((decision) => decision.origin)).toEqual(['cscli']);
    expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
      expect.stringContaining('removing the relay\'s decisions by id'),
    ]);
  });

  it('waits as long as a 429 asks, then deletes', async () => {
    // Prepare
    const { provider, simulator, ctx, block, sleeps, relayActive } = start();
    await provider.add([block('198.51.100.30')], ctx);
    simulator.failNext(429, { retryAfter: '7', match: 'DELETE /v1/decisions' });
    // Act
    const results = await provider.remove([block('198.51.100.30')], ctx);
    // Assess
    expect(results).toEqual([{ ip: '198.51.100.30', ok: true }]);
    expect(sleeps).toEqual([7_000]);
    expect(relayActive()).toEqual([]);
  });

  it('reports a failure for the address whose DELETE keeps failing, with the wait asked for', async () => {
    // Prepare: a proxy keeps answering 429 for longer than the operation's budget.
    const { provider, simulator, ctx, block } = start({}, { timeout: '1s' });
    await provider.add([block('198.51.100.31')], ctx);
    simulator.failNext(429, { retryAfter: '120', match: 'DELETE /v1/decisions', times: 5 });
    // Act
    const [result] = await provider.remove([block('198.51.100.31')], ctx);
    // Assess
    expect(result).toMatchObject({ ip: '198.51.100.31', ok: false, retryAfterMs: 120_000 });
  });

  it('never sends DELETE /v1/decisions without the relay\'s scenario, origin and address', async () => {
    // Prepare
    const clock = new ManualClock();
    const simulator = new CrowdsecLapiSimulator({ now: clock.now });
    const client = new CrowdsecClient({ label: 'crowdsec t', baseUrl: SIM_URL, machineId: SIM_MACHINE, password: SIM_PASSWORD, transport: simulator.transport, timeoutMs: 1_000, now: clock.now, sleep: async () => {} });
    const op = { signal: new AbortController().signal, logger: new RecordingLogger(), deadline: clock.now() + 60_000 };
    // Act
    const attempts = await Promise.all([
      client.expireRelayDecisions(op, { scenario: '', origin: 'flowtriq-relay', ip: '198.51.100.1' }).catch((error: unknown) => error),
      client.expireRelayDecisions(op, { scenario: 'flowtriq-relay/cs1', origin: ' ', ip: '198.51.100.1' }).catch((error: unknown) => error),
      client.expireRelayDecisions(op, { scenario: 'flowtriq-relay/cs1', origin: 'flowtriq-relay', ip: '' }).catch((error: unknown) => error),
      client.expireRelayDecisions(op, { scenario: 'flowtriq-relay/cs1' } as never).catch((error: unknown) => error),
    ]);
    // Assess
    for (const attempt of attempts) expect(attempt).toBeInstanceOf(Error);
    expect(simulator.requests.filter((r) => r.startsWith('DELETE'))).toEqual([]);
    expect(simulator.flags.unfilteredDeletes).toBe(0);
  });
});

describe('list', () => {
  it('reports exactly the relay\'s active decisions, once per address, all owned', async () => {
    // Prepare: the operator's decision, the relay's, one that expired.
    const { provider, simulator, ctx, block, clock } = start();
    simulator.addOperatorDecision('198.51.100.40');
    await provider.add([block('198.51.100.41'), block('2001:db8::41'), block('198.51.100.42', 60_000)], ctx);
    await provider.add([block('198.51.100.41', 2 * HOUR, { resumed: true })], ctx); // a second, longer decision
    clock.advance(2 * 60_000);
    // Act
    const listed = await provider.list(ctx);
    // Assess
    expect(listed.map(({ ip, owned }) => ({ ip, owned })).sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '198.51.100.41', owned: true },
      { ip: '2001:db8::41', owned: true },
    ]);
  });

  it('reads the LAPI\'s `null` (nothing matches) as an empty list', async () => {
    // Prepare
    const { provider, ctx } = start();
    // Act
    const listed = await provider.list(ctx);
    // Assess
    expect(listed).toEqual([]);
  });

  it('retries a LAPI failure (500 database is locked) within the budget', async () => {
    // Prepare
    const { provider, simulator, ctx, block } = start();
    await provider.add([block('198.51.100.43')], ctx);
    simulator.failNext(500, { message: 'database is locked', match: 'GET /v1/alerts' });
    // Act
    const listed = await provider.list(ctx);
    // Assess
    expect(listed.map((entry) => entry.ip)).toEqual(['198.51.100.43']);
  });
});

describe('token', () => {
  it('logs in again shortly before the token expires, never sending an expired one', async () => {
    // Prepare
    const { provider, simulator, ctx, clock } = start();
    await provider.list(ctx);
    // Act
    clock.advance(50 * 60_000);
    await provider.list(ctx); // still valid: no login
    clock.advance(6 * 60_000); // 56 min: within the renewal margin
    await provider.list(ctx);
    clock.advance(3 * HOUR); // long idle: the token is long dead
    await provider.list(ctx);
    // Assess
    expect(simulator.requests.filter((r) => r === 'POST /v1/watchers/login')).toHaveLength(3);
    expect(simulator.flags.expiredTokenUsed).toBe(0);
  });

  it('logs in again once when a token is refused (LAPI restarted), then carries on', async () => {
    // Prepare
    const { provider, simulator, ctx, block, relayActive } = start();
    await provider.add([block('198.51.100.50')], ctx);
    simulator.restart();
    // Act
    const results = await provider.remove([block('198.51.100.50')], ctx);
    // Assess
    expect(results).toEqual([{ ip: '198.51.100.50', ok: true }]);
    expect(simulator.requests.filter((r) => r === 'POST /v1/watchers/login')).toHaveLength(2);
    expect(relayActive()).toEqual([]);
  });

  it('shares one login between concurrent calls', async () => {
    // Prepare: logged in, then the LAPI restarts.
    const { provider, simulator, ctx } = start();
    await provider.list(ctx);
    simulator.restart();
    // Act: two calls at once, both refused.
    await Promise.all([provider.list(ctx), provider.list(ctx), provider.list(ctx)]);
    // Assess: the first login and exactly one more.
    expect(simulator.requests.filter((r) => r === 'POST /v1/watchers/login')).toHaveLength(2);
  });

  it('fails the whole batch with the fix when the password is wrong, without the password', async () => {
    // Prepare
    const { provider, ctx, block } = start({}, {}, 'not-the-password');
    // Act
    const failure = await provider.add([block('198.51.100.70')], ctx).catch((error: unknown) => error);
    const health = await provider.healthCheck(ctx);
    // Assess
    expect(failure).toBeInstanceOf(CrowdsecLoginError);
    expect((failure as CrowdsecLoginError).retryable).toBe(false);
    expect((failure as CrowdsecLoginError).status).toBe(401);
    expect((failure as Error).message).toContain('secrets.password');
    expect((failure as Error).message).not.toContain('not-the-password');
    expect(health).toMatchObject({ ok: false });
  });

  it('names the cscli command when the machine is not validated', async () => {
    // Prepare
    const { provider, simulator, ctx } = start();
    simulator.machines.get(SIM_MACHINE)!.validated = false;
    // Act
    const health = await provider.healthCheck(ctx);
    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toContain(`cscli machines validate ${SIM_MACHINE}`);
  });
});

describe('errors', () => {
  it('reads 1.4.x\'s validation 500 as a rejection that retrying cannot fix', async () => {
    // Prepare
    const { provider, simulator, ctx, block } = start();
    simulator.failNext(500, { message: 'validation failure list:\n0.scenario_hash in body is required', match: 'POST /v1/alerts' });
    // Act
    const failure = await provider.add([block('198.51.100.80')], ctx).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(ProviderError);
    expect((failure as ProviderError).retryable).toBe(false);
    expect((failure as ProviderError).message).toContain('1.4.x reports invalid input as 500');
    expect(simulator.requests.filter((r) => r.startsWith('POST /v1/alerts'))).toHaveLength(1);
  });

  it('reports a 2xx that is not the LAPI\'s answer as a wrong URL', async () => {
    // Prepare: something else answers GET /v1/alerts with HTML.
    const clock = new ManualClock();
    const simulator = new CrowdsecLapiSimulator({ now: clock.now });
    const client = new CrowdsecClient({
      label: 'crowdsec t',
      baseUrl: SIM_URL,
      machineId: SIM_MACHINE,
      password: SIM_PASSWORD,
      transport: {
        request: async (request) =>
          request.url.includes('/v1/alerts') ? { status: 200, headers: {}, body: new TextEncoder().encode('<html>hello</html>') } : simulator.transport.request(request),
      },
      timeoutMs: 1_000,
      now: clock.now,
      sleep: async () => {},
    });
    const op = { signal: new AbortController().signal, logger: new RecordingLogger(), deadline: clock.now() + 60_000 };
    // Act
    const failure = await client.alertDecisions(op, 'flowtriq-relay/cs1').catch((error: unknown) => error);
    // Assess
    expect((failure as Error).message).toContain('check options.url');
  });
});

describe('Go durations', () => {
  it('formats whole seconds, rounded up, and parses the LAPI\'s remaining times', () => {
    // Prepare / Act / Assess
    expect(formatGoDuration(5_400_000)).toBe('1h30m');
    expect(formatGoDuration(3_599_001)).toBe('1h');
    expect(formatGoDuration(7_205_000)).toBe('2h5s');
    expect(formatGoDuration(10)).toBe('1s');
    expect(parseGoDuration('59m58.562728211s')).toBeCloseTo(3_598_562.728, 2);
    expect(parseGoDuration('-23.440879ms')).toBeCloseTo(-23.44, 2);
    expect(parseGoDuration('1h29m35.3s')).toBe(5_375_300);
    expect(parseGoDuration('1d')).toBeUndefined();
  });
});
