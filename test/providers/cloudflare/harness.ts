import { cloudflareMagicTransitOptionsSchema, cloudflareUnderAttackOptionsSchema } from '../../../lib/providers/cloudflare/config.ts';
import { createCloudflareMagicTransitProvider, createCloudflareUnderAttackProvider } from '../../../lib/providers/cloudflare/provider.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import type { HttpRequest, Transport } from '../../../lib/transport/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { ACCOUNT, CloudflareApiSimulator, type CloudflareSimulatorOptions, DEFAULT_TOKEN, ZONE } from '../../simulators/cloudflare/api.ts';

export { ACCOUNT, DEFAULT_TOKEN, ZONE };

export interface Harness {
  clock: ManualClock;
  simulator: CloudflareApiSimulator;
  ctx: SwitchContext;
  logger: RecordingLogger;
  sleeps: number[];
  requests: HttpRequest[];
  transport: Transport;
  deps: {
    transport: Transport;
    secrets: { apiToken: string };
    now: () => number;
    sleep: (ms: number) => Promise<void>;
    random: () => number;
    logger: RecordingLogger;
  };
}

function base(sim: Partial<Omit<CloudflareSimulatorOptions, 'now'>> = {}, token = DEFAULT_TOKEN): Harness {
  const clock = new ManualClock();
  const simulator = new CloudflareApiSimulator({ now: clock.now, ...sim });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const requests: HttpRequest[] = [];
  const transport: Transport = {
    request: (request) => {
      requests.push(request);
      return simulator.transport.request(request);
    },
  };
  const deps = {
    transport,
    secrets: { apiToken: token },
    now: clock.now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
    random: () => 0,
    logger,
  };
  const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['incident-1'] };
  return { clock, simulator, ctx, logger, sleeps, requests, transport, deps };
}

/** A Magic Transit account with `count` on-demand prefixes (withdrawn), and a provider over them. */
export function setupMagicTransit(
  options: { count?: number; api?: 'bgp-prefixes' | 'bgp-status'; extra?: Record<string, unknown>; sim?: Partial<Omit<CloudflareSimulatorOptions, 'now'>>; token?: string } = {},
) {
  const harness = base(options.sim, options.token);
  const cidrs = ['203.0.113.0/24', '198.51.100.0/24', '192.0.2.0/24'];
  const ids = Array.from({ length: options.count ?? 1 }, (_, index) => harness.simulator.addPrefix(cidrs[index]!));
  const api = options.api ?? 'bgp-prefixes';
  const parsed = cloudflareMagicTransitOptionsSchema.parse({
    accountId: ACCOUNT,
    api,
    prefixes: ids.map((id) => (api === 'bgp-prefixes' ? id : { prefixId: id.prefixId })),
    ...options.extra,
  });
  const provider = createCloudflareMagicTransitProvider({ id: 'mt1', options: parsed, holdDownMs: 30 * 60_000 }, harness.deps);
  return { ...harness, provider, ids };
}

/** A zone at security level `value`, and a provider over it. */
export function setupUnderAttack(options: { value?: string; editable?: boolean; token?: string } = {}) {
  const harness = base({}, options.token);
  harness.simulator.addZone(ZONE, { value: options.value ?? 'medium', editable: options.editable ?? true });
  const parsed = cloudflareUnderAttackOptionsSchema.parse({ zoneId: ZONE });
  const provider = createCloudflareUnderAttackProvider({ id: 'ua1', options: parsed, holdDownMs: 0 }, harness.deps);
  return { ...harness, provider };
}

export async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

export function writes(harness: { simulator: CloudflareApiSimulator }) {
  return harness.simulator.log.filter((entry) => entry.method === 'PATCH');
}
