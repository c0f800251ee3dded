/**
 * The JSON Schema of the configuration file, generated from `configSchema`
 * so that editors complete and check relay.config.yaml / .json. It describes
 * what may be WRITTEN (zod's input side), not what the loader returns:
 * durations are `90` or `"90s"`, not milliseconds; sections may be left out.
 *
 * `npm run schema` writes it to relay.config.schema.json (repo root);
 * test/config/json-schema.test.ts fails when the committed file is stale.
 *
 * Zod converts most of the schema itself. What it cannot express, or
 * expresses too loosely for the input side, is fixed here, each with a reason:
 * - durations: zod sees only `number | string` before the transform; we add
 *   the accepted string syntax and the range (found by asking the zod schema);
 * - defaults that zod drops because the field contains a transform (e.g.
 *   `integrations: []`), put back when the default is itself a valid input;
 * - the webhook `url` must be https:// unless `allowInsecureHttp` is true (a
 *   zod refinement, written as if/then/else);
 * - key order is normalised so a zod upgrade does not reshuffle the file.
 *
 * Not expressible in JSON Schema, so only the loader checks them: unique
 * integration ids, valid `blocking.neverBlock` CIDRs, a duration string's range,
 * `server.headersTimeout` at most `server.requestTimeout`.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { formatDuration } from './duration.ts';
import { configSchema } from './schema.ts';

/** A JSON Schema node (draft-07), as plain JSON. */
export type JsonSchema = { [keyword: string]: unknown };

/** Repo-relative path of the generated file. */
export const CONFIG_JSON_SCHEMA_FILE = 'relay.config.schema.json';

/**
 * What a duration string looks like: digits and one unit, spaces around
 * allowed (the parser trims). Mirrors `parseDuration` in duration.ts; the
 * test checks the two agree.
 */
export const DURATION_PATTERN = '^\\s*\\d+(ms|s|m|h|d)\\s*$';

/** Draft-07: the draft every YAML/JSON editor plugin understands. */
const DRAFT = 'draft-07';

type ZodNode = z.core.$ZodType;

/** Builds the JSON Schema object (deterministic: same schema, same output). */
export function buildConfigJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(configSchema, {
    target: DRAFT,
    io: 'input',
    // Anything else zod cannot represent must fail the build, not vanish.
    unrepresentable: 'throw',
    override: ({ zodSchema, jsonSchema, path }) => {
      const node = zodSchema as ZodNode;
      const json = jsonSchema as JsonSchema;
      describeDuration(node, json, path);
      restoreInputDefault(node, json);
    },
  }) as JsonSchema;

  const schema: JsonSchema = {
    ...generated,
    $comment: `Generated from lib/config/schema.ts by \`npm run schema\`; do not edit by hand. Reference: docs/CONFIG.md.`,
    title: 'Flowtriq Relay configuration',
    description:
      'relay.config.yaml (or .json). Every section is optional; secrets are references ({ env } or { sst }), never values.',
  };
  requireHttpsWebhookUrl(schema);
  return canonical(schema) as JsonSchema;
}

/** The file content: two-space JSON and a trailing newline. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(buildConfigJsonSchema(), null, 2)}\n`;
}

// ---------------------------------------------------------------------------
// Durations

/** Strips wrappers that do not change what a value may look like. */
function unwrap(node: ZodNode): ZodNode {
  let current = node;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: ZodNode };
    if ((def.type === 'prefault' || def.type === 'default' || def.type === 'optional') && def.innerType) {
      current = def.innerType;
    } else {
      return current;
    }
  }
}

/** The `duration()` shape: a pipe from `number | string` into a transform. */
function isDurationPipe(node: ZodNode): boolean {
  const def = node._zod.def as { type: string; in?: ZodNode; out?: ZodNode };
  if (def.type !== 'pipe' || !def.in || !def.out || def.out._zod.def.type !== 'transform') return false;
  const input = def.in._zod.def as { type: string; options?: ZodNode[] };
  if (input.type !== 'union' || !input.options) return false;
  return input.options.map((option) => option._zod.def.type).sort().join(',') === 'number,string';
}

const durationBounds = new WeakMap<ZodNode, { minMs: number; maxMs: number }>();

/**
 * Finds the range a duration accepts by asking it: the accepted values form
 * one interval, so two binary searches over "<n>ms" find its ends. This keeps
 * duration.ts the only place the bounds are written.
 */
