/** Every `relay` command, in the order `relay --help` lists them. */
import type { CommandSpec } from '../context.ts';
import { checkConfigCommand } from './check-config.ts';
import { historyCommand } from './history.ts';
import { sendTestCommand } from './send-test.ts';
import { startCommand } from './start.ts';
import { statusCommand } from './status.ts';
import { drainCommand, sweepCommand } from './sweep.ts';
import { activateCommand, testCommand, withdrawCommand } from './switch.ts';

export const COMMANDS: readonly CommandSpec[] = [
  startCommand,
  sendTestCommand,
  statusCommand,
  historyCommand,
  sweepCommand,
  drainCommand,
  testCommand,
  activateCommand,
  withdrawCommand,
  checkConfigCommand,
];
