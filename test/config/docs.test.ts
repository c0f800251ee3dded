import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfigJsonSchema, type JsonSchema } from '../../lib/config/json-schema.ts';
import { BUILTIN_NEVER_BLOCK_V4, BUILTIN_NEVER_BLOCK_V6 } from '../../lib/ip/never-block.ts';
import { signRelay } from '../../lib/signature/relay.ts';

const DOC = readFileSync(new URL('../../docs/CONFIG.md', import.meta.url), 'utf8');
const LINES = DOC.split('\n');

interface Leaf {
  /** `integrations[].options.url`: `[]` marks a list item. */
  path: string;
  schema: JsonSchema;
}

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The node and its anyOf/oneOf branches: alternatives that may each add fields. */
function alternatives(node: JsonSchema): JsonSchema[] {
  return [node, ...(((node.anyOf ?? node.oneOf ?? []) as unknown[]).filter(isObject) as JsonSchema[])];
}

function hasFields(node: JsonSchema): boolean {
  return alternatives(node).some((alternative) => isObject(alternative.properties));
}

/**
 * Every field a user can write, found by walking the JSON Schema: objects are
 * descended into, lists of objects add `[]`, and each anyOf/oneOf branch
 * (secret reference forms, integration types) contributes its own fields.
 * A field whose value has no fields of its own is a leaf.
 */
function leaves(node: JsonSchema, path = ''): Leaf[] {
  if (path !== '' && !hasFields(node)) {
    const items = node.items;
    if (!(isObject(items) && hasFields(items))) return [{ path, schema: node }];
  }
  const found: Leaf[] = [];
  for (const alternative of alternatives(node)) {
    if (isObject(alternative.properties)) {
      for (const [name, child] of Object.entries(alternative.properties)) {
        if (isObject(child)) found.push(...leaves(child, path === '' ? name : `${path}.${name}`));
      }
    }
    if (isObject(alternative.items) && hasFields(alternative.items)) found.push(...leaves(alternative.items, `${path}[]`));
  }
  return found;
}

/** The table row documenting `path`: it starts with the path in backticks. */
function rowOf(path: string): string | undefined {
  return LINES.find((line) => line.startsWith(`| \`${path}\` |`));
}

const schema = buildConfigJsonSchema();
const LEAVES = leaves(schema);

describe('docs/CONFIG.md', () => {
  it('finds the fields of every section of the schema', () => {
    // Act
    const paths = new Set(LEAVES.map((leaf) => leaf.path));

    // Assess
    for (const expected of [
      'server.port',
      'webhook.secrets[].env',
      'webhook.replayWindow',
      'flowtriq.apiToken.sst',
      'blocking.neverBlock',
      'retention',
      'integrations[].match.minSeverity',
      'integrations[].options.kind',
      'integrations[].options.url',
      'integrations[].secrets.signingSecret.env',
    ]) {
      expect(paths).toContain(expected);
    }
  });

  it('has a table row for every field of the schema', () => {
    // Act
    const undocumented = [...new Set(LEAVES.map((leaf) => leaf.path))].filter((path) => rowOf(path) === undefined);

    // Assess
    expect(undocumented, 'add a row "| `<path>` | type | default | allowed | what it does |" to docs/CONFIG.md').toEqual([]);
  });

  it('gives the schema default in the row of every field that has a simple one', () => {
    // Prepare
    const simple = LEAVES.filter(({ schema: node }) => {
      const value = node.default;
      return ['string', 'number', 'boolean'].includes(typeof value) || (Array.isArray(value) && value.length === 0);
    });

    // Act
    const wrong = simple
      .map(({ path, schema: node }) => ({ path, expected: `\`${Array.isArray(node.default) ? '[]' : String(node.default)}\`` }))
      .filter(({ path, expected }) => !(rowOf(path) ?? '').split('|')[3]?.includes(expected));

    // Assess
    expect(simple.length).toBeGreaterThan(15);
    expect(wrong).toEqual([]);
  });

  it('has a section for every integration type', () => {
    // Prepare
    const items = (schema.properties as Record<string, JsonSchema>).integrations?.items as JsonSchema;
    const types = (items.oneOf as JsonSchema[]).map((branch) => (branch.properties as Record<string, JsonSchema>).type?.const);

    // Act
    const missing = types.filter((type) => !LINES.some((line) => line.startsWith('### ') && line.includes(`\`${String(type)}\``)));

    // Assess
    expect(types.length).toBeGreaterThan(1);
    expect(missing).toEqual([]);
  });

  it.each([
    ['IPv4', BUILTIN_NEVER_BLOCK_V4],
    ['IPv6', BUILTIN_NEVER_BLOCK_V6],
  ])('lists every built-in %s never-block range with its label', (_family, ranges) => {
    // Act
    const missing = ranges
      .filter((range) => !LINES.some((line) => line.startsWith(`| \`${range.cidr}\` | ${range.label}`)))
      .map((range) => range.cidr);

    // Assess
    expect(missing).toEqual([]);
  });

  it('lists no built-in range the code does not have', () => {
    // Prepare
    const start = LINES.findIndex((line) => line === '## Built-in never-block ranges');
    const end = LINES.findIndex((line, index) => index > start && line.startsWith('## '));
    const known = new Set([...BUILTIN_NEVER_BLOCK_V4, ...BUILTIN_NEVER_BLOCK_V6].map((range) => range.cidr));

    // Act
    const documented = LINES.slice(start, end)
      .map((line) => /^\| `([^`]+)` \|/.exec(line)?.[1])
      .filter((cidr): cidr is string => cidr !== undefined);

    // Assess
    expect(documented.length).toBe(known.size);
    expect(documented.filter((cidr) => !known.has(cidr))).toEqual([]);
  });
});

describe('the verification example in docs/CONFIG.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-docs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Imports the code block that follows the "tested" marker. */
  async function loadExample(): Promise<{
    verifyRelaySignature: (secret: string, body: Buffer | string, timestamp: unknown, signature: unknown) => boolean;
  }> {
    const marker = DOC.indexOf('<!-- tested: test/config/docs.test.ts runs the next code block -->');
    const block = /```js\n([\s\S]*?)```/.exec(DOC.slice(marker))?.[1];
    if (marker === -1 || block === undefined) throw new Error('docs/CONFIG.md: the tested verification example is missing');
    const file = join(dir, 'verify.mjs');
    writeFileSync(file, block);
    return import(pathToFileURL(file).href);
  }

  it('accepts a request signed by the relay and refuses a tampered or stale one', async () => {
    // Prepare
    const { verifyRelaySignature } = await loadExample();
    const secret = 'receiver-shared-secret';
    const body = JSON.stringify({ type: 'block.add', integration: 'siem', sentAt: new Date().toISOString(), entries: [] });
    const now = Math.floor(Date.now() / 1000);
    const signature = signRelay(secret, now, body);
    const stale = now - 3600;

    // Act
    const verdicts = {
      genuine: verifyRelaySignature(secret, Buffer.from(body), String(now), signature),
      tamperedBody: verifyRelaySignature(secret, Buffer.from(body.replace('siem', 'evil')), String(now), signature),
      wrongSecret: verifyRelaySignature('another-secret', Buffer.from(body), String(now), signature),
      stale: verifyRelaySignature(secret, Buffer.from(body), String(stale), signRelay(secret, stale, body)),
      missingHeaders: verifyRelaySignature(secret, Buffer.from(body), undefined, undefined),
    };

    // Assess
    expect(verdicts).toEqual({ genuine: true, tamperedBody: false, wrongSecret: false, stale: false, missingHeaders: false });
  });
});
