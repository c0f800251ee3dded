import { describe, expect, it } from 'vitest';
import { azureNsgOptionsSchema } from '../../../lib/providers/azure/config.ts';
import { createAzureNsgProvider } from '../../../lib/providers/azure/provider.ts';
import type { SwitchProvider } from '../../../lib/providers/types.ts';
import { silentLogger } from '../../../lib/log/logger.ts';
import { azureNsgUnderTest } from './under-test.ts';

function build(integrationId = 'azure') {
  const underTest = azureNsgUnderTest({ integrationId });
  const provider = createAzureNsgProvider(
    { id: integrationId, options: azureNsgOptionsSchema.parse(underTest.integration.options), holdDownMs: 0 },
    { transport: underTest.transport, secrets: { clientSecret: underTest.env[underTest.integration.secrets.clientSecret.env]! }, sleep: async () => {} },
  ) as SwitchProvider;
  const ctx = { signal: new AbortController().signal, logger: silentLogger, incidents: ['i1'] };
  return { underTest, provider, ctx };
}

describe('azure-nsg under test (for the one-box e2e)', () => {
  it('runs a whole lockdown with Date.now and zero delays, management reachable throughout', async () => {
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
    expect(underTest.isOn()).toBe(false);
    expect(reachable).toEqual([true, true, true]);
    expect(restore.outcome).toBe('restored');
    expect(underTest.account()).toEqual(before);
  });

  it('turnOnByHand makes the snapshot say alreadyActive; changeBehindTheRelay ends in changed-by-others', async () => {
    // Prepare
    const manual = build('manual');
    manual.underTest.turnOnByHand();
    const changed = build('changed');
    const snapshot = await changed.provider.snapshot(changed.ctx);
    const activation = await changed.provider.activate(snapshot, changed.ctx);
    changed.underTest.changeBehindTheRelay();

    // Act
    const manualSnapshot = await manual.provider.snapshot(manual.ctx);
    const restore = await changed.provider.deactivate(snapshot, activation, changed.ctx);

    // Assess
    expect(manual.underTest.isOn()).toBe(true);
    expect(manualSnapshot.alreadyActive).toBe(true);
    expect(restore.outcome).toBe('changed-by-others');
    expect(changed.underTest.managementReachable()).toBe(true);
  });
});
