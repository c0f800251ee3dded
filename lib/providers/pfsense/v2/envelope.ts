/**
 * Lenient zod readers for what pfSense-pkg-RESTAPI (v2) answers.
 *
 * Envelope (`Core/Response.inc`): `{code, status, response_id, message, data}`
 * (+ `_links` with HATEOAS). Every field is optional here: a proxy error page
 * or a future field must not turn into a crash, only into "unexpected
 * answer". Alias objects tolerate the shapes seen in the wild: `address` as
 * an array, as the space-delimited config string, or as an object keyed by
 * position (PHP's `array_diff` keeps keys; `json_encode` then writes an
 * object); lists of objects as an array or as an object keyed by id.
 */
import { z } from 'zod';

const optionalString = z.string().optional().catch(undefined);

const envelopeSchema = z.looseObject({
  code: z.number().optional().catch(undefined),
  status: optionalString,
  response_id: optionalString,
  message: optionalString,
  data: z.unknown(),
});

/** A parsed envelope; `undefined` fields were absent or of an unexpected type. */
export interface PfSenseEnvelope {
  responseId?: string;
  message?: string;
  data: unknown;
}

/** Parses a response body; undefined when it is not the package's JSON envelope. */
export function parseEnvelope(body: Uint8Array): PfSenseEnvelope | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const out: PfSenseEnvelope = { data: parsed.data.data };
  if (parsed.data.response_id !== undefined) out.responseId = parsed.data.response_id;
  if (parsed.data.message !== undefined) out.message = parsed.data.message;
  return out;
}

/** Strings of a `many` field in any of the shapes the package produces. */
function toList(value: unknown, delimiter: string): string[] {
  if (typeof value === 'string') return value === '' ? [] : value.split(delimiter);
  const items = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? Object.values(value) : [];
  return items.filter((item): item is string => typeof item === 'string');
}

const aliasSchema = z.looseObject({
  id: z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,9}$/).transform(Number)]),
  name: z.string(),
  type: optionalString,
  descr: z.string().nullish().catch(undefined),
  address: z.unknown().transform((value) => toList(value, ' ')),
  detail: z.unknown().transform((value) => toList(value, '||')),
});

/** A firewall alias as the relay reads it. */
export interface PfSenseAlias {
  /** Array position in config: valid only until another alias is deleted. */
  id: number;
  name: string;
  type: string | undefined;
  address: string[];
  detail: string[];
}

/** One alias object (`data` of `GET/POST/PATCH /firewall/alias`); undefined when unreadable. */
export function readAlias(data: unknown): PfSenseAlias | undefined {
  const parsed = aliasSchema.safeParse(data);
  if (!parsed.success) return undefined;
  const { id, name, type, address, detail } = parsed.data;
  return { id, name, type, address, detail };
}

/**
 * The alias named `name` from `GET /firewall/aliases?name=…` data, matched
 * exactly here too (an older package might ignore the filter).
 * @returns the alias, `null` when none has that name, undefined when `data` is not a list.
 */
export function findAlias(data: unknown, name: string): PfSenseAlias | null | undefined {
  let items: Array<[string | undefined, unknown]>;
  if (Array.isArray(data)) items = data.map((item) => [undefined, item]);
  else if (data !== null && typeof data === 'object') items = Object.entries(data);
  else return undefined;
  for (const [key, item] of items) {
    if (item === null || typeof item !== 'object' || (item as { name?: unknown }).name !== name) continue;
    const withId = key !== undefined && (item as { id?: unknown }).id === undefined ? { ...item, id: key } : item;
    return readAlias(withId) ?? undefined;
  }
  return null;
}

const tokenSchema = z.looseObject({ token: z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/) });

/** `data.token` of `POST /auth/jwt`, only if it is a JWT (it goes into a header). */
export function readToken(data: unknown): string | undefined {
  const parsed = tokenSchema.safeParse(data);
  return parsed.success ? parsed.data.token : undefined;
}

/**
 * The entries of `GET /diagnostics/table?id=…`: `data.entries`, or a list of
 * tables with `entries`, or a bare list of strings.
 */
export function readTableEntries(data: unknown, name: string): string[] | undefined {
  if (Array.isArray(data)) {
    if (data.every((item) => typeof item === 'string')) return data as string[];
    const table = data.find((item) => item !== null && typeof item === 'object' && [item.id, item.name].includes(name));
    return table === undefined ? undefined : readTableEntries(table, name);
  }
  if (data !== null && typeof data === 'object' && 'entries' in data) return toList((data as { entries: unknown }).entries, ' ');
  return undefined;
}

const applySchema = z.looseObject({
  applied: z.boolean(),
  pending_subsystems: z.unknown().transform((value) => toList(value, ' ')),
});

/** `GET /firewall/apply`: whether config changes wait for a filter reload. */
export function readApplyStatus(data: unknown): { applied: boolean; pending: string[] } | undefined {
  const parsed = applySchema.safeParse(data);
  return parsed.success ? { applied: parsed.data.applied, pending: parsed.data.pending_subsystems } : undefined;
}
