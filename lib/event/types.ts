/** The event types Flowtriq documents. Others are accepted and ignored. */
export const KNOWN_EVENT_TYPES = ['attack_start', 'attack_update', 'attack_end', 'test'] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

/** Flowtriq's documented severities, lowest first. Unknown severities rank below `low`. */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One entry of `top_src_ips` as the Flowtriq agent reports it. */
export interface SourceIpEntry {
  ip: string;
  count?: number;
  /** 0–100; absent when the detector had no per-source score (flow data). */
  confidence?: number;
  [extra: string]: unknown;
}

export interface FlowtriqIncident {
  id?: number | string;
  uuid: string;
  title?: string;
  attack_family?: string;
  severity?: string;
  peak_pps?: number;
  peak_bps?: number;
  source_ip_count?: number;
  started_at?: string;
  top_src_ips?: SourceIpEntry[];
  attacker_ips?: string[];
  spoofing_detected?: boolean;
  [extra: string]: unknown;
}

export interface FlowtriqNode {
  id?: number | string;
  name?: string;
  ip_address?: string;
  [extra: string]: unknown;
}

/**
 * A validated Flowtriq webhook event. Unknown fields are kept (passthrough):
 * we never reject a real event because it carries more than we know.
 */
export interface FlowtriqEvent {
  event_type: string;
  timestamp: string;
  incident?: FlowtriqIncident;
  node?: FlowtriqNode;
  [extra: string]: unknown;
}

/** An attack event: it always names its incident. */
export interface IncidentEvent extends FlowtriqEvent {
  event_type: 'attack_start' | 'attack_update' | 'attack_end';
  incident: FlowtriqIncident;
}
