/**
 * Bursts and pfSense's filter reloads, through the one-box relay (HTTP
 * intake, SQLite queue and state, workers, one writer per device) against
 * simulators on 127.0.0.1 that answer in real time (35 ms per request + 1 ms
 * per entry sent): what a careful client never does, counted by the
 * simulators, stays at 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { startOneBox, type OneBox } from '../../lib/runtime/one-box.ts';
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { postSignedEvent, waitFor } from '../helpers/webhook-client.ts';
import { REALTIME_BENCH_COST } from '../simulators/pfsense-v2/index.ts';
import { ONE_BOX_REAL_TIME_COST } from '../simulators/pfsense-v1/device.ts';
import { startPfSenseV1Simulator } from '../simulators/pfsense-v1/server.ts';
import { startPfSenseV2Simulator } from '../simulators/pfsense-v2/server.ts';
import { RouterOsSimulator } from '../simulators/routeros/server.ts';

const LIST = 'flowtriq_blocked';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function relayFor(integration: Record<string, unknown>, env: Record<string, string>): Promise<OneBox> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-burst-e2e-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({
    storage: { dir },
    webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
    sweeper: { interval: '1h', driftCheck: '1h' },
    integrations: [{ id: 'edge', ttl: '1h', ...integration }],
  });
  const relay = await startOneBox({
    loaded: { config, file: join(dir, 'relay.config.json'), defaultedToDryRun: false },
    logger: silentLogger,
    env: { ...env, HOOK_SECRET: TEST_SECRET },
    port: 0,
    sweeper: false,
  });
  cleanups.push(() => relay.stop());
  return relay;
}


async function post(relay: OneBox, event: ReturnType<typeof attackEvent>): Promise<void> {
  expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);
}

const until = (predicate: () => boolean, what: string, timeoutMs = 20_000) => waitFor(predicate, what, timeoutMs);

/** A pfSense v2 simulator in real time (35 ms per request + 1 ms per address sent) and a relay that uses it. */
async function pfSenseV2Relay(options: { retryAfterSeconds?: number; aliases?: { name: string; type: string; descr: string; address: string[]; detail: string[] }[] } = {}) {
  const running = await startPfSenseV2Simulator({ realTime: true, cost: REALTIME_BENCH_COST, chargeEntries: 'request', ...options });
  cleanups.push(() => running.close());
  const relay = await relayFor(
    { type: 'pfsense', options: { url: running.origin, apiVersion: 'v2', auth: 'basic', alias: LIST, allowInsecureHttp: true }, secrets: { username: { env: 'U' }, password: { env: 'P' } } },
    { U: 'admin', P: 'pfsense' },
  );
  return { sim: running.sim, relay };
}

/** `count` incidents of `per` addresses each, sent over `windowMs`, all at once in flight. */
async function burst(relay: OneBox, type: 'attack_start' | 'attack_end', count: number, per: number, windowMs: number): Promise<string[]> {
  const ips = publicIps(count * per, 60);
  await Promise.all(
    Array.from({ length: count }, async (_, n) => {
      await new Promise((resolve) => setTimeout(resolve, (n * windowMs) / count));
      const uuid = `burst-${n}`;
      await post(relay, type === 'attack_start' ? attackEvent({ type, uuid, at: Date.now(), ips: ips.slice(n * per, (n + 1) * per) }) : attackEvent({ type, uuid, at: Date.now() + 1 }));
    }),
  );
  return ips;
}


