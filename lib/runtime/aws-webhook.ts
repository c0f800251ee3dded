/**
 * The webhook Lambda's app: the same intake as one-box mode, with the
 * webhook secrets from SST secrets and the SDK-free SQS sender. This is the
 * cold-start path, so it reads its two settings from the environment (set by
 * the stack from the validated config) instead of loading the config file,
 * and imports nothing of the engine.
 */
import * as z from 'zod/mini';
import { resolveRequiredSecret, resolveSecret } from '../config/secrets.ts';
import { createIntakeApp } from '../intake/app.ts';
import { createLogger } from '../log/logger.ts';
import type { Logger } from '../log/types.ts';
import { SqsFetchSender } from '../queue/sqs-fetch-sender.ts';
import { withSstLinks } from './sst-links.ts';
import { AwsEnvironmentError, lambdaCredentials, lambdaMetrics, requireEnv } from './aws-env.ts';

const secretRefs = z.array(
  z.union([
    z.object({ env: z.string(), optional: z.optional(z.boolean()) }),
    z.object({ sst: z.string(), optional: z.optional(z.boolean()) }),
  ]),
);

/** RELAY_WEBHOOK_SECRETS and RELAY_REPLAY_WINDOW_MS, as the stack writes them. */
export function webhookSettings(env: NodeJS.ProcessEnv) {
  let refs: z.infer<typeof secretRefs>;
  try {
    refs = z.parse(secretRefs, JSON.parse(requireEnv(env, 'RELAY_WEBHOOK_SECRETS')));
  } catch (error) {
    if (error instanceof AwsEnvironmentError) throw error;
    throw new AwsEnvironmentError('RELAY_WEBHOOK_SECRETS', 'is not a JSON list of secret references');
  }
  const replayWindowMs = Number(requireEnv(env, 'RELAY_REPLAY_WINDOW_MS'));
  if (!Number.isInteger(replayWindowMs) || replayWindowMs <= 0) {
    throw new AwsEnvironmentError('RELAY_REPLAY_WINDOW_MS', 'is not a positive whole number of milliseconds');
  }
  return { refs: refs.map((ref) => ({ ...ref, optional: ref.optional ?? false })), replayWindowMs };
}

export function createWebhookApp(linkedEnv: NodeJS.ProcessEnv = process.env, logger: Logger = createLogger()) {
  const env = withSstLinks(linkedEnv);
  const { refs, replayWindowMs } = webhookSettings(env);
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
  return createIntakeApp({ secrets, queue, logger, replayWindowMs, metrics: lambdaMetrics(env) });
}
