/**
 * The `relay` command: start | send-test | status | sweep | drain | test |
 * activate | withdraw | check-config.
 * Human-readable output goes to stderr/stdout; the running relay logs JSON
 * lines to stdout.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/errors.ts';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { formatDuration } from '../config/duration.ts';
import { RelayError } from '../errors.ts';
import { drainIncidents } from '../engine/drain.ts';
import { sweep } from '../engine/sweeper.ts';
import { createLogger } from '../log/logger.ts';
import { SqliteJobQueue } from '../queue/sqlite.ts';
import { buildEngine } from '../runtime/engine.ts';
import { QUEUE_DB, STATE_DB, startOneBox, webhookSecrets, type OneBox } from '../runtime/one-box.ts';
import { signFlowtriq } from '../signature/flowtriq.ts';
import { SqliteStateStore } from '../state/sqlite.ts';
import { createDirectTransport } from '../transport/node-http.ts';
import { sampleEvents } from './sample-event.ts';
import { collectStatus, formatStatus } from './status.ts';
import { invokeStageControl } from './stage-control.ts';
import { activateSwitch, recordSwitchControl, testIntegration, withdrawSwitch } from './switch-controls.ts';

const USAGE = `Usage: relay <command> [options]

Commands:
  start          run the relay (webhook server, workers, sweeper) on SQLite
  send-test      sign and post a sample attack_start, then its attack_end
  status         active incidents, blocks per integration with expiry, failures
  sweep          run the TTL/retry sweeper once
  drain          end every active incident now and withdraw all blocks (before removing a deployment)
  test <id>      run one integration's health check (a switch also shows what it would save); changes nothing
  activate <id>  switch integrations: turn it on now, as a manual hold of its own (until withdraw or its TTL)
  withdraw <id>  switch integrations: restore it now; refused while an incident holds it, unless --force
  check-config   validate the configuration file and print what it configures

Options:
  --config <file>   configuration file (default: relay.config.yaml|yml|json, or RELAY_CONFIG)
  --insecure-dev    start: accept unsigned webhooks (development only; every request log says so)
  --port <n>        start: listen on this port instead of server.port (0 = any free port)
  --ips <n>         send-test: number of sample source IPs (default 20)
  --wait <seconds>  send-test: pause between start and end (default 2)
  --url <url>       send-test: webhook URL (default from the config)
  --yes             send-test: confirm pushing sample IPs to real (non-dry-run) integrations
  --keep            send-test: send only the attack_start (try relay drain, or watch the TTL)
  --json            status: machine-readable output
  --force           withdraw: restore even though incidents still hold the switch
  --aws             status, drain, test, activate, withdraw: a deployed stage instead of the local files; needs --region, --table,
                    --queue-url, --dlq-url (the stage's outputs; or AWS_REGION, RELAY_STATE_TABLE,
                    RELAY_QUEUE_URL, RELAY_DLQ_URL) and AWS credentials
  --sweeper-function <name>
                    test, activate, withdraw --aws: the stage output sweeperFunction (or RELAY_SWEEPER_FUNCTION); the stage's
                    sweeper runs the command now with the stage's credentials (your credentials need lambda:InvokeFunction
                    on it). Without it, activate and withdraw only record the intent for the stage's next sweep.
`;

function out(text: string) {
  process.stdout.write(`${text}\n`);
}
function err(text: string) {
  process.stderr.write(`${text}\n`);
}

function load(path: string | undefined): LoadedConfig {
  const configPath = path ?? process.env.RELAY_CONFIG;
  return loadConfig(configPath ? { path: configPath } : {});
}

async function start(values: Record<string, unknown>) {
  const loaded = load(values.config as string | undefined);
  const insecure = values['insecure-dev'] === true || process.env.RELAY_INSECURE_DEV === '1';
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RelayError('usage', '--port must be a port number from 0 to 65535');
  }
  const logger = createLogger();
  // Signal handlers first: a SIGTERM that arrives while starting still ends cleanly.
  let relay: OneBox | undefined;
  let stopRequested: string | undefined;
  const shutdown = (signal: string) => {
    if (stopRequested) return;
    stopRequested = signal;
    if (!relay) return; // start() stops it as soon as it is up
    logger.info('shutting down; finishing in-flight work', { signal });
    relay.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  relay = await startOneBox({ loaded, logger, insecure, ...(port !== undefined ? { port } : {}) });
  const integrations = loaded.config.integrations.filter((integration) => integration.enabled);
  err('');
  err(`Flowtriq Relay is running (one-box, SQLite in ${resolve(loaded.config.storage.dir)})`);
  err(`  config:       ${loaded.file ?? 'built-in defaults (no relay.config.yaml found)'}`);
  err(`  webhook URL:  ${relay.webhookUrl}`);
  err(`  secret from:  ${relay.secretSource.description}`);
  if (relay.insecure) err('  WARNING:      INSECURE DEVELOPMENT MODE: webhook signatures are NOT verified');
  else if (insecure) err('  note:         --insecure-dev ignored: a webhook secret is set, so signatures are verified');
  err(`  integrations: ${integrations.length}${loaded.defaultedToDryRun ? ' (none configured: dry-run default, changes nothing)' : ''}`);
  for (const integration of integrations) {
    const kind = relay.engine.providers.get(integration.id)?.kind ?? '?';
    err(`    - ${integration.id} (${integration.type}, ${kind}, ttl ${formatDuration(integration.ttl)})`);
  }
  err(`  send a test:  npm run relay -- send-test   (then: npm run relay -- status)`);
  err('');
  if (stopRequested) {
    const signal = stopRequested;
    stopRequested = undefined;
    shutdown(signal);
  }
}

async function sendTest(values: Record<string, unknown>) {
  const loaded = load(values.config as string | undefined);
  const live = loaded.config.integrations.filter((integration) => integration.enabled && integration.type !== 'dry-run');
  if (live.length > 0 && values.yes !== true) {
    err(`send-test would push sample IPs to real integrations (${live.map((i) => i.id).join(', ')}) and remove them moments later.`);
    err('Re-run with --yes to confirm.');
    process.exitCode = 2;
    return;
  }
  const { secrets } = webhookSecrets(loaded, process.env, false);
  const secret = secrets[0]!;
  const host = loaded.config.server.host.includes(':') ? `[${loaded.config.server.host}]` : loaded.config.server.host;
  const url = (values.url as string | undefined) ?? `http://${host}:${loaded.config.server.port}/webhooks/flowtriq`;
  const ips = Number(values.ips ?? 20);
  const waitSeconds = Number(values.wait ?? 2);
  if (!Number.isInteger(ips) || ips < 1 || ips > 10_000) throw new RelayError('usage', '--ips must be a whole number from 1 to 10000');
  const events = sampleEvents({ ips, now: Date.now() });
  const post = async (label: string, body: string) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-flowtriq-signature': signFlowtriq(secret, body) },
      body,
    });
    out(`${label}: HTTP ${response.status} ${await response.text()}`);
    if (response.status !== 202) process.exitCode = 1;
  };
  out(`incident ${events.start.incident!.uuid}: ${ips} sample source IPs → ${url}`);
  await post('attack_start', JSON.stringify(events.start));
  if (values.keep === true) {
    out('--keep: no attack_end sent; the blocks stay until their TTL, relay drain, or an attack_end');
    return;
  }
  await new Promise((resolveWait) => setTimeout(resolveWait, waitSeconds * 1000));
  await post('attack_end', JSON.stringify(events.end(Date.now())));
  out('done: see the relay log, and `npm run relay -- status`');
}

/**
 * The state store and queue to inspect: the one-box SQLite files, or with
 * --aws a deployed stage's DynamoDB table and SQS queues (names from the
 * stack outputs; credentials from the usual AWS chain).
 */
