import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../lib/providers/errors.ts';
import { SIM_TEMP_CREDENTIALS } from '../../simulators/aws/aws.ts';
import { ALB_ARN, CF_ARN, shieldSetup } from './harness.ts';

describe('aws-shield: subscription', () => {
  it('refuses to snapshot without an ACTIVE Shield Advanced subscription, naming the fix, non-retryable', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN });
    simulator.subscription = 'INACTIVE';

    // Act
    const error = await provider.snapshot(ctx).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/INACTIVE.*Subscribe in the AWS console.*never subscribes/);
    expect(simulator.counters.writes).toBe(0);
  });

  it('healthCheck reports the subscription and each protection', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Count' } });

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health).toEqual({ ok: true, detail: 'Shield Advanced ACTIVE; web: L7 enabled, Count' });
  });
});

describe('aws-shield: snapshot, activate, restore', () => {
  it('Count → Block → Count, leaving the protection exactly as it was', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Count' } });
    const before = simulator.shieldState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const during = simulator.shieldState().protections[0]!.ApplicationLayerAutomaticResponseConfiguration;
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(snapshot.summary).toBe('web: L7 enabled, Count');
    expect(activation.confirmed).toBe(true);
    expect(during).toEqual({ Status: 'ENABLED', Action: { Block: {} } });
    expect(restore.outcome).toBe('restored');
    expect(simulator.shieldState()).toEqual(before);
    expect(simulator.calls.filter((c) => c.operation.endsWith('AutomaticResponse')).map((c) => c.operation)).toEqual([
      'UpdateApplicationLayerAutomaticResponse',
      'UpdateApplicationLayerAutomaticResponse',
    ]);
    expect(simulator.counters.shieldUnneededWrites).toBe(0);
  });

  it('disabled (dormant Count) → Enable Block → Update Count + Disable: the dormant action is restored too', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'DISABLED', action: 'Count' } });
    const before = simulator.shieldState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.shieldState()).toEqual(before);
    expect(simulator.calls.filter((c) => c.operation.endsWith('AutomaticResponse')).map((c) => c.operation)).toEqual([
      'EnableApplicationLayerAutomaticResponse',
      'UpdateApplicationLayerAutomaticResponse',
      'DisableApplicationLayerAutomaticResponse',
    ]);
    expect(simulator.counters.invalidOperations).toBe(0);
  });

  it('never configured → Enable Block → Disable, signed with temporary credentials', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup([CF_ARN], SIM_TEMP_CREDENTIALS);
    simulator.addProtection({ id: 'p-2', name: 'cdn', resourceArn: CF_ARN });

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.summary).toBe('cdn: L7 disabled (never configured)');
    expect(restore.outcome).toBe('restored');
    expect(simulator.shieldState().protections[0]!.ApplicationLayerAutomaticResponseConfiguration?.Status).toBe('DISABLED');
    expect(simulator.counters.badSignatures).toBe(0);
  });

  it('activate and deactivate are idempotent: called again they write nothing', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Count' } });
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);
    const writes = simulator.counters.writes;

    // Act
    const again = await provider.activate(snapshot, ctx);
    const first = await provider.deactivate(snapshot, again, ctx);
    const afterRestore = simulator.counters.writes;
    const second = await provider.deactivate(snapshot, again, ctx);

    // Assess
    expect(again.confirmed).toBe(true);
    expect(afterRestore).toBe(writes + 1);
    expect(first.outcome).toBe('restored');
    expect(second.outcome).toBe('restored');
    expect(simulator.counters.writes).toBe(afterRestore);
    expect(simulator.counters.shieldUnneededWrites).toBe(0);
  });

  it('restores after a crash between the change and its record (activation undefined)', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Count' } });
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.shieldState().protections[0]!.ApplicationLayerAutomaticResponseConfiguration).toEqual({ Status: 'ENABLED', Action: { Count: {} } });
  });
});

