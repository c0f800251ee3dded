import { SqliteStateStore } from '../../../lib/state/sqlite.ts';
import type { ProviderContext } from '../../../lib/providers/types.ts';
import { describe, expect, it } from 'vitest';
import { AbuseipdbAuthError, AbuseipdbConfigRejectedError } from '../../../lib/providers/abuseipdb/errors.ts';
import { AbuseipdbSimulator } from '../../simulators/abuseipdb/api.ts';
import { INCIDENT, OTHER_INCIDENT, ips, setup } from './harness.ts';

/** Counters the relay must keep at zero, whatever happens. */
function expectCarefulClient(simulator: AbuseipdbSimulator) {
  expect(simulator.counters.sameIpWithin15Min).toBe(0);
  expect(simulator.counters.privateAddressReports).toBe(0);
  expect(simulator.counters.afterQuotaExhausted).toBe(0);
  expect(simulator.counters.privateInComments).toBe(0);
  expect(simulator.counters.keyInQuery).toBe(0);
  expect(simulator.counters.missingAcceptJson).toBe(0);
  expect(simulator.counters.commentsTruncated).toBe(0);
}

describe('abuseipdb provider: add', () => {
  it('sends nothing and answers each entry with its first incident as ref', async () => {
    // Prepare
    const { provider, simulator, ctx, clock } = setup();
    const entries = [
      { ip: '45.9.0.1', expiresAt: clock.now() + 60_000, incidents: [INCIDENT, OTHER_INCIDENT] },
      { ip: '45.9.0.2', expiresAt: clock.now() + 60_000, incidents: [] },
    ];

    // Act
    const results = await provider.add(entries, ctx);

    // Assess
    expect(results).toEqual([
      { ip: '45.9.0.1', ok: true, ref: INCIDENT },
      { ip: '45.9.0.2', ok: true },
    ]);
    expect(simulator.counters.requests).toBe(0);
    expect(provider.maxIpsPerEvent).toBe(20);
    expect('list' in provider).toBe(false);
  });
});

describe('abuseipdb provider: remove reports', () => {
  it('reports each address once with category 4, the attack start as timestamp, via POST /report', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, clock } = setup();
    incident(INCIDENT);
    const start = new Date(clock.now() - 10 * 60_000).toISOString().slice(0, 19);

    // Act
    const results = await provider.remove(entries(ips(3)), ctx);

    // Assess
    expect(results).toEqual(ips(3).map((ip) => ({ ip, ok: true })));
    expect(simulator.reports.map((report) => report.ip)).toEqual(ips(3));
    for (const report of simulator.reports) {
      expect(report).toMatchObject({ categories: [4], via: 'report', timestamp: `${start}+00:00` });
    }
    expect(simulator.counters.bulkUploads).toBe(0);
    expect(provider.reportsToday).toBe(3);
    expectCarefulClient(simulator);
  });

  it('writes a comment with the vector, duration and peak rates and nothing private', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, incidents } = setup();
    incident(INCIDENT, { family: 'udp_flood', peakPps: 1_250_000, peakBps: 3_400_000_000 });
    // Whatever else the relay might know of the incident must not leak into the comment.
    Object.assign(incidents.get(INCIDENT)!, { title: 'fra-edge-01 under attack', nodeName: 'fra-edge-01', nodeIp: '185.10.20.30' });
    simulator.watchPrivate('fra-edge-01', '185.10.20.30', INCIDENT, 'under attack');

    // Act
    await provider.remove(entries(['45.9.0.1']), ctx);

    // Assess
    const comment = simulator.reports[0]!.comment;
    expect(comment).toBe(
      'DDoS attack source observed by Flowtriq (vector: udp_flood; duration: 10m 00s; peak: 1.25 Mpps, 3.40 Gbps). Reported automatically by flowtriq-relay.',
    );
    expect(comment.length).toBeLessThanOrEqual(1024);
    expectCarefulClient(simulator);
  });

  it('measures a still-running incident until now and drops unsafe characters from the vector', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, clock } = setup();
    incident(INCIDENT, { status: 'active', endedAt: undefined, family: 'syn<script>flood@node', peakBps: undefined });
    clock.advance(65 * 60_000);

    // Act
    await provider.remove(entries(['45.9.0.1']), ctx);

    // Assess
    expect(simulator.reports[0]!.comment).toBe(
      'DDoS attack source observed by Flowtriq (vector: syn script flood node; duration: 1h 15m 00s (still running when reported); peak: 1.25 Mpps). Reported automatically by flowtriq-relay.',
    );
  });

  it('uses the configured categories', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries } = setup({ categories: [4, 14] });
    incident(INCIDENT);

    // Act
    await provider.remove(entries(['45.9.0.1']), ctx);

    // Assess
    expect(simulator.reports[0]!.categories).toEqual([4, 14]);
  });

  it('finds the incident in incidents when a block carries no ref (added before this version)', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, clock } = setup();
    incident(INCIDENT);

    // Act
    await provider.remove([{ ip: '45.9.0.1', expiresAt: clock.now(), incidents: [INCIDENT] }], ctx);

    // Assess
    expect(simulator.reports).toHaveLength(1);
  });
});