async function openStores(values: Record<string, unknown>, loaded: LoadedConfig) {
  if (values.aws === true) {
    const { DynamoStateStore } = await import('../state/dynamodb.ts');
    const { SqsJobQueue } = await import('../queue/sqs.ts');
    const need = (flag: string, env: string) => {
      const value = (values[flag] as string | undefined) ?? process.env[env];
      if (!value) throw new RelayError('usage', `--aws needs --${flag} (or ${env}): see the stage's sst deploy outputs`);
      return value;
    };
    const region = need('region', 'AWS_REGION');
    const store = new DynamoStateStore({ tableName: need('table', 'RELAY_STATE_TABLE'), clientConfig: { region } });
    const queue = new SqsJobQueue({
      queueUrl: need('queue-url', 'RELAY_QUEUE_URL'),
      deadLetterQueueUrl: need('dlq-url', 'RELAY_DLQ_URL'),
      // With an explicit endpoint (AWS_ENDPOINT_URL_SQS: VPC endpoints, emulators) keep to it.
      clientConfig: { region, ...(process.env.AWS_ENDPOINT_URL_SQS ? { useQueueUrlAsEndpoint: false } : {}) },
    });
    return { store, queue, aws: true };
  }
  const dir = resolve(loaded.config.storage.dir);
  return { store: SqliteStateStore.open(join(dir, STATE_DB)), queue: SqliteJobQueue.open(join(dir, QUEUE_DB)), aws: false };
}

async function status(values: Record<string, unknown>) {
  const loaded = load(values.config as string | undefined);
  const { store, queue } = await openStores(values, loaded);
  try {
    const now = Date.now();
    const report = await collectStatus(store, queue, now);
    out(values.json === true ? JSON.stringify(report, null, 2) : formatStatus(report, now));
  } finally {
    await queue.close();
    await store.close();
  }
}

