import { crowdsecOptionsSchema } from '../../../lib/providers/crowdsec/config.ts';
import { createCrowdsecProvider } from '../../../lib/providers/crowdsec/provider.ts';
import type { BlockEntry, ProviderContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { CrowdsecLapiSimulator, type LapiSimulatorOptions, SIM_MACHINE, SIM_PASSWORD, SIM_URL } from '../../simulators/crowdsec/lapi.ts';

export const INCIDENT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
export const HOUR = 3_600_000;

export function setup(sim: Partial<LapiSimulatorOptions> = {}, options: Record<string, unknown> = {}, password = SIM_PASSWORD) {
  const clock = new ManualClock();
  const simulator = new CrowdsecLapiSimulator({ now: clock.now, ...sim });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const provider = createCrowdsecProvider(
    { id: 'cs1', options: crowdsecOptionsSchema.parse({ url: SIM_URL, machineId: SIM_MACHINE, ...options }) },
    {
      transport: simulator.transport,
      secrets: { password },
      now: clock.now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        clock.advance(ms);
      },
      random: () => 0,
      logger,
    },
  );
  const ctx: ProviderContext = { signal: new AbortController().signal, logger };
  const block = (ip: string, ttlMs = HOUR, extra: Partial<BlockEntry> = {}): BlockEntry => ({ ip, expiresAt: clock.now() + ttlMs, incidents: [INCIDENT], ...extra });
  /** The relay's active decisions in the simulator, by address. */
  const relayActive = (ip?: string) => simulator.active(ip).filter((decision) => decision.origin === 'flowtriq-relay');
  return { clock, simulator, provider, ctx, logger, sleeps, block, relayActive };
}