describe('abuseipdb provider: never reports', () => {
  it('a sample incident of relay send-test', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger } = setup();
    incident(INCIDENT, { sample: true });

    // Act
    const results = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(simulator.counters.requests).toBe(0);
    expect(logger.messages()).toContain('abuseipdb: sample incident (relay send-test); not reported');
  });

  it('an incident the relay does not know, with a warning', async () => {
    // Prepare
    const { provider, simulator, ctx, entries, logger } = setup();

    // Act
    const results = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(simulator.counters.requests).toBe(0);
    expect(logger.lines.find((line) => line.level === 'warn')?.message).toBe('abuseipdb: incident unknown to the relay; not reported');
  });

  it('with dryRun: logs what would be reported and sends nothing', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger } = setup({ dryRun: true });
    incident(INCIDENT);

    // Act
    const results = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(simulator.counters.requests).toBe(0);
    const line = logger.lines.find((entry) => entry.message === 'abuseipdb dry-run: would report');
    expect(line?.attributes).toMatchObject({ ips: ips(2), categories: [4], via: 'report' });
    expect(String(line?.attributes.comment)).toMatch(/vector: udp_flood/);
  });

  it('a private or reserved address, with a warning', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries } = setup();
    incident(INCIDENT);

    // Act
    const results = await provider.remove(entries(['10.0.0.1', '192.0.2.7', 'fd00::1', '45.9.0.1']), ctx);

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(simulator.reports.map((report) => report.ip)).toEqual(['45.9.0.1']);
    expectCarefulClient(simulator);
  });

  it('the same (incident, address) twice, even after 15 minutes', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, clock } = setup();
    incident(INCIDENT);
    await provider.remove(entries(ips(2)), ctx);
    const requests = simulator.counters.requests;

    // Act
    const again = await provider.remove(entries(ips(2)), ctx);
    clock.advance(20 * 60_000);
    const later = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect(again.every((result) => result.ok)).toBe(true);
    expect(later.every((result) => result.ok)).toBe(true);
    expect(simulator.counters.requests).toBe(requests);
    expect(simulator.reportsOf('45.9.0.1')).toHaveLength(1);
    expectCarefulClient(simulator);
  });

  it('an address listed twice in one call', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries } = setup();
    incident(INCIDENT);

    // Act
    const results = await provider.remove(entries(['45.9.0.1', '45.9.0.1']), ctx);

    // Assess
    expect(results).toEqual([
      { ip: '45.9.0.1', ok: true },
      { ip: '45.9.0.1', ok: true },
    ]);
    expect(simulator.counters.requests).toBe(1);
  });
});

