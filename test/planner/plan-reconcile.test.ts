import { describe, expect, it } from 'vitest';
import { RETRY_MAX_MS, retryDelayMs } from '../../lib/planner/backoff.ts';
import { blockStatus, completeAdd, completeRemove, inFlight, isWanted, markInFlight, planReconcile, rebaseFacts } from '../../lib/planner/plan-reconcile.ts';
import type { BlockRecord } from '../../lib/model/types.ts';

const NOW = 1_000_000;

function block(overrides: Partial<BlockRecord> = {}): BlockRecord {
  return {
    integration: 'fw',
    key: '45.0.0.1',
    kind: 'ip',
    holders: ['inc-1'],
    actual: 'absent',
    expiresAt: NOW + 60_000,
    dueAt: NOW,
    attempts: 0,
    version: 3,
    updatedAt: NOW,
    ...overrides,
  };
}

describe('planReconcile', () => {
  it('adds a held block the device does not have yet', () => {
    const plan = planReconcile([block()], NOW);
    expect(plan.add.map((b) => b.key)).toEqual(['45.0.0.1']);
    expect(plan.remove).toEqual([]);
  });

  it('adds again when the device state is unknown', () => {
    expect(planReconcile([block({ actual: 'unknown' })], NOW).add).toHaveLength(1);
  });

  it('removes a block nobody holds any more', () => {
    const plan = planReconcile([block({ holders: [], actual: 'present' })], NOW);
    expect(plan.remove.map((b) => b.key)).toEqual(['45.0.0.1']);
  });

  it('removes an expired block even while incidents still hold it', () => {
    const plan = planReconcile([block({ actual: 'present', expiresAt: NOW })], NOW);
    expect(plan.remove).toHaveLength(1);
  });

  it('settles a present, wanted block by scheduling its next look at expiry', () => {
    const plan = planReconcile([block({ actual: 'present' })], NOW);
    expect(plan.add).toEqual([]);
    expect(plan.settle).toEqual([
      expect.objectContaining({ key: '45.0.0.1', expectVersion: 3, actual: 'present', dueAt: NOW + 60_000 }),
    ]);
  });

  it('forgets a foreign block nobody wants without a device call', () => {
    // Prepare: present, not ours (the operator listed it first); no holder left.
    const foreign = block({ holders: [], actual: 'present', foreign: true, ref: 'x' });

    // Act
    const plan = planReconcile([foreign], NOW);

    // Assess
    expect(plan.remove).toEqual([]);
    expect(plan.settle).toEqual([expect.objectContaining({ actual: 'absent', foreign: null, ref: null, dueAt: null })]);
  });

  it('keeps a wanted foreign block present without a device call', () => {
    const plan = planReconcile([block({ actual: 'present', foreign: true })], NOW);
    expect(plan.add).toEqual([]);
    expect(plan.settle).toEqual([expect.objectContaining({ actual: 'present', dueAt: NOW + 60_000 })]);
  });

  it('settles an absent, unwanted block by taking it out of the due index', () => {
    const plan = planReconcile([block({ holders: [] })], NOW);
    expect(plan.settle).toEqual([expect.objectContaining({ actual: 'absent', dueAt: null })]);
  });
});

