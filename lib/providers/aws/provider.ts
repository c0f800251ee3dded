/**
 * Factories for the AWS integrations, called by the registry:
 *
 * - `createAwsShieldProvider` → `aws-shield` (switch, ./shield.ts)
 * - `createAwsWafIpSetProvider` → `aws-waf-ipset` (blocklist, ./waf-ipset.ts)
 *
 * Credentials: resolved by the registry from `secrets` (default: the
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN environment
 * variables, which Lambda sets to the worker role's credentials) with
 * `resolveAwsCredentials` (./config.ts), or on a one-box host without those
 * variables from an AWS profile's static keys (./profile.ts). `deps.credentials` may also be a function, read before each
 * request (for credentials that are refreshed in place).
 */
import { clientRuntime } from '../client-runtime.ts';
import type { AwsShieldOptions, AwsWafIpSetOptions } from './config.ts';
import { AwsJsonClient } from './json11.ts';
import { AWS_SHIELD_TYPE, AwsShieldProvider, SHIELD_ENDPOINT, SHIELD_REGION, SHIELD_TARGET_PREFIX } from './shield.ts';
import type { AwsCredentials } from './sigv4.ts';
import { AWS_WAF_IPSET_TYPE, AwsWafIpSetProvider, WAF_TARGET_PREFIX, type WriteSpacer, sharedWafWriteSpacer, wafEndpoint } from './waf-ipset.ts';
import type { CloudProviderDeps, SwitchIntegration } from '../types.ts';

export interface AwsProviderDeps extends CloudProviderDeps<AwsCredentials | (() => AwsCredentials)> {
  /** Tests only: another endpoint origin (e.g. a simulator's). */
  endpoint?: string;
}

export type AwsShieldIntegration = SwitchIntegration<AwsShieldOptions>;

export interface AwsWafIpSetIntegration {
  id: string;
  options: AwsWafIpSetOptions;
}

/** Budget of one provider call: a few requests with retries on throttling. */
const budget = (timeoutMs: number) => Math.max(30_000, timeoutMs * 4);

function credentialsOf(secrets: AwsProviderDeps['secrets']): () => AwsCredentials {
  return typeof secrets === 'function' ? secrets : () => secrets;
}

export function createAwsShieldProvider(integration: AwsShieldIntegration, deps: AwsProviderDeps): AwsShieldProvider {
  const runtime = clientRuntime(deps, integration.options.timeout);
  const { now } = runtime;
  const client = new AwsJsonClient({
    label: `${AWS_SHIELD_TYPE} ${integration.id}`,
    service: 'shield',
    region: SHIELD_REGION,
    endpoint: deps.endpoint ?? SHIELD_ENDPOINT,
    targetPrefix: SHIELD_TARGET_PREFIX,
    credentials: credentialsOf(deps.secrets),
    ...runtime,
  });
  return new AwsShieldProvider({
    id: integration.id,
    holdDownMs: integration.holdDownMs,
    protections: integration.options.protections,
    client,
    now,
    budgetMs: budget(integration.options.timeout),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}

export function createAwsWafIpSetProvider(
  integration: AwsWafIpSetIntegration,
  deps: AwsProviderDeps & { /** Tests only: a private write spacer. */ spacer?: WriteSpacer },
): AwsWafIpSetProvider {
  const { options } = integration;
  const runtime = clientRuntime(deps, options.timeout);
  const { now, sleep } = runtime;
  const credentials = credentialsOf(deps.secrets);
  const client = new AwsJsonClient({
    label: `${AWS_WAF_IPSET_TYPE} ${integration.id}`,
    service: 'wafv2',
    region: options.region,
    endpoint: deps.endpoint ?? wafEndpoint(options.region),
    targetPrefix: WAF_TARGET_PREFIX,
    credentials,
    ...runtime,
  });
  let spacerKey: string;
  try {
    spacerKey = `${credentials().accessKeyId}|${options.region}`;
  } catch {
    spacerKey = `?|${options.region}`;
  }
  return new AwsWafIpSetProvider({
    id: integration.id,
    name: options.name,
    ipSetId: options.id,
    scope: options.scope,
    region: options.region,
    ownership: options.ownership,
    maxAddresses: options.maxAddresses,
    writeIntervalMs: options.writeInterval,
    spacerKey,
    spacer: deps.spacer ?? sharedWafWriteSpacer,
    client,
    now,
    sleep,
    budgetMs: budget(options.timeout),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}
