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
    const plan = planDrift([block('45.0.0.1'), block('45.0.0.2')], [{ ip: '45.0.0.2' }], NOW);
    expect(plan.reassert).toEqual([expect.objectContaining({ key: '45.0.0.1', actual: 'unknown', dueAt: NOW, expectVersion: 2 })]);
    expect(plan.removeStale).toEqual([]);
  });

  it('removes a managed entry the relay holds no block for', () => {
    const plan = planDrift([block('45.0.0.1')], [{ ip: '45.0.0.1' }, { ip: '45.0.0.9', ref: '*9' }], NOW);
    expect(plan.removeStale).toEqual([{ ip: '45.0.0.9', ref: '*9' }]);
  });

  it('removes an entry whose block was settled as removed', () => {
    const plan = planDrift([block('45.0.0.1', { holders: [], actual: 'absent' })], [{ ip: '45.0.0.1' }], NOW);
    expect(plan.removeStale).toEqual([{ ip: '45.0.0.1' }]);
  });

  it('leaves blocks in flight and not yet confirmed to the reconciler', () => {
    const blocks = [
      block('45.0.0.1', { actual: 'unknown' }),
      block('45.0.0.2', { actual: 'absent' }),
      block('45.0.0.3', { holders: [], actual: 'unknown' }),
    ];
    const plan = planDrift(blocks, [{ ip: '45.0.0.1' }, { ip: '45.0.0.3' }], NOW);
    expect(plan.reassert).toEqual([]);
    expect(plan.removeStale).toEqual([]);
  });

  it('does not re-assert an expired block', () => {
    const plan = planDrift([block('45.0.0.1', { expiresAt: NOW })], [], NOW);
    expect(plan.reassert).toEqual([]);
  });
});
