import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatPath, parseEvent, type ParseResult } from '../../lib/event/schema.ts';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import { attackEvent, fixture, publicIps } from '../helpers/events.ts';

const FIXTURE_DIR = new URL('../fixtures/events/', import.meta.url);
const fixtureFiles = readdirSync(FIXTURE_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort();

function readFixture(file: string): unknown {
  return JSON.parse(readFileSync(new URL(file, FIXTURE_DIR), 'utf8'));
}

function accepted(result: ParseResult): { event: FlowtriqEvent; known: boolean } {
  if (!result.ok) throw new Error(`expected the event to parse, got ${JSON.stringify(result.issues)}`);
  return result;
}

function issuePaths(result: ParseResult): string[] {
  if (result.ok) throw new Error('expected the event to be refused');
  return result.issues.map((issue) => issue.path);
}

/** A deep copy of a value with the given dotted paths deleted. */
function without(value: unknown, ...paths: string[]): Record<string, unknown> {
  const copy = structuredClone(value) as Record<string, unknown>;
  for (const path of paths) {
    const parts = path.split('.');
    let target: Record<string, unknown> = copy;
    for (const part of parts.slice(0, -1)) target = target[part] as Record<string, unknown>;
    delete target[parts.at(-1)!];
  }
  return copy;
}

const T0 = Date.parse('2025-03-10T14:22:00Z');

describe('parseEvent: fixtures', () => {
  it('finds the documented fixtures', () => {
    // Assess
    expect(fixtureFiles).toEqual(expect.arrayContaining(['attack_start.json', 'attack_end.json', 'test.json', 'unknown_type.json']));
  });

  it.each(fixtureFiles)('parses %s; only the unknown type is marked unknown', (file) => {
    // Prepare
    const value = readFixture(file);
    // Act
    const result = accepted(parseEvent(value));
    // Assess
    expect(result.known).toBe(file !== 'unknown_type.json');
    expect(result.event.event_type).toBe((value as { event_type: string }).event_type);
  });

  it('keeps every field of every fixture (nothing stripped)', () => {
    for (const file of fixtureFiles) {
      // Prepare
      const value = readFixture(file);
      // Act
      const result = accepted(parseEvent(value));
      // Assess
      expect(result.event, file).toEqual(value);
    }
  });
});

describe('parseEvent: unknown fields and values pass through', () => {
  it('keeps unknown fields at the top level, in incident and in node', () => {
    // Prepare
    const event = fixture('attack_start') as FlowtriqEvent & { incident: Record<string, unknown>; node: Record<string, unknown> };
    event.delivery_id = 'dlv-42';
    event.incident.mitigation = { provider: 'upstream', active: true };
    event.node.region = 'eu-west';
    // Act
    const result = accepted(parseEvent(event));
    // Assess
    expect(result.event.delivery_id).toBe('dlv-42');
    expect(result.event.incident?.mitigation).toEqual({ provider: 'upstream', active: true });
    expect(result.event.node?.region).toBe('eu-west');
    expect(result.event.incident?.ai_summary).toContain('UDP flood');
  });

  it('keeps unknown fields of top_src_ips entries', () => {
    // Act
    const result = accepted(parseEvent(fixture('attack_start_with_sources')));
    // Assess
    expect(result.event.incident?.top_src_ips?.[0]).toMatchObject({ ip: '45.83.64.1', tcp: 50000, pct: 61.2 });
  });

  it('keeps unknown fields on attack_end and test events too', () => {
    // Prepare
    const end = { ...fixture('attack_end_minimal'), reason: 'timeout' };
    const test = fixture('test');
    // Act
    const endResult = accepted(parseEvent(end));
    const testResult = accepted(parseEvent(test));
    // Assess
    expect(endResult.event.reason).toBe('timeout');
    expect(testResult.event.message).toBe('Test notification from Flowtriq');
  });

  it('accepts an attack family and a severity it does not know', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-new', at: T0, family: 'quic_reflection', severity: 'catastrophic' });
    // Act
    const result = accepted(parseEvent(event));
    // Assess
    expect(result.known).toBe(true);
    expect(result.event.incident?.attack_family).toBe('quic_reflection');
    expect(result.event.incident?.severity).toBe('catastrophic');
  });

  it('accepts an unknown event type with only a valid envelope', () => {
    // Act
    const result = accepted(parseEvent({ event_type: 'node_offline', timestamp: '2025-03-10T14:22:00Z' }));
    // Assess
    expect(result.known).toBe(false);
    expect(result.event.event_type).toBe('node_offline');
  });
});

