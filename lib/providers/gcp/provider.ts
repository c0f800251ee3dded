/**
 * The `gcp-firewall` integration's factory: a switch (`mode: lockdown`,
 * ./lockdown-provider.ts) or a blocklist (`mode: block`,
 * ./block-provider.ts) over the VPC firewall rules of one project, both
 * through one Compute Engine client authenticated with a service account's
 * JSON key.
 */
import { clientRuntime } from '../client-runtime.ts';
import { ProviderError } from '../errors.ts';
import type { CloudProviderDeps, SwitchIntegration } from '../types.ts';
import { ServiceAccountTokenSource } from './auth.ts';
import { GcpBlockProvider } from './block-provider.ts';
import { GcpComputeClient } from './client.ts';
import { GCP_COMPUTE_BASE, type GcpFirewallOptions, type GcpFirewallSecrets, parseServiceAccountKey } from './config.ts';
import { GcpLockdownProvider } from './lockdown-provider.ts';

export { GCP_FIREWALL_TYPE } from './config.ts';
export { GcpBlockProvider } from './block-provider.ts';
export { GcpLockdownProvider } from './lockdown-provider.ts';

export type GcpFirewallIntegration = SwitchIntegration<GcpFirewallOptions>;

export interface GcpFirewallDeps extends CloudProviderDeps<GcpFirewallSecrets> {
  /** Tests only: another Compute Engine base URL. */
  baseUrl?: string;
  /** Config path of the secret for error messages, e.g. `integrations[3].secrets.serviceAccountKey`. */
  secretPath?: string;
  /** Tests only: a lower per-rule source range limit (block mode). */
  maxRanges?: number;
}

/**
 * Builds the provider for one integration. Checks the key file at once, so
 * a broken key stops the relay at startup with the field and the fix.
 * @throws ProviderError (not retryable) when the key is unusable or no project is known.
 */
export function createGcpFirewallProvider(integration: GcpFirewallIntegration, deps: GcpFirewallDeps): GcpLockdownProvider | GcpBlockProvider {
  const { options } = integration;
  const key = parseServiceAccountKey(deps.secrets.serviceAccountKey, deps.secretPath);
  const project = options.project ?? key.projectId;
  if (project === '') {
    throw new ProviderError(`gcp-firewall ${integration.id}: set options.project (the key file names no project_id)`, { retryable: false });
  }
  const runtime = clientRuntime(deps, options.timeout);
  const { now } = runtime;
  const label = `gcp-firewall ${integration.id}`;
  const tokens = new ServiceAccountTokenSource({ label, key, ...runtime });
  const client = new GcpComputeClient({
    integrationId: integration.id,
    baseUrl: deps.baseUrl ?? GCP_COMPUTE_BASE,
    project,
    tokens,
    pollIntervalMs: options.pollInterval,
    waitForMs: options.waitFor,
    ...runtime,
  });
  if (options.mode === 'lockdown') {
    return new GcpLockdownProvider({ id: integration.id, holdDownMs: integration.holdDownMs, options, client, now });
  }
  return new GcpBlockProvider({ id: integration.id, options, client, now, ...(deps.maxRanges !== undefined ? { maxRanges: deps.maxRanges } : {}) });
}
