import { describe, expect, it } from 'vitest';
import { withAuthCooldown } from '../../lib/providers/auth-cooldown.ts';
import { ProviderError } from '../../lib/providers/errors.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryBlocklist } from '../helpers/memory-provider.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

const ctx = { signal: new AbortController().signal, logger: new RecordingLogger() };
const entry = { ip: '45.0.0.1', expiresAt: 0, incidents: [] };

describe('withAuthCooldown', () => {
  it('sends nothing to the device for the cooldown after a 401, then tries again', async () => {
    // Prepare
    const clock = new ManualClock();
    const device = new MemoryBlocklist('fw');
    device.down = new ProviderError('401: check the password', { retryable: false, status: 401 });
    const provider = withAuthCooldown(device, { cooldownMs: 60_000, now: clock.now });
    // Act
    await expect(provider.add([entry], ctx)).rejects.toThrow('401');
    const during = [provider.add([entry], ctx), provider.remove([entry], ctx), provider.list!(ctx)];
    const health = await provider.healthCheck(ctx);
    const callsDuring = device.calls.length;
    clock.advance(60_000);
    device.down = undefined;
    const after = await provider.add([entry], ctx);
    // Assess
    for (const call of during) await expect(call).rejects.toThrow(/not contacting the device for 1 more minute/);
    expect(health.ok).toBe(false);
    expect(callsDuring).toBe(1);
    expect(after).toEqual([expect.objectContaining({ ip: '45.0.0.1', ok: true })]);
  });

  it('does not pause for other failures', async () => {
    const device = new MemoryBlocklist('fw');
    device.down = new ProviderError('503', { retryable: true, status: 503 });
    const provider = withAuthCooldown(device);
    await expect(provider.add([entry], ctx)).rejects.toThrow('503');
    await expect(provider.add([entry], ctx)).rejects.toThrow('503');
    expect(device.calls).toHaveLength(2);
  });

  it('offers list() only when the device can list', () => {
    const device = new MemoryBlocklist('fw');
    const noList = { kind: 'blocklist' as const, id: 'x', type: 't', maxBatch: 1, add: device.add.bind(device), remove: device.remove.bind(device), healthCheck: device.healthCheck.bind(device) };
    expect(withAuthCooldown(device).list).toBeTypeOf('function');
    expect(withAuthCooldown(noList).list).toBeUndefined();
  });
});
