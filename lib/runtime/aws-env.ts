/**
 * The Lambda handlers' environment, validated: each variable the stacks set,
 * with an error that names it and says what sets it.
 */
import { createEmfMetrics, type EmfMetrics } from '../metrics/emf.ts';
import { resolve } from 'node:path';
import { RelayError } from '../errors.ts';

/** A variable the deployment should have set is missing or malformed. */
export class AwsEnvironmentError extends RelayError {
  constructor(variable: string, problem: string) {
    super('aws_environment', `${variable} ${problem}; it is set by the stacks in stacks/ (redeploy with sst deploy)`);
  }
}

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new AwsEnvironmentError(name, 'is not set');
  return value;
}

export function optionalEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name] || undefined;
}

/** The bundled config file: RELAY_CONFIG relative to the function's code directory. */
export function bundledConfigPath(env: NodeJS.ProcessEnv): string {
  return resolve(env.LAMBDA_TASK_ROOT ?? process.cwd(), env.RELAY_CONFIG ?? 'relay.config.yaml');
}

export function lambdaCredentials(env: NodeJS.ProcessEnv) {
  const accessKeyId = requireEnv(env, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = requireEnv(env, 'AWS_SECRET_ACCESS_KEY');
  return { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}

/**
 * The functions' metrics, as CloudWatch EMF lines (lib/metrics/emf.ts),
 * under the stage's service name (POWERTOOLS_SERVICE_NAME, set by the stack
 * and used by its alarms).
 */
export function lambdaMetrics(env: NodeJS.ProcessEnv): EmfMetrics {
  return createEmfMetrics({ serviceName: env.POWERTOOLS_SERVICE_NAME?.trim() || 'flowtriq-relay' });
}
