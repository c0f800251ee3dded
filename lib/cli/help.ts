/** `relay --help` and `relay <command> --help`. */
import { GLOBAL_OPTIONS, type OptionSpec } from './args.ts';
import type { CommandSpec } from './context.ts';

function optionLines(options: readonly OptionSpec[]): string[] {
  const heads = options.map((option) => `${option.short ? `-${option.short}, ` : ''}--${option.name}${option.value ? ` ${option.value}` : ''}`);
  const width = Math.max(...heads.map((head) => head.length)) + 2;
  return options.map((option, index) => {
    const head = heads[index]!.padEnd(width);
    return `  ${head}${option.description}${option.default ? ` (default: ${option.default})` : ''}`;
  });
}

export function commandHelp(command: CommandSpec): string {
  return [
    `Usage: relay ${command.name}${command.args ? ` ${command.args}` : ''} [options]`,
    '',
    command.description,
    '',
    'Options:',
    ...optionLines([...command.options, ...GLOBAL_OPTIONS]),
    '',
    `Example${command.examples.length > 1 ? 's' : ''}:`,
    ...command.examples.map((example) => `  ${example}`),
    '',
  ].join('\n');
}

export function mainHelp(commands: readonly CommandSpec[]): string {
  const heads = commands.map((command) => `${command.name}${command.args ? ` ${command.args}` : ''}`);
  const width = Math.max(...heads.map((head) => head.length)) + 2;
  return [
    'Usage: relay <command> [options]',
    '',
    'Commands:',
    ...commands.map((command, index) => `  ${heads[index]!.padEnd(width)}${command.summary}`),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Run relay <command> --help for its options, their defaults and an example.',
    '',
  ].join('\n');
}
