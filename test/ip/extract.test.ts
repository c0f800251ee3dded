import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../lib/event/schema.ts';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import { extractSources, extractSourcesFrom, mergeCandidates } from '../../lib/ip/extract.ts';

function attackStart(extra: { incident?: Record<string, unknown>; top?: Record<string, unknown> } = {}): FlowtriqEvent {
  const raw = {
    event_type: 'attack_start',
    timestamp: '2025-03-10T14:22:00Z',
    incident: {
      id: 147,
      uuid: 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70',
      attack_family: 'udp_flood',
      severity: 'critical',
      ...extra.incident,
    },
    node: { id: 1, name: 'web-prod-1', ip_address: '203.0.113.10' },
    ...extra.top,
  };
  const parsed = parseEvent(raw);
  if (!parsed.ok) throw new Error(`fixture is not a valid event: ${JSON.stringify(parsed.issues)}`);
  return parsed.event;
}

describe('extractSources', () => {
  it('reads incident.top_src_ips with count and confidence', () => {
    // Prepare
    const event = attackStart({
      incident: { top_src_ips: [{ ip: '45.1.1.1', count: 5000, confidence: 92, tcp: 0, threat_intel: true }] },
    });

    // Act
    const sources = extractSources(event);

    // Assess
    expect(sources).toEqual({
      candidates: [{ ip: '45.1.1.1', count: 5000, confidence: 92 }],
      spoofed: false,
      present: true,
      malformed: 0,
    });
  });

  it('reads top-level top_src_ips and attacker_ips, the latter unscored', () => {
    // Prepare
    const event = attackStart({
      top: { top_src_ips: [{ ip: '45.1.1.1', count: 10 }], attacker_ips: ['45.2.2.2'] },
    });

    // Act
    const sources = extractSources(event);

    // Assess
    expect(sources.candidates).toEqual([{ ip: '45.1.1.1', count: 10 }, { ip: '45.2.2.2' }]);
    expect(sources.present).toBe(true);
  });

  it('merges duplicates: highest confidence wins, unknown loses to any score, highest count kept', () => {
    // Prepare
    const event = attackStart({
      incident: {
        top_src_ips: [
          { ip: '45.1.1.1', count: 100, confidence: 40 },
          { ip: '45.3.3.3', count: 7 },
        ],
        attacker_ips: ['45.1.1.1', '45.3.3.3'],
      },
      top: {
        top_src_ips: [
          { ip: '45.1.1.1', count: 50, confidence: 90 },
          { ip: '45.3.3.3', confidence: 0 },
        ],
      },
    });

    // Act
    const sources = extractSources(event);

    // Assess
    expect(sources.candidates).toEqual([
      { ip: '45.1.1.1', count: 100, confidence: 90 },
      { ip: '45.3.3.3', count: 7, confidence: 0 },
    ]);
  });

  it('reports spoofing from the incident or the top level', () => {
    // Prepare
    const inIncident = attackStart({ incident: { spoofing_detected: true } });
    const atTop = attackStart({ top: { spoofing_detected: true } });
    const neither = attackStart({ incident: { spoofing_detected: false } });

    // Act
    const flags = [inIncident, atTop, neither].map((event) => extractSources(event).spoofed);

    // Assess
    expect(flags).toEqual([true, true, false]);
  });

  it('returns nothing, and says so, when no source field is present', () => {
    // Prepare
    const event = attackStart();

    // Act
    const sources = extractSources(event);

    // Assess
    expect(sources).toEqual({ candidates: [], spoofed: false, present: false, malformed: 0 });
  });

  it('tolerates an event without an incident', () => {
    // Prepare
    const parsed = parseEvent({ event_type: 'test', timestamp: '2025-03-10T14:22:00Z' });
    if (!parsed.ok) throw new Error('fixture must parse');

    // Act
    const sources = extractSources(parsed.event);

    // Assess
    expect(sources).toEqual({ candidates: [], spoofed: false, present: false, malformed: 0 });
  });

  it('keeps address strings as reported, hostile ones included, for select.ts to judge', () => {
    // Prepare
    const event = attackStart({ incident: { attacker_ips: ['1.2.3.4; /system reset', '::FFFF:1.2.3.4'] } });

    // Act
    const sources = extractSources(event);

    // Assess
    expect(sources.candidates.map((candidate) => candidate.ip)).toEqual(['1.2.3.4; /system reset', '::FFFF:1.2.3.4']);
  });
});

describe('extractSourcesFrom (unvalidated containers)', () => {
  it('drops and counts malformed entries instead of guessing', () => {
    // Prepare
    const container = {
      top_src_ips: [
        { ip: '45.1.1.1', confidence: 150 },
        { ip: '45.1.1.2', confidence: 'high' },
        { count: 3 },
        'not-an-object',
        { ip: '45.1.1.3', confidence: 81 },
      ],
      attacker_ips: ['45.2.2.2', 7, '', null],
    };

    // Act
    const sources = extractSourcesFrom([container]);

    // Assess
    expect(sources.candidates).toEqual([{ ip: '45.1.1.3', confidence: 81 }, { ip: '45.2.2.2' }]);
    expect(sources.malformed).toBe(7);
  });

  it('counts a source field that is not a list as malformed but present', () => {
    // Act
    const sources = extractSourcesFrom([{ top_src_ips: { ip: '45.1.1.1' }, attacker_ips: '45.2.2.2' }]);

    // Assess
    expect(sources).toEqual({ candidates: [], spoofed: false, present: true, malformed: 2 });
  });

  it('skips containers that are not objects', () => {
    // Act
    const sources = extractSourcesFrom([undefined, null, 'x', [{ top_src_ips: [{ ip: '45.1.1.1' }] }]]);

    // Assess
    expect(sources).toEqual({ candidates: [], spoofed: false, present: false, malformed: 0 });
  });
});

describe('mergeCandidates', () => {
  it('merges by exact string without modifying its inputs', () => {
    // Prepare
    const first = [{ ip: '45.1.1.1', confidence: 10 }];
    const second = [{ ip: '45.1.1.1', confidence: 20, count: 3 }, { ip: '045.1.1.1' }];

    // Act
    const merged = mergeCandidates(first, second);

    // Assess
    expect(merged).toEqual([{ ip: '45.1.1.1', confidence: 20, count: 3 }, { ip: '045.1.1.1' }]);
    expect(first).toEqual([{ ip: '45.1.1.1', confidence: 10 }]);
  });
});
