/**
 * The `relay` command: start | send-test | status | sweep | drain | test |
 * activate | withdraw | check-config (one module each under ./commands).
 * Human-readable output goes to stderr/stdout; the running relay logs JSON
 * lines to stdout.
 *
 * Every failure is one line with the fix and a non-zero exit (./errors.ts):
 * usage errors 2, failures 1. No stack unless RELAY_DEBUG=1.
 */
import { closest, parseCommandArgs, type OptionSpec } from './args.ts';
import { COMMANDS } from './commands/index.ts';
import { processIo, type CommandSpec, type Io } from './context.ts';
import { CliUsageError, errorMessage, exitCodeOf } from './errors.ts';
import { commandHelp, mainHelp } from './help.ts';

/** Which commands take each option (for "--json is an option of relay status, …"). */
function optionOwners(commands: readonly CommandSpec[]): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const command of commands) {
    for (const option of command.options as OptionSpec[]) {
      owners.set(option.name, [...(owners.get(option.name) ?? []), command.name]);
    }
  }
  return owners;
}

function findCommand(name: string): CommandSpec {
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command) return command;
  const suggestion = closest(name, [...COMMANDS.map((candidate) => candidate.name), 'help']);
  throw new CliUsageError(`unknown command "${name}"${suggestion ? `; did you mean "relay ${suggestion}"?` : ''} (relay --help lists the commands)`);
}

export async function main(argv: string[], io: Io = processIo): Promise<void> {
  // The command is the first word that is neither an option nor the value of --config.
  let first = -1;
  for (let index = 0; index < argv.length; index += 1) {
    if (argv[index] === '--config') index += 1;
    else if (!argv[index]!.startsWith('-')) {
      first = index;
      break;
    }
  }
  const name = first === -1 ? undefined : argv[first];
  if (name === undefined) {
    const unknown = argv.find((arg, index) => !['-h', '--help', '--config'].includes(arg) && argv[index - 1] !== '--config' && !arg.startsWith('--config='));
    if (unknown) {
      const option = unknown.replace(/^-+/, '').split('=')[0]!;
      const owners = optionOwners(COMMANDS).get(option);
      throw new CliUsageError(
        owners
          ? `${unknown} is an option of relay ${owners.join(', relay ')}: put it after the command, e.g. relay ${owners[0]} ${unknown}`
          : `unknown option ${unknown} (relay --help lists the commands; relay <command> --help their options)`,
      );
    }
    io.out(mainHelp(COMMANDS));
    return;
  }
  if (name === 'help') {
    const topic = argv[first + 1];
    io.out(topic === undefined ? mainHelp(COMMANDS) : commandHelp(findCommand(topic)));
    return;
  }
  const command = findCommand(name);
  const rest = [...argv.slice(0, first), ...argv.slice(first + 1)];
  const { positionals, values } = parseCommandArgs(rest, command.name, command.options, optionOwners(COMMANDS));
  if (values.help === true) {
    io.out(commandHelp(command));
    return;
  }
  if (positionals.length > command.maxPositionals) {
    const extra = positionals[command.maxPositionals]!;
    throw new CliUsageError(
      `relay ${command.name} takes ${command.maxPositionals === 0 ? 'no arguments' : `only ${command.args}`}, but got "${extra}" (see relay ${command.name} --help)`,
    );
  }
  await command.run({ values, positionals, io });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`relay: ${errorMessage(error)}\n`);
  process.exit(exitCodeOf(error));
});