function boundsOf(pipe: ZodNode, path: (string | number)[]): { minMs: number; maxMs: number } {
  const known = durationBounds.get(pipe);
  if (known) return known;
  const accepts = (ms: number) => z.safeParse(pipe, `${ms}ms`).success;
  const LIMIT = 1e15;
  const probe = [1, 1_000, 60_000, 3_600_000, 86_400_000, 30 * 86_400_000, 365 * 86_400_000].find(accepts);
  const where = `configSchema at #/${path.join('/')}`;
  // A transform that behaves otherwise is not a duration; make a person look at it.
  if (probe === undefined || z.safeParse(pipe, probe / 1000).data !== probe || accepts(LIMIT)) {
    throw new Error(
      `${where}: a number|string transform that does not behave like duration(); ` +
        'describe its input side in lib/config/json-schema.ts',
    );
  }
  let minMs = 0;
  if (!accepts(0)) {
    let rejected = 0;
    let accepted = probe;
    while (accepted - rejected > 1) {
      const mid = Math.floor((rejected + accepted) / 2);
      if (accepts(mid)) accepted = mid;
      else rejected = mid;
    }
    minMs = accepted;
  }
  let accepted = probe;
  let rejected = LIMIT;
  while (rejected - accepted > 1) {
    const mid = Math.floor((rejected + accepted) / 2);
    if (accepts(mid)) accepted = mid;
    else rejected = mid;
  }
  const bounds = { minMs, maxMs: accepted };
  durationBounds.set(pipe, bounds);
  return bounds;
}

/**
 * Replaces zod's bare `number | string` with what a duration really accepts:
 * seconds within the range, or a string with a unit. JSON Schema cannot
 * range-check "90s"; the range is in the description and the loader checks it.
 */
function describeDuration(node: ZodNode, json: JsonSchema, path: (string | number)[]): void {
  const core = unwrap(node);
  if (!isDurationPipe(core)) return;
  const { minMs, maxMs } = boundsOf(core, path);
  delete json.type;
  json.anyOf = [
    { type: 'number', minimum: minMs / 1000, maximum: maxMs / 1000, description: 'Seconds.' },
    { type: 'string', pattern: DURATION_PATTERN, description: 'A whole number and a unit: ms, s, m, h or d.' },
  ];
  const note =
    `Duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}: ` +
    'a number of seconds, or a string such as "90s", "5m", "1h", "7d".';
  const own = typeof json.description === 'string' ? json.description : undefined;
  // Wrappers copy their inner schema's description; add the note once.
  if (own === undefined) json.description = note;
  else if (!own.endsWith(note)) json.description = `${own} ${note}`;
}

/**
 * Zod drops `default` from anything containing a transform when io is
 * 'input', because a default is an output value. Where the default is also a
 * valid input that parses to itself (e.g. `integrations: []`), it is the
 * honest input default too, so it goes back in.
 */
function restoreInputDefault(node: ZodNode, json: JsonSchema): void {
  const def = node._zod.def as { type: string; innerType?: ZodNode; defaultValue?: unknown };
  if (def.type !== 'default' || !def.innerType || 'default' in json) return;
  const value = def.defaultValue;
  const parsed = z.safeParse(def.innerType, value);
  if (parsed.success && isDeepStrictEqual(parsed.data, value)) json.default = structuredClone(value);
}

// ---------------------------------------------------------------------------
// Refinements zod leaves out

/** `webhookIntegrationSchema.options`: https:// unless allowInsecureHttp is true. */
function requireHttpsWebhookUrl(schema: JsonSchema): void {
  const options = integrationBranch(schema, 'webhook').properties as Record<string, JsonSchema> | undefined;
  const target = options?.options;
  if (!target || !(target.properties as JsonSchema | undefined)?.url) {
    throw new Error('relay.config.schema.json: the webhook integration has no options.url; update requireHttpsWebhookUrl');
  }
  target.if = { properties: { allowInsecureHttp: { const: true } }, required: ['allowInsecureHttp'] };
  target.then = { properties: { url: { pattern: '^https?://' } } };
  target.else = { properties: { url: { pattern: '^https://' } } };
}

/** The `oneOf` branch of `integrations.items` whose `type` is `type`. */
export function integrationBranch(schema: JsonSchema, type: string): JsonSchema {
  const integrations = (schema.properties as Record<string, JsonSchema> | undefined)?.integrations;
  const branches = ((integrations?.items as JsonSchema | undefined)?.oneOf ?? []) as JsonSchema[];
  const branch = branches.find(
    (candidate) => ((candidate.properties as Record<string, JsonSchema> | undefined)?.type?.const ?? null) === type,
  );
  if (!branch) throw new Error(`relay.config.schema.json: no integration branch with type "${type}"`);
  return branch;
}

// ---------------------------------------------------------------------------
// Stable key order

/** Keywords first in this order; anything else after, alphabetically. */
const KEYWORD_ORDER = [
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'multipleOf',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'default',
  'examples',
  'definitions',
];
/** Values that are maps of name → schema: their own order (declaration order) is kept. */
const SCHEMA_MAPS = new Set(['properties', 'definitions', '$defs', 'patternProperties']);
/** Values that are data, not schemas: copied as they are. */
const DATA = new Set(['const', 'enum', 'default', 'examples', 'required']);

function rank(key: string): number {
  const index = KEYWORD_ORDER.indexOf(key);
  return index === -1 ? KEYWORD_ORDER.length : index;
}

function canonical(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(canonical);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node as JsonSchema).sort(
    ([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const out: JsonSchema = {};
  for (const [key, value] of entries) {
    if (DATA.has(key)) out[key] = value;
    else if (SCHEMA_MAPS.has(key) && value !== null && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, canonical(child)]));
    } else out[key] = canonical(value);
  }
  return out;
}
