/** `relay start`: the one-box relay (webhook server, workers, sweeper) on SQLite. */
import { resolve } from 'node:path';
import { formatDuration } from '../../config/duration.ts';
import { createLogger } from '../../log/logger.ts';
import { startOneBox, type OneBox } from '../../runtime/one-box.ts';
import { portOption } from '../args.ts';
import { loadFor, type CommandInput, type CommandSpec } from '../context.ts';
import { CliFailure } from '../errors.ts';
import { removeRunning, writeRunning } from '../running.ts';
import { shortSecretWarnings } from '../webhook-secret.ts';

/** The one-line reason a server could not listen, with the fix; undefined for other errors. */
export function listenFailure(error: unknown, host: string, port: number): CliFailure | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const other = port === 0 ? '' : ` --port ${port === 65_535 ? port - 1 : port + 1}`;
  switch (code) {
    case 'EADDRINUSE':
      return new CliFailure(
        'port_in_use',
        `port ${port} on ${host} is already in use (another relay, or another program); stop it, or start this one on another port: relay start${other || ' --port <n>'}, or --port 0 for any free port (then send-test finds it)`,
      );
    case 'EACCES':
      return new CliFailure('port_forbidden', `not allowed to listen on ${where} (ports below 1024 need privileges); use a port from 1024, e.g. relay start --port 8787`);
    case 'EADDRNOTAVAIL':
      return new CliFailure('host_unavailable', `cannot listen on ${where}: ${host} is not an address of this machine; set server.host to one of its addresses, or 127.0.0.1`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new CliFailure('host_unavailable', `cannot listen on ${where}: ${host} does not resolve; set server.host to an address such as 127.0.0.1 or 0.0.0.0`);
    default:
      return undefined;
  }
}

async function run({ values, io }: CommandInput): Promise<void> {
  const loaded = loadFor(values, io.env);
  const insecure = values['insecure-dev'] === true || io.env.RELAY_INSECURE_DEV === '1';
  const port = portOption(values);
  const logger = createLogger();
  const storageDir = loaded.config.storage.dir;
  // Signal handlers first: a SIGTERM that arrives while starting still ends cleanly.
  let relay: OneBox | undefined;
  let stopRequested: string | undefined;
  const shutdown = (signal: string) => {
    if (stopRequested) return;
    stopRequested = signal;
    if (!relay) return; // run() stops it as soon as it is up
    logger.info('shutting down; finishing in-flight work', { signal });
    relay.stop().then(
      () => {
        removeRunning(storageDir);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', { error: String(error) });
        removeRunning(storageDir);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const warnings = shortSecretWarnings(loaded, io.env);
  try {
    relay = await startOneBox({ loaded, logger, insecure, env: io.env, ...(port !== undefined ? { port } : {}) });
  } catch (error) {
    throw listenFailure(error, loaded.config.server.host, port ?? loaded.config.server.port) ?? error;
  }
  writeRunning(storageDir, {
    pid: process.pid,
    webhookUrl: relay.webhookUrl,
    secretSource: relay.secretSource.description,
    insecure: relay.insecure,
    startedAt: new Date().toISOString(),
  });
  const integrations = loaded.config.integrations.filter((integration) => integration.enabled);
  io.err('');
  io.err(`Flowtriq Relay is running (one-box, SQLite in ${resolve(storageDir)})`);
  io.err(`  config:       ${loaded.file ?? 'built-in defaults (no relay.config.yaml found)'}`);
  io.err(`  webhook URL:  ${relay.webhookUrl}`);
  if (loaded.config.status.enabled) {
    io.err(`  status page:  ${relay.url}/status  (metrics: ${relay.url}/metrics; ${loaded.config.status.token ? 'status.token required' : 'this machine only'})`);
  }
  io.err(`  secret from:  ${relay.secretSource.description}`);
  for (const warning of warnings) io.err(`  WARNING:      ${warning}`);
  if (relay.insecure) io.err('  WARNING:      INSECURE DEVELOPMENT MODE: webhook signatures are NOT verified');
  else if (insecure) io.err('  note:         --insecure-dev ignored: a webhook secret is set, so signatures are verified');
  io.err(`  integrations: ${integrations.length}${loaded.defaultedToDryRun ? ' (none configured: dry-run default, changes nothing)' : ''}`);
  for (const integration of integrations) {
    const kind = relay.engine.providers.get(integration.id)?.kind ?? '?';
    io.err(`    - ${integration.id} (${integration.type}, ${kind}, ttl ${formatDuration(integration.ttl)})`);
  }
  io.err(`  send a test:  npm run relay -- send-test   (then: npm run relay -- status)`);
  io.err('');
  if (stopRequested) {
    const signal = stopRequested;
    stopRequested = undefined;
    shutdown(signal);
  }
}

export const startCommand: CommandSpec = {
  name: 'start',
  summary: 'run the relay (webhook server, workers, sweeper) on SQLite',
  description:
    'Runs the one-box relay in this process: the webhook server, the workers and the sweeper, with its state in SQLite under storage.dir.\n' +
    'Signed Flowtriq webhooks in, tracked blocks out. SIGTERM/SIGINT finish in-flight work; a restart loses nothing.\n' +
    'With no config file and no FLOWTRIQ_WEBHOOK_SECRET it makes a secret in <storage.dir>/webhook-secret on first start.',
  options: [
    { name: 'port', type: 'string', value: '<n>', description: 'listen on this port instead of server.port (0 = any free port)', default: 'server.port, 8787' },
    { name: 'insecure-dev', type: 'boolean', description: 'accept unsigned webhooks when no secret is set (development only; every request log says so)' },
  ],
  examples: ['relay start', 'relay start --port 0', 'relay start --config /etc/relay/relay.config.yaml'],
  maxPositionals: 0,
  run,
};
