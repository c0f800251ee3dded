/**
 * The Lambda functions' metrics as CloudWatch EMF lines on stdout: the same
 * names as the Prometheus endpoint, in namespace FlowtriqRelay, with the
 * stage's service name and at most two more low-cardinality dimensions.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEmfMetrics } from '../../lib/metrics/emf.ts';

interface EmfLine {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

/** Runs `act` and returns the EMF lines it printed. */
function emfLines(act: () => void): EmfLine[] {
  const printed: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return printed
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

afterEach(() => vi.restoreAllMocks());

describe('EMF metrics', () => {
  it('writes one EMF line per value, with the documented names, units and dimensions', () => {
    // Prepare
    const metrics = createEmfMetrics({ serviceName: 'flowtriq-relay-prod' });

    // Act
    const lines = emfLines(() => {
      metrics.webhook('accepted', 0.004);
      metrics.deviceRequest('edge-fw', 'add', 'ok', 0.25);
      metrics.driftRepair('edge-fw', 'reassert', 3);
    });

    // Assess
    const byName = Object.fromEntries(lines.map((line) => [line._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name, line]));
    expect(Object.keys(byName).sort()).toEqual([
      'flowtriq_relay_device_request_duration_seconds',
      'flowtriq_relay_device_requests_total',
      'flowtriq_relay_drift_repairs_total',
      'flowtriq_relay_webhook_duration_seconds',
      'flowtriq_relay_webhooks_total',
    ]);
    expect(byName.flowtriq_relay_webhooks_total).toMatchObject({ service: 'flowtriq-relay-prod', outcome: 'accepted', flowtriq_relay_webhooks_total: 1 });
    expect(byName.flowtriq_relay_webhook_duration_seconds!._aws.CloudWatchMetrics[0]!.Metrics[0]!.Unit).toBe('Seconds');
    expect(byName.flowtriq_relay_device_requests_total).toMatchObject({ integration: 'edge-fw', outcome: 'ok' });
    expect(byName.flowtriq_relay_drift_repairs_total).toMatchObject({ integration: 'edge-fw', kind: 'reassert', flowtriq_relay_drift_repairs_total: 3 });
    for (const line of lines) {
      const [directive] = line._aws.CloudWatchMetrics;
      expect(directive!.Namespace).toBe('FlowtriqRelay');
      expect(directive!.Dimensions[0]!.length).toBeLessThanOrEqual(3);
      expect(directive!.Dimensions[0]![0]).toBe('service');
    }
  });

  it('publishes the sweeper\'s state gauges, one line per integration for the labelled ones', () => {
    // Prepare
    const metrics = createEmfMetrics({ serviceName: 'flowtriq-relay-prod' });

    // Act
    const lines = emfLines(() =>
      metrics.gauges({ activeIncidents: 2, activeBlocks: new Map([['fw', 40], ['waf', 3]]), overdueBlocks: 1, switches: new Map([['scrub', 1]]) }),
    );

    // Assess
    const values = lines.map((line) => {
      const name = line._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name;
      return `${name}${line.integration ? `{${String(line.integration)}}` : ''}=${String(line[name])}`;
    });
    expect(values.sort()).toEqual([
      'flowtriq_relay_active_blocks{fw}=40',
      'flowtriq_relay_active_blocks{waf}=3',
      'flowtriq_relay_active_incidents=2',
      'flowtriq_relay_overdue_blocks=1',
      'flowtriq_relay_switch_active{scrub}=1',
    ]);
  });
});
