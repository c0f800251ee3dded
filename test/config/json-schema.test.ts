import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../lib/config/duration.ts';
import {
  buildConfigJsonSchema,
  CONFIG_JSON_SCHEMA_FILE,
  DURATION_PATTERN,
  integrationBranch,
  renderConfigJsonSchema,
  type JsonSchema,
} from '../../lib/config/json-schema.ts';
import { loadConfig, parseConfig } from '../../lib/config/load.ts';
import { integrationSchema } from '../../lib/config/schema.ts';

const ROOT = new URL('../../', import.meta.url);
const EXAMPLE_YAML = new URL('examples/relay.config.yaml', ROOT);
const EXAMPLE_JSON = new URL('examples/relay.config.json', ROOT);

/**
 * A JSON Schema checker for exactly the keywords relay.config.schema.json
 * uses. It throws on any other keyword, so a new keyword in the generated
 * schema makes these tests fail loudly instead of being silently ignored.
 * Returns the list of problems (empty = valid).
 */
function check(schema: JsonSchema, value: unknown, at = '$'): string[] {
  const problems: string[] = [];
  const fail = (message: string) => problems.push(`${at}: ${message}`);
  for (const [keyword, rule] of Object.entries(schema)) {
    switch (keyword) {
      case '$schema':
      case '$comment':
      case 'title':
      case 'description':
      case 'default':
        break; // annotations
      case 'type': {
        const types = Array.isArray(rule) ? (rule as string[]) : [rule as string];
        if (!types.some((type) => hasType(value, type))) fail(`expected ${types.join(' or ')}`);
        break;
      }
      case 'const':
        if (!isDeepStrictEqual(value, rule)) fail(`expected ${JSON.stringify(rule)}`);
        break;
      case 'enum':
        if (!(rule as unknown[]).some((option) => isDeepStrictEqual(value, option))) fail('not one of the enum values');
        break;
      case 'format':
        if (rule !== 'uri') throw new Error(`checker: unknown format ${String(rule)}`);
        if (typeof value === 'string' && !URL.canParse(value)) fail('not a URI');
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(rule as string, 'u').test(value)) fail(`does not match ${String(rule)}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && [...value].length < (rule as number)) fail('too short');
        break;
      case 'minimum':
        if (typeof value === 'number' && value < (rule as number)) fail(`below ${String(rule)}`);
        break;
      case 'maximum':
        if (typeof value === 'number' && value > (rule as number)) fail(`above ${String(rule)}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && value.length < (rule as number)) fail(`shorter than ${String(rule)}`);
        break;
      case 'maxLength':
        if (typeof value === 'string' && value.length > (rule as number)) fail(`longer than ${String(rule)}`);
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < (rule as number)) fail('too few items');
        break;
      case 'maxItems':
        if (Array.isArray(value) && value.length > (rule as number)) fail('too many items');
        break;
      case 'items':
        if (Array.isArray(value)) value.forEach((item, i) => problems.push(...check(rule as JsonSchema, item, `${at}[${i}]`)));
        break;
      case 'properties':
        if (isObject(value)) {
          for (const [name, sub] of Object.entries(rule as Record<string, JsonSchema>)) {
            if (name in value) problems.push(...check(sub, value[name], `${at}.${name}`));
          }
        }
        break;
      case 'required':
        if (isObject(value)) for (const name of rule as string[]) if (!(name in value)) fail(`missing ${name}`);
        break;
      case 'additionalProperties': {
        if (rule !== false) throw new Error('checker: only additionalProperties: false is supported');
        const known = Object.keys((schema.properties ?? {}) as object);
        if (isObject(value)) for (const name of Object.keys(value)) if (!known.includes(name)) fail(`unknown key ${name}`);
        break;
      }
      case 'anyOf':
        if (!(rule as JsonSchema[]).some((branch) => check(branch, value, at).length === 0)) fail('matches no anyOf branch');
        break;
      case 'oneOf': {
        const matches = (rule as JsonSchema[]).filter((branch) => check(branch, value, at).length === 0).length;
        if (matches !== 1) fail(`matches ${matches} oneOf branches, not exactly one`);
        break;
      }
      case 'if':
        break; // with then/else below
      case 'then':
      case 'else': {
        const holds = check(schema.if as JsonSchema, value, at).length === 0;
        if ((keyword === 'then') === holds) problems.push(...check(rule as JsonSchema, value, at));
        break;
      }
      default:
        throw new Error(`checker: keyword ${keyword} is not supported; extend check() in this test`);
    }
  }
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  if (type === 'object') return isObject(value);
  if (type === 'array') return Array.isArray(value);
  if (type === 'null') return value === null;
  return typeof value === type;
}

