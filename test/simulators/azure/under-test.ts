/**
 * The azure-nsg lockdown as the one-box e2e test (test/e2e/switches.test.ts)
 * drives it: the integration as written in relay.config, the environment it
 * reads its secret from, the simulator's Transport, and views of the
 * simulated account.
 *
 * The NSG starts with the operator's own rules (HTTPS open to the Internet
 * at 300, SSH from the office at 310, a Deny of RDP at 4000) and one NIC
 * attached. The relay's rule names contain the integration id, so the
 * factory takes the id the lead gives the integration in the test config.
 */
import { azureNsgOptionsSchema } from '../../../lib/providers/azure/config.ts';
import { lockdownTargets } from '../../../lib/providers/azure/model.ts';
import type { Transport } from '../../../lib/transport/types.ts';
import { AzureArmSimulator, CLIENT_ID, CLIENT_SECRET, NSG_NAME, RESOURCE_GROUP, SUBSCRIPTION, TENANT } from './arm.ts';

export const AZURE_SECRET_ENV = 'AZURE_NSG_CLIENT_SECRET';
export const MANAGEMENT_SOURCE = '203.0.113.10';
export const MANAGEMENT_PORT = 22;
/** A source on the Internet that is neither the operator's nor allowed during the lockdown. */
export const ATTACKER = '198.51.100.66';

export interface AzureUnderTest {
  integration: { type: 'azure-nsg'; options: Record<string, unknown>; secrets: { clientSecret: { env: string } } };
  env: Record<string, string>;
  transport: Transport;
  simulator: AzureArmSimulator;
  account(): unknown;
  isOn(): boolean;
  turnOnByHand(): void;
  changeBehindTheRelay(): void;
  managementReachable(): boolean;
}

export function azureNsgUnderTest(options: { integrationId?: string; now?: () => number; operationDelayMs?: number } = {}): AzureUnderTest {
  const integrationId = options.integrationId ?? 'azure';
  const simulator = new AzureArmSimulator({ now: options.now ?? Date.now, operationDelayMs: options.operationDelayMs ?? 0 });
  simulator.addRule('allow-https', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '443', sourceAddressPrefix: 'Internet', destinationAddressPrefix: '*', access: 'Allow', priority: 300, direction: 'Inbound', description: 'web' });
  simulator.addRule('allow-ssh-office', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '22', sourceAddressPrefixes: ['203.0.113.0/24'], destinationAddressPrefix: '*', access: 'Allow', priority: 310, direction: 'Inbound' });
  simulator.addRule('deny-rdp', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '3389', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Deny', priority: 4000, direction: 'Inbound' });
  simulator.attach(['vm-web-nic'], []);

  const rawOptions = {
    mode: 'lockdown',
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    nsg: NSG_NAME,
    tenantId: TENANT,
    clientId: CLIENT_ID,
    pollInterval: '1s',
    management: [{ protocol: 'tcp', ports: MANAGEMENT_PORT, sources: [`${MANAGEMENT_SOURCE}/32`], description: 'ssh from the admin VPN' }],
    keep: [{ protocol: 'tcp', ports: '443', sources: ['192.0.2.0/24'], description: 'scrubbing provider' }],
  };
  const parsed = azureNsgOptionsSchema.parse(rawOptions);
  if (parsed.mode !== 'lockdown') throw new Error('unreachable');
  const targets = lockdownTargets(integrationId, parsed);
  const deny = targets.find((target) => target.role === 'deny')!;
  const firstAllow = targets.find((target) => target.role === 'allow')!;

  return {
    integration: { type: 'azure-nsg', options: rawOptions, secrets: { clientSecret: { env: AZURE_SECRET_ENV } } },
    env: { [AZURE_SECRET_ENV]: CLIENT_SECRET },
    transport: simulator.transport,
    simulator,
    account: () => simulator.account(),
    isOn: () => simulator.rule(deny.name) !== undefined && !simulator.admit({ source: ATTACKER, protocol: 'tcp', port: 443 }),
    // The operator puts the relay's own lockdown rules in place by hand (Azure cannot tell any other lockdown apart): snapshot says alreadyActive.
    turnOnByHand: () => {
      for (const target of targets) simulator.addRule(target.name, { ...target.body });
    },
    // Someone adds a source to the relay's management rule during the attack.
    changeBehindTheRelay: () => {
      const current = simulator.rule(firstAllow.name) as { properties: { sourceAddressPrefixes: string[] } } | undefined;
      if (!current) throw new Error(`${firstAllow.name} is not there: activate first`);
      simulator.editRule(firstAllow.name, { sourceAddressPrefixes: [...current.properties.sourceAddressPrefixes, '198.51.100.200/32'] });
    },
    managementReachable: () => simulator.admit({ source: MANAGEMENT_SOURCE, protocol: 'tcp', port: MANAGEMENT_PORT }),
  };
}
