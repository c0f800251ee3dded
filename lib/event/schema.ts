/**
 * zod schemas for Flowtriq webhook events.
 *
 * Parsing is two-step: the envelope (`event_type`, `timestamp`) first, then a
 * schema chosen by event type. Unknown fields pass through everywhere, and an
 * unknown event type only needs a valid envelope. `attack_end` requires no
 * more than the incident uuid: Flowtriq does not document its body, and
 * rejecting a real end event would leave blocks behind.
 */
// zod/mini: the same validation with a fraction of the import cost, which
// matters on the webhook Lambda's cold start (it imports nothing else of zod).
import * as z from 'zod/mini';
import type { FlowtriqEvent } from './types.ts';

const isoTimestamp = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time such as 2025-03-10T14:22:00Z',
});
const id = z.union([z.int(), z.string().check(z.minLength(1))], { error: 'must be a number or a non-empty string' });
const count = z.number({ error: 'must be a number' }).check(z.nonnegative('must not be negative'));
const text = z.string({ error: 'must be a string' });

export const envelopeSchema = z.looseObject({
  event_type: z.string({ error: 'is required: a string such as "attack_start"' }).check(z.minLength(1, 'must not be empty')),
  timestamp: isoTimestamp,
});

export const sourceIpSchema = z.looseObject({
  ip: z.string({ error: 'is required: the source address' }).check(z.minLength(1)),
  count: z.optional(count),
  confidence: z.optional(z.number({ error: 'must be a number from 0 to 100' }).check(z.gte(0), z.lte(100))),
});

const incidentFields = {
  uuid: z
    .string({ error: 'is required: the incident uuid' })
    .check(z.minLength(1), z.maxLength(128, 'must be at most 128 characters')),
  id: z.optional(id),
  title: z.optional(text),
  attack_family: z.optional(text),
  severity: z.optional(text),
  peak_pps: z.optional(count),
  peak_bps: z.optional(count),
  source_ip_count: z.optional(count),
  started_at: z.optional(isoTimestamp),
  top_src_ips: z.optional(z.array(sourceIpSchema)),
  attacker_ips: z.optional(z.array(text)),
  spoofing_detected: z.optional(z.boolean()),
};

const nodeFields = {
  id: z.optional(id),
  name: z.optional(text),
  ip_address: z.optional(text),
};

/** attack_start / attack_update: enough to match rules and protect the node. */
export const attackEventSchema = z.extend(envelopeSchema, {
  event_type: z.enum(['attack_start', 'attack_update']),
  incident: z.looseObject({
    ...incidentFields,
    id,
    attack_family: z.string({ error: 'is required: e.g. "udp_flood"' }).check(z.minLength(1)),
    severity: z.string({ error: 'is required: low, medium, high or critical' }).check(z.minLength(1)),
  }),
  node: z.looseObject({
    ...nodeFields,
    ip_address: z.string({ error: "is required: the node's IP address" }).check(z.minLength(1)),
  }),
  top_src_ips: z.optional(z.array(sourceIpSchema)),
  attacker_ips: z.optional(z.array(text)),
  spoofing_detected: z.optional(z.boolean()),
});

/** attack_end: only the incident uuid is needed to remove what it added. */
export const endEventSchema = z.extend(envelopeSchema, {
  event_type: z.literal('attack_end'),
  incident: z.looseObject(incidentFields),
  node: z.optional(z.looseObject(nodeFields)),
});

export const testEventSchema = z.extend(envelopeSchema, {
  event_type: z.literal('test'),
  incident: z.optional(z.looseObject({ ...incidentFields, uuid: z.optional(incidentFields.uuid) })),
  node: z.optional(z.looseObject(nodeFields)),
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

function toIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }) {
  return error.issues.map((issue) => ({ path: formatPath(issue.path) || '(body)', message: issue.message }));
}

/** The schema for each known event type. */
const schemaFor = (type: unknown) =>
  type === 'attack_start' || type === 'attack_update'
    ? attackEventSchema
    : type === 'attack_end'
      ? endEventSchema
      : type === 'test'
        ? testEventSchema
        : undefined;

/**
 * Validates a parsed JSON value as a Flowtriq event. A known `event_type` is
 * checked by its own schema in one pass (each extends the envelope, so an
 * envelope problem is still reported first); anything else needs only a valid
 * envelope.
 */
export function parseEvent(value: unknown): ParseResult {
  const schema = schemaFor(typeof value === 'object' && value !== null ? (value as { event_type?: unknown }).event_type : undefined);
  if (schema) {
    const parsed = schema.safeParse(value);
    if (!parsed.success) return { ok: false, issues: toIssues(parsed.error) };
    return { ok: true, event: parsed.data as FlowtriqEvent, known: true };
  }
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success) return { ok: false, issues: toIssues(envelope.error) };
  return { ok: true, event: envelope.data as FlowtriqEvent, known: false };
}
