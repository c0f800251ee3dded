/**
 * Writes relay.config.schema.json (repo root) from lib/config/schema.ts, for
 * editors: `# yaml-language-server: $schema=./relay.config.schema.json` in
 * YAML, or `"$schema": "./relay.config.schema.json"` in JSON.
 *
 *   npm run schema            write the file
 *   npm run schema -- --check exit 1 if the committed file is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_JSON_SCHEMA_FILE, renderConfigJsonSchema } from '../lib/config/json-schema.ts';

const target = fileURLToPath(new URL(`../${CONFIG_JSON_SCHEMA_FILE}`, import.meta.url));
const fresh = renderConfigJsonSchema();

if (process.argv.includes('--check')) {
  let committed: string | undefined;
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    committed = undefined;
  }
  if (committed !== fresh) {
    process.stderr.write(`${CONFIG_JSON_SCHEMA_FILE} is out of date with lib/config/schema.ts; run: npm run schema\n`);
    process.exit(1);
  }
  process.stdout.write(`${CONFIG_JSON_SCHEMA_FILE} is up to date\n`);
} else {
  writeFileSync(target, fresh);
  process.stdout.write(`wrote ${CONFIG_JSON_SCHEMA_FILE}\n`);
}
