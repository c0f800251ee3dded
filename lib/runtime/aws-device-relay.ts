/**
 * The device relay Lambda's setup: its allowlist comes from the bundled
 * config (integrations with via: vpc). It needs no AWS API and no secret.
 */
import { dirname } from 'node:path';
import { loadConfig } from '../config/load.ts';
import { createDeviceRelay } from '../device-relay/relay.ts';
import { vpcTargets } from '../device-relay/targets.ts';
import { createLogger } from '../log/logger.ts';
import type { Logger } from '../log/types.ts';
import { createDirectTransport } from '../transport/node-http.ts';
import { bundledConfigPath } from './aws-env.ts';

export function createAwsDeviceRelay(env: NodeJS.ProcessEnv = process.env, logger: Logger = createLogger()) {
  const path = bundledConfigPath(env);
  const { config } = loadConfig({ path });
  const targets = vpcTargets(config, { configDir: dirname(path) });
  logger.info('device relay ready', { targets: [...targets.values()].map(({ integration, origin }) => ({ integration, origin })) });
  return createDeviceRelay({ targets, transport: createDirectTransport(), logger });
}
