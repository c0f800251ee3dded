/**
 * Event + current incident state → what to record. Pure.
 *
 * Ordering rules (an older event never undoes a newer one):
 * - an event older than the newest applied one is stale and ignored;
 * - an event with the same timestamp is re-applied (idempotently): that is
 *   how a re-delivery after a crash finishes the work;
 * - `attack_end` is final: later start/update events for the incident are
 *   ignored, so an end that arrives before its start leaves no block.
 */
import type { FlowtriqEvent } from '../event/types.ts';
import { SWITCH_KEY, type HoldIntent, type IncidentRecord } from '../model/types.ts';
import { mismatchReason } from './match.ts';
import type { ApplyPlan, EventPlan, PlanEventInput } from './types.ts';

export function planEvent(input: PlanEventInput): EventPlan {
  const { event, incident, now } = input;
  if (event.event_type === 'test') return { action: 'test' };
  if (event.event_type !== 'attack_start' && event.event_type !== 'attack_update' && event.event_type !== 'attack_end') {
    return { action: 'ignore', reason: `unknown event type "${event.event_type}"` };
  }
  if (!event.incident) return { action: 'ignore', reason: 'event names no incident' };
  const at = Date.parse(event.timestamp);
  if (incident && at < incident.lastEventAt) {
    return {
      action: 'ignore',
      reason: `stale: ${event.event_type} at ${event.timestamp} is older than the newest applied event (${incident.lastEventType} at ${new Date(incident.lastEventAt).toISOString()})`,
    };
  }
  if (incident?.status === 'ended' && event.event_type !== 'attack_end') {
    return { action: 'ignore', reason: `incident already ended; ${event.event_type} changes nothing` };
  }

  const record = nextIncident(event, incident, at, now);
  if (event.event_type === 'attack_end') {
    return { action: 'apply', incident: record, hold: [], releaseAll: true, matched: [], unmatched: [] };
  }
  return planHolds(input, record);
}

function planHolds(input: PlanEventInput, record: IncidentRecord): ApplyPlan {
  const facts = {
    nodeId: record.node?.id,
    nodeName: record.node?.name,
    severity: record.severity,
    family: record.family,
  };
  const hold: HoldIntent[] = [];
  const matched: string[] = [];
  const unmatched: { integration: string; reason: string }[] = [];
  const ipBlockingSkipped = record.spoofed
    ? 'the event reports spoofed sources (spoofing_detected); blocking source IPs would hit innocent addresses'
    : undefined;

  for (const integration of input.integrations) {
    const reason = mismatchReason(integration.match, facts);
    if (reason) {
      unmatched.push({ integration: integration.id, reason });
      continue;
    }
    matched.push(integration.id);
    const expiresAt = input.now + integration.ttlMs;
    if (integration.kind === 'switch') {
      if (input.heldSwitches?.has(integration.id)) continue;
      hold.push({ integration: integration.id, key: SWITCH_KEY, kind: 'switch', incident: record.uuid, expiresAt });
    } else if (!ipBlockingSkipped) {
      for (const ip of integration.maxIps === undefined ? input.ips : input.ips.slice(0, integration.maxIps)) {
        hold.push({ integration: integration.id, key: ip, kind: 'ip', incident: record.uuid, expiresAt });
      }
    }
  }
  const plan: ApplyPlan = { action: 'apply', incident: record, hold, releaseAll: false, matched, unmatched };
  if (ipBlockingSkipped) plan.ipBlockingSkipped = ipBlockingSkipped;
  return plan;
}

function nextIncident(
  event: FlowtriqEvent,
  previous: IncidentRecord | undefined,
  at: number,
  now: number,
): IncidentRecord {
  const incident = event.incident!;
  const spoofed = event.spoofing_detected === true || incident.spoofing_detected === true;
  const record: IncidentRecord = {
    ...previous,
    uuid: incident.uuid,
    status: event.event_type === 'attack_end' ? 'ended' : 'active',
    lastEventAt: at,
    lastEventType: event.event_type,
    firstSeenAt: previous?.firstSeenAt ?? now,
    updatedAt: now,
  };
  if (incident.id !== undefined) record.id = incident.id;
  if (incident.title !== undefined) record.title = incident.title;
  if (incident.attack_family !== undefined) record.family = incident.attack_family;
  if (incident.severity !== undefined) record.severity = incident.severity;
  if (incident.started_at !== undefined) record.startedAt = incident.started_at;
  // Peaks only grow: an end event without them keeps what the start reported.
  if (incident.peak_pps !== undefined) record.peakPps = Math.max(incident.peak_pps, previous?.peakPps ?? 0);
  if (incident.peak_bps !== undefined) record.peakBps = Math.max(incident.peak_bps, previous?.peakBps ?? 0);
  if (event.node) {
    const node: NonNullable<IncidentRecord['node']> = { ...previous?.node };
    if (event.node.id !== undefined) node.id = event.node.id;
    if (event.node.name !== undefined) node.name = event.node.name;
    if (event.node.ip_address !== undefined) node.ip = event.node.ip_address;
    record.node = node;
  }
  if (event.event_type !== 'attack_end') record.spoofed = spoofed;
  if (event.event_type === 'attack_end') record.endedAt = event.timestamp;
  return record;
}
