/**
 * AbuseIPDB through the one-box relay: signed webhooks, SQLite queue and
 * state, the reconciler, and the AbuseIPDB simulator (in process, through
 * the relay's Transport). Nothing is reported during the attack; the top
 * attackers are reported once when it ends; never the never-block
 * addresses, never relay send-test's sample incident; a burst of 40
 * overlapping incidents reports each address once, and a crash right after
 * sending does not make the restarted relay report again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sampleEvents } from '../../lib/cli/sample-event.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { startTestRelay } from '../helpers/test-relay.ts';
import { postSignedEvent } from '../helpers/webhook-client.ts';
import type { Checkpoint } from '../../lib/engine/types.ts';
import { AbuseipdbSimulator, DEFAULT_KEY } from '../simulators/abuseipdb/api.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { sim?: AbuseipdbSimulator; dir?: string; checkpoint?: (point: Checkpoint) => void } = {}) {
  const sim = options.sim ?? new AbuseipdbSimulator({ now: Date.now });
  if (!options.sim) sim.addKey(DEFAULT_KEY);
  const { relay, send, dir } = await startTestRelay(
    {
      integrations: [{ id: 'abuse', type: 'abuseipdb', options: { topN: 3 }, secrets: { apiKey: { env: 'ABUSEIPDB_KEY' } } }],
      env: { ABUSEIPDB_KEY: DEFAULT_KEY },
      transport: sim.transport,
      ...(options.dir ? { dir: options.dir } : {}),
      ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    },
    cleanups,
  );
  return { sim, relay, send, dir };
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

  it('a burst of 40 overlapping incidents within a second: each address reported once when the last incident holding it ends, none while an active incident holds it, and never one the key reported elsewhere', async () => {
    // Prepare: incident n holds pool[n] and pool[n+1]; the operator's own tooling just reported pool[3] with the same key.
    const { sim, relay } = await setup();
    const pool = publicIps(41, 74);
    sim.reportedElsewhere(pool[3]!);
    const uuids = Array.from({ length: 40 }, (_, n) => `burst-${n}`);
    const post = async (event: ReturnType<typeof attackEvent>) => expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);

    // Act
    await Promise.all(uuids.map((uuid, n) => post(attackEvent({ type: 'attack_start', uuid, at: Date.now(), ips: [pool[n]!, pool[n + 1]!] }))));
    await relay.idle();
    const duringAttack = sim.reports.length;
    await Promise.all(uuids.slice(0, 30).map((uuid) => post(attackEvent({ type: 'attack_end', uuid, at: Date.now() + 1 }))));
    await relay.idle();
    const whileTenRemain = sim.reports.map((report) => report.ip).sort();
    await Promise.all(uuids.slice(30).map((uuid) => post(attackEvent({ type: 'attack_end', uuid, at: Date.now() + 1 }))));
    await relay.idle();

    // Assess
    const others = (list: string[]) => list.filter((ip) => ip !== pool[3]).sort();
    expect(duringAttack).toBe(0);
    expect(whileTenRemain).toEqual(others(pool.slice(0, 30)));
    expect(sim.reports.map((report) => report.ip).sort()).toEqual(others(pool));
    expect(sim.counters).toMatchObject({ sameIpWithin15Min: 0, afterQuotaExhausted: 0, privateAddressReports: 0 });
  }, 60_000);

  it('a crash right after sending the reports, before the relay records it: the restarted relay finishes the removal without reporting again', async () => {
    // Prepare: the first process dies right after the provider call that sent the reports.
    const sim = new AbuseipdbSimulator({ now: Date.now });
    sim.addKey(DEFAULT_KEY);
    const ips = publicIps(2, 75);
    let crashed = false;
    const dying = await setup({
      sim,
      checkpoint: (point) => {
        if (point === 'after-provider' && sim.reports.length > 0 && !crashed) {
          crashed = true;
          throw new Error('simulated crash after the provider call');
        }
      },
    });

    // Act
    await dying.send(attackEvent({ type: 'attack_start', uuid: 'inc-crash', at: Date.now(), ips }));
    await dying.send(attackEvent({ type: 'attack_end', uuid: 'inc-crash', at: Date.now() + 1 }));
    await dying.relay.stop();
    const restarted = await setup({ sim, dir: dying.dir });
    await restarted.relay.idle();
    await restarted.relay.sweepNow();
    const left = await restarted.relay.store.getBlocks(ips.map((ip) => ({ integration: 'abuse', key: ip })));

    // Assess
    expect(crashed).toBe(true);
    expect(sim.reports.map((report) => report.ip).sort()).toEqual([...ips].sort());
    expect(left.map((block) => [block.key, block.actual, block.holders.length])).toEqual(ips.map((ip) => [ip, 'absent', 0]));
    expect(sim.counters.sameIpWithin15Min).toBe(0);
  }, 60_000);
});
