import { hash } from 'node:crypto';
import type { FlowtriqEvent } from '../event/types.ts';

/**
 * The identity of a delivery: the sha256 (hex) of its body exactly as it
 * arrived. A re-delivery of the same body acts once; two deliveries that
 * differ in anything (two updates of one incident in the same second, with
 * different attackers) are two events, processed in order.
 */
export function deliveryKey(bodyText: string): string {
  return hash('sha256', bodyText, 'hex');
}

/** The delivery key of an event known only as parsed JSON (tests, tools): the key of its JSON text. */
export function eventKey(event: FlowtriqEvent): string {
  return deliveryKey(JSON.stringify(event));
}

/**
 * The delivery as an SQS-safe de-duplication id: the event's time
 * (milliseconds, 9 base-36 digits, so ids sort by event time), a dash, and
 * the delivery key (73 characters). Leading with the time lets the one-box
 * queue append each new id at the end of its de-duplication index instead of
 * at a random place (a random place costs one more page written per event
 * under load). A caller that has already parsed the timestamp passes it as
 * `ms`, and one that has the delivery key (or the raw body) passes `key`.
 */
export function eventDedupId(event: FlowtriqEvent, ms: number = Date.parse(event.timestamp), key: string = eventKey(event)): string {
  const time = Number.isFinite(ms) && ms >= 0 ? Math.trunc(ms).toString(36).padStart(9, '0') : '000000000';
  return `${time}-${key}`;
}

/** Events of one incident are processed in order: the queue group. */
export function eventGroupId(event: FlowtriqEvent): string {
  const uuid = event.incident?.uuid;
  if (uuid === undefined) return `event-${event.event_type}`;
  return /^[A-Za-z0-9_-]{1,128}$/.test(uuid) ? uuid : hash('sha256', uuid, 'hex');
}
