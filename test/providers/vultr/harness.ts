import { vultrOptionsSchema } from '../../../lib/providers/vultr/config.ts';
import { createVultrProvider } from '../../../lib/providers/vultr/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { DEFAULT_API_KEY, VultrSimulator, type VultrSimulatorOptions } from '../../simulators/vultr/api.ts';

export const INSTANCE_A = 'cb676a46-66fd-4dfb-b839-443f2e6c0b60';
export const INSTANCE_B = '3f1c9a52-7d2e-4b8a-9c41-0e5d6f7a8b9c';

/** SSH from the office (v4) and the VPN (v6). */
export const MANAGEMENT = [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10/32', '2001:db8:100::/48'], description: 'admin ssh' }];
/** The scrubbing provider's health checks. */
export const KEEP = [{ protocol: 'tcp', ports: '443', sources: ['198.51.100.0/24'] }];

/** The customer's own group: the web open to everyone, SSH too. */
export const WEB_RULES = [
  { ip_type: 'v4' as const, protocol: 'tcp', port: '80', subnet: '0.0.0.0', subnet_size: 0, notes: 'http' },
  { ip_type: 'v4' as const, protocol: 'tcp', port: '443', subnet: '0.0.0.0', subnet_size: 0, notes: 'https' },
  { ip_type: 'v4' as const, protocol: 'tcp', port: '22', subnet: '0.0.0.0', subnet_size: 0, notes: 'ssh' },
  { ip_type: 'v6' as const, protocol: 'tcp', port: '80', subnet: '::', subnet_size: 0, notes: 'http v6' },
];

export const RELAY_DESCRIPTION = 'flowtriq-relay lockdown (vt)';

/**
 * A Vultr account with two instances: A in the customer's "web" group, B in
 * no group; a provider over it with the given options (management and keep
 * above unless overridden).
 */
export function setup(options: Record<string, unknown> = {}, sim: Partial<VultrSimulatorOptions> = {}, apiKey = DEFAULT_API_KEY) {
  const clock = new ManualClock();
  const simulator = new VultrSimulator({ now: clock.now, ...sim });
  const web = simulator.addGroup('web', WEB_RULES);
  simulator.addInstance(INSTANCE_A, { label: 'web-a', firewall_group_id: web });
  simulator.addInstance(INSTANCE_B, { label: 'web-b' });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const make = (extra: Record<string, unknown> = {}) =>
    createVultrProvider(
      {
        id: 'vt',
        options: vultrOptionsSchema.parse({ instances: [INSTANCE_A, INSTANCE_B], management: MANAGEMENT, keep: KEEP, ...options, ...extra }),
        holdDownMs: 60_000,
      },
      {
        transport: simulator.transport,
        secrets: { apiKey },
        now: clock.now,
        sleep: async (ms: number) => {
          sleeps.push(ms);
          clock.advance(ms);
        },
        random: () => 0,
        logger,
      },
    );
  const provider = make();
  const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['incident-1'] };
  return { clock, simulator, provider, make, ctx, logger, sleeps, web };
}

/** A packet from the office to SSH, from the VPN to SSH, from an attacker to the web. */
export const OFFICE_SSH = { source: '203.0.113.10', protocol: 'tcp', port: 22 } as const;
export const VPN_SSH = { source: '2001:db8:100::7', protocol: 'tcp', port: 22 } as const;
export const ATTACKER_WEB = { source: '192.0.2.200', protocol: 'tcp', port: 80 } as const;
export const ATTACKER_SSH = { source: '192.0.2.200', protocol: 'tcp', port: 22 } as const;
export const SCRUBBER_HTTPS = { source: '198.51.100.9', protocol: 'tcp', port: 443 } as const;

/** Every flag of the simulator is zero. */
export function noFlags(simulator: VultrSimulator): Record<string, number> {
  return Object.fromEntries(Object.entries(simulator.flags).filter(([, value]) => value !== 0));
}
