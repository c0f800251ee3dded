/**
 * The same metrics on Lambda, as CloudWatch embedded metric format (EMF)
 * through Powertools Metrics: each event one EMF line on stdout, which
 * CloudWatch turns into metrics (no API call, no IAM permission). Namespace
 * FlowtriqRelay; dimensions: the stage's service name (Powertools'
 * `service`) and at most two more, all low-cardinality (outcome,
 * integration).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { StateGauges } from './gauges.ts';
import { EMF_NAMESPACE, METRIC } from './names.ts';
import type { RelayMetrics } from './types.ts';

export { EMF_NAMESPACE } from './names.ts';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export interface EmfMetrics extends RelayMetrics {
  /** The sweeper's gauges: active incidents, active blocks per integration, overdue blocks, switch state. */
  gauges(state: StateGauges): void;
}

export function createEmfMetrics(options: { serviceName: string; namespace?: string }): EmfMetrics {
  const metrics = new Metrics({ namespace: options.namespace ?? EMF_NAMESPACE, serviceName: options.serviceName });
  // A single metric is published (one EMF line) as soon as its value is added, with the dimensions set before.
  const emit = (dimensions: Record<string, string>, values: [name: string, unit: Unit, value: number][]) => {
    for (const [name, unit, value] of values) {
      const single = metrics.singleMetric();
      for (const [dimension, dimensionValue] of Object.entries(dimensions)) single.addDimension(dimension, dimensionValue);
      single.addMetric(name, unit, value);
    }
  };
  return {
    webhook(outcome, seconds) {
      emit({ outcome }, [
        [METRIC.webhooks, MetricUnit.Count, 1],
        [METRIC.webhookDuration, MetricUnit.Seconds, seconds],
      ]);
    },
    deviceRequest(integration, _action, outcome, seconds) {
      emit({ integration, outcome }, [
        [METRIC.deviceRequests, MetricUnit.Count, 1],
        [METRIC.deviceRequestDuration, MetricUnit.Seconds, seconds],
      ]);
    },
    driftRepair(integration, kind, count) {
      emit({ integration, kind }, [[METRIC.driftRepairs, MetricUnit.Count, count]]);
    },
    gauges(state) {
      emit({}, [
        [METRIC.activeIncidents, MetricUnit.Count, state.activeIncidents],
        [METRIC.overdueBlocks, MetricUnit.Count, state.overdueBlocks],
      ]);
      for (const [integration, count] of state.activeBlocks) emit({ integration }, [[METRIC.activeBlocks, MetricUnit.Count, count]]);
      for (const [integration, on] of state.switches) emit({ integration }, [[METRIC.switchActive, MetricUnit.Count, on]]);
    },
  };
}
