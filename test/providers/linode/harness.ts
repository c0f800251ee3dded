import { linodeOptionsSchema } from '../../../lib/providers/linode/config.ts';
import { createLinodeProvider } from '../../../lib/providers/linode/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { DEFAULT_TOKEN, type LinodeApiSimulator, type LinodeSimulatorOptions } from '../../simulators/linode/api.ts';
import { FIREWALL_ID, linodeUnderTest } from '../../simulators/linode/under-test.ts';

export { FIREWALL_ID };

/** The management allowance the tests configure (the under-test factory's). */
export const MANAGEMENT = [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10/32'], description: 'ops VPN ssh' }];

/** A transport in front of the simulator; `intercept` may answer or throw instead of it. */
export type Interceptor = (request: HttpRequest, simulator: LinodeApiSimulator) => HttpResponse | undefined;

export function setup(
  options: Record<string, unknown> = {},
  simulatorOptions: { token?: string; intercept?: Interceptor; sim?: Partial<LinodeSimulatorOptions> } = {},
) {
  const clock = new ManualClock();
  const under = linodeUnderTest({ now: clock.now, ...(simulatorOptions.sim ? { sim: simulatorOptions.sim } : {}) });
  const simulator = under.simulator;
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const transport: Transport = {
    request: async (request) => simulatorOptions.intercept?.(request, simulator) ?? simulator.handle(request),
  };
  const provider = createLinodeProvider(
    { id: 'lin', options: linodeOptionsSchema.parse({ firewalls: [FIREWALL_ID], management: MANAGEMENT, ...options }), holdDownMs: 60_000 },
    {
      transport,
      secrets: { token: simulatorOptions.token ?? DEFAULT_TOKEN },
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
  return { clock, simulator, under, provider, ctx, logger, sleeps };
}

/** Every careful-client counter of the simulator that must stay zero. */
export function misbehaviour(simulator: LinodeApiSimulator) {
  const { readOnlyFieldPuts, droppedFieldPuts, outboundChanges, blindPuts, limitViolations, invalidPuts, unneededPuts, requestsBeforeRetryAfter } = simulator.counters;
  return { readOnlyFieldPuts, droppedFieldPuts, outboundChanges, blindPuts, limitViolations, invalidPuts, unneededPuts, requestsBeforeRetryAfter };
}

export const CLEAN = {
  readOnlyFieldPuts: 0,
  droppedFieldPuts: 0,
  outboundChanges: 0,
  blindPuts: 0,
  limitViolations: 0,
  invalidPuts: 0,
  unneededPuts: 0,
  requestsBeforeRetryAfter: 0,
};
