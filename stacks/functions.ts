/**
 * The webhook, the worker and the sweeper, each with exactly the AWS actions
 * it uses on exactly the resources it uses.
 *
 * The table and the queues are NOT linked: SST's link would grant
 * `dynamodb:*` / `sqs:*`. Their names and URLs go in by environment and the
 * permissions are listed here. Only secrets are linked (linking a secret
 * grants no AWS permission).
 */
import { resolveGrantResource, type AwsGrant, type BundledFile, type DeploymentSettings } from './config.ts';
import { CONFIG_ENVIRONMENT, functionDefaults } from './function-defaults.ts';
import type { Secrets } from './secrets.ts';
import type { Storage } from './storage.ts';

/** What lib/state/dynamodb.ts calls (TransactWriteItems is authorised per contained Put/Update/Delete). */
export const STATE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
];

/** What the SQS event source mapping needs from the worker's role, and the worker's own visibility changes. */
export const CONSUMER_ACTIONS = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueAttributes',
];

/** The stage's service name in its metrics: `flowtriq-relay-<stage>`. */
export function metricsServiceName(): string {
  return `${$app.name}-${$app.stage}`;
}

interface FunctionsInput {
  settings: DeploymentSettings;
  storage: Storage;
  secrets: Secrets;
  deviceRelay: sst.aws.Function | undefined;
  configFile: string;
  extraFiles: BundledFile[];
  /** The AWS integrations' actions (stacks/config.ts awsIntegrationGrants), for the worker and the sweeper. */
  awsGrants: AwsGrant[];
}

/** The AWS integrations' statements, with the stage's own partition and account filled in. */
function integrationPermissions(grants: AwsGrant[]) {
  if (grants.length === 0) return [];
  const ids = $resolve([aws.getPartitionOutput({}).partition, aws.getCallerIdentityOutput({}).accountId]);
  return grants.map((grant) => ({
    actions: grant.actions,
    resources: grant.resources.map((resource) =>
      resource === '*' ? resource : ids.apply(([partition, account]) => resolveGrantResource(resource, { partition, account })),
    ),
  }));
}

export function createFunctions({ settings, storage, secrets, deviceRelay, configFile, extraFiles, awsGrants }: FunctionsInput) {
  const { table, queue, dlq } = storage;

  const environment = {
    ...CONFIG_ENVIRONMENT,
    // The service dimension of the functions' EMF metrics (lib/metrics/emf.ts); the overdue-blocks alarm watches it.
    POWERTOOLS_SERVICE_NAME: metricsServiceName(),
    RELAY_STATE_TABLE: table.name,
    RELAY_QUEUE_URL: queue.url,
    RELAY_DLQ_URL: dlq.url,
    ...(deviceRelay ? { RELAY_DEVICE_RELAY_FUNCTION: deviceRelay.name } : {}),
  };

  const stateAccess = {
    actions: STATE_ACTIONS,
    resources: [table.arn, $interpolate`${table.arn}/index/*`],
  };
  const invokeDeviceRelay = deviceRelay ? [{ actions: ['lambda:InvokeFunction'], resources: [deviceRelay.arn] }] : [];
  // The worker and the sweeper both call the providers (the worker on events, the sweeper on TTLs, drift and retries).
  const awsIntegrations = integrationPermissions(awsGrants);

  // Public URL, no IAM auth: Flowtriq cannot sign requests with SigV4, so the
  // HMAC signature is the gate. No CORS: browsers have no business here.
  // Reserved concurrency caps what a flood of junk requests can cost.
  const webhook = new sst.aws.Function('Webhook', {
    ...functionDefaults(configFile),
    handler: 'functions/webhook.handler',
    description: 'Flowtriq Relay: verifies signed Flowtriq webhooks and enqueues them',
    memory: `${settings.webhook.memoryMb} MB`,
    timeout: `${settings.webhook.timeoutSeconds} seconds`,
    concurrency: { reserved: settings.webhook.reservedConcurrency },
    url: { authorization: 'none', cors: false },
    environment: { ...environment, ...settings.webhook.environment },
    link: secrets.webhook,
    permissions: [{ actions: ['sqs:SendMessage'], resources: [queue.arn] }],
  });

  const worker = new sst.aws.Function('Worker', {
    ...functionDefaults(configFile, extraFiles),
    handler: 'functions/worker.handler',
    description: 'Flowtriq Relay: plans and applies blocks from queued events',
    memory: `${settings.worker.memoryMb} MB`,
    timeout: `${settings.worker.timeoutSeconds} seconds`,
    environment,
    link: secrets.engine,
    permissions: [stateAccess, { actions: CONSUMER_ACTIONS, resources: [queue.arn] }, ...invokeDeviceRelay, ...awsIntegrations],
  });

  // Subscribing by ARN: SST then creates only the event source mapping and
  // adds no permissions of its own (a handler subscriber would get
  // sqs:GetQueueUrl as well). FIFO event sources take no batching window.
  queue.subscribe(worker.arn, { batch: { size: settings.worker.batchSize, partialResponses: true } });

  const sweeper = new sst.aws.Function('Sweeper', {
    ...functionDefaults(configFile, extraFiles),
    handler: 'functions/sweeper.handler',
    description: 'Flowtriq Relay: expires, retries and finishes blocks every minute',
    memory: `${settings.sweeper.memoryMb} MB`,
    timeout: `${settings.sweeper.timeoutSeconds} seconds`,
    // The next scheduled run is the retry; Lambda's async retries would only stack sweeps up.
    retries: 0,
    environment,
    link: secrets.engine,
    permissions: [stateAccess, ...invokeDeviceRelay, ...awsIntegrations],
  });

  new sst.aws.Cron('SweeperSchedule', { function: sweeper, schedule: settings.sweeper.schedule });

  return { webhook, worker, sweeper };
}

export type Functions = ReturnType<typeof createFunctions>;
