/**
 * One-box mode (`npm start`): the Node server, the workers and the sweeper
 * in one process on SQLite. No AWS, no Java. A restart loses nothing: the
 * queue and the state are durable, and the first sweep finishes what a
 * previous run left due.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { LoadedConfig } from '../config/load.ts';
import { resolveOptionalSecret, resolveRequiredSecret, resolveSecret } from '../config/secrets.ts';
import { describeError } from '../errors.ts';
import { processJob } from '../engine/worker.ts';
import { sweep, type SweepSummary } from '../engine/sweeper.ts';
import { createIntakeApp } from '../intake/app.ts';
import { createIngest, maxBodyBytes, WEBHOOK_PATH, type IntakeOptions } from '../intake/ingest.ts';
import { createNodeListener } from '../intake/node-listener.ts';
import { createPrometheusMetrics } from '../metrics/prometheus.ts';
import { createMetricsRoute } from '../metrics/route.ts';
import { createStatusRoutes } from '../status/routes.ts';
import { applyServerLimits } from '../intake/server-limits.ts';
import type { Logger } from '../log/types.ts';
import type { Provider } from '../providers/types.ts';
import { SqliteJobQueue } from '../queue/sqlite.ts';
import { SqliteStateStore } from '../state/sqlite.ts';
import { createDirectTransport } from '../transport/node-http.ts';
import type { Transport } from '../transport/types.ts';
import type { Checkpoint } from '../engine/types.ts';
import { buildEngine, type Engine } from './engine.ts';
import { reclaimDeadLeases, oneBoxOwner } from './lease-reclaim.ts';
import { ensureLocalSecret } from './local-secret.ts';
import { WorkerLoop } from './worker-loop.ts';

export interface OneBoxOptions {
  loaded: LoadedConfig;
  logger: Logger;
  /** Explicit insecure development mode: unsigned webhooks accepted, loudly. */
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Overrides config.server.port (0 = any free port). */
  port?: number;
  transport?: Transport;
  providers?: ReadonlyMap<string, Provider>;
  now?: () => number;
  checkpoint?: (point: Checkpoint) => void | Promise<void>;
  workerConcurrency?: number;
  /** Run the sweeper timer (default true). */
  sweeper?: boolean;
}

export interface SecretSource {
  /** Human description, never the value. */
  description: string;
  generatedFile?: string;
}

export interface OneBox {
  url: string;
  webhookUrl: string;
  engine: Engine;
  store: SqliteStateStore;
  queue: SqliteJobQueue;
  secretSource: SecretSource;
  /** True when webhooks are accepted unsigned (explicit insecure mode and no secret). */
  insecure: boolean;
  /** Runs one sweep now. */
  sweepNow(): Promise<SweepSummary>;
  /** Resolves when the queue is drained and no job is in flight. */
  idle(timeoutMs?: number): Promise<void>;
  /** Stops accepting, finishes in-flight work, closes the databases. */
  stop(): Promise<void>;
}

export const STATE_DB = 'state.db';
export const QUEUE_DB = 'queue.db';

/** Resolves the webhook secrets; on the bare default, makes a local one. */
export function webhookSecrets(
  loaded: LoadedConfig,
  env: NodeJS.ProcessEnv,
  insecure: boolean,
): { secrets: string[]; source: SecretSource } {
  const refs = loaded.config.webhook.secrets;
  const secrets: string[] = [];
  refs.forEach((ref) => {
    const value = resolveSecret(ref, env);
    if (value !== undefined) secrets.push(value);
  });
  const names = refs.map((ref) => ('env' in ref ? `$${ref.env}` : `SST secret ${ref.sst}`)).join(', ');
  if (loaded.file !== undefined && !insecure) {
    // With a config file, every secret not marked optional must be set: refuse
    // to start, naming the config path and the fix (SecretMissingError).
    refs.forEach((ref, index) => {
      if (!ref.optional) resolveRequiredSecret(ref, `webhook.secrets[${index}]`, env);
    });
  }
  if (secrets.length > 0) return { secrets, source: { description: names } };
  if (insecure) return { secrets: [], source: { description: 'none (INSECURE development mode)' } };
  if (loaded.file === undefined) {
    const dir = resolve(loaded.config.storage.dir);
    const local = ensureLocalSecret(dir);
    return {
      secrets: [local.secret],
      source: { description: `the file ${local.path} (set FLOWTRIQ_WEBHOOK_SECRET to use your own)`, generatedFile: local.path },
    };
  }
  // A config file whose secrets are all optional and all unset.
  return { secrets: [resolveRequiredSecret({ ...refs[0]!, optional: false }, 'webhook.secrets[0]', env)], source: { description: names } };
}

