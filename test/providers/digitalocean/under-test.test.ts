import { describe, expect, it } from 'vitest';
import { digitalOceanOptionsSchema } from '../../../lib/providers/digitalocean/config.ts';
import { createDigitalOceanProvider } from '../../../lib/providers/digitalocean/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { createDigitalOceanUnderTest } from '../../simulators/digitalocean/under-test.ts';

/** The provider as the registry would build it from the under-test integration. */
function build(now = Date.now) {
  const underTest = createDigitalOceanUnderTest({ now });
  const { integration, env } = underTest;
  const provider = createDigitalOceanProvider(
    { id: 'do-e2e', options: digitalOceanOptionsSchema.parse(integration.options), holdDownMs: 0 },
    { transport: underTest.transport, secrets: { apiToken: env[integration.secrets.apiToken.env]! }, now, sleep: async () => {}, random: () => 0 },
  );
  const logger = new RecordingLogger();
  const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['i1'] };
  return { underTest, provider, ctx };
}

describe('digitalocean under-test factory', () => {
  it('locks down, keeps management reachable, and restores the account field for field with Date.now and no delays', async () => {
    // Prepare
    const { underTest, provider, ctx } = build();
    const before = underTest.account();
    const reachable = [underTest.managementReachable()];

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const on = underTest.isOn();
    reachable.push(underTest.managementReachable());
    const restore = await provider.deactivate(snapshot, activation, ctx);
    reachable.push(underTest.managementReachable());

    // Assess
    expect(on).toBe(true);
    expect(activation.confirmed).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(underTest.isOn()).toBe(false);
    expect(underTest.account()).toEqual(before);
    expect(reachable).toEqual([true, true, true]);
  });

  it('turnOnByHand makes the snapshot say alreadyActive', async () => {
    // Prepare
    const { underTest, provider, ctx } = build(new ManualClock().now);
    underTest.turnOnByHand();

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(underTest.isOn()).toBe(true);
    expect(snapshot.alreadyActive).toBe(true);
  });

  it('changeBehindTheRelay leads to changed-by-others and is left in place', async () => {
    // Prepare
    const { underTest, provider, ctx } = build();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    underTest.changeBehindTheRelay();
    const changed = underTest.account();

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(underTest.account()).toEqual(changed);
    expect(underTest.managementReachable()).toBe(true);
  });
});
