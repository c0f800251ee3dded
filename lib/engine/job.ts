/**
 * The queue message: one validated Flowtriq event and when it arrived.
 * Workers validate it again (a message can outlive a relay upgrade).
 */
import { parseEvent } from '../event/schema.ts';
import type { FlowtriqEvent } from '../event/types.ts';
import { PoisonJobError } from './errors.ts';

export const JOB_VERSION = 1;

export interface EventJob {
  v: typeof JOB_VERSION;
  receivedAt: string;
  event: FlowtriqEvent;
}

export function encodeJob(event: FlowtriqEvent, receivedAt: number): string {
  return encodeJobJson(JSON.stringify(event), receivedAt);
}

/**
 * The job for an event given as the JSON text it arrived in (already parsed
 * and validated by the caller): the text is embedded as is, so the worker
 * sees exactly what Flowtriq sent and the intake does not serialise it again.
 */
export function encodeJobJson(eventJson: string, receivedAt: number): string {
  return `{"v":${JOB_VERSION},"receivedAt":"${new Date(receivedAt).toISOString()}","event":${eventJson}}`;
}

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
  return { v: JOB_VERSION, receivedAt: job.receivedAt, event: parsed.event };
}