describe('abuseipdb provider: the 15-minute rule', () => {
  it('skips an address this process reported less than 15 minutes ago for another incident, and reports it after', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, clock, logger } = setup();
    incident(INCIDENT);
    await provider.remove(entries(['45.9.0.1']), ctx);
    clock.advance(5 * 60_000);
    incident(OTHER_INCIDENT);

    // Act
    const skipped = await provider.remove(entries(['45.9.0.1'], OTHER_INCIDENT), ctx);
    const requestsAfterSkip = simulator.counters.requests;
    clock.advance(11 * 60_000);
    incident('a1b2c3d4-0000-4000-8000-000000000003');
    const reported = await provider.remove(entries(['45.9.0.1'], 'a1b2c3d4-0000-4000-8000-000000000003'), ctx);

    // Assess
    expect(skipped).toEqual([{ ip: '45.9.0.1', ok: true }]);
    expect(requestsAfterSkip).toBe(1);
    expect(logger.messages()).toContain('abuseipdb: reported by this relay in the last 15 minutes; skipped');
    expect(reported).toEqual([{ ip: '45.9.0.1', ok: true }]);
    expect(simulator.reportsOf('45.9.0.1')).toHaveLength(2);
    expectCarefulClient(simulator);
  });

  it('answers ok without retrying when AbuseIPDB says the key reported the address in the last 15 minutes', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries } = setup();
    incident(INCIDENT);
    simulator.reportedElsewhere('45.9.0.1');

    // Act
    const results = await provider.remove(entries(['45.9.0.1', '45.9.0.2']), ctx);
    const again = await provider.remove(entries(['45.9.0.1']), ctx);

    // Assess
    expect(results).toEqual([
      { ip: '45.9.0.1', ok: true },
      { ip: '45.9.0.2', ok: true },
    ]);
    expect(again).toEqual([{ ip: '45.9.0.1', ok: true }]);
    expect(simulator.reportsOf('45.9.0.1')).toHaveLength(0);
    expect(simulator.reportsOf('45.9.0.2')).toHaveLength(1);
    expect(simulator.counters.requests).toBe(2);
    expectCarefulClient(simulator);
  });

  it('after a restart, a repeated remove within 15 minutes is refused by AbuseIPDB and answered ok: one report only', async () => {
    // Prepare
    const { provider, build, simulator, ctx, incident, entries, clock } = setup();
    incident(INCIDENT);
    await provider.remove(entries(['45.9.0.1']), ctx);
    clock.advance(2 * 60_000);
    const restarted = build();

    // Act
    const results = await restarted.remove(entries(['45.9.0.1']), ctx);

    // Assess
    expect(results).toEqual([{ ip: '45.9.0.1', ok: true }]);
    expect(simulator.reportsOf('45.9.0.1')).toHaveLength(1);
  });
});

describe('abuseipdb provider: topN', () => {
  it('reports at most topN addresses per incident, across calls, and holds topN per event', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger } = setup({ topN: 3 });
    incident(INCIDENT);

    // Act
    const first = await provider.remove(entries(ips(2)), ctx);
    const second = await provider.remove(entries(ips(3, 1)), ctx);

    // Assess
    expect(provider.maxIpsPerEvent).toBe(3);
    expect([...first, ...second].every((result) => result.ok)).toBe(true);
    expect(simulator.reports.map((report) => report.ip)).toEqual(['45.9.0.1', '45.9.0.2', '45.9.1.1']);
    expect(logger.messages()).toContain('abuseipdb: beyond topN for this incident; not reported');
  });
});

