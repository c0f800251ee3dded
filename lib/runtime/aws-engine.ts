/**
 * The worker's and sweeper's engine in AWS: DynamoDB state, providers whose
 * `via: vpc` integrations go through the device relay Lambda, everything else
 * direct. Built once per cold start and reused across invocations.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../config/load.ts';
import { createLambdaInvoker } from '../aws/lambda-invoke.ts';
import { createLogger } from '../log/logger.ts';
import type { Logger } from '../log/types.ts';
import { DynamoStateStore } from '../state/dynamodb.ts';
import { createDeviceRelayTransport } from '../transport/device-relay.ts';
import { createDirectTransport } from '../transport/node-http.ts';
import { withSstLinks } from './sst-links.ts';
import { AwsEnvironmentError, bundledConfigPath, lambdaCredentials, lambdaMetrics, optionalEnv, requireEnv } from './aws-env.ts';
import type { EmfMetrics } from '../metrics/emf.ts';
import { buildEngine, type Engine } from './engine.ts';

export interface AwsEngine {
  engine: Engine;
  store: DynamoStateStore;
  logger: Logger;
  metrics: EmfMetrics;
}

export function createAwsEngine(linkedEnv: NodeJS.ProcessEnv = process.env, logger: Logger = createLogger()): AwsEngine {
  const env = withSstLinks(linkedEnv);
  const { config } = loadConfig({ path: bundledConfigPath(env) });
  const region = requireEnv(env, 'AWS_REGION');
  const endpoint = optionalEnv(env, 'RELAY_DYNAMODB_ENDPOINT');
  const client = new DynamoDBClient({ region, ...(endpoint ? { endpoint } : {}) });
  const store = new DynamoStateStore({ client, tableName: requireEnv(env, 'RELAY_STATE_TABLE') });
  const relayFunction = optionalEnv(env, 'RELAY_DEVICE_RELAY_FUNCTION');
  const needsRelay = config.integrations.some((integration) => integration.enabled && integration.via === 'vpc');
  if (needsRelay && !relayFunction) {
    throw new AwsEnvironmentError('RELAY_DEVICE_RELAY_FUNCTION', 'is not set but integrations use via: vpc');
  }
  const invoke = relayFunction
    ? createLambdaInvoker({
        functionName: relayFunction,
        region,
        credentials: lambdaCredentials(env),
        ...(env.RELAY_LAMBDA_ENDPOINT ? { endpoint: env.RELAY_LAMBDA_ENDPOINT } : {}),
      })
    : undefined;
  const metrics = lambdaMetrics(env);
  const engine = buildEngine({
    config,
    metrics,
    store,
    transport: createDirectTransport(),
    transportFor: (integration) =>
      integration.via === 'vpc' && invoke ? createDeviceRelayTransport({ integration: integration.id, invoke }) : createDirectTransport(),
    logger,
    env,
    owner: `lambda-${randomUUID()}`,
  });
  return { engine, store, logger, metrics };
}