async function drain(values: Record<string, unknown>) {
  const loaded = load(values.config as string | undefined);
  const { store, queue, aws } = await openStores(values, loaded);
  try {
    const { incidents } = await drainIncidents(store, Date.now());
    out(`ended ${incidents.length} active incident(s); their blocks are released`);
    if (aws) {
      out('the stage\'s sweeper (every minute) now withdraws them from the devices; watch: relay status --aws …');
      return;
    }
    const engine = buildEngine({ config: loaded.config, store, transport: createDirectTransport(), logger: createLogger() });
    const summary = await sweep(engine.sweeper, { waitMs: 30_000 });
    const left = await store.listBlocks();
    out(`removed ${summary.integrations.reduce((n, s) => n + s.removed, 0)}; ${left.length} block(s) left${left.length > 0 ? ' (see relay status; the sweeper keeps retrying)' : ''}`);
    if (left.length > 0) process.exitCode = 1;
  } finally {
    await queue.close();
    await store.close();
  }
}

async function switchControl(command: 'test' | 'activate' | 'withdraw', integration: string | undefined, values: Record<string, unknown>) {
  if (!integration) throw new RelayError('usage', `relay ${command} needs the integration's id, e.g. relay ${command} edge-scrub`);
  const sweeperFunction = (values['sweeper-function'] as string | undefined) ?? process.env.RELAY_SWEEPER_FUNCTION;
  if (values.aws === true && sweeperFunction) {
    // A deployed stage: its sweeper runs the command now, with the stage's credentials.
    const region = (values.region as string | undefined) ?? process.env.AWS_REGION;
    if (!region) throw new RelayError('usage', '--aws needs --region (or AWS_REGION): see the stage\'s sst deploy outputs');
    const endpoint = process.env.RELAY_LAMBDA_ENDPOINT;
    const answer = await invokeStageControl({ region, sweeperFunction, ...(endpoint ? { endpoint } : {}) }, command, integration, values.force === true);
    for (const line of answer.lines) out(line);
    if (!answer.ok) process.exitCode = 1;
    return;
  }
  if (values.aws === true && command === 'test') {
    throw new RelayError('usage', 'relay test --aws needs --sweeper-function (or RELAY_SWEEPER_FUNCTION): the stage output sweeperFunction; the stage\'s sweeper runs the health check with the stage\'s credentials');
  }
  const loaded = load(values.config as string | undefined);
  const { store, queue, aws } = await openStores(values, loaded);
  try {
    if (aws) {
      // A deployed stage: record the intent in its table; its sweeper does the provider work.
      const recorded = await recordSwitchControl(store, loaded.config, command as 'activate' | 'withdraw', integration, Date.now(), { force: values.force === true });
      for (const line of recorded.lines) out(line);
      out('(add --sweeper-function <the stage output sweeperFunction> to have the stage do it now and answer)');
      if (!recorded.ok) process.exitCode = 1;
      return;
    }
    // The answer is the command's output; only warnings and errors are logged unless RELAY_LOG_LEVEL says otherwise.
    const logger = createLogger(process.env.RELAY_LOG_LEVEL ? {} : { level: 'WARN' });
    const engine = buildEngine({ config: loaded.config, store, transport: createDirectTransport(), logger });
    const now = Date.now();
    const result =
      command === 'test'
        ? await testIntegration(engine, integration)
        : command === 'activate'
          ? await activateSwitch(engine, integration, now)
          : await withdrawSwitch(engine, integration, now, { force: values.force === true });
    for (const line of result.lines) out(line);
    if (!result.ok) process.exitCode = 1;
  } finally {
    await queue.close();
    await store.close();
  }
}

async function sweepOnce(values: Record<string, unknown>) {
  const loaded = load(values.config as string | undefined);
  const dir = resolve(loaded.config.storage.dir);
  const store = SqliteStateStore.open(join(dir, STATE_DB));
  try {
    const logger = createLogger();
    const engine = buildEngine({ config: loaded.config, store, transport: createDirectTransport(), logger });
    const summary = await sweep(engine.sweeper, { waitMs: 30_000 });
    out(JSON.stringify(summary, null, 2));
    if (summary.errors.length > 0) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

function checkConfig(values: Record<string, unknown>) {
  const loaded = load(values.config as string | undefined);
  out(`${loaded.file ?? 'built-in defaults'}: valid`);
  for (const integration of loaded.config.integrations) {
    out(`  - ${integration.id}: ${integration.type}${integration.enabled ? '' : ' (disabled)'}, ttl ${formatDuration(integration.ttl)}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'insecure-dev': { type: 'boolean' },
      port: { type: 'string' },
      ips: { type: 'string' },
      wait: { type: 'string' },
      url: { type: 'string' },
      yes: { type: 'boolean' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' },
      aws: { type: 'boolean' },
      region: { type: 'string' },
      table: { type: 'string' },
      'queue-url': { type: 'string' },
      'dlq-url': { type: 'string' },
      'sweeper-function': { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    out(USAGE);
    return;
  }
  switch (command) {
    case 'start':
      return start(values);
    case 'send-test':
      return sendTest(values);
    case 'status':
      return status(values);
    case 'sweep':
      return sweepOnce(values);
    case 'drain':
      return drain(values);
    case 'test':
    case 'activate':
    case 'withdraw':
      return switchControl(command, positionals[1], values);
    case 'check-config':
      return checkConfig(values);
    default:
      throw new RelayError('usage', `unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof RelayError) {
    err(`relay: ${error.message}`);
    process.exit(2);
  }
  err(`relay: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
