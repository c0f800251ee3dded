/**
 * CrowdSec through the one-box relay against the real Local API from
 * Debian's package (started on loopback with its own config and data, no
 * central API): a bouncer sees the relay's decisions after attack_start and
 * none after attack_end; the operator's decisions (cscli decisions add) for
 * the same and another address are never touched. Skipped outside CI when
 * CrowdSec is not installed; with CI=true the provider's suite fails instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { startOneBox, type OneBox } from '../../lib/runtime/one-box.ts';
import { crowdsecAvailability, startCrowdsecLapi, type RunningLapi } from '../helpers/crowdsec-lapi.ts';
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { postSignedEvent } from '../helpers/webhook-client.ts';
import { blocklistPromise } from '../helpers/blocklist-promise.ts';

const available = crowdsecAvailability();

// Runs wherever CrowdSec is installed (scripts/engines/crowdsec.mjs installs it
// in CI). Without it, outside CI only: with CI=true the guard suite in
// test/providers/crowdsec/lapi.test.ts fails the run instead.
describe.runIf(available.ok)('crowdsec through the one-box relay (real LAPI)', () => {
  let lapi: RunningLapi;
  let relay: OneBox;
  let dir: string;

  beforeAll(async () => {
    lapi = await startCrowdsecLapi();
    dir = mkdtempSync(join(tmpdir(), 'relay-crowdsec-'));
    const config = parseConfig({
      storage: { dir },
      webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
      sweeper: { interval: '1h', driftCheck: '1h' },
      integrations: [{ id: 'lapi', type: 'crowdsec', ttl: '2h', options: { url: lapi.url, machineId: lapi.machineId }, secrets: { password: { env: 'LAPI_PASSWORD' } } }],
    });
    relay = await startOneBox({
      loaded: { config, file: join(dir, 'relay.config.json'), defaultedToDryRun: false },
      logger: silentLogger,
      env: { HOOK_SECRET: TEST_SECRET, LAPI_PASSWORD: lapi.password },
      port: 0,
      sweeper: false,
    });
  }, 30_000);

  afterAll(async () => {
    await relay?.stop();
    await lapi?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it('bans the attackers for the TTL at attack_start, lifts exactly those at attack_end, and leaves the operator\'s decisions', async () => {
    // Prepare: the operator already bans one of the attackers, and another address.
    const [a, b, operatorOnly] = publicIps(3, 77) as [string, string, string];
    lapi.addOperatorDecision(a, { duration: '24h' });
    lapi.addOperatorDecision(operatorOnly, { duration: '24h' });
    const send = async (event: ReturnType<typeof attackEvent>) => {
      expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);
      await relay.idle();
    };
    const relays = async (ip: string) => (await lapi.bouncerDecisions(ip)).filter((decision) => decision.origin !== 'cscli');
    const operators = async (ip: string) => (await lapi.bouncerDecisions(ip)).filter((decision) => decision.origin === 'cscli');

    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-cs', at: Date.now(), ips: [a, b] }));
    const duringA = await relays(a);
    const duringB = await relays(b);
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-cs', at: Date.now() + 1 }));

    // Assess
    expect(duringA).toHaveLength(1);
    expect(duringB).toEqual([expect.objectContaining({ type: 'ban', scope: 'Ip', value: b, scenario: 'flowtriq-relay/lapi' })]);
    expect(await relays(a)).toEqual([]);
    expect(await relays(b)).toEqual([]);
    expect(await operators(a)).toHaveLength(1);
    expect(await operators(operatorOnly)).toHaveLength(1);
  }, 60_000);

  describe('burst and crash', () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    blocklistPromise(async () => {
      // The operator bans an address of the burst pool themselves (once; the LAPI outlives each test).
      const operatorIp = publicIps(6, 46)[5]!;
      if ((await lapi.bouncerDecisions(operatorIp)).every((decision) => decision.origin !== 'cscli')) lapi.addOperatorDecision(operatorIp, { duration: '24h' });
      const decisions = async () => (await lapi.bouncerDecisions()).map(({ id, origin, scenario, type, value }) => ({ id, origin, scenario, type, value }));
      return {
        integration: { type: 'crowdsec', options: { url: lapi.url, machineId: lapi.machineId }, secrets: { password: { env: 'LAPI_PASSWORD' } } },
        env: { LAPI_PASSWORD: lapi.password },
        enforced: async () => (await decisions()).filter((decision) => decision.scenario === 'flowtriq-relay/list').map((decision) => decision.value).sort(),
        others: async () => (await decisions()).filter((decision) => decision.scenario !== 'flowtriq-relay/list').sort((x, y) => x.id - y.id),
      };
    }, cleanups);
  });
});
