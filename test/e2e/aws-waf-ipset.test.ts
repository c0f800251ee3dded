/**
 * The aws-waf-ipset blocklist through the one-box relay: signed webhooks
 * over HTTP, SQLite queue and state, workers and the reconciler, signing with
 * SigV4 and talking to the WAFv2 simulator (in process, through the relay's
 * Transport; it checks every signature and lock token).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { startOneBox, type OneBox } from '../../lib/runtime/one-box.ts';
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { postSignedEvent } from '../helpers/webhook-client.ts';
import { AwsSimulator, SIM_CREDENTIALS } from '../simulators/aws/aws.ts';

const IPSET_ID = 'a1b2c3d4-5678-90ab-cdef-000000000001';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const sim = new AwsSimulator({ now: Date.now });
  sim.addIpSet({ name: 'relay-blocks', id: IPSET_ID, description: 'web ACL block list', addresses: ['192.0.2.0/24'] });
  const dir = mkdtempSync(join(tmpdir(), 'relay-waf-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({
    storage: { dir },
    webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
    sweeper: { interval: '1h', driftCheck: '1h' },
    integrations: [{ id: 'waf', type: 'aws-waf-ipset', ttl: '1h', options: { region: 'eu-west-1', name: 'relay-blocks', id: IPSET_ID } }],
  });
  const relay: OneBox = await startOneBox({
    loaded: { config, file: join(dir, 'relay.config.json'), defaultedToDryRun: false },
    logger: silentLogger,
    env: { HOOK_SECRET: TEST_SECRET, AWS_ACCESS_KEY_ID: SIM_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: SIM_CREDENTIALS.secretAccessKey },
    port: 0,
    sweeper: false,
    transport: sim.transport,
  });
  cleanups.push(() => relay.stop());
  const send = async (event: ReturnType<typeof attackEvent>) => {
    expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);
    await relay.idle();
  };
  return { sim, relay, send };
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
});
