/** What every command shares: output, the configuration, the stores. */
import { join, resolve } from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { SqliteJobQueue } from '../queue/sqlite.ts';
import { QUEUE_DB, STATE_DB } from '../runtime/one-box.ts';
import { SqliteStateStore } from '../state/sqlite.ts';
import type { OptionSpec, OptionValues } from './args.ts';
import { CliUsageError } from './errors.ts';

/** Where a command writes: results on stdout, notes and progress on stderr. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stderr, for progress drawn in place. */
  stderr: { isTTY?: boolean; write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
  stderr: process.stderr,
  env: process.env,
};

export interface CommandInput {
  values: OptionValues;
  positionals: string[];
  io: Io;
}

export interface CommandSpec {
  name: string;
  /** Positional arguments as help shows them, e.g. `<id>`. */
  args?: string;
  /** One line for `relay --help`. */
  summary: string;
  /** What it does, for `relay <command> --help`. */
  description: string;
  options: OptionSpec[];
  examples: string[];
  /** Most positional arguments after the command. */
  maxPositionals: number;
  run(input: CommandInput): Promise<void>;
}

export function loadFor(values: OptionValues, env: NodeJS.ProcessEnv): LoadedConfig {
  const configPath = (values.config as string | undefined) ?? env.RELAY_CONFIG;
  return loadConfig(configPath ? { path: configPath } : {});
}

/** Options of the commands that can work on a deployed stage. */
export const AWS_OPTIONS: OptionSpec[] = [
  { name: 'aws', type: 'boolean', description: 'a deployed stage instead of the local files (needs the stage outputs below and AWS credentials)' },
  { name: 'region', type: 'string', value: '<region>', description: '--aws: the stage\'s region', default: '$AWS_REGION' },
  { name: 'table', type: 'string', value: '<name>', description: '--aws: the stage output stateTable', default: '$RELAY_STATE_TABLE' },
  { name: 'queue-url', type: 'string', value: '<url>', description: '--aws: the stage output jobsQueueUrl', default: '$RELAY_QUEUE_URL' },
  { name: 'dlq-url', type: 'string', value: '<url>', description: '--aws: the stage output jobsDlqUrl', default: '$RELAY_DLQ_URL' },
];

/**
 * The state store and queue to inspect: the one-box SQLite files, or with
 * --aws a deployed stage's DynamoDB table and SQS queues (names from the
 * stack outputs; credentials from the usual AWS chain).
 */
export async function openStores(values: OptionValues, loaded: LoadedConfig, env: NodeJS.ProcessEnv) {
  if (values.aws === true) {
    const { DynamoStateStore } = await import('../state/dynamodb.ts');
    const { SqsJobQueue } = await import('../queue/sqs.ts');
    const need = (flag: string, variable: string) => {
      const value = (values[flag] as string | undefined) ?? env[variable];
      if (!value) throw new CliUsageError(`--aws needs --${flag} (or ${variable}): see the stage's sst deploy outputs`);
      return value;
    };
    const region = need('region', 'AWS_REGION');
    const store = new DynamoStateStore({ tableName: need('table', 'RELAY_STATE_TABLE'), clientConfig: { region } });
    const queue = new SqsJobQueue({
      queueUrl: need('queue-url', 'RELAY_QUEUE_URL'),
      deadLetterQueueUrl: need('dlq-url', 'RELAY_DLQ_URL'),
      // With an explicit endpoint (AWS_ENDPOINT_URL_SQS: VPC endpoints, emulators) keep to it.
      clientConfig: { region, ...(env.AWS_ENDPOINT_URL_SQS ? { useQueueUrlAsEndpoint: false } : {}) },
    });
    return { store, queue, aws: true };
  }
  const dir = resolve(loaded.config.storage.dir);
  return { store: SqliteStateStore.open(join(dir, STATE_DB)), queue: SqliteJobQueue.open(join(dir, QUEUE_DB)), aws: false };
}
