import { describe, expect, it } from 'vitest';
import { mismatchReason } from '../../lib/planner/match.ts';
import { severityRank } from '../../lib/planner/severity.ts';

describe('mismatchReason', () => {
  it('matches everything when no rules are set', () => {
    expect(mismatchReason({}, {})).toBeUndefined();
  });

  it('matches nodes by name or by id', () => {
    expect(mismatchReason({ nodes: ['edge-1'] }, { nodeName: 'edge-1', nodeId: 9 })).toBeUndefined();
    expect(mismatchReason({ nodes: [9] }, { nodeName: 'edge-1', nodeId: 9 })).toBeUndefined();
    expect(mismatchReason({ nodes: ['9'] }, { nodeId: 9 })).toBeUndefined();
    expect(mismatchReason({ nodes: ['edge-2'] }, { nodeName: 'edge-1', nodeId: 9 })).toMatch(/edge-1 is not in match.nodes/);
  });

  it('applies the minimum severity inclusively and ranks unknown severities lowest', () => {
    expect(mismatchReason({ minSeverity: 'high' }, { severity: 'high' })).toBeUndefined();
    expect(mismatchReason({ minSeverity: 'high' }, { severity: 'CRITICAL' })).toBeUndefined();
    expect(mismatchReason({ minSeverity: 'high' }, { severity: 'medium' })).toMatch(/below/);
    expect(mismatchReason({ minSeverity: 'low' }, { severity: 'apocalyptic' })).toMatch(/below/);
    expect(mismatchReason({ minSeverity: 'low' }, {})).toMatch(/unknown/);
  });

  it('matches attack families case-insensitively and passes unknown families only without a family rule', () => {
    expect(mismatchReason({ families: ['udp_flood'] }, { family: 'UDP_FLOOD' })).toBeUndefined();
    expect(mismatchReason({ families: ['udp_flood'] }, { family: 'quic_flood' })).toMatch(/quic_flood/);
    expect(mismatchReason({}, { family: 'quic_flood' })).toBeUndefined();
  });

  it('ranks severities low < medium < high < critical', () => {
    expect(['low', 'medium', 'high', 'critical'].map(severityRank)).toEqual([1, 2, 3, 4]);
    expect(severityRank(undefined)).toBe(0);
  });
});
