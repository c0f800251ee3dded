/**
 * Finds, reads and validates the configuration file. YAML or JSON; every
 * failure is a ConfigError listing each problem with its path and the fix.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { formatPath } from '../event/schema.ts';
import { neverBlockIssues, rawIssues } from './raw-checks.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { configSchema, type RelayConfig } from './schema.ts';

/** Looked for, in this order, in the working directory. */
export const CONFIG_FILENAMES = ['relay.config.yaml', 'relay.config.yml', 'relay.config.json'] as const;

export interface LoadedConfig {
  config: RelayConfig;
  /** Absolute path of the file read; undefined when running on defaults. */
  file: string | undefined;
  /** True when no integration was configured and the dry-run default was added. */
  defaultedToDryRun: boolean;
}

/** Validates an already-parsed config value. */
export function parseConfig(value: unknown, file?: string): RelayConfig {
  const result = configSchema.safeParse(value ?? {});
  if (!result.success) {
    const issues = result.error.issues.flatMap((issue): ConfigIssue[] =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            path: formatPath([...issue.path, key]),
            message: `unknown key "${key}"; remove it or check its spelling (every key is listed in docs/CONFIG.md)`,
          }))
        : [{ path: formatPath(issue.path) || '(top level)', message: issue.message }],
    );
    // The checks zod skipped because of these, so one run lists every problem.
    for (const extra of rawIssues(value)) {
      if (!issues.some((issue) => issue.path === extra.path)) issues.push(extra);
    }
    throw new ConfigError(file, issues);
  }
  const issues = neverBlockIssues(result.data.blocking.neverBlock);
  if (issues.length > 0) throw new ConfigError(file, issues);
  return result.data;
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. */
export function parseConfigText(text: string, file?: string): RelayConfig {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => ({
        path: error.linePos ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '(syntax)',
        message:
          error.code === 'DUPLICATE_KEY'
            ? 'this key is already set above in the same mapping; keep one of them'
            : (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, ''),
      })),
    );
  }
  return parseConfig(withoutEmptySections(document.toJS()), file);
}

/** A top-level key with nothing under it (all lines commented out) means "use the defaults". */
function withoutEmptySections(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, section]) => section !== null));
}

/**
 * Loads the config from `path`, or from the first of CONFIG_FILENAMES in
 * `cwd`, or falls back to defaults. With no integrations, a dry-run
 * integration is added so the relay shows what it would do.
 */
export function loadConfig(options: { path?: string; cwd?: string } = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  let file: string | undefined;
  if (options.path !== undefined) {
    file = resolve(cwd, options.path);
    if (!existsSync(file)) {
      throw new ConfigError(file, [
        { path: '(file)', message: 'does not exist; check the --config path or RELAY_CONFIG' },
      ]);
    }
  } else {
    file = CONFIG_FILENAMES.map((name) => resolve(cwd, name)).find((candidate) => existsSync(candidate));
  }
  const config = file === undefined ? parseConfig({}) : parseConfigText(readConfigFile(file), file);
  return withDryRunDefault(config, file);
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(file, [
      { path: '(file)', message: `cannot be read (${code}); give the path of a readable YAML or JSON file` },
    ]);
  }
}

function withDryRunDefault(config: RelayConfig, file: string | undefined): LoadedConfig {
  if (config.integrations.length > 0) return { config, file, defaultedToDryRun: false };
  const dryRun = parseConfig({ integrations: [{ id: 'dry-run', type: 'dry-run' }] }).integrations;
  return { config: { ...config, integrations: dryRun }, file, defaultedToDryRun: true };
}
