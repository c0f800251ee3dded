import { randomUUID } from 'node:crypto';
import type { FlowtriqEvent } from '../event/types.ts';
import { SAMPLE_INCIDENT_PREFIX } from '../model/types.ts';

/**
 * Sample source addresses for `relay send-test`: public unicast space outside
 * every never-block range. With real integrations configured they really are
 * pushed (and removed moments later), which is why send-test asks for --yes.
 */
export function sampleIps(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `45.153.${160 + Math.floor(index / 250)}.${(index % 250) + 1}`);
}

export function sampleEvents(options: { ips: number; now: number; nodeIp?: string }): {
  start: FlowtriqEvent;
  end: (at: number) => FlowtriqEvent;
} {
  const uuid = `${SAMPLE_INCIDENT_PREFIX}${randomUUID()}`;
  const incident = {
    id: 0,
    uuid,
    title: 'relay send-test: sample UDP flood',
    attack_family: 'udp_flood',
    severity: 'high',
    peak_pps: 120_000,
    peak_bps: 980_000_000,
    source_ip_count: options.ips,
    started_at: new Date(options.now).toISOString(),
  };
  const node = { id: 0, name: 'send-test', ip_address: options.nodeIp ?? '192.0.2.1' };
  return {
    start: {
      event_type: 'attack_start',
      timestamp: new Date(options.now).toISOString(),
      incident: {
        ...incident,
        top_src_ips: sampleIps(options.ips).map((ip, index) => ({ ip, count: 10_000 - index, confidence: 95 })),
      },
      node,
    },
    end: (at) => ({ event_type: 'attack_end', timestamp: new Date(at).toISOString(), incident, node }),
  };
}
