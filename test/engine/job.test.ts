import { describe, expect, it } from 'vitest';
import { PoisonJobError } from '../../lib/engine/errors.ts';
import { decodeJob, encodeJob, encodeJobJson, JOB_VERSION } from '../../lib/engine/job.ts';
import { deliveryKey } from '../../lib/planner/event-key.ts';
import { fixture } from '../helpers/events.ts';

const RECEIVED_AT = Date.parse('2025-03-10T14:22:01.250Z');

/** Runs `work`, expecting a PoisonJobError; returns it. */
function poison(work: () => unknown): PoisonJobError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(PoisonJobError);
    return error as PoisonJobError;
  }
  throw new Error('expected a PoisonJobError, but nothing was thrown');
}

function body(value: unknown): string {
  return JSON.stringify(value);
}

describe('encodeJob', () => {
  it('writes a versioned JSON envelope with the ISO receive time and the event', () => {
    // Prepare
    const event = fixture('attack_start');
    // Act
    const encoded = JSON.parse(encodeJob(event, RECEIVED_AT)) as Record<string, unknown>;
    // Assess
    expect(encoded).toEqual({ v: JOB_VERSION, receivedAt: '2025-03-10T14:22:01.250Z', delivery: deliveryKey(JSON.stringify(event)), event });
    expect(JOB_VERSION).toBe(1);
  });
});

describe('encodeJobJson', () => {
  it('embeds the event text exactly as it arrived, and decodes like encodeJob', () => {
    // Prepare: spacing, key order and an unknown nested field as a sender might write them.
    const text = '{ "timestamp":"2025-03-10T14:22:00Z", "event_type":"attack_end",\n "incident":{"uuid":"inc-1","extra":{"a":[1,2]}} }';

    // Act
    const encoded = encodeJobJson(text, RECEIVED_AT);

    // Assess: the delivery key is that of the text as it arrived, not of a re-serialisation.
    expect(encoded).toBe(`{"v":1,"receivedAt":"2025-03-10T14:22:01.250Z","delivery":"${deliveryKey(text)}","event":${text}}`);
    const { delivery, ...decoded } = decodeJob(encoded);
    const { delivery: reserialised, ...again } = decodeJob(encodeJob(JSON.parse(text), RECEIVED_AT));
    expect(decoded).toEqual(again);
    expect(delivery).toBe(deliveryKey(text));
    expect(reserialised).not.toBe(delivery);
  });

  it('takes a delivery key the caller already computed', () => {
    expect(decodeJob(encodeJobJson('{"event_type":"test","timestamp":"2025-03-10T14:22:00Z"}', RECEIVED_AT, 'a'.repeat(64))).delivery).toBe('a'.repeat(64));
  });
});

describe('decodeJob', () => {
  it.each(['attack_start', 'attack_start_with_sources', 'attack_update', 'attack_end', 'attack_end_minimal', 'test', 'unknown_type'] as const)(
    'round-trips %s through encodeJob, keeping every field',
    (name) => {
      // Prepare
      const event = fixture(name);
      // Act
      const job = decodeJob(encodeJob(event, RECEIVED_AT));
      // Assess
      expect(job).toEqual({ v: JOB_VERSION, receivedAt: new Date(RECEIVED_AT).toISOString(), delivery: deliveryKey(JSON.stringify(event)), event });
    },
  );

  it('drops unknown envelope fields', () => {
    // Prepare
    const encoded = { v: JOB_VERSION, receivedAt: '2025-03-10T14:22:01Z', event: fixture('test'), trace: 'abc' };
    // Act
    const job = decodeJob(body(encoded));
    // Assess
    expect(Object.keys(job).sort()).toEqual(['delivery', 'event', 'receivedAt', 'v']);
  });

  it('gives a job written before delivery keys existed the key of its event JSON', () => {
    // Prepare
    const event = fixture('attack_update');
    // Act
    const job = decodeJob(body({ v: JOB_VERSION, receivedAt: '2025-03-10T14:22:01Z', event }));
    // Assess
    expect(job.delivery).toBe(deliveryKey(JSON.stringify(event)));
  });

  it('refuses a malformed delivery key as a poison job', () => {
    expect(() => decodeJob(body({ v: JOB_VERSION, receivedAt: '2025-03-10T14:22:01Z', delivery: 'x', event: fixture('test') }))).toThrow(/delivery key/);
  });

  it.each([
    ['truncated JSON', '{"v":1,"receivedAt":'],
    ['plain text', 'attack_start'],
    ['an empty body', ''],
  ])('refuses %s as a poison job saying it is not JSON', (_name, text) => {
    // Act
    const error = poison(() => decodeJob(text));
    // Assess
    expect(error.message).toBe('job body is not JSON');
    expect(error.code).toBe('poison_job');
  });

  it.each([
    ['version 2', 2],
    ['version 0', 0],
    ['a string version', '1'],
    ['no version', undefined],
  ])('refuses %s as a poison job naming the expected version', (_name, v) => {
    // Prepare
    const encoded = { v, receivedAt: '2025-03-10T14:22:01Z', event: fixture('attack_start') };
    // Act
    const error = poison(() => decodeJob(body(encoded)));
    // Assess
    expect(error.message).toBe('job envelope is not version 1');
  });

  it.each([
    ['JSON null', 'null'],
    ['a JSON number', '42'],
    ['a JSON array', '[1]'],
  ])('refuses %s as a poison job: it is no version 1 envelope', (_name, text) => {
    // Act
    const error = poison(() => decodeJob(text));
    // Assess
    expect(error.message).toBe('job envelope is not version 1');
  });

  it('refuses an envelope without receivedAt as a poison job', () => {
    // Prepare
    const encoded = { v: JOB_VERSION, event: fixture('attack_start') };
    // Act
    const error = poison(() => decodeJob(body(encoded)));
    // Assess
    expect(error.code).toBe('poison_job');
  });

  it.each([
    ['missing', undefined],
    ['a number', RECEIVED_AT],
  ])('names receivedAt when it is %s', (_name, receivedAt) => {
    // Prepare
    const encoded = { v: JOB_VERSION, receivedAt, event: fixture('attack_start') };
    // Act
    const error = poison(() => decodeJob(body(encoded)));
    // Assess
    expect(error.message).toContain('receivedAt');
  });

  it('refuses an invalid event as a poison job naming the failing path and reason', () => {
    // Prepare
    const event = fixture('attack_start');
    delete (event.node as Record<string, unknown>).ip_address;
    const encoded = { v: JOB_VERSION, receivedAt: '2025-03-10T14:22:01Z', event };
    // Act
    const error = poison(() => decodeJob(body(encoded)));
    // Assess
    expect(error.message).toBe("job event is invalid: node.ip_address: is required: the node's IP address");
  });

  it('lists every problem of an invalid event', () => {
    // Prepare
    const encoded = { v: JOB_VERSION, receivedAt: '2025-03-10T14:22:01Z', event: { event_type: 'attack_end', timestamp: 'soon', incident: {} } };
    // Act
    const error = poison(() => decodeJob(body(encoded)));
    // Assess
    expect(error.message).toMatch(/^job event is invalid: /);
    expect(error.message).toContain('timestamp: must be an ISO 8601 date-time');
  });

  it('refuses an envelope with no event at all, naming the body', () => {
    // Prepare
    const encoded = { v: JOB_VERSION, receivedAt: '2025-03-10T14:22:01Z' };
    // Act
    const error = poison(() => decodeJob(body(encoded)));
    // Assess
    expect(error.message).toMatch(/^job event is invalid: \(body\): /);
  });
});
