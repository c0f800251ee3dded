/**
 * The one-box relay's Prometheus metrics: counters fed by the intake and
 * the engine, gauges read from the store and the queue at each scrape.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SWITCH_KEY } from '../../lib/model/types.ts';
import { createPrometheusMetrics } from '../../lib/metrics/prometheus.ts';
import { SqliteJobQueue } from '../../lib/queue/sqlite.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The value of one sample line, e.g. `flowtriq_relay_active_blocks{integration="fw"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics', () => {
  it('counts webhooks and device requests, and reads incidents, blocks, overdue work, switches and the queue at scrape time', async () => {
    // Prepare: an active incident holding two addresses on fw (one on the device) and the switch; one queued event.
    const now = 1_800_000_000_000;
    const store = SqliteStateStore.open(':memory:');
    const queue = SqliteJobQueue.open(':memory:', { now: () => now });
    closers.push(() => store.close(), () => queue.close());
    await store.putIncident({ uuid: 'inc-1', status: 'active', lastEventAt: now, lastEventType: 'attack_start', firstSeenAt: now, updatedAt: now });
    await store.hold(
      [
        { incident: 'inc-1', integration: 'fw', key: '45.0.0.1', kind: 'ip', expiresAt: now + 3_600_000 },
        { incident: 'inc-1', integration: 'fw', key: '45.0.0.2', kind: 'ip', expiresAt: now + 3_600_000 },
        { incident: 'inc-1', integration: 'scrub', key: SWITCH_KEY, kind: 'switch', expiresAt: now + 3_600_000 },
      ],
      now - 10 * 60_000,
    );
    const [applied, switched] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.1' }, { integration: 'scrub', key: SWITCH_KEY }]);
    const done = { dueAt: null, attempts: 0, lastError: null, lastAttemptAt: now, actual: 'present' as const };
    await store.complete([{ ...done, integration: 'fw', key: '45.0.0.1', expectVersion: applied!.version }, { ...done, integration: 'scrub', key: SWITCH_KEY, expectVersion: switched!.version }], now);
    await queue.send({ groupId: 'inc-2', dedupId: 'd-1', body: '{}' });
    const metrics = createPrometheusMetrics({
      store,
      queue,
      integrations: [{ id: 'fw', kind: 'blocklist' }, { id: 'scrub', kind: 'switch' }, { id: 'waf', kind: 'blocklist' }],
      now: () => now,
    });

    // Act
    metrics.webhook('accepted', 0.003);
    metrics.webhook('accepted', 0.004);
    metrics.webhook('signature_mismatch', 0.001);
    metrics.deviceRequest('fw', 'add', 'ok', 0.2);
    metrics.driftRepair('fw', 'reassert', 2);
    const text = await metrics.render();

    // Assess
    expect(sample(text, 'flowtriq_relay_webhooks_total{outcome="accepted"}')).toBe(2);
    expect(sample(text, 'flowtriq_relay_webhooks_total{outcome="signature_mismatch"}')).toBe(1);
    expect(sample(text, 'flowtriq_relay_webhook_duration_seconds_count')).toBe(3);
    expect(sample(text, 'flowtriq_relay_device_requests_total{integration="fw",action="add",outcome="ok"}')).toBe(1);
    expect(sample(text, 'flowtriq_relay_drift_repairs_total{integration="fw",kind="reassert"}')).toBe(2);
    expect(sample(text, 'flowtriq_relay_active_incidents')).toBe(1);
    expect(sample(text, 'flowtriq_relay_active_blocks{integration="fw"}')).toBe(1);
    expect(sample(text, 'flowtriq_relay_active_blocks{integration="waf"}')).toBe(0);
    // The second address has been due for 10 minutes without the relay getting to it.
    expect(sample(text, 'flowtriq_relay_overdue_blocks')).toBe(1);
    expect(sample(text, 'flowtriq_relay_switch_active{integration="scrub"}')).toBe(1);
    expect(sample(text, 'flowtriq_relay_queue_depth')).toBe(1);
    expect(sample(text, 'flowtriq_relay_queue_oldest_age_seconds')).toBe(0);
    // No address and no incident in any label.
    expect(text).not.toMatch(/45\.0\.0\.|inc-1/);
  });
});