/** Does the relay (zod schema + loader checks) accept this config? */
function relayAccepts(config: unknown): boolean {
  try {
    parseConfig(config);
    return true;
  } catch {
    return false;
  }
}

function readYaml(url: URL): unknown {
  return parseDocument(readFileSync(url, 'utf8')).toJS();
}

const schema = buildConfigJsonSchema();

const HOOK = {
  id: 'hook',
  type: 'webhook',
  options: { url: 'https://receiver.example/hook' },
  secrets: { signingSecret: { env: 'HOOK_SECRET' } },
};

/** Paths of every duration field, with a config that reaches it. */
const DURATIONS: { path: string; config: (value: unknown) => unknown; at: (s: JsonSchema) => JsonSchema }[] = [
  {
    path: 'webhook.replayWindow',
    config: (value) => ({ webhook: { replayWindow: value } }),
    at: (s) => prop(prop(s, 'webhook'), 'replayWindow'),
  },
  {
    path: 'flowtriq.timeout',
    config: (value) => ({ flowtriq: { timeout: value } }),
    at: (s) => prop(prop(s, 'flowtriq'), 'timeout'),
  },
  {
    path: 'server.headersTimeout',
    config: (value) => ({ server: { headersTimeout: value, requestTimeout: '10m' } }),
    at: (s) => prop(prop(s, 'server'), 'headersTimeout'),
  },
  {
    path: 'server.requestTimeout',
    config: (value) => ({ server: { requestTimeout: value, headersTimeout: '1s' } }),
    at: (s) => prop(prop(s, 'server'), 'requestTimeout'),
  },
  {
    path: 'server.keepAliveTimeout',
    config: (value) => ({ server: { keepAliveTimeout: value } }),
    at: (s) => prop(prop(s, 'server'), 'keepAliveTimeout'),
  },
  {
    path: 'sweeper.interval',
    config: (value) => ({ sweeper: { interval: value } }),
    at: (s) => prop(prop(s, 'sweeper'), 'interval'),
  },
  { path: 'retention', config: (value) => ({ retention: value }), at: (s) => prop(s, 'retention') },
  {
    path: 'integrations[].ttl (dry-run)',
    config: (value) => ({ integrations: [{ id: 'dry', type: 'dry-run', ttl: value }] }),
    at: (s) => prop(integrationBranch(s, 'dry-run'), 'ttl'),
  },
  {
    path: 'integrations[].ttl (webhook)',
    config: (value) => ({ integrations: [{ ...HOOK, ttl: value }] }),
    at: (s) => prop(integrationBranch(s, 'webhook'), 'ttl'),
  },
  {
    path: 'integrations[].options.timeout',
    config: (value) => ({ integrations: [{ ...HOOK, options: { ...HOOK.options, timeout: value } }] }),
    at: (s) => prop(prop(integrationBranch(s, 'webhook'), 'options'), 'timeout'),
  },
];

function prop(node: JsonSchema, name: string): JsonSchema {
  const child = (node.properties as Record<string, JsonSchema> | undefined)?.[name];
  if (!child) throw new Error(`no property ${name}`);
  return child;
}

