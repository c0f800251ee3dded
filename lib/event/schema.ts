/**
 * zod schemas for Flowtriq webhook events.
 *
 * Parsing is two-step: the envelope (`event_type`, `timestamp`) first, then a
 * schema chosen by event type. Unknown fields pass through everywhere, and an
 * unknown event type only needs a valid envelope. `attack_end` requires no
 * more than the incident uuid: Flowtriq does not document its body, and
 * rejecting a real end event would leave blocks behind.
 */
import { z } from 'zod';
import type { FlowtriqEvent } from './types.ts';

const isoTimestamp = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time such as 2025-03-10T14:22:00Z',
});
const id = z.union([z.number().int(), z.string().min(1)], { error: 'must be a number or a non-empty string' });
const count = z.number({ error: 'must be a number' }).nonnegative('must not be negative');

export const envelopeSchema = z.looseObject({
  event_type: z.string({ error: 'is required: a string such as "attack_start"' }).min(1, 'must not be empty'),
  timestamp: isoTimestamp,
});

export const sourceIpSchema = z.looseObject({
  ip: z.string({ error: 'is required: the source address' }).min(1),
  count: count.optional(),
  confidence: z.number({ error: 'must be a number from 0 to 100' }).min(0).max(100).optional(),
});

const incidentFields = {
  uuid: z
    .string({ error: 'is required: the incident uuid' })
    .min(1)
    .max(128, 'must be at most 128 characters'),
  id: id.optional(),
  title: z.string().optional(),
  attack_family: z.string().optional(),
  severity: z.string().optional(),
  peak_pps: count.optional(),
  peak_bps: count.optional(),
  source_ip_count: count.optional(),
  started_at: isoTimestamp.optional(),
  top_src_ips: z.array(sourceIpSchema).optional(),
  attacker_ips: z.array(z.string()).optional(),
  spoofing_detected: z.boolean().optional(),
};

const nodeSchema = z.looseObject({
  id: id.optional(),
  name: z.string().optional(),
  ip_address: z.string().optional(),
});

/** attack_start / attack_update: enough to match rules and protect the node. */
export const attackEventSchema = envelopeSchema.extend({
  event_type: z.enum(['attack_start', 'attack_update']),
  incident: z.looseObject({
    ...incidentFields,
    id: id,
    attack_family: z.string({ error: 'is required: e.g. "udp_flood"' }).min(1),
    severity: z.string({ error: 'is required: low, medium, high or critical' }).min(1),
  }),
  node: nodeSchema.extend({
    ip_address: z.string({ error: "is required: the node's IP address" }).min(1),
  }),
  top_src_ips: z.array(sourceIpSchema).optional(),
  attacker_ips: z.array(z.string()).optional(),
  spoofing_detected: z.boolean().optional(),
});

/** attack_end: only the incident uuid is needed to remove what it added. */
export const endEventSchema = envelopeSchema.extend({
  event_type: z.literal('attack_end'),
  incident: z.looseObject(incidentFields),
  node: nodeSchema.optional(),
});

export const testEventSchema = envelopeSchema.extend({
  event_type: z.literal('test'),
  incident: z.looseObject({ ...incidentFields, uuid: incidentFields.uuid.optional() }).optional(),
  node: nodeSchema.optional(),
});

export type ParseResult =
  | { ok: true; event: FlowtriqEvent; known: boolean }
  | { ok: false; issues: { path: string; message: string }[] };

/** Formats a zod path as `incident.top_src_ips[3].ip`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

function toIssues(error: z.ZodError) {
  return error.issues.map((issue) => ({ path: formatPath(issue.path) || '(body)', message: issue.message }));
}

/** Validates a parsed JSON value as a Flowtriq event. */
export function parseEvent(value: unknown): ParseResult {
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success) return { ok: false, issues: toIssues(envelope.error) };
  const schema =
    envelope.data.event_type === 'attack_start' || envelope.data.event_type === 'attack_update'
      ? attackEventSchema
      : envelope.data.event_type === 'attack_end'
        ? endEventSchema
        : envelope.data.event_type === 'test'
          ? testEventSchema
          : undefined;
  if (!schema) return { ok: true, event: envelope.data as FlowtriqEvent, known: false };
  const parsed = schema.safeParse(value);
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error) };
  return { ok: true, event: parsed.data as FlowtriqEvent, known: true };
}
