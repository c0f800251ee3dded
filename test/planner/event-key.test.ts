import { describe, expect, it } from 'vitest';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import { deliveryKey, eventDedupId, eventGroupId, eventKey } from '../../lib/planner/event-key.ts';
import { sqsSafeId } from '../../lib/queue/sqs-ids.ts';

function event(fields: { type?: string; timestamp?: string; uuid?: string } = {}): FlowtriqEvent {
  return {
    event_type: fields.type ?? 'attack_start',
    timestamp: fields.timestamp ?? '2025-03-10T14:22:00Z',
    incident: { uuid: fields.uuid ?? 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70' },
  } as FlowtriqEvent;
}

describe('deliveryKey', () => {
  it('is the sha256 of the body exactly as it arrived', () => {
    expect(deliveryKey('{"a":1}')).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
  });

  it('is the same for a re-delivery of the same body and differs when anything differs', () => {
    // Prepare: two updates of one incident in the same second, different attackers; and a re-spaced body.
    const first = JSON.stringify({ ...event({ type: 'attack_update' }), top_src_ips: [{ ip: '45.0.0.1' }] });
    const second = JSON.stringify({ ...event({ type: 'attack_update' }), top_src_ips: [{ ip: '45.0.0.2' }] });

    // Act
    const keys = [deliveryKey(first), deliveryKey(second), deliveryKey(`${first} `)];

    // Assess
    expect(deliveryKey(first)).toBe(keys[0]);
    expect(new Set(keys).size).toBe(3);
  });
});

describe('eventKey', () => {
  it('is the delivery key of the event as JSON text (for events known only parsed)', () => {
    expect(eventKey(event())).toBe(deliveryKey(JSON.stringify(event())));
  });
});

describe('eventDedupId', () => {
  it('is the same for a re-delivery and different when type, time or incident differ', () => {
    // Prepare
    const base = eventDedupId(event());

    // Act
    const others = [event({ type: 'attack_end' }), event({ timestamp: '2025-03-10T14:22:01Z' }), event({ uuid: 'other' })].map((e) => eventDedupId(e));

    // Assess
    expect(eventDedupId(event())).toBe(base);
    expect(new Set([base, ...others]).size).toBe(4);
  });

  it('starts with the event time, so ids sort by when the events happened', () => {
    // Prepare
    const times = ['2025-03-10T14:22:00Z', '2025-03-10T14:22:00.001Z', '2025-03-10T15:00:00+01:00', '2031-01-01T00:00:00Z'];

    // Act
    const ids = times.map((timestamp) => eventDedupId(event({ timestamp })));

    // Assess: 14:00Z (15:00+01:00) sorts before 14:22Z.
    expect([...ids].sort()).toEqual([ids[2], ids[0], ids[1], ids[3]]);
    expect(ids[0]).toMatch(/^[0-9a-z]{9}-[0-9a-f]{64}$/);
  });

  it('given the already parsed event time, is the id it would compute itself', () => {
    // Prepare
    const delivered = event({ timestamp: '2025-03-10T15:00:00.250+01:00' });

    // Act
    const fromParsed = eventDedupId(delivered, Date.parse(delivered.timestamp));

    // Assess
    expect(fromParsed).toBe(eventDedupId(delivered));
    expect(eventDedupId(delivered, Date.parse('2025-03-10T14:00:00.251Z'))).not.toBe(fromParsed);
  });

  it('carries the delivery key it is given: two bodies of the same second get two ids', () => {
    // Prepare
    const delivered = event({ type: 'attack_update' });
    const ms = Date.parse(delivered.timestamp);

    // Act
    const a = eventDedupId(delivered, ms, deliveryKey('{"body":1}'));
    const b = eventDedupId(delivered, ms, deliveryKey('{"body":2}'));

    // Assess
    expect(a).not.toBe(b);
    expect(a.slice(10)).toBe(deliveryKey('{"body":1}'));
  });

  it('is accepted by SQS unchanged', () => {
    const id = eventDedupId(event());
    expect(sqsSafeId(id)).toBe(id);
  });
});

describe('eventGroupId', () => {
  it('groups by incident uuid, hashing a uuid SQS would refuse', () => {
    expect(eventGroupId(event())).toBe('d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70');
    expect(eventGroupId(event({ uuid: 'has spaces' }))).toMatch(/^[0-9a-f]{64}$/);
  });
});