describe('abuseipdb provider: quotas and budget', () => {
  it('stops at X-RateLimit-Remaining 0, skips the rest with ok, logs one error with the reset time, and resumes after the reset', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger, clock } = setup();
    simulator.setUsage('report', 998);
    incident(INCIDENT);
    incident(OTHER_INCIDENT);

    // Act
    const results = await provider.remove(entries(ips(4)), ctx);
    const other = await provider.remove(entries(ips(2, 1), OTHER_INCIDENT), ctx);
    clock.set(Date.parse('2026-01-02T00:00:01Z'));
    incident('a1b2c3d4-0000-4000-8000-000000000003');
    const nextDay = await provider.remove(entries(['45.9.2.1'], 'a1b2c3d4-0000-4000-8000-000000000003'), ctx);

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(other.every((result) => result.ok)).toBe(true);
    expect(simulator.reports.map((report) => report.ip)).toEqual(['45.9.0.1', '45.9.0.2', '45.9.2.1']);
    const errors = logger.lines.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.attributes).toMatchObject({ endpoint: 'report', resetsAt: '2026-01-02T00:00:00.000Z', dailyLimit: 1000 });
    expect(nextDay).toEqual([{ ip: '45.9.2.1', ok: true }]);
    expectCarefulClient(simulator);
  });

  it('treats a 429 with X-RateLimit-Remaining 0 as the daily quota: the rest is skipped, nothing more is sent', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger } = setup();
    simulator.setUsage('report', 1000);
    incident(INCIDENT);

    // Act
    const results = await provider.remove(entries(ips(3)), ctx);
    const again = await provider.remove(entries(ips(2, 1)), ctx);

    // Assess
    expect([...results, ...again].every((result) => result.ok)).toBe(true);
    expect(simulator.counters.requests).toBe(1);
    expect(logger.lines.filter((line) => line.level === 'error')).toHaveLength(1);
    expectCarefulClient(simulator);
  });

  it('keeps within options.dailyBudget per UTC day, warning once, and starts again the next day', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger, clock } = setup({ dailyBudget: 3 });
    incident(INCIDENT);
    incident(OTHER_INCIDENT);

    // Act
    const results = await provider.remove(entries(ips(5)), ctx);
    await provider.remove(entries(ips(2, 1), OTHER_INCIDENT), ctx);
    clock.set(Date.parse('2026-01-02T08:00:00Z'));
    incident('a1b2c3d4-0000-4000-8000-000000000003');
    await provider.remove(entries(ips(2, 2), 'a1b2c3d4-0000-4000-8000-000000000003'), ctx);

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(simulator.reports.map((report) => report.ip)).toEqual(['45.9.0.1', '45.9.0.2', '45.9.0.3', '45.9.2.1', '45.9.2.2']);
    const warnings = logger.lines.filter((line) => line.message.startsWith('abuseipdb: options.dailyBudget reached'));
    expect(warnings.map((line) => line.level)).toEqual(['warn', 'debug']);
  });
});

describe('abuseipdb provider: a budget shared by several processes', () => {
  it('keeps options.dailyBudget across processes through the relay\'s shared counter (Lambda containers)', async () => {
    // Prepare: two processes (two providers) on one shared counter, as the reconciler gives them over one store.
    const { build, simulator, ctx, incident, entries } = setup({ dailyBudget: 4 });
    const store = SqliteStateStore.open(':memory:');
    const shared: ProviderContext = { ...ctx, counter: (name, amount, expiresAt) => store.addToCounter(`abuse:${name}`, amount, expiresAt) };
    const first = build();
    const second = build();
    incident(INCIDENT);
    incident(OTHER_INCIDENT);

    // Act
    await first.remove(entries(ips(3)), shared);
    await second.remove(entries(ips(3, 1), OTHER_INCIDENT), shared);
    await store.close();

    // Assess: 4 in all, not 3 + 3.
    expect(simulator.reports.map((report) => report.ip)).toEqual(['45.9.0.1', '45.9.0.2', '45.9.0.3', '45.9.1.1']);
  });
});

