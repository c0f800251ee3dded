/**
 * The `azure-nsg` integration's factory: a switch (mode lockdown,
 * lockdown.ts) or a blocklist (mode block, block.ts) over one Azure network
 * security group, both signing in as an Entra ID application (client.ts).
 */
import { clientRuntime } from '../client-runtime.ts';
import { ProviderError } from '../errors.ts';
import type { CloudProviderDeps } from '../types.ts';
import { AzureNsgBlockProvider } from './block.ts';
import { AzureArmClient } from './client.ts';
import { ARM_BASE, AZURE_MAX_INTEGRATION_ID, AZURE_NSG_TYPE, type AzureNsgOptions, type AzureNsgSecrets, LOGIN_BASE } from './config.ts';
import { AzureNsgLockdownProvider } from './lockdown.ts';

export { AzureNsgBlockProvider } from './block.ts';
export { AzureNsgLockdownProvider } from './lockdown.ts';

export interface AzureNsgIntegration {
  id: string;
  options: AzureNsgOptions;
  /** Quiet period before a lockdown is lifted (lockdown mode only). */
  holdDownMs: number;
}

export interface AzureNsgDeps extends CloudProviderDeps<AzureNsgSecrets> {
  /** Tests only: other https origins for ARM and Entra ID. */
  armBase?: string;
  loginBase?: string;
}

/** The factory the registry calls: a SwitchProvider for mode lockdown, a BlocklistProvider for mode block. */
export function createAzureNsgProvider(integration: AzureNsgIntegration, deps: AzureNsgDeps): AzureNsgLockdownProvider | AzureNsgBlockProvider {
  const { id, options } = integration;
  const label = `${AZURE_NSG_TYPE} ${id}`;
  if (id.length > AZURE_MAX_INTEGRATION_ID) {
    throw new ProviderError(
      `${label}: the integration id is ${id.length} characters; azure-nsg ids may have at most ${AZURE_MAX_INTEGRATION_ID} (the relay's rule names, flowtriq-relay-<id>-deny-all, must fit Azure's 80)`,
      { retryable: false },
    );
  }
  if (deps.secrets.clientSecret.length === 0) {
    throw new ProviderError(`${label}: secrets.clientSecret is empty`, { retryable: false });
  }
  const runtime = clientRuntime(deps, options.timeout);
  const { now, sleep } = runtime;
  const client = new AzureArmClient({
    label,
    armBase: deps.armBase ?? ARM_BASE,
    loginBase: deps.loginBase ?? LOGIN_BASE,
    subscriptionId: options.subscriptionId,
    resourceGroup: options.resourceGroup,
    nsg: options.nsg,
    tenantId: options.tenantId,
    clientId: options.clientId,
    clientSecret: deps.secrets.clientSecret,
    pollIntervalMs: options.pollInterval,
    ...runtime,
  });
  if (options.mode === 'lockdown') {
    return new AzureNsgLockdownProvider({ id, holdDownMs: integration.holdDownMs, options, client, now, sleep });
  }
  return new AzureNsgBlockProvider({ id, options, client, now, sleep });
}
