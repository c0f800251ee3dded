/**
 * Wires the relay's engine from a validated config: providers (each behind
 * the never-block guard), the planner's view of integrations, the
 * reconciler, the source selector and the worker/sweeper dependencies.
 * Shared by one-box mode and the Lambda handlers; storage and queue are
 * passed in (SQLite locally, DynamoDB + SQS in AWS).
 */
import type { IntegrationConfig, RelayConfig } from '../config/schema.ts';
import { resolveOptionalSecret } from '../config/secrets.ts';
import { Reconciler } from '../engine/reconciler.ts';
import { createSourceSelector, type IncidentSourceFetcher } from '../engine/sources.ts';
import type { Checkpoint } from '../engine/types.ts';
import type { WorkerDeps } from '../engine/worker.ts';
import type { SweepDeps } from '../engine/sweeper.ts';
import { FlowtriqApiClient } from '../flowtriq-api/client.ts';
import { FlowtriqApiError, FlowtriqApiRateLimitedError } from '../flowtriq-api/errors.ts';
import { createNeverBlockList } from '../ip/never-block.ts';
import type { Logger } from '../log/types.ts';
import type { RelayMetrics } from '../metrics/types.ts';
import type { IntegrationView } from '../planner/types.ts';
import { guardBlocklist } from '../providers/guard.ts';
import { createProvider } from '../providers/registry.ts';
import type { Provider } from '../providers/types.ts';
import type { StateStore } from '../state/types.ts';
import type { Transport } from '../transport/types.ts';

export interface EngineOptions {
  config: RelayConfig;
  store: StateStore;
  /** The transport of integrations reached directly. */
  transport: Transport;
  /** Per-integration transport (AWS: the device relay for `via: vpc`); defaults to `transport`. */
  transportFor?: (integration: IntegrationConfig) => Transport;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Identifies this process in leases. */
  owner?: string;
  /** Replace the providers built from config (tests). */
  providers?: ReadonlyMap<string, Provider>;
  checkpoint?: (point: Checkpoint) => void | Promise<void>;
  /** Where device requests and drift repairs are counted. */
  metrics?: RelayMetrics;
  reconcilerOptions?: ConstructorParameters<typeof Reconciler>[1];
}

export interface Engine {
  providers: ReadonlyMap<string, Provider>;
  integrations: IntegrationView[];
  worker: WorkerDeps;
  sweeper: SweepDeps;
}

/** Builds every configured, enabled integration's provider; fails on a missing secret. */
export function buildProviders(
  config: RelayConfig,
  deps: {
    transport: Transport;
    transportFor?: (integration: IntegrationConfig) => Transport;
    logger: Logger;
    env?: NodeJS.ProcessEnv;
  },
): Map<string, Provider> {
  const neverBlock = createNeverBlockList({
    extra: config.blocking.neverBlock,
    protectNodeSubnet: false,
  });
  const providers = new Map<string, Provider>();
  for (const integration of config.integrations) {
    if (!integration.enabled) continue;
    const logger = deps.logger.child({ integration: integration.id });
    const transport = deps.transportFor?.(integration) ?? deps.transport;
    const provider = createProvider(integration, { transport, logger, ...(deps.env ? { env: deps.env } : {}) });
    providers.set(
      integration.id,
      provider.kind === 'blocklist' ? guardBlocklist(provider, (ip) => neverBlock.check(ip), logger) : provider,
    );
  }
  return providers;
}

export function integrationViews(config: RelayConfig, providers: ReadonlyMap<string, Provider>): IntegrationView[] {
  return config.integrations
    .filter((integration) => integration.enabled && providers.has(integration.id))
    .map((integration) => {
      const provider = providers.get(integration.id)!;
      const maxIps = provider.kind === 'blocklist' ? provider.maxIpsPerEvent : undefined;
      return {
        id: integration.id,
        kind: provider.kind,
        match: integration.match,
        ttlMs: integration.ttl,
        ...(maxIps !== undefined ? { maxIps } : {}),
      };
    });
}

export function buildEngine(options: EngineOptions): Engine {
  const { config, store, logger } = options;
  const now = options.now ?? Date.now;
  const env = options.env ?? process.env;
  const providers =
    options.providers ??
    buildProviders(config, {
      transport: options.transport,
      ...(options.transportFor ? { transportFor: options.transportFor } : {}),
      logger,
      env,
    });
  const integrations = integrationViews(config, providers);
  const base = {
    store,
    providers,
    logger,
    now,
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
  const reconciler = new Reconciler(base, { ...options.reconcilerOptions, ...(options.owner ? { owner: options.owner } : {}) });

  const token = config.flowtriq.apiToken
    ? resolveOptionalSecret(config.flowtriq.apiToken, 'flowtriq.apiToken', env)
    : undefined;
  let api: IncidentSourceFetcher | undefined;
  if (token) {
    const client = new FlowtriqApiClient({
      baseUrl: config.flowtriq.baseUrl,
      token,
      timeoutMs: config.flowtriq.timeout,
      transport: options.transport,
    });
    api = { fetchSources: (uuid) => client.getIncidentSources(uuid) };
  }
  const sources = createSourceSelector({
    blocking: config.blocking,
    logger,
    ...(api ? { api } : {}),
    isRetryable: (error) =>
      error instanceof FlowtriqApiRateLimitedError
        ? { retry: true, delayMs: error.retryAfterMs ?? 10_000 }
        : error instanceof FlowtriqApiError && error.retryable
          ? { retry: true, delayMs: 5_000 }
          : { retry: false, delayMs: 0 },
  });

  return {
    providers,
    integrations,
    worker: { ...base, integrations, reconciler, sources },
    sweeper: {
      ...base,
      reconciler,
      retentionMs: config.retention,
      auditRetentionMs: config.auditRetention,
      driftIntervalMs: config.sweeper.driftCheck,
      lastDriftCheck: new Map<string, number>(),
    },
  };
}