/** Every sub-schema of the generated schema, with its JSON pointer. */
function* walk(node: unknown, pointer = '#'): Generator<[string, JsonSchema]> {
  if (!isObject(node)) return;
  yield [pointer, node];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isObject(value)) {
      for (const [name, child] of Object.entries(value)) yield* walk(child, `${pointer}/properties/${name}`);
    } else if ((key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
      for (const [index, child] of value.entries()) yield* walk(child, `${pointer}/${key}/${index}`);
    } else if (['items', 'if', 'then', 'else'].includes(key)) {
      yield* walk(value, `${pointer}/${key}`);
    }
  }
}

describe('relay.config.schema.json', () => {
  it('is committed exactly as `npm run schema` generates it', () => {
    // Prepare
    const committed = readFileSync(new URL(CONFIG_JSON_SCHEMA_FILE, ROOT), 'utf8');

    // Act
    const fresh = renderConfigJsonSchema();

    // Assess
    expect(committed, `${CONFIG_JSON_SCHEMA_FILE} is out of date with lib/config/schema.ts: run \`npm run schema\``).toBe(
      fresh,
    );
  });

  it('renders the same text on every run, as draft-07 JSON ending in one newline', () => {
    // Act
    const first = renderConfigJsonSchema();
    const second = renderConfigJsonSchema();

    // Assess
    expect(second).toBe(first);
    expect(first.endsWith('}\n')).toBe(true);
    expect(JSON.parse(first).$schema).toBe('http://json-schema.org/draft-07/schema#');
  });
});

describe('the example configurations', () => {
  it('loads the YAML example with the zod schema, with everything the example promises', () => {
    // Act
    const { config, defaultedToDryRun } = loadConfig({ path: fileURLToPath(EXAMPLE_YAML) });

    // Assess
    expect(defaultedToDryRun).toBe(false);
    expect(config.webhook.secrets).toEqual([
      { env: 'FLOWTRIQ_WEBHOOK_SECRET', optional: false },
      { env: 'FLOWTRIQ_WEBHOOK_SECRET_NEXT', optional: true },
    ]);
    expect(config.flowtriq.apiToken).toMatchObject({ env: 'FLOWTRIQ_API_TOKEN' });
    expect(config.integrations.map((integration) => [integration.id, integration.type])).toEqual([
      ['log-blocks', 'dry-run'],
      ['scrub-rehearsal', 'dry-run'],
      ['siem', 'webhook'],
    ]);
    const [blocklist, rehearsal, siem] = config.integrations;
    expect(blocklist).toMatchObject({ options: { kind: 'blocklist' } });
    expect(rehearsal).toMatchObject({ options: { kind: 'switch' }, match: { minSeverity: 'critical' } });
    expect(siem?.type === 'webhook' && siem.options.url.startsWith('https://')).toBe(true);
    expect(siem?.type === 'webhook' && siem.secrets.signingSecret).toMatchObject({ env: 'RELAY_WEBHOOK_SIGNING_SECRET' });
  });

  it('points the YAML example at the generated schema on its first line', () => {
    // Prepare
    const firstLine = readFileSync(EXAMPLE_YAML, 'utf8').split('\n')[0] ?? '';

    // Act
    const reference = /^# yaml-language-server: \$schema=(\S+)$/.exec(firstLine)?.[1];

    // Assess
    expect(reference).toBeDefined();
    expect(new URL(reference!, EXAMPLE_YAML).href).toBe(new URL(CONFIG_JSON_SCHEMA_FILE, ROOT).href);
  });

  it('loads the JSON example, whose $schema points at the generated schema', () => {
    // Act
    const { config } = loadConfig({ path: fileURLToPath(EXAMPLE_JSON) });

    // Assess
    expect(config.integrations).toHaveLength(1);
    expect(new URL(config.$schema!, EXAMPLE_JSON).href).toBe(new URL(CONFIG_JSON_SCHEMA_FILE, ROOT).href);
  });

  it.each([
    ['YAML', EXAMPLE_YAML],
    ['JSON', EXAMPLE_JSON],
  ])('validates the %s example against the JSON Schema', (_kind, url) => {
    // Prepare
    const value = readYaml(url);

    // Act
    const problems = check(schema, value);

    // Assess
    expect(problems).toEqual([]);
  });
});

