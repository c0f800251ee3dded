import { describe, expect, it } from 'vitest';
import { signRequest } from '../../../lib/providers/aws/sigv4.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { AwsSimulator, SIM_CREDENTIALS } from './aws.ts';

async function call(sim: AwsSimulator, clock: ManualClock, target: string, input: object, opts: { secret?: string; skewMs?: number; host?: string } = {}) {
  const host = opts.host ?? 'wafv2.eu-west-1.amazonaws.com';
  const body = JSON.stringify(input);
  const headers = await signRequest(
    { method: 'POST', url: `https://${host}/`, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, body, service: host.split('.')[0]!, region: host.split('.')[1]!, now: clock.now() + (opts.skewMs ?? 0) },
    { accessKeyId: SIM_CREDENTIALS.accessKeyId, secretAccessKey: opts.secret ?? SIM_CREDENTIALS.secretAccessKey },
  );
  const response = await sim.transport.request({ method: 'POST', url: `https://${host}/`, headers, body, timeoutMs: 1000 });
  return { status: response.status, json: JSON.parse(Buffer.from(response.body).toString('utf8')) as Record<string, unknown> };
}

describe('AWS simulator', () => {
  it('rejects a bad signature and a skewed clock, counting them', async () => {
    // Prepare
    const clock = new ManualClock();
    const sim = new AwsSimulator({ now: clock.now });

    // Act
    const bad = await call(sim, clock, 'AWSShield_20160616.GetSubscriptionState', {}, { secret: 'nope', host: 'shield.us-east-1.amazonaws.com' });
    const skewed = await call(sim, clock, 'AWSShield_20160616.GetSubscriptionState', {}, { skewMs: 10 * 60_000, host: 'shield.us-east-1.amazonaws.com' });
    const good = await call(sim, clock, 'AWSShield_20160616.GetSubscriptionState', {}, { host: 'shield.us-east-1.amazonaws.com' });

    // Assess
    expect(bad).toMatchObject({ status: 403, json: { __type: 'com.amazonaws.shield#InvalidSignatureException' } });
    expect(skewed.json.message).toMatch(/Signature expired/);
    expect(good.json).toEqual({ SubscriptionState: 'ACTIVE' });
    expect(sim.counters.badSignatures).toBe(2);
  });

  it('changes the lock token on every write, refuses stale ones, drops a missing Description and counts fast and unneeded writes', async () => {
    // Prepare
    const clock = new ManualClock();
    const sim = new AwsSimulator({ now: clock.now });
    sim.addIpSet({ name: 's', id: 'id-1', description: 'keep me', addresses: ['192.0.2.1/32'] });
    const ref = { Name: 's', Scope: 'REGIONAL', Id: 'id-1' };
    const first = await call(sim, clock, 'AWSWAF_20190729.GetIPSet', ref);
    const token = first.json.LockToken as string;

    // Act
    const write = await call(sim, clock, 'AWSWAF_20190729.UpdateIPSet', { ...ref, Addresses: ['192.0.2.1/32'], LockToken: token });
    const tooFast = await call(sim, clock, 'AWSWAF_20190729.UpdateIPSet', { ...ref, Addresses: [], LockToken: write.json.NextLockToken });
    clock.advance(1000);
    const stale = await call(sim, clock, 'AWSWAF_20190729.UpdateIPSet', { ...ref, Addresses: [], LockToken: token });

    // Assess
    expect(write.json.NextLockToken).not.toBe(token);
    expect(tooFast.json.__type).toBe('ThrottlingException');
    expect(stale.json.__type).toBe('WAFOptimisticLockException');
    expect(sim.counters).toMatchObject({ unneededWrites: 0, descriptionDropped: 1, writesTooFast: 1, staleLockWrites: 1 });
    expect(sim.ipSetState('id-1').Description).toBeUndefined();
  });
});
