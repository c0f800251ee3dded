import { gcpFirewallOptionsSchema } from '../../../lib/providers/gcp/config.ts';
import { GcpBlockProvider, GcpLockdownProvider, createGcpFirewallProvider } from '../../../lib/providers/gcp/provider.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { GcpSimulator, type GcpSimulatorOptions, type SimCounters, makeServiceAccount } from '../../simulators/gcp/compute.ts';

export const TAGS = ['web'];
export const OFFICE = '203.0.113.10';
export const OFFICE_V6 = '2001:db8:10::5';
export const MANAGEMENT = [{ protocol: 'tcp', ports: 22, sources: [`${OFFICE}/32`, '2001:db8:10::/48'], description: 'ssh admin' }];

function common(sim: Partial<GcpSimulatorOptions>, fresh = false) {
  const clock = new ManualClock();
  const account = makeServiceAccount();
  const simulator = new GcpSimulator({ now: clock.now, account: fresh ? { ...account, publicKey: makeServiceAccount({ fresh: true }).publicKey } : account, ...sim });
  // The operator's own rules: web open to everyone on the tagged VMs, SSH from anywhere (the default network's rule).
  simulator.addRule({ name: 'allow-web', priority: 1000, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['80', '443'] }], targetTags: TAGS });
  simulator.addRule({ name: 'default-allow-ssh', priority: 65534, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['22'] }] });
  simulator.addRule({ name: 'default-allow-icmp', priority: 65534, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'icmp' }] });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const deps = {
    transport: simulator.transport,
    secrets: { serviceAccountKey: account.keyFile },
    now: clock.now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
    random: () => 0,
    logger,
  };
  const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['incident-1'] };
  return { clock, account, simulator, logger, sleeps, deps, ctx };
}

export function lockdown(options: Record<string, unknown> = {}, sim: Partial<GcpSimulatorOptions> = {}, extra: { fresh?: boolean } = {}) {
  const base = common(sim, extra.fresh);
  const parsed = gcpFirewallOptionsSchema.parse({ mode: 'lockdown', targetTags: TAGS, management: MANAGEMENT, ...options });
  const provider = createGcpFirewallProvider({ id: 'gcp', options: parsed, holdDownMs: 60_000 }, base.deps);
  if (!(provider instanceof GcpLockdownProvider)) throw new Error('expected the lockdown provider');
  return { ...base, provider };
}

export function block(options: Record<string, unknown> = {}, sim: Partial<GcpSimulatorOptions> = {}, extra: { maxRanges?: number } = {}) {
  const base = common(sim);
  const parsed = gcpFirewallOptionsSchema.parse({ mode: 'block', ...options });
  const provider = createGcpFirewallProvider({ id: 'gcp', options: parsed, holdDownMs: 0 }, { ...base.deps, ...extra });
  if (!(provider instanceof GcpBlockProvider)) throw new Error('expected the block provider');
  return { ...base, provider };
}

/** The counters a careful client keeps at zero. */
export function misbehaviour(counters: SimCounters) {
  return {
    writesWhilePending: counters.writesWhilePending,
    writesOnBusyRule: counters.writesOnBusyRule,
    foreignWrites: counters.foreignWrites,
    enabledWithoutSources: counters.enabledWithoutSources,
    unneededWrites: counters.unneededWrites,
    invalidTokenUses: counters.invalidTokenUses,
    expiredTokenUses: counters.expiredTokenUses,
    invalidAssertions: counters.invalidAssertions,
    defaultedToAnySource: counters.defaultedToAnySource,
  };
}

export const CLEAN = {
  writesWhilePending: 0,
  writesOnBusyRule: 0,
  foreignWrites: 0,
  enabledWithoutSources: 0,
  unneededWrites: 0,
  invalidTokenUses: 0,
  expiredTokenUses: 0,
  invalidAssertions: 0,
  defaultedToAnySource: 0,
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
