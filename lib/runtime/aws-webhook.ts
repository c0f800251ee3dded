/**
 * The webhook Lambda's app: the same intake as one-box mode, with the
 * webhook secrets from SST secrets and the SDK-free SQS sender. Deliberately
 * imports nothing of the engine: this is the cold-start path.
 */
import { loadConfig } from '../config/load.ts';
import { resolveRequiredSecret, resolveSecret } from '../config/secrets.ts';
import { createIntakeApp } from '../intake/app.ts';
import { createLogger } from '../log/logger.ts';
import type { Logger } from '../log/types.ts';
import { SqsFetchSender } from '../queue/sqs-fetch-sender.ts';
import { withSstLinks } from './sst-links.ts';
import { bundledConfigPath, lambdaCredentials, requireEnv } from './aws-env.ts';

export function createWebhookApp(linkedEnv: NodeJS.ProcessEnv = process.env, logger: Logger = createLogger()) {
  const env = withSstLinks(linkedEnv);
  const { config } = loadConfig({ path: bundledConfigPath(env) });
  const refs = config.webhook.secrets;
  const secrets = refs.flatMap((ref, index) => {
    if (!ref.optional) return [resolveRequiredSecret(ref, `webhook.secrets[${index}]`, env)];
    const value = resolveSecret(ref, env);
    return value === undefined ? [] : [value];
  });
  const queue = new SqsFetchSender({
    queueUrl: requireEnv(env, 'RELAY_QUEUE_URL'),
    region: requireEnv(env, 'AWS_REGION'),
    credentials: lambdaCredentials(env),
    ...(env.RELAY_SQS_ENDPOINT ? { endpoint: env.RELAY_SQS_ENDPOINT } : {}),
  });
  // No insecure mode in AWS: without a secret, createIntakeApp refuses to build.
  return createIntakeApp({ secrets, queue, logger, replayWindowMs: config.webhook.replayWindow });
}
