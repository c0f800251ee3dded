import { describe, expect, it } from 'vitest';
import { DryRunBlocklistProvider, DryRunSwitchProvider } from '../../../lib/providers/dry-run/provider.ts';
import type { BlockEntry } from '../../../lib/providers/types.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';

function entry(ip: string): BlockEntry {
  return { ip, expiresAt: Date.parse('2030-01-01T00:00:00Z'), incidents: ['5f0c7a52-0000-4000-8000-000000000001'] };
}

function context(logger: RecordingLogger) {
  return { signal: new AbortController().signal, logger };
}

describe('DryRunBlocklistProvider', () => {
  it('logs one "dry-run add" line with the integration, count and IPs, and reports every entry ok', async () => {
    // Prepare
    const logger = new RecordingLogger();
    const provider = new DryRunBlocklistProvider({ id: 'dry' });

    // Act
    const results = await provider.add([entry('203.0.113.7'), entry('2001:db8::1')], context(logger));

    // Assess
    expect(results).toEqual([
      { ip: '203.0.113.7', ok: true },
      { ip: '2001:db8::1', ok: true },
    ]);
    expect(logger.lines).toEqual([
      {
        level: 'info',
        message: 'dry-run add',
        attributes: { integration: 'dry', count: 2, ips: ['203.0.113.7', '2001:db8::1'] },
      },
    ]);
  });

  it('logs one "dry-run remove" line and reports every entry ok', async () => {
    // Prepare
    const logger = new RecordingLogger();
    const provider = new DryRunBlocklistProvider({ id: 'dry' });

    // Act
    const results = await provider.remove([entry('198.51.100.1')], context(logger));

    // Assess
    expect(results).toEqual([{ ip: '198.51.100.1', ok: true }]);
    expect(logger.messages()).toEqual(['dry-run remove']);
    expect(logger.lines[0]?.attributes).toMatchObject({ integration: 'dry', count: 1, ips: ['198.51.100.1'] });
  });

  it('advertises a large batch limit and a healthy check that says it changes nothing', async () => {
    // Prepare
    const provider = new DryRunBlocklistProvider({ id: 'dry' });

    // Act
    const health = await provider.healthCheck();

    // Assess
    expect(provider.kind).toBe('blocklist');
    expect(provider.type).toBe('dry-run');
    expect(provider.maxBatch).toBeGreaterThanOrEqual(10_000);
    expect(health).toEqual({ ok: true, detail: 'dry-run: changes nothing' });
  });
});

describe('DryRunSwitchProvider', () => {
  it('logs "dry-run activate", reads nothing (a snapshot marking when it was taken) and reports the activation confirmed', async () => {
    // Prepare
    const logger = new RecordingLogger();
    const provider = new DryRunSwitchProvider({ id: 'scrub', now: () => Date.parse('2030-01-02T03:04:05Z') });

    // Act
    const snapshot = await provider.snapshot({ ...context(logger), incidents: ['inc-1'] });
    const activation = await provider.activate(snapshot, { ...context(logger), incidents: ['inc-1'] });

    // Assess
    expect(snapshot).toEqual({ state: { dryRun: true, takenAt: '2030-01-02T03:04:05.000Z' }, alreadyActive: false, summary: 'dry run: nothing read (2030-01-02T03:04:05.000Z)' });
    expect(activation).toMatchObject({ confirmed: true, confirmedAt: '2030-01-02T03:04:05.000Z' });
    expect(logger.lines).toEqual([
      { level: 'info', message: 'dry-run activate', attributes: { integration: 'scrub', incidents: ['inc-1'] } },
    ]);
  });

  it('logs "dry-run deactivate" with the time of the snapshot, and reports it restored', async () => {
    // Prepare
    const logger = new RecordingLogger();
    const provider = new DryRunSwitchProvider({ id: 'scrub' });
    const snapshot = await provider.snapshot({ ...context(new RecordingLogger()), incidents: ['inc-1'] });
    const activation = await provider.activate(snapshot, { ...context(new RecordingLogger()), incidents: ['inc-1'] });

    // Act
    const restore = await provider.deactivate(snapshot, activation, { ...context(logger), incidents: ['inc-1'] });

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(logger.messages()).toEqual(['dry-run deactivate']);
    expect(logger.lines[0]?.attributes).toMatchObject({ integration: 'scrub', snapshotTakenAt: (snapshot.state as { takenAt: string }).takenAt });
  });

  it('deactivates without complaint given a snapshot it did not make', async () => {
    // Prepare
    const logger = new RecordingLogger();
    const provider = new DryRunSwitchProvider({ id: 'scrub' });

    // Act
    const restore = await provider.deactivate({ state: { something: 'else' }, alreadyActive: false, summary: '' }, undefined, { ...context(logger), incidents: [] });

    // Assess
    expect(restore.outcome).toBe('restored');
    expect(logger.messages()).toEqual(['dry-run deactivate']);
  });

  it('is a healthy switch with the hold-down it was given', async () => {
    // Prepare
    const provider = new DryRunSwitchProvider({ id: 'scrub', holdDownMs: 900_000 });

    // Act
    const health = await provider.healthCheck();

    // Assess
    expect(provider.kind).toBe('switch');
    expect(provider.holdDownMs).toBe(900_000);
    expect(health).toEqual({ ok: true, detail: 'dry-run: changes nothing' });
  });
});
