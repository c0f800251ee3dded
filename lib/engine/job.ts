/**
 * The queue message: one validated Flowtriq event, when it arrived, and the
 * key of its delivery (the sha256 of the body as it arrived; the worker's
 * de-duplication key). Workers validate it again (a message can outlive a
 * relay upgrade).
 */
import { parseEvent } from '../event/schema.ts';
import type { FlowtriqEvent } from '../event/types.ts';
import { deliveryKey } from '../planner/event-key.ts';
import { PoisonJobError } from './errors.ts';

export const JOB_VERSION = 1;

export interface EventJob {
  v: typeof JOB_VERSION;
  receivedAt: string;
  /** sha256 (hex) of the delivery's body; absent in jobs written before it was added. */
  delivery?: string;
  event: FlowtriqEvent;
}

export function encodeJob(event: FlowtriqEvent, receivedAt: number): string {
  return encodeJobJson(JSON.stringify(event), receivedAt);
}

/**
 * The job for an event given as the JSON text it arrived in (already parsed
 * and validated by the caller): the text is embedded as is, so the worker
 * sees exactly what Flowtriq sent and the intake does not serialise it again.
 * `delivery` is the body's delivery key when the caller has it already.
 */
export function encodeJobJson(eventJson: string, receivedAt: number, delivery: string = deliveryKey(eventJson)): string {
  return `{"v":${JOB_VERSION},"receivedAt":"${new Date(receivedAt).toISOString()}","delivery":"${delivery}","event":${eventJson}}`;
}

const DELIVERY_KEY = /^[0-9a-f]{64}$/;

export function decodeJob(body: string): EventJob {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new PoisonJobError('job body is not JSON');
  }
  const job = value as Partial<EventJob> | null;
  if (!job || job.v !== JOB_VERSION) throw new PoisonJobError(`job envelope is not version ${JOB_VERSION}`);
  if (typeof job.receivedAt !== 'string') {
    throw new PoisonJobError('job envelope has no receivedAt (an ISO 8601 string)');
  }
  const parsed = parseEvent(job.event);
  if (!parsed.ok) {
    throw new PoisonJobError(
      `job event is invalid: ${parsed.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
    );
  }
  if (job.delivery !== undefined && (typeof job.delivery !== 'string' || !DELIVERY_KEY.test(job.delivery))) {
    throw new PoisonJobError('job envelope has a malformed delivery key (64 lowercase hex characters)');
  }
  return {
    v: JOB_VERSION,
    receivedAt: job.receivedAt,
    delivery: job.delivery ?? deliveryKey(JSON.stringify(job.event)),
    event: parsed.event,
  };
}