describe('the JSON Schema describes what may be written (the input side)', () => {
  it('offers one oneOf branch per integration type, told apart by a `type` const', () => {
    // Prepare
    const zodTypes = integrationSchema.options.map((option) => option.shape.type.value);

    // Act
    const items = (prop(schema, 'integrations').items ?? {}) as JsonSchema;
    const consts = ((items.oneOf ?? []) as JsonSchema[]).map((branch) => prop(branch, 'type').const);

    // Assess
    expect(consts).toEqual(zodTypes);
    for (const branch of items.oneOf as JsonSchema[]) expect(branch.required).toContain('type');
  });

  it('forbids unknown keys in every object, as the strict zod objects do', () => {
    // Act
    const objects = [...walk(schema)].filter(([, node]) => node.type === 'object');
    const open = objects.filter(([, node]) => node.additionalProperties !== false).map(([pointer]) => pointer);

    // Assess
    expect(objects.length).toBeGreaterThan(10);
    expect(open).toEqual([]);
  });

  it.each(DURATIONS)('accepts $path as a number of seconds or a string with a unit', ({ at }) => {
    // Act
    const node = at(schema);
    const branches = (node.anyOf ?? []) as JsonSchema[];

    // Assess
    expect(node.type).toBeUndefined();
    expect(branches.map((branch) => branch.type)).toEqual(['number', 'string']);
    expect(branches[1]?.pattern).toBe(DURATION_PATTERN);
    expect(node.description).toMatch(/Duration from \S+ to \S+: a number of seconds/);
  });

  it.each(DURATIONS)('puts the same bounds on $path in seconds as the relay', ({ at, config }) => {
    // Prepare
    const numeric = ((at(schema).anyOf ?? []) as JsonSchema[])[0]!;
    const min = numeric.minimum as number;
    const max = numeric.maximum as number;

    // Act
    const verdicts = [min, max, min - 0.001, max + 1].map((seconds) => relayAccepts(config(seconds)));

    // Assess
    expect(verdicts).toEqual([true, true, false, false]);
  });

  it('reads duration strings exactly as the relay parses them', () => {
    // Prepare
    const samples = ['90s', '5m', '500ms', '7d', '1h', ' 5m ', '0s', '5 minutes', '1.5h', '5M', '1h30m', '10', '', 'm'];
    const pattern = new RegExp(DURATION_PATTERN, 'u');

    // Act
    const disagreements = samples.filter((text) => pattern.test(text) !== (parseDuration(text) !== undefined));

    // Assess
    expect(disagreements).toEqual([]);
  });

  it('keeps each default as an input value, including those zod drops next to transforms', () => {
    // Act
    const defaults = {
      replayWindow: prop(prop(schema, 'webhook'), 'replayWindow').default,
      ttl: prop(integrationBranch(schema, 'webhook'), 'ttl').default,
      integrations: prop(schema, 'integrations').default,
      server: prop(schema, 'server').default,
    };

    // Assess
    expect(defaults).toEqual({ replayWindow: '5m', ttl: '1h', integrations: [], server: {} });
  });

  it('gives only defaults that its own field accepts', () => {
    // Act
    const invalid = [...walk(schema)]
      .filter(([, node]) => 'default' in node)
      .flatMap(([pointer, node]) => check(node, node.default, pointer));

    // Assess
    expect(invalid).toEqual([]);
  });
});

