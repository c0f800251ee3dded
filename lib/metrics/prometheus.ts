/**
 * Prometheus metrics of the one-box relay (`GET /metrics`), on prom-client:
 * counters and histograms fed by the intake and the engine, and gauges read
 * from the store and the queue at each scrape. A registry of its own (not
 * prom-client's global one), with Node's process metrics.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueStats } from '../queue/types.ts';
import type { StateStore } from '../state/types.ts';
import { collectStateGauges } from './gauges.ts';
import { METRIC } from './names.ts';
import type { RelayMetrics } from './types.ts';

export interface PrometheusSources {
  store: StateStore;
  queue: { stats(): Promise<QueueStats> };
  integrations: readonly { id: string; kind: 'blocklist' | 'switch' }[];
  now: () => number;
}

export interface PrometheusMetrics extends RelayMetrics {
  /** The scrape: text exposition format. */
  render(): Promise<string>;
  readonly contentType: string;
  /** The integrations the per-integration gauges list (known only once the engine is built). */
  setIntegrations(integrations: PrometheusSources['integrations']): void;
}

export function createPrometheusMetrics(sources: PrometheusSources): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const webhooks = new Counter({ name: METRIC.webhooks, help: 'Webhooks answered, by outcome.', labelNames: ['outcome'], registers: [registry] });
  const webhookDuration = new Histogram({
    name: METRIC.webhookDuration,
    help: 'Time from receiving a webhook to answering it (verify, validate, enqueue).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const deviceRequests = new Counter({
    name: METRIC.deviceRequests,
    help: 'Calls to devices and cloud APIs (one per batch), by integration, action and outcome.',
    labelNames: ['integration', 'action', 'outcome'],
    registers: [registry],
  });
  const deviceDuration = new Histogram({
    name: METRIC.deviceRequestDuration,
    help: 'Time one call to a device or cloud API took, by integration and action.',
    labelNames: ['integration', 'action'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const driftRepairs = new Counter({
    name: METRIC.driftRepairs,
    help: 'Blocks re-asserted (missing from the device) and relay entries removed (held by no incident) by drift repair.',
    labelNames: ['integration', 'kind'],
    registers: [registry],
  });
  let integrationIds = sources.integrations.map((integration) => integration.id);
  let switchIds = sources.integrations.filter((integration) => integration.kind === 'switch').map((integration) => integration.id);
  // Read once per scrape, shared by the state gauges.
  let pending: ReturnType<typeof collectStateGauges> | undefined;
  const stateGauges = () => (pending ??= collectStateGauges(sources.store, integrationIds, sources.now()).finally(() => setTimeout(() => (pending = undefined), 0)));
  new Gauge({
    name: METRIC.activeIncidents,
    help: 'Incidents the relay is acting on.',
    registers: [registry],
    async collect() {
      this.set((await stateGauges()).activeIncidents);
    },
  });
  new Gauge({
    name: METRIC.activeBlocks,
    help: 'Addresses on the device (or in flight to it), per blocklist integration.',
    labelNames: ['integration'],
    registers: [registry],
    async collect() {
      const { activeBlocks } = await stateGauges();
      for (const [integration, count] of activeBlocks) {
        if (!switchIds.includes(integration)) this.set({ integration }, count);
      }
    },
  });
  new Gauge({
    name: METRIC.overdueBlocks,
    help: 'Blocks whose work is due for more than 5 minutes, or that failed 3 times in a row.',
    registers: [registry],
    async collect() {
      this.set((await stateGauges()).overdueBlocks);
    },
  });
  new Gauge({
    name: METRIC.switchActive,
    help: '1 while the switch integration is on (or being switched on), else 0.',
    labelNames: ['integration'],
    registers: [registry],
    async collect() {
      const { switches } = await stateGauges();
      for (const integration of switchIds) this.set({ integration }, switches.get(integration) ?? 0);
    },
  });
  let queueStats: Promise<QueueStats> | undefined;
  const stats = () => (queueStats ??= sources.queue.stats().finally(() => setTimeout(() => (queueStats = undefined), 0)));
  new Gauge({
    name: METRIC.queueDepth,
    help: 'Events waiting in the queue (visible and in flight).',
    registers: [registry],
    async collect() {
      const s = await stats();
      this.set(s.visible + s.inFlight);
    },
  });
  new Gauge({
    name: METRIC.queueOldestAge,
    help: 'Age of the oldest event in the queue, 0 when empty.',
    registers: [registry],
    async collect() {
      const s = await stats();
      this.set(s.oldestAgeMs === undefined ? 0 : s.oldestAgeMs / 1000);
    },
  });

  return {
    contentType: registry.contentType,
    webhook(outcome, seconds) {
      webhooks.inc({ outcome });
      webhookDuration.observe(seconds);
    },
    deviceRequest(integration, action, outcome, seconds) {
      deviceRequests.inc({ integration, action, outcome });
      deviceDuration.observe({ integration, action }, seconds);
    },
    driftRepair(integration, kind, count) {
      driftRepairs.inc({ integration, kind }, count);
    },
    render: () => registry.metrics(),
    setIntegrations(integrations) {
      integrationIds = integrations.map((integration) => integration.id);
      switchIds = integrations.filter((integration) => integration.kind === 'switch').map((integration) => integration.id);
    },
  };
}