export async function startOneBox(options: OneBoxOptions): Promise<OneBox> {
  const { loaded, logger } = options;
  const { config } = loaded;
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const { secrets, source } = webhookSecrets(loaded, env, options.insecure ?? false);
  // Insecure mode only matters when there is no secret: with one, signatures are checked.
  const insecure = (options.insecure ?? false) && secrets.length === 0;

  const dir = resolve(config.storage.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const store = SqliteStateStore.open(join(dir, STATE_DB));
  const queue = SqliteJobQueue.open(join(dir, QUEUE_DB));
  const owner = oneBoxOwner(process.pid, randomUUID().slice(0, 8));
  const startedAt = now();
  const metrics = createPrometheusMetrics({
    store,
    queue,
    // Filled in once the engine is built (the gauges read them at scrape time).
    integrations: [],
    now,
  });
  const engine = buildEngine({
    metrics,
    config,
    store,
    transport: options.transport ?? createDirectTransport(),
    logger,
    env,
    now,
    owner,
    ...(options.providers ? { providers: options.providers } : {}),
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    // A long-running process: retries and deferred commits run when they fall due.
    reconcilerOptions: { wakeUp: true },
  });

  metrics.setIntegrations(engine.integrations.map((integration) => ({ id: integration.id, kind: integration.kind })));
  const intake: IntakeOptions = { secrets, insecure, queue, logger, now, replayWindowMs: config.webhook.replayWindow, metrics };
  const app = createIntakeApp(intake);
  // What the process knows in memory, for the status page.
  const health = new Map<string, { ok: boolean; detail: string; at: number }>();
  let lastSweepAt: number | undefined;
  if (config.status.enabled) {
    // A token referenced but not set stops the start (unless marked optional), like every secret.
    const statusToken = config.status.token ? resolveOptionalSecret(config.status.token, 'status.token', env) : undefined;
    app.route(
      '/',
      createStatusRoutes({
        store,
        queue,
        runtime: () => {
          const drift = [...engine.sweeper.lastDriftCheck!.values()];
          return {
            startedAt,
            ...(lastSweepAt !== undefined ? { lastSweepAt } : {}),
            ...(drift.length > 0 ? { lastDriftCheckAt: Math.max(...drift) } : {}),
            health,
          };
        },
        integrations: engine.integrations.map((integration) => ({
          id: integration.id,
          type: config.integrations.find((candidate) => candidate.id === integration.id)?.type ?? 'unknown',
          kind: integration.kind,
        })),
        now,
        token: statusToken,
        logger,
      }),
    );
    app.route('/', createMetricsRoute(metrics, statusToken));
  }
  const listener = createNodeListener({
    ingest: createIngest(intake),
    app,
    maxBodyBytes: maxBodyBytes(intake),
  });
  // Workers record intents and hand the device work to each integration's
  // writer, which batches whatever is due when it is free (a burst of
  // incidents becomes a few large batches, not one small batch per event).
  const workerDeps = {
    ...engine.worker,
    reconcileInBackground: true,
    onHealthResult: (integration: string, result: { ok: boolean; detail: string }, at: number) => void health.set(integration, { ...result, at }),
  };
  const workers = new WorkerLoop({
    queue,
    logger,
    concurrency: options.workerConcurrency ?? 4,
    handle: (message) => processJob(message.body, workerDeps),
  });
  const reconciler = engine.worker.reconciler;

  let sweeping: Promise<SweepSummary> | undefined;
  const sweepNow = async () => {
    if (sweeping) return sweeping;
    sweeping = sweep(engine.sweeper)
      .then((summary) => {
        lastSweepAt = now();
        return summary;
      })
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  };

  const port = options.port ?? config.server.port;
  const server = createServer(listener);
  // Seconds, not Node's minutes: a slow client cannot hold a connection, and the count is capped.
  applyServerLimits(server, config.server, logger);
  try {
    await new Promise<void>((resolveServer, reject) => {
      server.once('error', reject);
      server.listen(port, config.server.host, () => resolveServer());
    });
  } catch (error) {
    // Nothing started: leave no database open behind a busy port.
    await queue.close();
    await store.close();
    throw error;
  }
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${boundPort}`;

  // Leases a crashed run of this relay still holds would stall its devices until they expire.
  await reclaimDeadLeases({ store, integrations: engine.providers.keys(), self: owner, logger });
  workers.start();
  await sweepNow().catch((error: unknown) => logger.error('startup sweep failed', { error: describeError(error) }));
  let timer: NodeJS.Timeout | undefined;
  if (options.sweeper ?? true) {
    timer = setInterval(() => {
      sweepNow().catch((error: unknown) => logger.error('sweep failed', { error: describeError(error) }));
    }, config.sweeper.interval);
    timer.unref();
  }

  let stopped: Promise<void> | undefined;
  return {
    url,
    webhookUrl: `${url}${WEBHOOK_PATH}`,
    engine,
    store,
    queue,
    secretSource: source,
    insecure,
    sweepNow,
    idle: async (timeoutMs) => {
      await workers.idle(timeoutMs);
      await reconciler.idle();
    },
    stop() {
      stopped ??= (async () => {
        if (timer) clearInterval(timer);
        await new Promise<void>((done) => server.close(() => done()));
        await workers.stop();
        reconciler.close();
        await reconciler.idle();
        await sweeping?.catch(() => undefined);
        await queue.close();
        await store.close();
      })();
      return stopped;
    },
  };
}
