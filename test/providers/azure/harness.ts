import { azureNsgOptionsSchema } from '../../../lib/providers/azure/config.ts';
import { createAzureNsgProvider } from '../../../lib/providers/azure/provider.ts';
import type { AzureNsgBlockProvider, AzureNsgLockdownProvider } from '../../../lib/providers/azure/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { AzureArmSimulator, type AzureSimulatorOptions, CLIENT_ID, CLIENT_SECRET, NSG_NAME, RESOURCE_GROUP, SUBSCRIPTION, TENANT } from '../../simulators/azure/arm.ts';

export const BASE_OPTIONS = {
  subscriptionId: SUBSCRIPTION,
  resourceGroup: RESOURCE_GROUP,
  nsg: NSG_NAME,
  tenantId: TENANT,
  clientId: CLIENT_ID,
};

export const MANAGEMENT = [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10/32', '2001:db8:a::/48'], description: 'admin VPN' }];
export const KEEP = [{ protocol: 'tcp', ports: '443', sources: ['192.0.2.0/24'] }];

/** The operator's own rules, present before any attack. */
export function addOperatorRules(simulator: AzureArmSimulator): void {
  simulator.addRule('allow-https', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '443', sourceAddressPrefix: 'Internet', destinationAddressPrefix: '*', access: 'Allow', priority: 300, direction: 'Inbound', description: 'web' });
  simulator.addRule('allow-ssh-office', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '22', sourceAddressPrefixes: ['203.0.113.0/24', '2001:db8:a::/48'], destinationAddressPrefix: '*', access: 'Allow', priority: 310, direction: 'Inbound' });
  simulator.addRule('deny-rdp', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '3389', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Deny', priority: 4000, direction: 'Inbound' });
  simulator.addRule('allow-out-dns', { protocol: 'Udp', sourcePortRange: '*', destinationPortRange: '53', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Allow', priority: 100, direction: 'Outbound' });
  simulator.attach(['vm-web-nic'], ['web']);
}

function harness(options: Record<string, unknown>, sim: Partial<AzureSimulatorOptions>, secret: string) {
  const clock = new ManualClock();
  const simulator = new AzureArmSimulator({ now: clock.now, ...sim });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const provider = createAzureNsgProvider(
    { id: 'az', options: azureNsgOptionsSchema.parse({ ...BASE_OPTIONS, ...options }), holdDownMs: 60_000 },
    {
      transport: simulator.transport,
      secrets: { clientSecret: secret },
      now: clock.now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        clock.advance(ms);
      },
      random: () => 0,
      logger,
    },
  );
  const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['incident-1'] };
  return { clock, simulator, provider, ctx, logger, sleeps };
}

export function lockdownSetup(options: Record<string, unknown> = {}, sim: Partial<AzureSimulatorOptions> = {}, secret = CLIENT_SECRET) {
  const h = harness({ mode: 'lockdown', management: MANAGEMENT, keep: KEEP, ...options }, sim, secret);
  return { ...h, provider: h.provider as AzureNsgLockdownProvider };
}

export function blockSetup(options: Record<string, unknown> = {}, sim: Partial<AzureSimulatorOptions> = {}, secret = CLIENT_SECRET) {
  const h = harness({ mode: 'block', ...options }, sim, secret);
  return { ...h, provider: h.provider as AzureNsgBlockProvider };
}

export function entry(ip: string) {
  return { ip, expiresAt: Date.parse('2026-01-01T01:00:00Z'), incidents: ['incident-1'] };
}

/** The counters a careful client keeps at zero. */
export function expectClean(simulator: AzureArmSimulator): Record<string, number> {
  const { foreignWrites, writesWithoutIfMatch, writesWhileOperationPending, priorityClashes, droppedFields, unneededWrites, otherApiVersions } = simulator.counters;
  return { foreignWrites, writesWithoutIfMatch, writesWhileOperationPending, priorityClashes, droppedFields, unneededWrites, otherApiVersions };
}

export const CLEAN = { foreignWrites: 0, writesWithoutIfMatch: 0, writesWhileOperationPending: 0, priorityClashes: 0, droppedFields: 0, unneededWrites: 0, otherApiVersions: 0 };