describe('abuseipdb provider: a crash after sending (write-ahead claims in the shared counter)', () => {
  function sharedCounter(ctx: ProviderContext) {
    const store = SqliteStateStore.open(':memory:');
    const shared: ProviderContext = { ...ctx, counter: (name, amount, expiresAt) => store.addToCounter(`abuse:${name}`, amount, expiresAt) };
    return { store, shared };
  }

  it('a restarted process retrying the same removal an hour later reports nothing again for that incident', async () => {
    // Prepare: the first process sent the reports and died before recording them.
    const { provider, build, simulator, ctx, incident, entries, clock } = setup();
    const { store, shared } = sharedCounter(ctx);
    incident(INCIDENT);
    await provider.remove(entries(ips(3)), shared);
    clock.advance(60 * 60_000);
    const restarted = build();

    // Act
    const results = await restarted.remove(entries(ips(3)), shared);
    await store.close();

    // Assess: AbuseIPDB's 15-minute rule would have let a second report through.
    expect(results).toEqual(ips(3).map((ip) => ({ ip, ok: true })));
    expect(simulator.reports.map((report) => report.ip)).toEqual(ips(3));
    expectCarefulClient(simulator);
  });

  it('still reports the same address for another incident', async () => {
    // Prepare
    const { provider, build, simulator, ctx, incident, entries, clock } = setup();
    const { store, shared } = sharedCounter(ctx);
    incident(INCIDENT);
    incident(OTHER_INCIDENT);
    await provider.remove(entries(['45.9.0.1']), shared);
    clock.advance(60 * 60_000);

    // Act
    await build().remove(entries(['45.9.0.1'], OTHER_INCIDENT), shared);
    await store.close();

    // Assess
    expect(simulator.reportsOf('45.9.0.1')).toHaveLength(2);
  });

  it('releases the claims when AbuseIPDB saved nothing (rate limit, 5xx), so the retry reports them', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, clock } = setup();
    const { store, shared } = sharedCounter(ctx);
    incident(INCIDENT);
    simulator.failNext({ endpoint: 'report', status: 429, headers: { 'retry-after': '30', 'x-ratelimit-remaining': '900' }, body: { errors: [{ detail: 'Too Many Attempts.', status: 429 }] } });

    // Act
    const limited = await provider.remove(entries(ips(2)), shared);
    clock.advance(30_000);
    simulator.failNext({ endpoint: 'report', status: 502 });
    const failed = await provider.remove(entries(ips(2)), shared);
    const retried = await provider.remove(entries(ips(2)), shared);
    await store.close();

    // Assess
    expect([limited, failed].map((results) => results.map((result) => result.ok))).toEqual([[false, false], [false, false]]);
    expect(retried).toEqual(ips(2).map((ip) => ({ ip, ok: true })));
    expect(simulator.reports.map((report) => report.ip)).toEqual(ips(2));
    expectCarefulClient(simulator);
  });
});