describe('aws-shield: what is not the relay\'s', () => {
  it('already ENABLED with Block: alreadyActive, and the relay writes nothing', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Block' } });

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(simulator.counters.writes).toBe(0);
  });

  it('with several protections, one already Block is never touched while the others are switched and restored', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup([ALB_ARN, CF_ARN]);
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Block' } });
    simulator.addProtection({ id: 'p-2', name: 'cdn', resourceArn: CF_ARN, l7: { status: 'ENABLED', action: 'Count' } });
    const before = simulator.shieldState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(false);
    expect(simulator.calls.filter((c) => c.operation.startsWith('Update')).every((c) => c.input.ResourceArn === CF_ARN)).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(simulator.shieldState()).toEqual(before);
  });

  it('changed by someone else during the attack: nothing written, reported changed-by-others', async () => {
    // Prepare
    const { simulator, provider, ctx, logger } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Count' } });
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    simulator.setL7(ALB_ARN, { status: 'DISABLED', action: 'Block' });
    const writes = simulator.counters.writes;

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toMatch(/web now disabled \(action Block\)/);
    expect(simulator.counters.writes).toBe(writes);
    expect(simulator.shieldState().protections[0]!.ApplicationLayerAutomaticResponseConfiguration).toEqual({ Status: 'DISABLED', Action: { Block: {} } });
    expect(logger.messages()).toContain('aws-shield: protection changed by someone else while mitigating; not restored');
  });

  it('changed between snapshot and activate: left alone, and deactivate reports it without writing', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Count' } });
    const snapshot = await provider.snapshot(ctx);
    simulator.setL7(ALB_ARN, { status: 'DISABLED', action: 'Count' });

    // Act
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(activation.summary).toMatch(/changed by someone else/);
    expect(restore.outcome).toBe('changed-by-others');
    expect(simulator.counters.writes).toBe(0);
  });
});

describe('aws-shield: errors', () => {
  it('AccessDenied names the IAM action to grant', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, l7: { status: 'ENABLED', action: 'Count' } });
    simulator.deny('shield:UpdateApplicationLayerAutomaticResponse');
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await provider.activate(snapshot, ctx).catch((e: unknown) => e);

    // Assess
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/grant "shield:UpdateApplicationLayerAutomaticResponse"/);
  });

  it('Enable without a web ACL: a non-retryable error naming the fix', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN, webAcl: false });
    const snapshot = await provider.snapshot(ctx);

    // Act
    const error = await provider.activate(snapshot, ctx).catch((e: unknown) => e);

    // Assess
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/needs a WAFv2 web ACL associated/);
  });

  it('an unknown protection names the fix', async () => {
    // Prepare
    const { provider, ctx } = shieldSetup(['a1b2c3d4-5678-90ab-cdef-EXAMPLE11111']);

    // Act
    const error = await provider.snapshot(ctx).catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toMatch(/no Shield Advanced protection for a1b2c3d4-5678-90ab-cdef-EXAMPLE11111: add the resource/);
  });

  it('ThrottlingException and 5xx are retried honouring Retry-After', async () => {
    // Prepare
    const { simulator, provider, ctx, sleeps } = shieldSetup();
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN });
    simulator.failNext('GetSubscriptionState', { status: 400, code: 'ThrottlingException', message: 'Rate exceeded', retryAfter: '2' });
    simulator.failNext('DescribeProtection', { status: 500, code: 'InternalErrorException', message: 'oops' });

    // Act
    const snapshot = await provider.snapshot(ctx);

    // Assess
    expect(snapshot.summary).toBe('web: L7 disabled (never configured)');
    expect(sleeps[0]).toBe(2000);
  });

  it('a wrong secret key is refused by the simulator and reported without the secret', async () => {
    // Prepare
    const { simulator, provider, ctx } = shieldSetup([ALB_ARN], { accessKeyId: 'AKIASIMULATOR0000001', secretAccessKey: 'wrong-secret-value' });
    simulator.addProtection({ id: 'p-1', name: 'web', resourceArn: ALB_ARN });

    // Act
    const error = await provider.snapshot(ctx).catch((e: unknown) => e);

    // Assess
    expect(simulator.counters.badSignatures).toBe(1);
    expect((error as Error).message).toMatch(/InvalidSignatureException: AWS_SECRET_ACCESS_KEY does not belong/);
    expect((error as Error).message).not.toContain('wrong-secret-value');
  });
});
