import { digitalOceanOptionsSchema } from '../../../lib/providers/digitalocean/config.ts';
import { createDigitalOceanProvider } from '../../../lib/providers/digitalocean/provider.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import type { HttpRequest, Transport } from '../../../lib/transport/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import {
  DEFAULT_TOKEN,
  DigitalOceanSimulator,
  type DigitalOceanSimulatorOptions,
  type SimInboundRule,
  type SimOutboundRule,
  rules,
} from '../../simulators/digitalocean/api.ts';

export const MANAGEMENT_SOURCE = '203.0.113.10';
export const MANAGEMENT = [{ protocol: 'tcp', ports: 22, sources: [`${MANAGEMENT_SOURCE}/32`] }];
export const KEEP = [{ protocol: 'tcp', ports: '443', sources: ['198.51.100.0/24'] }];

/** The operator's firewall before the attack: open to the web, SSH from anywhere, ICMP. */
export const OPERATOR_INBOUND: SimInboundRule[] = [
  rules.tcp('22', '0.0.0.0/0', '::/0'),
  rules.tcp('80', '0.0.0.0/0', '::/0'),
  rules.tcp('443', '0.0.0.0/0', '::/0'),
  rules.icmp('0.0.0.0/0', '::/0'),
];
export const OPERATOR_OUTBOUND: SimOutboundRule[] = [
  { protocol: 'tcp', ports: '0', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
  { protocol: 'udp', ports: '53', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
];

export interface SetupOptions {
  options?: Record<string, unknown>;
  sim?: Partial<Omit<DigitalOceanSimulatorOptions, 'now'>>;
  token?: string;
  inbound?: SimInboundRule[];
  /** How many firewalls (all alike). */
  count?: number;
}

export function setup(setupOptions: SetupOptions = {}) {
  const clock = new ManualClock();
  const simulator = new DigitalOceanSimulator({ now: clock.now, applyDelayMs: 0, ...setupOptions.sim });
  const ids = Array.from({ length: setupOptions.count ?? 1 }, (_, index) =>
    simulator.addFirewall({
      name: `web-${index + 1}`,
      droplet_ids: [3164444 + index],
      tags: ['frontend'],
      inbound_rules: setupOptions.inbound ?? OPERATOR_INBOUND,
      outbound_rules: OPERATOR_OUTBOUND,
    }),
  );
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const requests: HttpRequest[] = [];
  const transport: Transport = {
    request: (request) => {
      requests.push(request);
      return simulator.transport.request(request);
    },
  };
  const options = digitalOceanOptionsSchema.parse({ firewalls: ids, management: MANAGEMENT, keep: KEEP, ...setupOptions.options });
  const provider = createDigitalOceanProvider(
    { id: 'do1', options, holdDownMs: 60_000 },
    {
      transport,
      secrets: { apiToken: setupOptions.token ?? DEFAULT_TOKEN },
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
  const id = ids[0]!;
  const managementReachable = (firewall = id) => simulator.admit(firewall, MANAGEMENT_SOURCE, 'tcp', 22);
  return { clock, simulator, provider, ctx, logger, sleeps, requests, ids, id, managementReachable };
}

/** JSON with object keys sorted: equal for equal values, whatever order the fields were written in. */
export function stable(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

/** The inbound rules of a firewall, field for field, rule order aside (rules are an unordered allow-list). */
export function inboundKeys(simulator: DigitalOceanSimulator, id: string): string[] {
  return simulator.firewall(id).inbound_rules.map(stable).sort();
}

/** The same form for rules of a test. */
export function keysOf(rules: readonly unknown[]): string[] {
  return rules.map(stable).sort();
}

/** The counters a careful client keeps at zero. */
export function carelessness(simulator: DigitalOceanSimulator) {
  const c = simulator.counters;
  return {
    puts: c.puts,
    duplicateAdds: c.duplicateAdds,
    absentRemovals: c.absentRemovals,
    foreignRemovals: c.foreignRemovals,
    outboundWrites: c.outboundWrites,
    writesWhilePending: c.writesWhilePending,
    rejectedWrites: c.rejectedWrites,
  };
}

export const CAREFUL = {
  puts: 0,
  duplicateAdds: 0,
  absentRemovals: 0,
  foreignRemovals: 0,
  outboundWrites: 0,
  writesWhilePending: 0,
  rejectedWrites: 0,
};

export async function caught(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

export function writes(requests: HttpRequest[]) {
  return requests
    .filter((request) => request.method !== 'GET')
    .map((request) => ({ method: request.method, body: JSON.parse(String(request.body)) as { inbound_rules: unknown[] } }));
}
