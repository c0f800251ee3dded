import { abuseipdbOptionsSchema } from '../../../lib/providers/abuseipdb/config.ts';
import { createAbuseipdbProvider } from '../../../lib/providers/abuseipdb/provider.ts';
import type { BlockEntry, IncidentFacts, ProviderContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { AbuseipdbSimulator, type AbuseipdbSimulatorOptions, DEFAULT_KEY } from '../../simulators/abuseipdb/api.ts';

export const INCIDENT = 'a1b2c3d4-0000-4000-8000-000000000001';
export const OTHER_INCIDENT = 'a1b2c3d4-0000-4000-8000-000000000002';

/** Public addresses for tests (45.9.x.y). */
export function ips(count: number, third = 0): string[] {
  return Array.from({ length: count }, (_, i) => `45.9.${third}.${i + 1}`);
}

export function setup(options: Record<string, unknown> = {}, sim: Partial<AbuseipdbSimulatorOptions> = {}, apiKey = DEFAULT_KEY) {
  const clock = new ManualClock(Date.parse('2026-01-01T12:00:00Z'));
  const simulator = new AbuseipdbSimulator({ now: clock.now, ...sim });
  const logger = new RecordingLogger();
  const incidents = new Map<string, IncidentFacts>();
  const build = () =>
    createAbuseipdbProvider(
      { id: 'abuse', options: abuseipdbOptionsSchema.parse(options) },
      { transport: simulator.transport, secrets: { apiKey }, now: clock.now, logger },
    );
  const provider = build();
  const ctx: ProviderContext = {
    signal: new AbortController().signal,
    logger,
    incident: async (uuid) => incidents.get(uuid),
  };
  /** An ended incident: started 10 minutes before now, ended now. */
  const incident = (uuid: string, facts: Partial<IncidentFacts> = {}) => {
    incidents.set(uuid, {
      uuid,
      status: 'ended',
      family: 'udp_flood',
      startedAt: new Date(clock.now() - 10 * 60_000).toISOString(),
      endedAt: new Date(clock.now()).toISOString(),
      peakPps: 1_250_000,
      peakBps: 3_400_000_000,
      sample: false,
      ...facts,
    });
  };
  /** Blocks as the engine passes them to remove: `ref` is the incident add answered. */
  const entries = (addresses: string[], uuid = INCIDENT): BlockEntry[] =>
    addresses.map((ip) => ({ ip, ref: uuid, expiresAt: clock.now(), incidents: [uuid] }));
  return { clock, simulator, provider, build, ctx, logger, incidents, incident, entries };
}
