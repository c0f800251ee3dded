/**
 * Command-line parsing for `relay`: each command declares its options (and
 * their defaults, for --help); anything else is refused with the closest
 * known spelling. Values are checked here, so a command only ever sees a
 * well-formed one.
 */
import { parseArgs } from 'node:util';
import { CliUsageError } from './errors.ts';

export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder of the value in help, e.g. `<n>`. */
  value?: string;
  description: string;
  /** The default, as help shows it. */
  default?: string;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export interface ParsedArgs {
  positionals: string[];
  values: OptionValues;
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  {
    name: 'config',
    type: 'string',
    value: '<file>',
    description: 'configuration file',
    default: 'relay.config.yaml|yml|json in this directory, or $RELAY_CONFIG; none: built-in defaults',
  },
  { name: 'help', type: 'boolean', short: 'h', description: 'show this help' },
];

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment; small strings only). */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The candidate closest to `word`, if it is close enough to be a likely typo (or `word` is a prefix of it). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = candidate.startsWith(word) && word.length >= 2 ? 0.5 : editDistance(word, candidate);
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (!best) return undefined;
  return best.distance <= Math.max(2, Math.floor(word.length / 3)) ? best.candidate : undefined;
}

/**
 * Parses `args` for a command whose options are `options` (plus the global
 * ones). `known` lists every option of every command, so an option of
 * another command gets a precise message.
 * @throws CliUsageError naming the option, the closest spelling and where help is.
 */
export function parseCommandArgs(
  args: string[],
  command: string,
  options: readonly OptionSpec[],
  known: ReadonlyMap<string, readonly string[]> = new Map(),
): ParsedArgs {
  const specs = [...GLOBAL_OPTIONS, ...options];
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const byShort = new Map(specs.filter((spec) => spec.short).map((spec) => [spec.short!, spec]));
  const { tokens } = parseArgs({
    args,
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(specs.map((spec) => [spec.name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}) }])),
  });
  const values: OptionValues = {};
  const positionals: string[] = [];
  const help = `relay ${command} --help`;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const spec = token.rawName.startsWith('--') ? byName.get(token.name) : byShort.get(token.name) ?? byName.get(token.name);
    if (!spec) {
      const others = known.get(token.name);
      if (others && others.length > 0) {
        throw new CliUsageError(`${token.rawName} is an option of relay ${others.join(', relay ')}, not of relay ${command} (see ${help})`);
      }
      const suggestion = closest(token.name, specs.map((candidate) => candidate.name));
      const elsewhere = suggestion ? undefined : closest(token.name, [...known.keys()]);
      const hint = suggestion
        ? `; did you mean --${suggestion}?`
        : elsewhere
          ? `; did you mean --${elsewhere}? (an option of relay ${known.get(elsewhere)!.join(', relay ')})`
          : '';
      throw new CliUsageError(`unknown option ${token.rawName} for relay ${command}${hint} (see ${help})`);
    }
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new CliUsageError(`--${spec.name} takes no value (remove "=${token.value}")`);
      values[spec.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('--'))) {
      throw new CliUsageError(`--${spec.name} needs a value: --${spec.name} ${spec.value ?? '<value>'} (see ${help})`);
    }
    values[spec.name] = value;
  }
  return { positionals, values };
}

/** A whole number option within [min, max]; `fallback` when absent. */
export function integerOption(values: OptionValues, name: string, range: { min: number; max: number; fallback: number; hint?: string }): number {
  // hint: why the range is what it is, shown after it.
  const raw = values[name];
  if (raw === undefined) return range.fallback;
  const text = String(raw).trim();
  const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new CliUsageError(`--${name} ${String(raw)}: give a whole number from ${range.min} to ${range.max}${range.hint ? ` (${range.hint})` : ''}`);
  }
  return value;
}

/** A number of seconds within [0, max]; `fallback` when absent. */
export function secondsOption(values: OptionValues, name: string, range: { max: number; fallback: number }): number {
  const raw = values[name];
  if (raw === undefined) return range.fallback;
  const text = String(raw).trim();
  const value = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value) || value > range.max) {
    throw new CliUsageError(`--${name} ${String(raw)}: give a number of seconds from 0 to ${range.max}, e.g. --${name} 0.5`);
  }
  return value;
}

/** --port: 0 to 65535 (0 = any free port). */
export function portOption(values: OptionValues): number | undefined {
  if (values.port === undefined) return undefined;
  return integerOption(values, 'port', { min: 0, max: 65_535, fallback: 0, hint: '0 = any free port' });
}

/** An absolute http(s) URL. */
export function urlOption(values: OptionValues, name: string): string | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new CliUsageError(`--${name} ${String(raw)}: give an absolute URL such as http://127.0.0.1:8787/webhooks/flowtriq`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliUsageError(`--${name} ${String(raw)}: use an http:// or https:// URL`);
  }
  return url.toString();
}
