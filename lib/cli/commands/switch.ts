/** `relay test|activate|withdraw <id>`. */
import { createLogger } from '../../log/logger.ts';
import { buildEngine } from '../../runtime/engine.ts';
import { createDirectTransport } from '../../transport/node-http.ts';
import { AWS_OPTIONS, loadFor, openStores, type CommandInput, type CommandSpec } from '../context.ts';
import { CliUsageError } from '../errors.ts';
import { invokeStageControl } from '../stage-control.ts';
import { activateSwitch, recordSwitchControl, testIntegration, withdrawSwitch } from '../switch-controls.ts';
import type { OptionSpec } from '../args.ts';

type Control = 'test' | 'activate' | 'withdraw';

async function switchControl(command: Control, { values, positionals, io }: CommandInput): Promise<void> {
  const integration = positionals[0];
  if (!integration) throw new CliUsageError(`relay ${command} needs the integration's id, e.g. relay ${command} edge-scrub (see relay ${command} --help)`);
  const sweeperFunction = (values['sweeper-function'] as string | undefined) ?? io.env.RELAY_SWEEPER_FUNCTION;
  if (values.aws === true && sweeperFunction) {
    // A deployed stage: its sweeper runs the command now, with the stage's credentials.
    const region = (values.region as string | undefined) ?? io.env.AWS_REGION;
    if (!region) throw new CliUsageError('--aws needs --region (or AWS_REGION): see the stage\'s sst deploy outputs');
    const endpoint = io.env.RELAY_LAMBDA_ENDPOINT;
    const answer = await invokeStageControl({ region, sweeperFunction, ...(endpoint ? { endpoint } : {}) }, command, integration, values.force === true);
    for (const line of answer.lines) io.out(line);
    if (!answer.ok) process.exitCode = 1;
    return;
  }
  if (values.aws === true && command === 'test') {
    throw new CliUsageError('relay test --aws needs --sweeper-function (or RELAY_SWEEPER_FUNCTION): the stage output sweeperFunction; the stage\'s sweeper runs the health check with the stage\'s credentials');
  }
  const loaded = loadFor(values, io.env);
  const { store, queue, aws } = await openStores(values, loaded, io.env);
  try {
    if (aws) {
      // A deployed stage: record the intent in its table; its sweeper does the provider work.
      const recorded = await recordSwitchControl(store, loaded.config, command as 'activate' | 'withdraw', integration, Date.now(), { force: values.force === true });
      for (const line of recorded.lines) io.out(line);
      io.out('(add --sweeper-function <the stage output sweeperFunction> to have the stage do it now and answer)');
      if (!recorded.ok) process.exitCode = 1;
      return;
    }
    // The answer is the command's output; only warnings and errors are logged unless RELAY_LOG_LEVEL says otherwise.
    const logger = createLogger(io.env.RELAY_LOG_LEVEL ? {} : { level: 'WARN' });
    const engine = buildEngine({ config: loaded.config, store, transport: createDirectTransport(), logger });
    const now = Date.now();
    const result =
      command === 'test'
        ? await testIntegration(engine, integration)
        : command === 'activate'
          ? await activateSwitch(engine, integration, now)
          : await withdrawSwitch(engine, integration, now, { force: values.force === true });
    for (const line of result.lines) io.out(line);
    if (!result.ok) process.exitCode = 1;
  } finally {
    await queue.close();
    await store.close();
  }
}

const sweeperFunction = (what: string): OptionSpec => ({
  name: 'sweeper-function',
  type: 'string',
  value: '<name>',
  description: `--aws: the stage output sweeperFunction; the stage's sweeper ${what} now with the stage's credentials (yours need lambda:InvokeFunction on it)`,
  default: '$RELAY_SWEEPER_FUNCTION',
});

export const testCommand: CommandSpec = {
  name: 'test',
  args: '<id>',
  summary: 'run one integration\'s health check (a switch also shows what it would save); changes nothing',
  description: 'Runs the health check of integration <id>; for a switch integration, also shows what it would save before turning it on. Changes nothing.',
  options: [...AWS_OPTIONS, sweeperFunction('runs the check')],
  examples: ['relay test edge-fw', 'relay test scrub --aws --region eu-west-1 --sweeper-function …'],
  maxPositionals: 1,
  run: (input) => switchControl('test', input),
};

export const activateCommand: CommandSpec = {
  name: 'activate',
  args: '<id>',
  summary: 'switch integrations: turn it on now, as a manual hold of its own (until withdraw or its TTL)',
  description: 'Turns switch integration <id> on now, as a manual hold of its own, released by relay withdraw or the integration\'s ttl.\nWith --aws and no --sweeper-function, only records the intent for the stage\'s next sweep.',
  options: [...AWS_OPTIONS, sweeperFunction('turns it on')],
  examples: ['relay activate scrub'],
  maxPositionals: 1,
  run: (input) => switchControl('activate', input),
};

export const withdrawCommand: CommandSpec = {
  name: 'withdraw',
  args: '<id>',
  summary: 'switch integrations: restore it now; refused while an incident holds it, unless --force',
  description: 'Restores switch integration <id> now (no hold-down). Refused while an incident still holds it, naming the incidents, unless --force.',
  options: [{ name: 'force', type: 'boolean', description: 'restore even though incidents still hold the switch' }, ...AWS_OPTIONS, sweeperFunction('restores it')],
  examples: ['relay withdraw scrub', 'relay withdraw scrub --force'],
  maxPositionals: 1,
  run: (input) => switchControl('withdraw', input),
};
