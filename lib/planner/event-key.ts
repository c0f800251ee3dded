import { createHash } from 'node:crypto';
import type { FlowtriqEvent } from '../event/types.ts';

/**
 * The identity of a delivery: (incident uuid, event type, timestamp). A
 * re-delivery of the same event has the same key and acts once.
 */
export function eventKey(event: FlowtriqEvent): string {
  return `${event.incident?.uuid ?? '-'}|${event.event_type}|${event.timestamp}`;
}

/** The key as 64 hex characters: safe as an SQS de-duplication id. */
export function eventDedupId(event: FlowtriqEvent): string {
  return createHash('sha256').update(eventKey(event)).digest('hex');
}

/** Events of one incident are processed in order: the queue group. */
export function eventGroupId(event: FlowtriqEvent): string {
  const uuid = event.incident?.uuid;
  if (uuid === undefined) return `event-${event.event_type}`;
  return /^[A-Za-z0-9_-]{1,128}$/.test(uuid) ? uuid : createHash('sha256').update(uuid).digest('hex');
}