describe('the JSON Schema and the relay agree', () => {
  const DRY = { id: 'dry', type: 'dry-run' };
  it.each<[string, unknown, boolean]>([
    ['an empty file', {}, true],
    ['durations as numbers', { webhook: { replayWindow: 90 }, retention: 7200, sweeper: { interval: 1 } }, true],
    ['an http URL with allowInsecureHttp', { integrations: [{ ...HOOK, options: { url: 'http://127.0.0.1:9000/hook', allowInsecureHttp: true } }] }, true],
    ['two webhook secrets, env and sst', { webhook: { secrets: [{ env: 'A' }, { sst: 'Next', optional: true }] } }, true],
    ['match by node name and id, severity and families', { integrations: [{ ...DRY, match: { nodes: ['web-1', 42], minSeverity: 'high', families: ['udp_flood'] } }] }, true],
    ['a $schema key', { $schema: './relay.config.schema.json' }, true],
    ['an unknown top-level key', { serverr: {} }, false],
    ['an unknown nested key', { server: { hots: 'x' } }, false],
    ['an unknown integration type', { integrations: [{ id: 'a', type: 'pfsense' }] }, false],
    ['an integration without a type', { integrations: [{ id: 'a' }] }, false],
    ['webhook options on a dry-run integration', { integrations: [{ ...DRY, options: { url: 'https://x.example' } }] }, false],
    ['minConfidence 200', { blocking: { minConfidence: 200 } }, false],
    ['a duration in words', { webhook: { replayWindow: '5 minutes' } }, false],
    ['a duration number below the range', { webhook: { replayWindow: 5 } }, false],
    ['an http URL without allowInsecureHttp', { integrations: [{ ...HOOK, options: { url: 'http://receiver.example/hook' } }] }, false],
    ['an ftp URL, even with allowInsecureHttp', { integrations: [{ ...HOOK, options: { url: 'ftp://receiver.example/hook', allowInsecureHttp: true } }] }, false],
    ['a webhook without url', { integrations: [{ ...HOOK, options: {} }] }, false],
    ['a webhook without signing secret', { integrations: [{ ...HOOK, secrets: {} }] }, false],
    ['an unknown severity', { integrations: [{ ...DRY, match: { minSeverity: 'severe' } }] }, false],
    ['an upper-case id', { integrations: [{ id: 'Dry', type: 'dry-run' }] }, false],
    ['three webhook secrets', { webhook: { secrets: [{ env: 'A' }, { env: 'B' }, { env: 'C' }] } }, false],
    ['a secret with both env and sst', { webhook: { secrets: [{ env: 'A', sst: 'B' }] } }, false],
    ['a secret written as a bare string', { webhook: { secrets: ['A'] } }, false],
    ['port 70000', { server: { port: 70000 } }, false],
    ['server limits as numbers', { server: { headersTimeout: 5, requestTimeout: 30, keepAliveTimeout: 65, maxConnections: 1024 } }, true],
    ['maxConnections 0', { server: { maxConnections: 0 } }, false],
    ['a fractional maxConnections', { server: { maxConnections: 10.5 } }, false],
    ['maxAttempts 0', { integrations: [{ ...HOOK, options: { ...HOOK.options, maxAttempts: 0 } }] }, false],
    ['an empty node list', { integrations: [{ ...DRY, match: { nodes: [] } }] }, false],
  ])('on %s', (_case, config, expected) => {
    // Act
    const editor = check(schema, config).length === 0;
    const relay = relayAccepts(config);

    // Assess
    expect({ editor, relay }).toEqual({ editor: expected, relay: expected });
  });

  it.each<[string, unknown]>([
    ['duplicate integration ids', { integrations: [DRY, DRY] }],
    ['an invalid neverBlock prefix', { blocking: { neverBlock: ['10.0.0.0/33'] } }],
    ['a duration string out of range', { webhook: { replayWindow: '2h' } }],
    ['a headersTimeout longer than the requestTimeout', { server: { headersTimeout: '30s', requestTimeout: '20s' } }],
  ])('leaves %s to the relay, which JSON Schema cannot express', (_case, config) => {
    // Act
    const editor = check(schema, config).length === 0;
    const relay = relayAccepts(config);

    // Assess
    expect({ editor, relay }).toEqual({ editor: true, relay: false });
  });
});