describe('parseEvent: required fields', () => {
  it.each(['attack_start', 'attack_update'] as const)('%s without incident.uuid names incident.uuid', (type) => {
    // Prepare
    const event = without(attackEvent({ type, uuid: 'inc-1', at: T0 }), 'incident.uuid');
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.uuid']);
  });

  it.each(['attack_start', 'attack_update'] as const)('%s without node.ip_address names node.ip_address', (type) => {
    // Prepare
    const event = without(attackEvent({ type, uuid: 'inc-1', at: T0 }), 'node.ip_address');
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['node.ip_address']);
  });

  it.each(['attack_start', 'attack_update'] as const)('%s without incident.severity names incident.severity', (type) => {
    // Prepare
    const event = without(attackEvent({ type, uuid: 'inc-1', at: T0 }), 'incident.severity');
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.severity']);
  });

  it('names every missing field at once, with a helpful message', () => {
    // Prepare
    const event = without(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 }), 'incident.uuid', 'node.ip_address');
    // Act
    const result = parseEvent(event);
    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: 'incident.uuid', message: 'is required: the incident uuid' },
      { path: 'node.ip_address', message: "is required: the node's IP address" },
    ]);
  });

  it('reports a bad envelope field first, then the rest of the event, in one pass', () => {
    // Prepare
    const event = without(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 }), 'node.ip_address') as Record<string, unknown>;
    event.timestamp = 'yesterday';
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['timestamp', 'node.ip_address']);
  });

  it('attack_start without an incident or node names both', () => {
    // Prepare
    const event = { event_type: 'attack_start', timestamp: '2025-03-10T14:22:00Z' };
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident', 'node']);
  });

  it('attack_end needs only incident.uuid', () => {
    // Prepare
    const minimal = { event_type: 'attack_end', timestamp: '2025-03-10T14:40:00Z', incident: { uuid: 'inc-1' } };
    // Act
    const result = accepted(parseEvent(minimal));
    // Assess
    expect(result.known).toBe(true);
    expect(result.event.incident?.uuid).toBe('inc-1');
  });

  it('attack_end without incident.uuid names only incident.uuid', () => {
    // Prepare
    const event = without(fixture('attack_end'), 'incident.uuid');
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.uuid']);
  });

  it('attack_end still checks the fields it does carry', () => {
    // Prepare
    const event = { event_type: 'attack_end', timestamp: '2025-03-10T14:40:00Z', incident: { uuid: 'inc-1', peak_pps: -5 } };
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.peak_pps']);
  });

  it('refuses an incident uuid longer than 128 characters', () => {
    // Prepare
    const event = { event_type: 'attack_end', timestamp: '2025-03-10T14:40:00Z', incident: { uuid: 'u'.repeat(129) } };
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.uuid']);
    expect(parseEvent({ ...event, incident: { uuid: 'u'.repeat(128) } }).ok).toBe(true);
  });

  it('a test event needs nothing beyond the envelope', () => {
    // Act
    const result = accepted(parseEvent({ event_type: 'test', timestamp: '2025-03-10T14:22:00Z' }));
    // Assess
    expect(result.known).toBe(true);
  });

  it('a test event may carry an incident without a uuid', () => {
    // Act
    const result = accepted(parseEvent({ event_type: 'test', timestamp: '2025-03-10T14:22:00Z', incident: { title: 'demo' } }));
    // Assess
    expect(result.event.incident?.title).toBe('demo');
  });

  it.each([
    ['no event_type', { timestamp: '2025-03-10T14:22:00Z' }, 'event_type'],
    ['an empty event_type', { event_type: '', timestamp: '2025-03-10T14:22:00Z' }, 'event_type'],
    ['no timestamp', { event_type: 'test' }, 'timestamp'],
  ])('refuses an envelope with %s, naming the field', (_name, value, path) => {
    // Act
    const paths = issuePaths(parseEvent(value));
    // Assess
    expect(paths).toEqual([path]);
  });

  it.each([
    ['null', null],
    ['an array', [1, 2]],
    ['a string', 'attack_start'],
  ])('refuses %s as the body, naming (body)', (_name, value) => {
    // Act
    const paths = issuePaths(parseEvent(value));
    // Assess
    expect(paths).toEqual(['(body)']);
  });
});

