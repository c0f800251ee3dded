/**
 * AbuseIPDB through the one-box relay: signed webhooks, SQLite queue and
 * state, the reconciler, and the AbuseIPDB simulator (in process, through
 * the relay's Transport). Nothing is reported during the attack; the top
 * attackers are reported once when it ends; never the never-block
 * addresses, never relay send-test's sample incident.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sampleEvents } from '../../lib/cli/sample-event.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { startTestRelay } from '../helpers/test-relay.ts';
import { AbuseipdbSimulator, DEFAULT_KEY } from '../simulators/abuseipdb/api.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const sim = new AbuseipdbSimulator({ now: Date.now });
  sim.addKey(DEFAULT_KEY);
  const { relay, send } = await startTestRelay(
    {
      integrations: [{ id: 'abuse', type: 'abuseipdb', options: { topN: 3 }, secrets: { apiKey: { env: 'ABUSEIPDB_KEY' } } }],
      env: { ABUSEIPDB_KEY: DEFAULT_KEY },
      transport: sim.transport,
    },
    cleanups,
  );
  return { sim, relay, send };
}

describe('abuseipdb through the one-box relay', () => {
  it('reports nothing during the attack, then the top attackers once when it ends, with a comment that names nothing private', async () => {
    // Prepare: five attackers ranked by the event, and a documentation address the never-block list refuses.
    const { sim, send } = await setup();
    sim.watchPrivate('web-prod-1', '203.0.113.10', 'inc-abuse');
    const ips = publicIps(5, 73);

    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-abuse', at: Date.now(), ips: ['192.0.2.9', ...ips], node: { id: 1, name: 'web-prod-1', ip_address: '203.0.113.10' } }));
    const duringAttack = sim.reports.length;
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-abuse', at: Date.now() + 1 }));
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-abuse', at: Date.now() + 2 }));

    // Assess
    expect(duringAttack).toBe(0);
    expect(sim.reports.map((report) => report.ip).sort()).toEqual(ips.slice(0, 3).sort());
    expect(sim.reports.every((report) => report.categories.join() === '4' && /udp_flood/.test(report.comment))).toBe(true);
    expect(sim.counters).toMatchObject({ privateInComments: 0, privateAddressReports: 0, sameIpWithin15Min: 0, keyInQuery: 0 });
  }, 30_000);

  it('never reports the sample incident of relay send-test', async () => {
    // Prepare
    const { sim, send } = await setup();
    const events = sampleEvents({ ips: 3, now: Date.now() });

    // Act
    await send(events.start);
    await send(events.end(Date.now() + 1));

    // Assess
    expect(sim.reports).toEqual([]);
    expect(sim.counters.requests).toBe(0);
  }, 30_000);
});
