import { describe, expect, it } from 'vitest';
import { combinedRestore, switchActivation } from '../../lib/providers/switch.ts';

describe('switchActivation', () => {
  it('is confirmed with its time when every resource is, and asks to look again otherwise', () => {
    expect(switchActivation({ n: 1 }, true, ['a on', 'b on'], Date.parse('2030-01-01T00:00:00Z'), 30_000)).toEqual({
      applied: { n: 1 },
      confirmed: true,
      confirmedAt: '2030-01-01T00:00:00.000Z',
      summary: 'a on; b on',
    });
    expect(switchActivation(null, false, ['a pending'], 0, 30_000)).toEqual({ applied: null, confirmed: false, recheckAfterMs: 30_000, summary: 'a pending' });
  });
});

describe('combinedRestore', () => {
  it('is pending while any restore is, then changed-by-others if any was changed, else restored', () => {
    expect(combinedRestore(['restored', 'pending', 'changed-by-others'], 's', 10_000)).toEqual({ outcome: 'pending', recheckAfterMs: 10_000, summary: 's' });
    expect(combinedRestore(['restored', 'changed-by-others'], 's', 10_000)).toEqual({ outcome: 'changed-by-others', summary: 's' });
    expect(combinedRestore(['restored', 'restored'], 's', 10_000)).toEqual({ outcome: 'restored', summary: 's' });
    expect(combinedRestore([], 's', 10_000)).toEqual({ outcome: 'restored', summary: 's' });
  });
});
