import { hash } from 'node:crypto';
import type { FlowtriqEvent } from '../event/types.ts';

/**
 * The identity of a delivery: (incident uuid, event type, timestamp). A
 * re-delivery of the same event has the same key and acts once.
 */
export function eventKey(event: FlowtriqEvent): string {
  return `${event.incident?.uuid ?? '-'}|${event.event_type}|${event.timestamp}`;
}

/**
 * The key as an SQS-safe de-duplication id: the event's time (milliseconds,
 * 9 base-36 digits, so ids sort by event time), a dash, and the key's sha256
 * in hex (73 characters). Leading with the time lets the one-box queue append
 * each new id at the end of its de-duplication index instead of at a random
 * place (a random place costs one more page written per event under load).
 * A caller that has already parsed the timestamp passes it as `ms`.
 */
export function eventDedupId(event: FlowtriqEvent, ms: number = Date.parse(event.timestamp)): string {
  const time = Number.isFinite(ms) && ms >= 0 ? Math.trunc(ms).toString(36).padStart(9, '0') : '000000000';
  return `${time}-${hash('sha256', eventKey(event), 'hex')}`;
}

/** Events of one incident are processed in order: the queue group. */
export function eventGroupId(event: FlowtriqEvent): string {
  const uuid = event.incident?.uuid;
  if (uuid === undefined) return `event-${event.event_type}`;
  return /^[A-Za-z0-9_-]{1,128}$/.test(uuid) ? uuid : hash('sha256', uuid, 'hex');
}
