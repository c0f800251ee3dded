import { describe, expect, it } from 'vitest';
import { vultrOptionsSchema } from '../../../lib/providers/vultr/config.ts';
import { createVultrProvider } from '../../../lib/providers/vultr/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { vultrUnderTest } from '../../simulators/vultr/under-test.ts';
import { noFlags } from './harness.ts';

/** The factory the one-box test uses, driven here through the provider directly. */
function drive(mode: 'prepared' | 'relay-group') {
  const clock = new ManualClock();
  const device = vultrUnderTest({ now: clock.now, mode });
  const provider = createVultrProvider(
    { id: 'scrub', options: vultrOptionsSchema.parse(device.integration.options), holdDownMs: 0 },
    {
      transport: device.transport,
      secrets: { apiKey: device.env[device.integration.secrets.apiKey.env]! },
      now: clock.now,
      sleep: async (ms) => void clock.advance(ms),
      random: () => 0,
    },
  );
  const ctx: SwitchContext = { signal: new AbortController().signal, logger: new RecordingLogger(), incidents: ['inc-a'] };
  return { device, provider, ctx };
}

describe.each(['prepared', 'relay-group'] as const)('vultr under test (%s)', (mode) => {
  it('locks down, keeps the management allowance reachable throughout, and restores the account exactly', async () => {
    // Prepare
    const { device, provider, ctx } = drive(mode);
    const before = structuredClone(device.account());
    const reachable = [device.managementReachable()];

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const on = device.isOn();
    reachable.push(device.managementReachable());
    const restore = await provider.deactivate(snapshot, activation, ctx);
    reachable.push(device.managementReachable());

    // Assess
    expect(on).toBe(true);
    expect(reachable).toEqual([true, true, true]);
    expect(restore.outcome).toBe('restored');
    expect(device.isOn()).toBe(false);
    expect(device.account()).toEqual(before);
    expect(noFlags(device.simulator)).toEqual({});
  });

  it('reports a change behind the relay as changed-by-others', async () => {
    // Prepare
    const { device, provider, ctx } = drive(mode);
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    device.changeBehindTheRelay();

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(noFlags(device.simulator)).toEqual({});
  });
});

describe('vultr under test: turned on by hand', () => {
  it('is seen as already active', async () => {
    // Prepare
    const { device, provider, ctx } = drive('prepared');
    device.turnOnByHand();

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(device.isOn()).toBe(true);
    expect(snapshot.alreadyActive).toBe(true);
  });
});