describe('abuseipdb provider: bulk reports', () => {
  it('sends an incident with more than bulkThreshold addresses as one CSV upload', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, clock } = setup();
    incident(INCIDENT);
    const addresses = ips(12);

    // Act
    const results = await provider.remove(entries(addresses), ctx);

    // Assess
    expect(results).toEqual(addresses.map((ip) => ({ ip, ok: true })));
    expect(simulator.counters.bulkUploads).toBe(1);
    expect(simulator.usage('report')).toBe(0);
    expect(simulator.reports).toHaveLength(12);
    const start = new Date(clock.now() - 10 * 60_000).toISOString().slice(0, 19);
    expect(simulator.reports[0]).toMatchObject({ via: 'bulk-report', categories: [4], timestamp: `${start}+00:00` });
    expect(simulator.reports[0]!.comment).toMatch(/^DDoS attack source observed by Flowtriq \(vector: udp_flood; /);
    expect(provider.reportsToday).toBe(12);
    expectCarefulClient(simulator);
  });

  it('reads invalidReports per address: a duplicate counts as reported, a refused row is not retried', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger } = setup({ bulkThreshold: 2 });
    incident(INCIDENT);
    simulator.reportedElsewhere('45.9.0.2');
    simulator.failNext({
      endpoint: 'bulk-report',
      status: 200,
      body: { data: { savedReports: 2, invalidReports: [{ error: 'Duplicate IP', input: '45.9.0.2', rowNumber: 3 }, { error: 'Invalid Category', input: '45.9.0.4', rowNumber: 5 }] } },
    });

    // Act
    const results = await provider.remove(entries(ips(4)), ctx);
    const again = await provider.remove(entries(ips(4)), ctx);

    // Assess
    expect([...results, ...again].every((result) => result.ok)).toBe(true);
    expect(simulator.counters.requests).toBe(1);
    expect(provider.reportsToday).toBe(2);
    const warning = logger.lines.find((line) => line.message === 'abuseipdb: AbuseIPDB refused some rows of the bulk report; not retried');
    expect(warning?.attributes.refused).toEqual([{ ip: '45.9.0.4', error: 'Invalid Category' }]);
  });

  it('falls back to one report per address when the bulk-report quota is used up', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, logger } = setup({ bulkThreshold: 2 });
    simulator.setUsage('bulk-report', 5);
    incident(INCIDENT);
    incident(OTHER_INCIDENT);

    // Act
    const results = await provider.remove(entries(ips(3)), ctx);
    const other = await provider.remove(entries(ips(3, 1), OTHER_INCIDENT), ctx);

    // Assess
    expect([...results, ...other].every((result) => result.ok)).toBe(true);
    expect(simulator.reports.map((report) => report.via)).toEqual(Array(6).fill('report'));
    expect(simulator.usage('bulk-report')).toBe(5);
    expect(logger.lines.filter((line) => line.level === 'error').map((line) => line.attributes.endpoint)).toEqual(['bulk-report']);
    expectCarefulClient(simulator);
  });

  it('answers ok:false for every address when the upload fails (5xx), and reports them on the retry', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries } = setup({ bulkThreshold: 2 });
    incident(INCIDENT);
    simulator.failNext({ endpoint: 'bulk-report', status: 503 });

    // Act
    const failed = await provider.remove(entries(ips(3)), ctx);
    const retried = await provider.remove(entries(ips(3)), ctx);

    // Assess
    expect(failed.every((result) => !result.ok)).toBe(true);
    expect(retried.every((result) => result.ok)).toBe(true);
    expect(simulator.reports).toHaveLength(3);
  });
});