describe('parseEvent: timestamp', () => {
  it.each(['2025-03-10T14:22:00Z', '2025-03-10T14:22:00.123Z', '2025-03-10T16:22:00+02:00', '2025-03-10T09:22:00-05:00'])(
    'accepts %s',
    (timestamp) => {
      // Act
      const result = parseEvent({ event_type: 'test', timestamp });
      // Assess
      expect(result.ok).toBe(true);
    },
  );

  it.each([
    ['a date-time without an offset', '2025-03-10T14:22:00'],
    ['a date only', '2025-03-10'],
    ['a space instead of T', '2025-03-10 14:22:00Z'],
    ['an RFC 2822 date', 'Mon, 10 Mar 2025 14:22:00 GMT'],
    ['free text', 'yesterday'],
    ['an impossible month', '2025-13-10T14:22:00Z'],
    ['unix seconds', 1741616520],
  ])('refuses %s, naming timestamp', (_name, timestamp) => {
    // Act
    const result = parseEvent({ event_type: 'test', timestamp });
    // Assess
    expect(issuePaths(result)).toEqual(['timestamp']);
    if (!result.ok) expect(result.issues[0]?.message).toContain('ISO 8601');
  });

  it('checks incident.started_at as an ISO 8601 date-time too', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 });
    event.incident!.started_at = '10/03/2025 14:22';
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.started_at']);
  });
});

describe('parseEvent: top_src_ips', () => {
  it('accepts confidence at both ends of 0..100 and without confidence', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0, ips: ['45.0.0.1', '45.0.0.2', '45.0.0.3'] });
    event.incident!.top_src_ips![0]!.confidence = 0;
    event.incident!.top_src_ips![1]!.confidence = 100;
    delete event.incident!.top_src_ips![2]!.confidence;
    // Act
    const result = accepted(parseEvent(event));
    // Assess
    expect(result.event.incident?.top_src_ips?.map((entry) => entry.confidence)).toEqual([0, 100, undefined]);
  });

  it.each([
    ['above 100', 100.5],
    ['below 0', -1],
    ['a string', '95'],
  ])('refuses a confidence %s, naming the entry', (_name, confidence) => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0, ips: ['45.0.0.1', '45.0.0.2', '45.0.0.3'] });
    (event.incident!.top_src_ips![2] as Record<string, unknown>).confidence = confidence;
    // Act
    const result = parseEvent(event);
    // Assess
    expect(issuePaths(result)).toEqual(['incident.top_src_ips[2].confidence']);
    if (!result.ok) expect(result.issues[0]?.message).toBe('must be a number from 0 to 100');
  });

  it('names an entry without an ip by its index', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_update', uuid: 'inc-1', at: T0, ips: publicIps(5) });
    delete (event.incident!.top_src_ips![3] as Record<string, unknown>).ip;
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.top_src_ips[3].ip']);
  });

  it('checks a top-level top_src_ips list too', () => {
    // Prepare
    const event = { ...attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0 }), top_src_ips: [{ ip: '45.0.0.1', confidence: 250 }] };
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['top_src_ips[0].confidence']);
  });

  it('refuses a negative count', () => {
    // Prepare
    const event = attackEvent({ type: 'attack_start', uuid: 'inc-1', at: T0, ips: ['45.0.0.1'] });
    event.incident!.top_src_ips![0]!.count = -3;
    // Act
    const paths = issuePaths(parseEvent(event));
    // Assess
    expect(paths).toEqual(['incident.top_src_ips[0].count']);
  });
});

describe('formatPath', () => {
  it.each([
    [['incident', 'top_src_ips', 3, 'ip'], 'incident.top_src_ips[3].ip'],
    [['incident', 'uuid'], 'incident.uuid'],
    [['timestamp'], 'timestamp'],
    [['top_src_ips', 0, 'confidence'], 'top_src_ips[0].confidence'],
    [[2, 'ip'], '[2].ip'],
    [['a', 0, 1, 'b'], 'a[0][1].b'],
    [[], ''],
  ] as [PropertyKey[], string][])('formats %j as %s', (path, expected) => {
    // Act
    const formatted = formatPath(path);
    // Assess
    expect(formatted).toBe(expected);
  });
});
