/// <reference path="./.sst/platform/config.d.ts" />
/**
 * Flowtriq Relay on AWS: `npx sst deploy --stage <name>` (DEPLOY.md).
 *
 * Webhook (Function URL) → JobsQueue (SQS FIFO, JobsDlq) → Worker → StateTable
 * (DynamoDB); Sweeper every minute; DeviceRelay inside your VPC when an
 * integration has `via: vpc`; alarms to the Alarms topic.
 *
 * The relay config (RELAY_CONFIG, or relay.config.yaml / .yml / .json here)
 * is validated first: an invalid file fails the deploy with the same message
 * as `relay check-config`, before any resource is created. Each function
 * bundles it as relay.config.yaml.
 */
export default $config({
  app(input) {
    return {
      name: 'flowtriq-relay',
      home: 'aws',
      // Production keeps its state table on `sst remove` (DEPLOY.md, "Removing a stage").
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      providers: { aws: { version: '7.20.0' } },
    };
  },
  async run() {
    const { loadDeploymentConfig } = await import('./stacks/config.ts');
    const { createStorage } = await import('./stacks/storage.ts');
    const { createSecrets } = await import('./stacks/secrets.ts');
    const { createDeviceRelay } = await import('./stacks/device-relay.ts');
    const { createFunctions } = await import('./stacks/functions.ts');
    const { createAlarms } = await import('./stacks/alarms.ts');

    // Throws (ConfigError / DeploymentConfigError) before anything is created.
    const deployment = loadDeploymentConfig($cli.paths.root);
    const { settings } = deployment;
    const bundle = { configFile: deployment.relativeFile, extraFiles: deployment.extraFiles };

    const storage = createStorage(settings);
    const secrets = createSecrets(deployment.secrets);
    const deviceRelay = createDeviceRelay(settings, bundle);
    const functions = createFunctions({ settings, storage, secrets, deviceRelay, ...bundle, awsGrants: deployment.awsGrants });
    const { topic } = createAlarms(settings, storage, functions);

    return {
      /** Flowtriq's webhook channel URL. */
      webhookUrl: $interpolate`${functions.webhook.url}webhooks/flowtriq`,
      /** SNS topic the alarms notify; subscribe more endpoints to it if you like. */
      alarmTopic: topic.arn,
      stateTable: storage.table.name,
      jobsQueueUrl: storage.queue.url,
      jobsDlqUrl: storage.dlq.url,
      /** `relay test|activate|withdraw <id> --aws --sweeper-function <this>`. */
      sweeperFunction: functions.sweeper.name,
      ...(deviceRelay ? { deviceRelay: deviceRelay.name } : {}),
    };
  },
});
