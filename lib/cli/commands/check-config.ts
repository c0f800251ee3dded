/** `relay check-config`. */
import { formatDuration } from '../../config/duration.ts';
import { ConfigError } from '../../config/errors.ts';
import { checkConfiguration } from '../config-check.ts';
import { loadFor, type CommandInput, type CommandSpec } from '../context.ts';

async function run({ values, io }: CommandInput): Promise<void> {
  const report = checkConfiguration(() => loadFor(values, io.env), io.env, { secrets: values['skip-secrets'] !== true });
  for (const warning of report.warnings) io.err(`warning: ${warning}`);
  if (!report.valid) {
    for (const note of report.notes) io.err(`note: ${note}`);
    // Exit 2, as for every configuration error (relay start refuses the same file with 2).
    throw new ConfigError(report.file, report.issues);
  }
  const loaded = report.loaded!;
  io.out(`${loaded.file ?? 'built-in defaults'}: valid`);
  for (const integration of loaded.config.integrations) {
    io.out(`  - ${integration.id}: ${integration.type}${integration.enabled ? '' : ' (disabled)'}, ttl ${formatDuration(integration.ttl)}`);
  }
  for (const note of report.notes) io.err(`note: ${note}`);
}

export const checkConfigCommand: CommandSpec = {
  name: 'check-config',
  summary: 'validate the configuration file and its secrets; print what it configures',
  description:
    'Validates the configuration file and lists every problem at once, each with its path and the fix. Then checks that\n' +
    'every secret relay start would need is set (the webhook secrets, flowtriq.apiToken, and those of every enabled\n' +
    'integration), and warns about a webhook secret shorter than 32 bytes. Exit 2 when anything is wrong.',
  options: [{ name: 'skip-secrets', type: 'boolean', description: 'do not check that the referenced secrets are set (e.g. on a machine that will not run the relay)' }],
  examples: ['relay check-config', 'relay check-config --config staging.yaml --skip-secrets'],
  maxPositionals: 0,
  run,
};