describe('completions', () => {
  it('records a confirmed add as present with the provider reference', () => {
    const completion = completeAdd(block({ attempts: 2, lastError: 'timeout' }), { ok: true, ref: '*1A' }, NOW);
    expect(completion).toMatchObject({ actual: 'present', ref: '*1A', addedAt: NOW, dueAt: NOW + 60_000, attempts: 0, lastError: null, expectVersion: 3 });
  });

  it('records "present, not ours" when the device already listed the address', () => {
    expect(completeAdd(block(), { ok: true, foreign: true }, NOW)).toMatchObject({ actual: 'present', foreign: true });
    expect(completeAdd(block({ foreign: true }), { ok: true }, NOW)).toMatchObject({ actual: 'present', foreign: null });
  });

  it('never retries sooner than the device asked (Retry-After is a floor)', () => {
    const waited = completeAdd(block(), { ok: false, error: 'apply queue full', retryable: true, retryAfterMs: 300_000 }, NOW);
    const shorter = completeAdd(block({ attempts: 3 }), { ok: false, error: 'busy', retryable: true, retryAfterMs: 1_000 }, NOW);
    expect(waited.dueAt).toBe(NOW + 300_000);
    expect(shorter.dueAt).toBe(NOW + 16_000);
  });

  it('keeps the original added-at when a present block is re-asserted', () => {
    expect(completeAdd(block({ addedAt: NOW - 5 }), { ok: true }, NOW).addedAt).toBe(NOW - 5);
  });

  it('marks a block in flight (device state unknown) before a call, keeping it due', () => {
    const mark = markInFlight(block({ actual: 'present', dueAt: undefined }), NOW);
    expect(mark).toMatchObject({ actual: 'unknown', expectVersion: 3, dueAt: NOW });
    expect(mark).not.toHaveProperty('ref');
    expect(inFlight(block(), NOW)).toMatchObject({ actual: 'unknown', version: 4 });
  });

  it('records a switch snapshot with the in-flight mark, before activation', () => {
    expect(markInFlight(block({ kind: 'switch' }), NOW, { rules: [1] }).snapshot).toEqual({ rules: [1] });
    expect(inFlight(block({ kind: 'switch' }), NOW, { rules: [1] }).snapshot).toEqual({ rules: [1] });
  });

  it('leaves the snapshot alone when recording a successful activation', () => {
    expect(completeAdd(block({ kind: 'switch', snapshot: { rules: [1] } }), { ok: true }, NOW)).not.toHaveProperty('snapshot');
  });

  it('records a confirmed removal as absent and out of the due index', () => {
    const completion = completeRemove(block({ holders: [], actual: 'present', ref: '*1A' }), { ok: true }, NOW);
    expect(completion).toMatchObject({ actual: 'absent', ref: null, dueAt: null, attempts: 0, lastError: null });
  });

  it('backs off a failure exponentially and keeps what the device had', () => {
    const first = completeRemove(block({ holders: [], actual: 'present' }), { ok: false, error: 'HTTP 503', retryable: true }, NOW);
    const third = completeRemove(block({ holders: [], actual: 'present', attempts: 2 }), { ok: false, error: 'HTTP 503', retryable: true }, NOW);
    expect(first).toMatchObject({ actual: 'present', attempts: 1, lastError: 'HTTP 503', dueAt: NOW + 2_000 });
    expect(third.dueAt).toBe(NOW + 8_000);
  });

  it('waits the longest delay after a failure that retrying cannot fix (auth)', () => {
    const completion = completeAdd(block(), { ok: false, error: 'HTTP 401', retryable: false }, NOW);
    expect(completion.dueAt).toBe(NOW + RETRY_MAX_MS);
  });

  it('caps the backoff', () => {
    expect(retryDelayMs(50)).toBe(RETRY_MAX_MS);
    expect(retryDelayMs(1)).toBe(2_000);
  });

  it('re-bases device facts on a fresher record and leaves it due now', () => {
    const lost = completeAdd(block(), { ok: true, ref: '*9' }, NOW);
    const rebased = rebaseFacts(block({ version: 7, holders: [] }), lost, NOW + 10);
    expect(rebased).toMatchObject({ expectVersion: 7, actual: 'present', ref: '*9', dueAt: NOW + 10 });
  });
});

describe('blockStatus', () => {
  it.each([
    [{ actual: 'absent' as const }, 'pending', true],
    [{ actual: 'present' as const }, 'applied', true],
    [{ actual: 'absent' as const, lastError: 'x' }, 'failed', true],
    [{ actual: 'present' as const, holders: [] }, 'removing', false],
    [{ actual: 'present' as const, holders: [], lastError: 'x' }, 'failed', false],
    [{ actual: 'absent' as const, holders: [] }, 'removed', false],
    [{ actual: 'present' as const, expiresAt: NOW - 1 }, 'removing', false],
  ])('derives %o as %s (wanted: %s)', (overrides, status, wanted) => {
    expect(blockStatus(block(overrides), NOW)).toBe(status);
    expect(isWanted(block(overrides), NOW)).toBe(wanted);
  });
});

describe('planReconcile: devices that expire entries by themselves', () => {
  it('adds a due, wanted block that is already present again, but never a foreign one, a switch, or one of another integration', () => {
    // Prepare
    const present = block({ actual: 'present' });
    const foreign = block({ key: '45.0.0.2', actual: 'present', foreign: true });
    const other = block({ integration: 'waf', key: '45.0.0.3', actual: 'present' });
    // Act
    const plan = planReconcile([present, foreign, other], NOW, () => 0, (integration) => integration === 'fw');
    const without = planReconcile([present], NOW);
    // Assess
    expect(plan.add.map((b) => b.key)).toEqual(['45.0.0.1']);
    expect(plan.settle.map((c) => c.key).sort()).toEqual(['45.0.0.2', '45.0.0.3']);
    expect(without.add).toEqual([]);
  });

  it('leaves a block alone when the device was told an expiry at most 5 minutes earlier than the block\'s', () => {
    // Prepare
    const close = block({ actual: 'present', deviceExpiresAt: NOW + 60_000 - 4 * 60_000 });
    const far = block({ key: '45.0.0.2', actual: 'present', deviceExpiresAt: NOW + 60_000 - 6 * 60_000 });
    // Act
    const plan = planReconcile([close, far], NOW, () => 0, () => true);
    // Assess
    expect(plan.add.map((b) => b.key)).toEqual(['45.0.0.2']);
    expect(plan.settle.map((c) => c.key)).toEqual(['45.0.0.1']);
  });

  it('records the expiry an add wrote, and clears it on removal', () => {
    const added = completeAdd(block({ actual: 'unknown' }), { ok: true }, NOW);
    const foreign = completeAdd(block({ actual: 'unknown' }), { ok: true, foreign: true }, NOW);
    const removed = completeRemove(block({ actual: 'present', deviceExpiresAt: NOW }), { ok: true }, NOW);
    expect(added.deviceExpiresAt).toBe(NOW + 60_000);
    expect(foreign.deviceExpiresAt).toBeNull();
    expect(removed.deviceExpiresAt).toBeNull();
  });
});
