/** What every relay function shares: runtime, architecture, the bundled config and a Lambda-only trust policy. */
import { BUNDLED_CONFIG, type BundledFile } from './config.ts';

/**
 * Only the Lambda service may assume a relay function's role. SST 4.17's
 * Function also trusts the account root (for `sst dev`, where the local
 * process assumes the role; its "not dev" check never matches), which would
 * let any principal in the account with sts:AssumeRole act as the function.
 */
const LAMBDA_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/**
 * @param configFile the config file, relative to the project root; bundled as relay.config.yaml.
 * @param extraFiles CA bundles to place beside it.
 */
export function functionDefaults(configFile: string, extraFiles: BundledFile[] = []) {
  return {
    runtime: 'nodejs24.x' as const,
    architecture: 'arm64' as const,
    copyFiles: [{ from: configFile, to: BUNDLED_CONFIG }, ...extraFiles],
    // `sst dev` keeps SST's trust policy: its local functions assume the role.
    ...($dev ? {} : { transform: { role: { assumeRolePolicy: LAMBDA_TRUST_POLICY } } }),
  };
}

/** RELAY_CONFIG: where the handlers find the bundled config (relative to the package root). */
export const CONFIG_ENVIRONMENT = { RELAY_CONFIG: BUNDLED_CONFIG } as const;
