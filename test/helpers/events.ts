import { readFileSync } from 'node:fs';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';

export type FixtureName =
  | 'attack_start'
  | 'attack_start_with_sources'
  | 'attack_update'
  | 'attack_end'
  | 'attack_end_minimal'
  | 'test'
  | 'unknown_type';

/** A fresh copy of a JSON fixture from test/fixtures/events. */
export function fixture(name: FixtureName): FlowtriqEvent {
  return JSON.parse(readFileSync(new URL(`../fixtures/events/${name}.json`, import.meta.url), 'utf8')) as FlowtriqEvent;
}

/** Builds an attack event for incident `uuid` with the given sources. */
export function attackEvent(options: {
  type: 'attack_start' | 'attack_update' | 'attack_end';
  uuid: string;
  at: number;
  ips?: string[];
  confidence?: number;
  severity?: string;
  family?: string;
  node?: { id: number; name: string; ip_address: string };
  spoofed?: boolean;
}): FlowtriqEvent {
  const event: FlowtriqEvent = {
    event_type: options.type,
    timestamp: new Date(options.at).toISOString(),
    incident: {
      id: 1,
      uuid: options.uuid,
      title: `test incident ${options.uuid}`,
      attack_family: options.family ?? 'udp_flood',
      severity: options.severity ?? 'high',
      peak_pps: 1000,
      peak_bps: 8000,
      source_ip_count: options.ips?.length ?? 0,
      started_at: new Date(options.at).toISOString(),
      ...(options.ips ? { top_src_ips: options.ips.map((ip) => ({ ip, count: 100, confidence: options.confidence ?? 95 })) } : {}),
      ...(options.spoofed !== undefined ? { spoofing_detected: options.spoofed } : {}),
    },
    node: options.node ?? { id: 1, name: 'edge-1', ip_address: '192.0.2.10' },
  };
  return event;
}

export const TEST_SECRET = 'test-webhook-secret-0123456789abcdef';

/** A signed POST to the webhook route. */
export function signedRequest(
  body: string | Uint8Array,
  options: { secret?: string; signature?: string | null; contentType?: string; method?: string } = {},
): Request {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  const signature = options.signature === undefined ? signFlowtriq(options.secret ?? TEST_SECRET, body) : options.signature;
  if (signature !== null) headers['x-flowtriq-signature'] = signature;
  return new Request('http://relay.test/webhooks/flowtriq', {
    method: options.method ?? 'POST',
    headers,
    body: options.method === 'GET' || options.method === 'HEAD' ? null : body,
  });
}

/** Public addresses outside every never-block range, for tests (45.0.0.1, 45.0.0.2, ...). */
export function publicIps(count: number, base = 45): string[] {
  return Array.from({ length: count }, (_, index) => {
    const n = index + 1;
    return `${base}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  });
}
