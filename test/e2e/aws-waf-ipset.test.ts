/**
 * The aws-waf-ipset blocklist through the one-box relay: signed webhooks
 * over HTTP, SQLite queue and state, workers and the reconciler, signing with
 * SigV4 and talking to the WAFv2 simulator (in process, through the relay's
 * Transport; it checks every signature and lock token).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { startTestRelay } from '../helpers/test-relay.ts';
import { postSignedEvent } from '../helpers/webhook-client.ts';
import { AwsSimulator, SIM_CREDENTIALS } from '../simulators/aws/aws.ts';
import type { Checkpoint } from '../../lib/engine/types.ts';

const IPSET_ID = 'a1b2c3d4-5678-90ab-cdef-000000000001';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { ownership?: 'shared' | 'dedicated'; sim?: AwsSimulator; dir?: string; checkpoint?: (point: Checkpoint) => void } = {}) {
  const sim = options.sim ?? new AwsSimulator({ now: Date.now });
  if (!options.sim) sim.addIpSet({ name: 'relay-blocks', id: IPSET_ID, description: 'web ACL block list', addresses: options.ownership === 'dedicated' ? [] : ['192.0.2.0/24'] });
  const { relay, send, dir } = await startTestRelay(
    {
      integrations: [
        { id: 'waf', type: 'aws-waf-ipset', ttl: '1h', options: { region: 'eu-west-1', name: 'relay-blocks', id: IPSET_ID, ownership: options.ownership ?? 'shared' } },
      ],
      env: { AWS_ACCESS_KEY_ID: SIM_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: SIM_CREDENTIALS.secretAccessKey },
      transport: sim.transport,
      ...(options.dir ? { dir: options.dir } : {}),
      ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    },
    cleanups,
  );
  return { sim, relay, send, dir };
}

describe('aws-waf-ipset through the one-box relay', () => {
  it('adds the attackers as /32, keeps the operator\'s own entries and an edit made meanwhile, and removes only its own at attack_end', async () => {
    // Prepare: the operator already lists one attacker.
    const { sim, send } = await setup();
    const [a, b, c] = publicIps(3, 61) as [string, string, string];
    sim.adminEditIpSet(IPSET_ID, (addresses) => [...addresses, `${c}/32`]);

    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips: [a, b, c] }));
    const during = sim.ipSetState(IPSET_ID).Addresses;
    sim.adminEditIpSet(IPSET_ID, (addresses) => [...addresses, '198.51.100.0/24']); // the operator adds a range mid-attack
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-1', at: Date.now() + 1 }));

    // Assess
    expect([...during].sort()).toEqual(['192.0.2.0/24', `${a}/32`, `${b}/32`, `${c}/32`].sort());
    expect([...sim.ipSetState(IPSET_ID).Addresses].sort()).toEqual(['192.0.2.0/24', '198.51.100.0/24', `${c}/32`].sort());
    expect(sim.ipSetState(IPSET_ID).Description).toBe('web ACL block list');
    expect(sim.counters).toMatchObject({ badSignatures: 0, staleLockWrites: 0, writesTooFast: 0, unneededWrites: 0, descriptionDropped: 0 });
  }, 30_000);

  it('a burst of 20 incidents in half a second, then ended: the set ends with exactly the operator\'s entries, written at most once a second', async () => {
    // Prepare
    const { sim, relay } = await setup();
    const ips = publicIps(100, 62);
    const post = (type: 'attack_start' | 'attack_end', n: number) =>
      postSignedEvent(
        relay.webhookUrl,
        type === 'attack_start'
          ? attackEvent({ type, uuid: `burst-${n}`, at: Date.now(), ips: ips.slice(n * 5, n * 5 + 5) })
          : attackEvent({ type, uuid: `burst-${n}`, at: Date.now() + 1 }),
      );
    const numbers = Array.from({ length: 20 }, (_, n) => n);

    // Act
    await Promise.all(numbers.map((n) => post('attack_start', n)));
    await relay.idle();
    const during = new Set(sim.ipSetState(IPSET_ID).Addresses);
    await Promise.all(numbers.map((n) => post('attack_end', n)));
    await relay.idle();

    // Assess
    expect(ips.every((ip) => during.has(`${ip}/32`))).toBe(true);
    expect(sim.ipSetState(IPSET_ID).Addresses).toEqual(['192.0.2.0/24']);
    expect(sim.counters).toMatchObject({ badSignatures: 0, staleLockWrites: 0, writesTooFast: 0, unneededWrites: 0, descriptionDropped: 0 });
  }, 60_000);

  it('ownership dedicated: a crash right after UpdateIPSet, before its outcome is recorded, and a restart: exactly the active blocks, then none', async () => {
    // Prepare: the first process dies right after writing the set.
    let crashed = false;
    const first = await setup({
      ownership: 'dedicated',
      checkpoint: (point) => {
        if (point === 'after-provider' && !crashed) {
          crashed = true;
          throw new Error('simulated crash after the provider call');
        }
      },
    });
    const [a, b] = publicIps(2, 63) as [string, string];

    // Act
    await first.send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips: [a, b] }));
    await first.relay.stop();
    const restarted = await setup({ ownership: 'dedicated', sim: first.sim, dir: first.dir });
    const afterRestart = [...first.sim.ipSetState(IPSET_ID).Addresses].sort();
    await restarted.send(attackEvent({ type: 'attack_end', uuid: 'inc-1', at: Date.now() + 1 }));

    // Assess
    expect(crashed).toBe(true);
    expect(afterRestart).toEqual([`${a}/32`, `${b}/32`].sort());
    expect(first.sim.ipSetState(IPSET_ID).Addresses).toEqual([]);
    expect(first.sim.counters.staleLockWrites).toBe(0);
  }, 60_000);

  it('ownership shared: a crash right after UpdateIPSet and a restart: the relay still knows the addresses it wrote, removes exactly them and keeps the operator\'s', async () => {
    // Prepare: the first process dies right after writing the set; the set also holds the operator's range and one attacker address.
    let crashed = false;
    const first = await setup({
      checkpoint: (point) => {
        if (point === 'after-provider' && !crashed) {
          crashed = true;
          throw new Error('simulated crash after the provider call');
        }
      },
    });
    const [a, b, listed] = publicIps(3, 64) as [string, string, string];
    first.sim.adminEditIpSet(IPSET_ID, (addresses) => [...addresses, `${listed}/32`]);

    // Act
    await first.send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips: [a, b, listed] }));
    await first.relay.stop();
    const restarted = await setup({ sim: first.sim, dir: first.dir });
    const afterRestart = [...first.sim.ipSetState(IPSET_ID).Addresses].sort();
    const status = await restarted.relay.engine.worker.store.listBlocks({ integration: 'waf' });
    await restarted.send(attackEvent({ type: 'attack_end', uuid: 'inc-1', at: Date.now() + 1 }));

    // Assess
    expect(crashed).toBe(true);
    expect(afterRestart).toEqual(['192.0.2.0/24', `${a}/32`, `${b}/32`, `${listed}/32`].sort());
    // The relay's own two are claimed as its own after the restart; the operator's stays "present, not ours".
    expect(Object.fromEntries(status.map((block) => [block.key, block.foreign === true]))).toEqual({ [a]: false, [b]: false, [listed]: true });
    expect([...first.sim.ipSetState(IPSET_ID).Addresses].sort()).toEqual(['192.0.2.0/24', `${listed}/32`].sort());
    expect(first.sim.counters.staleLockWrites).toBe(0);
  }, 60_000);
});
