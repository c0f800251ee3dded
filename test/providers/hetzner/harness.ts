import { hetznerRobotOptionsSchema } from '../../../lib/providers/hetzner/config.ts';
import { createHetznerRobotProvider } from '../../../lib/providers/hetzner/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, HetznerRobotSimulator, type HetznerRobotSimulatorOptions } from '../../simulators/hetzner/robot.ts';

export const LOCKDOWN_RULES = [
  { name: 'ssh admin', srcIp: '203.0.113.0/24', protocol: 'tcp', dstPort: '22', action: 'accept' },
  { name: 'tcp replies', ipVersion: 'ipv4', protocol: 'tcp', dstPort: '32768-65535', tcpFlags: 'ack', action: 'accept' },
  { name: 'dns replies', ipVersion: 'ipv4', protocol: 'udp', srcPort: '53', action: 'accept' },
];

export function setup(
  options: Record<string, unknown> = {},
  sim: Partial<HetznerRobotSimulatorOptions> = {},
  secrets = { username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD },
) {
  const clock = new ManualClock();
  const simulator = new HetznerRobotSimulator({ now: clock.now, ...sim });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const provider = createHetznerRobotProvider(
    { id: 'hz', options: hetznerRobotOptionsSchema.parse({ servers: [1001], inputRules: LOCKDOWN_RULES, ...options }), holdDownMs: 60_000 },
    {
      transport: simulator.transport,
      secrets,
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
