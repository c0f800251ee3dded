/**
 * The audit trail through the one-box relay: signed webhooks into the real
 * server, SQLite queue and state, the reconciler and a switch; then what
 * the trail says, counts only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { startTestRelay } from '../helpers/test-relay.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('audit trail through the one-box relay', () => {
  it('records each add per incident, the switch, the never-block refusal, the release and the removal, newest first', async () => {
    // Prepare: a blocklist and a switch (dry-run), and an attack naming a documentation address the never-block list refuses.
    const { relay, send } = await startTestRelay(
      { integrations: [{ id: 'fw', type: 'dry-run' }, { id: 'scrub', type: 'dry-run', holdDown: '0s', options: { kind: 'switch' } }] },
      cleanups,
    );
    const ips = publicIps(3, 71);

    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: Date.now(), ips: [...ips, '192.0.2.77'] }));
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: Date.now() + 1 }));
    await relay.sweepNow();
    const trail = await relay.store.listAudit();
    const ofIncident = await relay.store.listAudit({ incident: 'inc-a' });

    // Assess
    const summary = trail.map((entry) => `${entry.action} ${entry.integration ?? '-'} ${entry.incident ?? '-'} ${entry.count} ${entry.outcome}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        'never-block.refused - inc-a 1 ok',
        'block.add fw inc-a 3 ok',
        'switch.on scrub inc-a 1 ok',
        'incident.released fw inc-a 3 ok',
        'incident.released scrub inc-a 1 ok',
        'block.remove fw - 3 ok',
        'switch.off scrub - 1 ok',
      ]),
    );
    expect(trail.map((entry) => entry.at)).toEqual([...trail.map((entry) => entry.at)].sort((a, b) => b - a));
    expect(ofIncident.every((entry) => entry.incident === 'inc-a')).toBe(true);
    expect(JSON.stringify(trail)).not.toContain(ips[0]);
  }, 30_000);
});