describe('a burst of incidents through the one-box relay', () => {
  it('RouterOS: 20 incidents × 20 IPs in half a second, then ended: no duplicate write, no operator entry touched', async () => {
    // Prepare
    const sim = await RouterOsSimulator.start({ username: 'relay', password: 'relay-password', cost: { requestMs: 35, entryMs: 1 }, realDelayFactor: 1 });
    cleanups.push(() => sim.close());
    sim.device.adminAdd(4, { list: LIST, address: '46.9.9.9', comment: 'office' });
    const relay = await relayFor(
      { type: 'routeros', options: { url: sim.origin, allowInsecureHttp: true, list: LIST }, secrets: { username: { env: 'U' }, password: { env: 'P' } } },
      { U: 'relay', P: 'relay-password' },
    );
    const relayEntries = () => new Set(sim.device.stored(4, LIST).filter((entry) => entry.comment === 'flowtriq-relay').map((entry) => entry.address));

    // Act
    const ips = await burst(relay, 'attack_start', 20, 20, 500);
    await until(() => relayEntries().size === ips.length, 'all 400 blocks');
    await burst(relay, 'attack_end', 20, 20, 500);
    await until(() => relayEntries().size === 0, 'every block removed');

    // Assess
    expect(sim.device.duplicateWrites).toBe(0);
    expect(sim.device.foreignTouched).toBe(0);
    expect(sim.maxConcurrent).toBe(1);
    expect(sim.device.stored(4, LIST).map((entry) => entry.address)).toEqual(['46.9.9.9']);
  }, 60_000);

  it('pfSense v2: 20 incidents in half a second: reloads coalesced, no duplicate write, no replace, live and then gone; the operator\'s entry stays', async () => {
    // Prepare: the operator keeps one entry of their own in the alias.
    const { sim, relay } = await pfSenseV2Relay({ aliases: [{ name: LIST, type: 'host', descr: 'shared', address: ['46.9.9.9'], detail: ['office'] }] });
    const live = () => new Set(sim.liveTable(LIST) ?? []);

    // Act
    const ips = await burst(relay, 'attack_start', 20, 20, 500);
    await until(() => ips.every((ip) => live().has(ip)), 'all 400 blocks live');
    const appliesForStarts = sim.counters.appliesStarted;
    await burst(relay, 'attack_end', 20, 20, 500);
    await until(() => live().size === 1, 'every relay block gone from the live table');

    // Assess
    expect([...live()]).toEqual(['46.9.9.9']);
    expect(sim.alias(LIST)).toMatchObject({ address: ['46.9.9.9'], detail: ['office'] });
    expect(appliesForStarts).toBeLessThan(20);
    expect(sim.counters).toMatchObject({ duplicateWrites: 0, replaces: 0, foreignTouched: 0, appliesWhileFull: 0, appliesIgnoringRetryAfter: 0, dispatcherRejections: 0 });
  }, 60_000);

  it('pfSense v1: 20 incidents × 20 IPs in half a second, then ended: applied, no duplicate write, no replace, the operator\'s entry stays', async () => {
    // Prepare
    const sim = await startPfSenseV1Simulator({
      loginProtection: false,
      realTime: true,
      cost: ONE_BOX_REAL_TIME_COST,
      aliases: [{ name: LIST, address: ['46.9.9.9'], detail: ['office'] }],
    });
    cleanups.push(() => sim.close());
    const relay = await relayFor(
      { type: 'pfsense', options: { url: sim.origin, apiVersion: 'v1', auth: 'basic', alias: LIST, allowInsecureHttp: true }, secrets: { username: { env: 'U' }, password: { env: 'P' } } },
      { U: 'admin', P: 'pfsense' },
    );
    const enforced = () => (sim.device.unappliedWrites === 0 ? new Set(sim.device.config.entries(LIST) ?? []) : new Set<string>());

    // Act
    const ips = await burst(relay, 'attack_start', 20, 20, 500);
    await until(() => ips.every((ip) => enforced().has(ip)), 'all 400 blocks written and applied');
    await burst(relay, 'attack_end', 20, 20, 500);
    await until(() => enforced().size === 1, 'every relay block removed and applied');

    // Assess
    expect(sim.device.aliasPairs(LIST)).toEqual([{ address: '46.9.9.9', detail: 'office' }]);
    expect(sim.device.violations).toEqual({ duplicateWrites: 0, foreignTouched: 0, replaces: 0 });
  }, 60_000);

  it('pfSense v2 with its apply queue filled by others: one refused apply, none more until Retry-After, then every block live', async () => {
    // Prepare: ten reloads of someone else run for 1.5 s; the package says Retry-After: 2.
    const { sim, relay } = await pfSenseV2Relay({ retryAfterSeconds: 2 });
    sim.occupyDispatcher(10, 1_500);

    // Act
    const ips = await burst(relay, 'attack_start', 20, 5, 500);
    await until(() => ips.every((ip) => live(sim).has(ip)), 'all blocks live once the queue has room', 30_000);

    // Assess
    expect(sim.counters.appliesWhileFull).toBe(1);
    expect(sim.counters.appliesIgnoringRetryAfter).toBe(0);
    expect(sim.counters.duplicateWrites).toBe(0);
  }, 60_000);
});

describe('a flushed pf table (pfctl -T flush, a reboot that loses runtime tables)', () => {
  it('pfSense v2: is found at the next drift check and repaired by reloading the filter, without writing the alias again', async () => {
    // Prepare
    const { sim, relay } = await pfSenseV2Relay();
    const ips = publicIps(5, 70);
    await post(relay, attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips }));
    await until(() => ips.every((ip) => live(sim).has(ip)), 'the blocks live');
    const writesBefore = sim.counters.configWrites;

    // Act
    sim.flushRuntimeTable(LIST);
    const flushed = live(sim).size;
    relay.engine.sweeper.lastDriftCheck?.clear();
    await relay.sweepNow();
    await until(() => ips.every((ip) => live(sim).has(ip)), 'the blocks live again');

    // Assess
    expect(flushed).toBe(0);
    expect(sim.counters.configWrites).toBe(writesBefore);
    expect(sim.counters.duplicateWrites).toBe(0);
  }, 60_000);

  it('pfSense v1: the limitation is reported: its health check says a flushed table cannot be detected', async () => {
    // Prepare
    const sim = await startPfSenseV1Simulator({ loginProtection: false });
    cleanups.push(() => sim.close());
    const relay = await relayFor(
      { type: 'pfsense', options: { url: sim.origin, apiVersion: 'v1', auth: 'basic', alias: LIST, allowInsecureHttp: true }, secrets: { username: { env: 'U' }, password: { env: 'P' } } },
      { U: 'admin', P: 'pfsense' },
    );

    // Act
    const health = await relay.engine.providers.get('edge')!.healthCheck({ signal: AbortSignal.timeout(10_000), logger: silentLogger });

    // Assess
    expect(health.detail).toContain('a flushed pf table cannot be detected on v1');
  }, 60_000);
});

function live(sim: { liveTable(name: string): string[] | undefined }): Set<string> {
  return new Set(sim.liveTable(LIST) ?? []);
}
