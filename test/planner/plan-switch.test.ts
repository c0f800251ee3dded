import { describe, expect, it } from 'vitest';
import type { BlockRecord } from '../../lib/model/types.ts';
import { SWITCH_KEY } from '../../lib/model/types.ts';
import { planReconcile } from '../../lib/planner/plan-reconcile.ts';
import { clearQuiet, holdDown, switchRecord } from '../../lib/planner/plan-switch.ts';

const NOW = 10_000_000;
const HOLD = 15 * 60_000;

function block(overrides: Partial<BlockRecord> = {}): BlockRecord {
  return {
    integration: 'scrub',
    key: SWITCH_KEY,
    kind: 'switch',
    holders: [],
    actual: 'present',
    snapshot: { snapshot: { state: { level: 'medium' }, alreadyActive: false, summary: 'medium' } },
    expiresAt: NOW + 3_600_000,
    dueAt: NOW,
    attempts: 0,
    version: 4,
    updatedAt: NOW,
    ...overrides,
  };
}

describe('switchRecord', () => {
  it('reads a record as stored, and a raw snapshot of an earlier version as the snapshot', () => {
    expect(switchRecord({ snapshot: { state: 1, alreadyActive: true, summary: 's' }, quietSince: 5 })).toEqual({ snapshot: { state: 1, alreadyActive: true, summary: 's' }, quietSince: 5 });
    expect(switchRecord({ mode: 'normal' })).toEqual({ snapshot: { state: { mode: 'normal' }, alreadyActive: false, summary: 'recorded by an earlier relay version' } });
    expect(switchRecord(undefined)).toEqual({});
    expect(switchRecord(null)).toEqual({});
  });
});

describe('holdDown', () => {
  it('keeps a switch on for the quiet period after its last holder let go, recording when the quiet began', () => {
    // Act
    const decision = holdDown(block(), NOW, HOLD);
    // Assess
    expect(decision.kind).toBe('hold');
    if (decision.kind !== 'hold') return;
    expect(decision.until).toBe(NOW + HOLD);
    expect(decision.completion).toMatchObject({ actual: 'present', dueAt: NOW + HOLD, expectVersion: 4 });
    expect(switchRecord(decision.completion.snapshot).quietSince).toBe(NOW);
  });

  it('counts the quiet from when it began, and restores once it has passed', () => {
    const quiet = block({ snapshot: { snapshot: { state: {}, alreadyActive: false, summary: '' }, quietSince: NOW - HOLD + 1 } });
    expect(holdDown(quiet, NOW, HOLD)).toMatchObject({ kind: 'hold', until: NOW + 1 });
    expect(holdDown(quiet, NOW + 1, HOLD)).toEqual({ kind: 'restore' });
  });

  it('does not wait when the TTL has run out, and never looks past the TTL', () => {
    expect(holdDown(block({ expiresAt: NOW }), NOW, HOLD)).toEqual({ kind: 'restore' });
    const near = holdDown(block({ expiresAt: NOW + 60_000 }), NOW, HOLD);
    expect(near.kind === 'hold' && near.completion.dueAt).toBe(NOW + 60_000);
  });

  it('restores at once without a hold-down', () => {
    expect(holdDown(block(), NOW, 0)).toEqual({ kind: 'restore' });
  });
});

describe('planReconcile for switches', () => {
  it('holds a released switch instead of restoring it, then restores it after the hold-down', () => {
    // Act
    const first = planReconcile([block()], NOW, () => HOLD);
    const quiet = block({ snapshot: first.settle[0]?.snapshot });
    const later = planReconcile([quiet], NOW + HOLD, () => HOLD);
    // Assess
    expect(first.remove).toEqual([]);
    expect(first.settle).toHaveLength(1);
    expect(later.remove).toHaveLength(1);
  });

  it('ends the quiet period when an incident holds the switch again, with no device call', () => {
    // Prepare
    const held = block({ holders: ['inc-2'], snapshot: { snapshot: { state: {}, alreadyActive: false, summary: '' }, quietSince: NOW - 1_000 } });
    // Act
    const plan = planReconcile([held], NOW, () => HOLD);
    // Assess
    expect(plan.add).toEqual([]);
    expect(plan.remove).toEqual([]);
    expect(switchRecord(plan.settle[0]?.snapshot).quietSince).toBeUndefined();
    expect(clearQuiet(block())).toBeUndefined();
  });

  it('applies no hold-down to blocklists', () => {
    const ip = block({ kind: 'ip', key: '45.0.0.1', snapshot: undefined });
    expect(planReconcile([ip], NOW, () => HOLD).remove).toHaveLength(1);
  });
});
