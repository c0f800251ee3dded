/**
 * Drain: end every active incident now, releasing everything it holds. Only
 * intents are written; the reconciler (the sweeper, or the next worker)
 * removes the blocks from the devices through the usual path, so in AWS the
 * operator's machine never needs to reach a firewall. Used before removing a
 * deployment, or to withdraw every block at once.
 */
import type { StateStore } from '../state/types.ts';

export async function drainIncidents(store: StateStore, now: number): Promise<{ incidents: string[] }> {
  const active = await store.listIncidents({ status: 'active' });
  for (const incident of active) {
    // Marked ended first (with now as the newest event): a late start/update is then ignored.
    await store.putIncident({
      ...incident,
      status: 'ended',
      endedAt: new Date(now).toISOString(),
      lastEventAt: Math.max(now, incident.lastEventAt),
      lastEventType: 'drain',
      updatedAt: now,
    });
    await store.release(incident.uuid, now);
  }
  if (active.length > 0) {
    await store.appendAudit([{ at: now, action: 'manual.drain', count: active.length, outcome: 'ok', detail: 'relay drain: every active incident ended and released' }]);
  }
  return { incidents: active.map((incident) => incident.uuid) };
}
