import { describe, expect, it } from 'vitest';
import { sampleEvents, sampleIps } from '../../lib/cli/sample-event.ts';
import { parseEvent } from '../../lib/event/schema.ts';
import { createNeverBlockList } from '../../lib/ip/never-block.ts';

const NOW = Date.parse('2025-03-10T14:22:00Z');
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

describe('sampleIps', () => {
  it.each([1, 20, 251, 10_000])('gives %i unique, valid IPv4 addresses that the never-block list allows', (count) => {
    // Prepare
    const neverBlock = createNeverBlockList();
    // Act
    const ips = sampleIps(count);
    // Assess
    expect(ips).toHaveLength(count);
    expect(new Set(ips).size).toBe(count);
    const invalid = ips.filter((ip) => !IPV4.test(ip));
    expect(invalid).toEqual([]);
    const refused = ips.filter((ip) => !neverBlock.check(ip).ok);
    expect(refused).toEqual([]);
  });

  it('gives the same addresses for the same count (a stable list)', () => {
    // Act
    const first = sampleIps(30);
    const second = sampleIps(30);
    // Assess
    expect(second).toEqual(first);
    expect(sampleIps(10)).toEqual(first.slice(0, 10));
  });
});

describe('sampleEvents', () => {
  it('makes an attack_start that validates as a known event and carries N unique allowed source IPs', () => {
    // Prepare
    const neverBlock = createNeverBlockList();
    // Act
    const { start } = sampleEvents({ ips: 25, now: NOW });
    // Assess
    const parsed = parseEvent(start);
    expect(parsed).toMatchObject({ ok: true, known: true });
    expect(start.event_type).toBe('attack_start');
    expect(start.timestamp).toBe('2025-03-10T14:22:00.000Z');
    const ips = start.incident?.top_src_ips?.map((entry) => entry.ip) ?? [];
    expect(ips).toHaveLength(25);
    expect(new Set(ips).size).toBe(25);
    expect(ips.filter((ip) => !neverBlock.check(ip).ok)).toEqual([]);
    expect(start.incident?.source_ip_count).toBe(25);
  });

  it('gives every source a confidence and count the schema accepts', () => {
    // Act
    const { start } = sampleEvents({ ips: 10_000, now: NOW });
    // Assess
    expect(parseEvent(start).ok).toBe(true);
    for (const entry of start.incident?.top_src_ips ?? []) {
      expect(entry.confidence).toBeGreaterThanOrEqual(0);
      expect(entry.confidence).toBeLessThanOrEqual(100);
      expect(entry.count).toBeGreaterThan(0);
    }
  });

  it('makes a matching attack_end that validates, at the time asked, for the same incident uuid', () => {
    // Prepare
    const endAt = NOW + 30_000;
    // Act
    const { start, end } = sampleEvents({ ips: 5, now: NOW });
    const endEvent = end(endAt);
    // Assess
    expect(parseEvent(endEvent)).toMatchObject({ ok: true, known: true });
    expect(endEvent.event_type).toBe('attack_end');
    expect(endEvent.timestamp).toBe(new Date(endAt).toISOString());
    expect(endEvent.incident?.uuid).toBe(start.incident?.uuid);
    expect(endEvent.incident?.uuid).toMatch(/^send-test-[0-9a-f-]{36}$/);
  });

  it('uses a fresh incident uuid for every sample', () => {
    // Act
    const first = sampleEvents({ ips: 1, now: NOW });
    const second = sampleEvents({ ips: 1, now: NOW });
    // Assess
    expect(second.start.incident?.uuid).not.toBe(first.start.incident?.uuid);
  });

  it('protects the given node address and defaults to a documentation address', () => {
    // Act
    const custom = sampleEvents({ ips: 1, now: NOW, nodeIp: '198.51.100.7' });
    const fallback = sampleEvents({ ips: 1, now: NOW });
    // Assess
    expect(custom.start.node?.ip_address).toBe('198.51.100.7');
    expect(custom.end(NOW).node?.ip_address).toBe('198.51.100.7');
    expect(fallback.start.node?.ip_address).toBe('192.0.2.1');
  });

  it('keeps the node address out of the sample sources', () => {
    // Prepare
    const { start } = sampleEvents({ ips: 50, now: NOW });
    const neverBlock = createNeverBlockList({ nodeIps: [start.node!.ip_address!], protectNodeSubnet: true });
    // Act
    const refused = (start.incident?.top_src_ips ?? []).filter((entry) => !neverBlock.check(entry.ip).ok);
    // Assess
    expect(refused).toEqual([]);
  });
});
