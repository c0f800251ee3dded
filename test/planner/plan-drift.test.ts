import { describe, expect, it } from 'vitest';
import { planDrift } from '../../lib/planner/plan-drift.ts';
import type { BlockRecord } from '../../lib/model/types.ts';

const NOW = 1_000_000;

function block(key: string, overrides: Partial<BlockRecord> = {}): BlockRecord {
  return {
    integration: 'fw',
    key,
    kind: 'ip',
    holders: ['inc-1'],
    actual: 'present',
    expiresAt: NOW + 60_000,
    attempts: 0,
    version: 2,
    updatedAt: NOW,
    ...overrides,
  };
}

describe('planDrift', () => {
  it('re-asserts a wanted block that vanished from the device', () => {
    const plan = planDrift([block('45.0.0.1'), block('45.0.0.2')], [{ ip: '45.0.0.2', owned: true }], NOW);
    expect(plan.reassert).toEqual([expect.objectContaining({ key: '45.0.0.1', actual: 'unknown', dueAt: NOW, expectVersion: 2 })]);
    expect(plan.removeStale).toEqual([]);
  });

  it('removes a managed entry the relay holds no block for', () => {
    const plan = planDrift([block('45.0.0.1')], [{ ip: '45.0.0.1', owned: true }, { ip: '45.0.0.9', ref: '*9', owned: true }], NOW);
    expect(plan.removeStale).toEqual([{ ip: '45.0.0.9', ref: '*9' }]);
  });

  it('removes an entry whose block was settled as removed', () => {
    const plan = planDrift([block('45.0.0.1', { holders: [], actual: 'absent' })], [{ ip: '45.0.0.1', owned: true }], NOW);
    expect(plan.removeStale).toEqual([{ ip: '45.0.0.1' }]);
  });

  it('leaves blocks in flight and not yet confirmed to the reconciler', () => {
    const blocks = [
      block('45.0.0.1', { actual: 'unknown' }),
      block('45.0.0.2', { actual: 'absent' }),
      block('45.0.0.3', { holders: [], actual: 'unknown' }),
    ];
    const plan = planDrift(blocks, [{ ip: '45.0.0.1', owned: true }, { ip: '45.0.0.3', owned: true }], NOW);
    expect(plan.reassert).toEqual([]);
    expect(plan.removeStale).toEqual([]);
  });

  it('never removes an entry the relay did not add, whatever state says', () => {
    // Prepare: an operator entry with no block, one whose block was settled removed, one nobody holds any more.
    const blocks = [block('45.0.0.2', { holders: [], actual: 'absent' }), block('45.0.0.3', { holders: [], actual: 'present', foreign: true })];
    const device = [
      { ip: '45.0.0.1', owned: false },
      { ip: '45.0.0.2', owned: false },
      { ip: '45.0.0.3', owned: false },
    ];

    // Act
    const plan = planDrift(blocks, device, NOW);

    // Assess
    expect(plan.removeStale).toEqual([]);
    expect(plan.reassert).toEqual([]);
  });

  it('leaves a stale relay entry alone while the operator also lists the address', () => {
    const plan = planDrift([], [{ ip: '45.0.0.1', owned: true }, { ip: '45.0.0.1', owned: false }, { ip: '45.0.0.2', owned: true }], NOW);
    expect(plan.removeStale).toEqual([{ ip: '45.0.0.2' }]);
  });

  it('counts an operator entry as the address being listed: no re-assert', () => {
    const plan = planDrift([block('45.0.0.1'), block('45.0.0.2', { foreign: true })], [{ ip: '45.0.0.1', owned: false }, { ip: '45.0.0.2', owned: false }], NOW);
    expect(plan.reassert).toEqual([]);
  });

  it('re-asserts a foreign block whose operator entry vanished, as the relay\'s own from now on', () => {
    const plan = planDrift([block('45.0.0.1', { foreign: true })], [], NOW);
    expect(plan.reassert).toEqual([expect.objectContaining({ key: '45.0.0.1', actual: 'unknown', foreign: null })]);
  });

  it('does not re-assert an expired block', () => {
    const plan = planDrift([block('45.0.0.1', { expiresAt: NOW })], [], NOW);
    expect(plan.reassert).toEqual([]);
  });
});
