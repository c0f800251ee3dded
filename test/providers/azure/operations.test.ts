import { describe, expect, it } from 'vitest';
import { AzureOperationFailedError } from '../../../lib/providers/azure/errors.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import type { HttpRequest } from '../../../lib/transport/types.ts';
import { AZURE_LB_ADDRESS } from '../../simulators/azure/arm.ts';
import { CLEAN, addOperatorRules, expectClean, lockdownSetup } from './harness.ts';

function withNsg(options: Record<string, unknown> = {}, sim = {}) {
  const h = lockdownSetup(options, sim);
  addOperatorRules(h.simulator);
  return h;
}

describe('azure-nsg: long-running operations', () => {
  it('reports a failed operation with Azure\'s code, and writes the failed rule again on the next activate', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg();
    const snapshot = await provider.snapshot(ctx);
    simulator.failNextOperation('InternalServerError', 'An error occurred.');

    // Act
    let failure: unknown;
    try {
      await provider.activate(snapshot, ctx);
    } catch (error) {
      failure = error;
    }
    const retry = await provider.activate(snapshot, ctx);

    // Assess
    expect(failure).toBeInstanceOf(AzureOperationFailedError);
    expect((failure as Error).message).toContain('PUT rule flowtriq-relay-az-allow-1 ended Failed InternalServerError (An error occurred.)');
    expect(retry.confirmed).toBe(true);
    expect(simulator.requests.filter((request) => request.method === 'PUT' && request.path.endsWith('allow-1')).map((request) => request.ifMatch !== undefined)).toEqual([false, true]);
    expect(expectClean(simulator)).toEqual(CLEAN);
  });

  it('follows Location when a DELETE gives no Azure-AsyncOperation', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg({}, { operationDelayMs: 15_000, deleteLocationOnly: true });
    const before = simulator.account();
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.account()).toEqual(before);
    expect(simulator.counters.polls).toBeGreaterThan(0);
  });

  it('never sends its token to a status URL outside management.azure.com', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg({}, { operationDelayMs: 15_000 });
    const snapshot = await provider.snapshot(ctx);
    const original = simulator.handle.bind(simulator);
    const seen: string[] = [];
    simulator.handle = (request: HttpRequest) => {
      seen.push(new URL(request.url).host);
      const response = original(request);
      if (response.headers['azure-asyncoperation']) response.headers['azure-asyncoperation'] = 'https://evil.example/operations/1';
      return response;
    };

    // Act
    let failure: unknown;
    try {
      await provider.activate(snapshot, ctx);
    } catch (error) {
      failure = error;
    }

    // Assess
    expect(failure).toBeInstanceOf(ProviderError);
    expect((failure as Error).message).toContain('outside https://management.azure.com');
    expect(seen).not.toContain('evil.example');
  });
});

describe('azure-nsg: what the lockdown lets in', () => {
  it('blocks Azure Load Balancer health probes unless a keep rule allows 168.63.129.16', async () => {
    // Prepare
    const plain = withNsg();
    const withProbe = withNsg({ keep: [{ protocol: 'tcp', ports: 80, sources: [`${AZURE_LB_ADDRESS}/32`], description: 'Azure LB health probes' }] });
    const probe = { source: AZURE_LB_ADDRESS, protocol: 'tcp' as const, port: 80 };

    // Act
    const plainSnapshot = await plain.provider.snapshot(plain.ctx);
    await plain.provider.activate(plainSnapshot, plain.ctx);
    const probeSnapshot = await withProbe.provider.snapshot(withProbe.ctx);
    await withProbe.provider.activate(probeSnapshot, withProbe.ctx);

    // Assess
    expect(plain.simulator.admit(probe)).toBe(false);
    expect(withProbe.simulator.admit(probe)).toBe(true);
    expect(withProbe.simulator.admit({ source: '198.51.100.66', protocol: 'tcp', port: 80 })).toBe(false);
  });

  it('leaves a customer rule with a lower priority number than the band in force during the lockdown', async () => {
    // Prepare
    const { simulator, provider, ctx } = withNsg({ priorityBand: { from: 1000, to: 1099 } });
    simulator.addRule('early-web', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '443', sourceAddressPrefix: '*', destinationAddressPrefix: '*', access: 'Allow', priority: 200, direction: 'Inbound' });
    const snapshot = await provider.snapshot(ctx);

    // Act
    await provider.activate(snapshot, ctx);

    // Assess
    expect(simulator.admit({ source: '198.51.100.66', protocol: 'tcp', port: 443 })).toBe(true);
    expect(simulator.admit({ source: '198.51.100.66', protocol: 'tcp', port: 80 })).toBe(false);
  });
});