describe('abuseipdb provider: failures', () => {
  it('answers a plain rate limit with ok:false and Retry-After, sends nothing until it has passed, then reports', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries, clock } = setup();
    incident(INCIDENT);
    simulator.failNext({ endpoint: 'report', status: 429, headers: { 'retry-after': '30', 'x-ratelimit-remaining': '900' }, body: { errors: [{ detail: 'Too Many Attempts.', status: 429 }] } });

    // Act
    const limited = await provider.remove(entries(ips(2)), ctx);
    const early = await provider.remove(entries(ips(2)), ctx);
    const requestsBefore = simulator.counters.requests;
    clock.advance(30_000);
    const later = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect(limited).toEqual(ips(2).map((ip) => expect.objectContaining({ ip, ok: false, retryAfterMs: 30_000 })));
    expect(early).toEqual(ips(2).map((ip) => expect.objectContaining({ ip, ok: false, retryAfterMs: 30_000 })));
    expect(requestsBefore).toBe(1);
    expect(later).toEqual(ips(2).map((ip) => ({ ip, ok: true })));
    expect(simulator.reports).toHaveLength(2);
    expectCarefulClient(simulator);
  });

  it('answers a 5xx with ok:false for that address and the rest, and reports them on the retry', async () => {
    // Prepare
    const { provider, simulator, ctx, incident, entries } = setup();
    incident(INCIDENT);
    simulator.failNext({ endpoint: 'report', status: 502 });

    // Act
    const failed = await provider.remove(entries(ips(2)), ctx);
    const retried = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect(failed.map((result) => result.ok)).toEqual([false, false]);
    expect(failed[0]).toMatchObject({ error: expect.stringMatching(/answered 502/) });
    expect(retried.map((result) => result.ok)).toEqual([true, true]);
    expect(simulator.reports).toHaveLength(2);
  });

  it('answers a broken connection with ok:false (retryable)', async () => {
    // Prepare
    const { provider, ctx, incident, entries, simulator } = setup();
    incident(INCIDENT);
    const original = simulator.transport.request;
    let calls = 0;
    simulator.transport.request = async (request) => {
      calls += 1;
      if (calls === 1) throw new Error('socket hang up');
      return original(request);
    };

    // Act
    const results = await provider.remove(entries(ips(2)), ctx);
    const retried = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect(results).toEqual([
      expect.objectContaining({ ip: '45.9.0.1', ok: false, error: expect.stringMatching(/socket hang up/) }),
      expect.objectContaining({ ip: '45.9.0.2', ok: false, error: expect.stringMatching(/not sent after AbuseIPDB failed/) }),
    ]);
    expect(retried.map((result) => result.ok)).toEqual([true, true]);
    expect(simulator.reports).toHaveLength(2);
  });

  it('throws a clear error naming secrets.apiKey (and never the key) on 401', async () => {
    // Prepare
    const { provider, ctx, incident, entries, simulator } = setup({}, {}, 'wrong-key-value-123');
    incident(INCIDENT);

    // Act
    const failure = await provider.remove(entries(['45.9.0.1']), ctx).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(AbuseipdbAuthError);
    expect((failure as AbuseipdbAuthError).retryable).toBe(false);
    expect((failure as Error).message).toMatch(/secrets\.apiKey was refused/);
    expect((failure as Error).message).toMatch(/Key header/);
    expect((failure as Error).message).not.toContain('wrong-key-value-123');
    expect(simulator.counters.authFailures).toBe(1);
  });

  it('throws a configuration error when AbuseIPDB refuses the categories', async () => {
    // Prepare
    const { provider, ctx, incident, entries, simulator } = setup();
    incident(INCIDENT);
    simulator.failNext({ endpoint: 'report', status: 422, body: { errors: [{ detail: 'The categories are invalid.', status: 422, source: { parameter: 'categories' } }] } });

    // Act
    const failure = await provider.remove(entries(['45.9.0.1']), ctx).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(AbuseipdbConfigRejectedError);
    expect((failure as Error).message).toMatch(/options\.categories/);
  });

  it('answers ok and does not retry when AbuseIPDB refuses one address (422 on ip)', async () => {
    // Prepare
    const { provider, ctx, incident, entries, simulator, logger } = setup();
    incident(INCIDENT);
    simulator.failNext({ endpoint: 'report', status: 422, body: { errors: [{ detail: 'The ip is invalid.', status: 422, source: { parameter: 'ip' } }] } });

    // Act
    const results = await provider.remove(entries(ips(2)), ctx);
    const again = await provider.remove(entries(ips(2)), ctx);

    // Assess
    expect([...results, ...again].every((result) => result.ok)).toBe(true);
    expect(simulator.reports.map((report) => report.ip)).toEqual(['45.9.0.2']);
    expect(logger.messages()).toContain('abuseipdb: AbuseIPDB refused the report; not retried');
  });
});

describe('abuseipdb provider: health check', () => {
  it('calls GET /check with the Key header and says it costs check quota', async () => {
    // Prepare
    const { provider, ctx, simulator } = setup();

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(true);
    expect(health.detail).toMatch(/check quota/);
    expect(simulator.usage('check')).toBe(1);
    expect(simulator.usage('report')).toBe(0);
    expectCarefulClient(simulator);
  });

  it('reports a refused key as unhealthy, naming secrets.apiKey', async () => {
    // Prepare
    const { provider, ctx } = setup({}, {}, 'not-a-key');

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/secrets\.apiKey was refused/);
    expect(health.detail).not.toContain('not-a-key');
  });
});
