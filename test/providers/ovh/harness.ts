import { ovhOptionsSchema } from '../../../lib/providers/ovh/config.ts';
import { createOvhProvider } from '../../../lib/providers/ovh/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_CONSUMER_KEY, OvhApiSimulator, type OvhSimulatorOptions } from '../../simulators/ovh/api.ts';

export const BLOCK = '203.0.113.0/24';
export const IP_A = '203.0.113.10';
export const IP_B = '203.0.113.11';
export const SECRETS = { applicationKey: DEFAULT_APP_KEY, applicationSecret: DEFAULT_APP_SECRET, consumerKey: DEFAULT_CONSUMER_KEY };

export function setup(options: Record<string, unknown> = {}, sim: Partial<OvhSimulatorOptions> = {}) {
  const clock = new ManualClock();
  const simulator = new OvhApiSimulator({ now: clock.now, blocks: [BLOCK], ...sim });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const provider = createOvhProvider(
    { id: 'ovh1', options: ovhOptionsSchema.parse({ ips: [{ ip: IP_A, ipBlock: BLOCK }], pollInterval: '5s', waitFor: '30s', ...options }), holdDownMs: 60_000 },
    {
      transport: simulator.transport,
      secrets: SECRETS,
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

export const TWO_IPS = { ips: [{ ip: IP_A, ipBlock: BLOCK }, { ip: IP_B, ipBlock: BLOCK }] };
