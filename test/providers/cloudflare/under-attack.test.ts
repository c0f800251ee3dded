import { describe, expect, it } from 'vitest';
import { ZONE_SETTINGS_PERMISSION } from '../../../lib/providers/cloudflare/under-attack.ts';
import { ZONE, failure, setupUnderAttack, writes } from './harness.ts';

describe('cloudflare-under-attack: snapshot / activate / restore', () => {
  it('saves the level, sets under_attack, and restores the saved value when nobody touched it', async () => {
    // Prepare
    const harness = setupUnderAttack({ value: 'high' });
    const { provider, ctx, simulator, clock } = harness;

    // Act
    const snapshot = await provider.snapshot(ctx);
    clock.advance(1_000);
    const activation = await provider.activate(snapshot, ctx);
    const during = simulator.securityLevel(ZONE);
    clock.advance(60_000);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot).toMatchObject({ alreadyActive: false, state: { zoneId: ZONE, value: 'high', modifiedOn: '2026-01-01T00:00:00.000000Z', editable: true } });
    expect(snapshot.summary).toBe('security_level high (modified 2026-01-01T00:00:00.000000Z)');
    expect(activation).toMatchObject({ confirmed: true, applied: { zoneId: ZONE, value: 'under_attack', modifiedOn: during.modified_on, wrote: true } });
    expect(during.value).toBe('under_attack');
    expect(restore.outcome).toBe('restored');
    expect(simulator.securityLevel(ZONE)).toMatchObject({ value: 'high', editable: true });
    expect(writes(harness).map((entry) => `${entry.path} ${entry.body}`)).toEqual([
      `/zones/${ZONE}/settings/security_level {"value":"under_attack"}`,
      `/zones/${ZONE}/settings/security_level {"value":"high"}`,
    ]);
    expect(simulator.counters.unneededWrites).toBe(0);
  });

  it('reports alreadyActive for a zone already under attack, and never writes even if called', async () => {
    // Prepare
    const harness = setupUnderAttack({ value: 'under_attack' });
    const { provider, ctx, simulator } = harness;
    const before = simulator.accountState();

    // Act
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(snapshot.alreadyActive).toBe(true);
    expect(activation.applied).toMatchObject({ wrote: false });
    expect(restore.outcome).toBe('restored');
    expect(writes(harness)).toEqual([]);
    expect(simulator.accountState()).toEqual(before);
  });

  it('called again, activate only reads and reports the same modified_on', async () => {
    // Prepare
    const harness = setupUnderAttack();
    const { provider, ctx } = harness;
    const snapshot = await provider.snapshot(ctx);
    const first = await provider.activate(snapshot, ctx);

    // Act
    const again = await provider.activate(snapshot, ctx);

    // Assess
    expect(again.applied).toMatchObject({ modifiedOn: (first.applied as { modifiedOn: string }).modifiedOn, wrote: false });
    expect(writes(harness)).toHaveLength(1);
  });

  it('leaves a level someone changed during the attack and reports changed-by-others', async () => {
    // Prepare
    const harness = setupUnderAttack({ value: 'medium' });
    const { provider, ctx, simulator, clock } = harness;
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    clock.advance(5_000);
    simulator.setSecurityLevel(ZONE, 'high');

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('security_level high');
    expect(restore.summary).toContain('was medium before the attack');
    expect(simulator.securityLevel(ZONE).value).toBe('high');
    expect(writes(harness)).toHaveLength(1);
  });

  it('leaves under_attack set again by someone else (modified_on differs) and reports changed-by-others', async () => {
    // Prepare
    const harness = setupUnderAttack({ value: 'low' });
    const { provider, ctx, simulator, clock } = harness;
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    clock.advance(5_000);
    simulator.setSecurityLevel(ZONE, 'low');
    clock.advance(5_000);
    simulator.setSecurityLevel(ZONE, 'under_attack');

    // Act
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(restore.summary).toContain('set again by someone else');
    expect(simulator.securityLevel(ZONE).value).toBe('under_attack');
    expect(writes(harness)).toHaveLength(1);
  });

  it('is idempotent: a second deactivate after restoring writes nothing and reports restored', async () => {
    // Prepare
    const harness = setupUnderAttack({ value: 'essentially_off' });
    const { provider, ctx } = harness;
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    await provider.deactivate(snapshot, activation, ctx);

    // Act
    const again = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(again.outcome).toBe('restored');
    expect(writes(harness)).toHaveLength(2);
  });

  it('without an activation record (a crash), restores when the zone still is under attack', async () => {
    // Prepare
    const harness = setupUnderAttack({ value: 'off' });
    const { provider, ctx, simulator } = harness;
    const snapshot = await provider.snapshot(ctx);
    await provider.activate(snapshot, ctx);

    // Act
    const restore = await provider.deactivate(snapshot, undefined, ctx);

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(simulator.securityLevel(ZONE).value).toBe('off');
  });

  it('refuses a zone whose security level is not editable (the plan does not allow it)', async () => {
    // Prepare
    const harness = setupUnderAttack({ editable: false });

    // Act
    const error = await failure(harness.provider.snapshot(harness.ctx));
    const health = await harness.provider.healthCheck(harness.ctx);

    // Assess
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/not editable: the zone's plan or settings do not let it be changed/);
    expect(health.ok).toBe(false);
    expect(writes(harness)).toEqual([]);
  });

  it('names Zone Settings Write when the token can only read the setting', async () => {
    // Prepare
    const harness = setupUnderAttack({ token: 'readOnly' });
    harness.simulator.setToken('readOnly', ['Zone Settings Read']);
    const snapshot = await harness.provider.snapshot(harness.ctx);

    // Act
    const error = await failure(harness.provider.activate(snapshot, harness.ctx));

    // Assess
    expect(error.status).toBe(403);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(ZONE_SETTINGS_PERMISSION);
    expect(error.message).toContain(`zone ${ZONE}`);
  });

  it('names the fix when the token itself is rejected (401), without quoting it', async () => {
    // Prepare
    const harness = setupUnderAttack({ token: 'not-a-real-token-value' });

    // Act
    const error = await failure(harness.provider.snapshot(harness.ctx));

    // Assess
    expect(error.status).toBe(401);
    expect(error.message).toContain('does not accept the API token');
    expect(error.message).not.toContain('not-a-real-token-value');
  });

  it('health check reports the level and that it is editable', async () => {
    // Prepare
    const { provider, ctx } = setupUnderAttack({ value: 'medium' });

    // Act
    const health = await provider.healthCheck(ctx);

    // Assess
    expect(health).toEqual({ ok: true, detail: 'security_level medium (modified 2026-01-01T00:00:00.000000Z), editable' });
  });
});
