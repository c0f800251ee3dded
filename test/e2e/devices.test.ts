/**
 * End to end through the one-box relay, for each device API: signed
 * webhooks over HTTP into the real server, SQLite state and queue, workers
 * and sweeper, talking HTTP to a simulator of pfrest v1, pfrest v2 or
 * RouterOS REST on 127.0.0.1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { startOneBox, type OneBox } from '../../lib/runtime/one-box.ts';
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { startPfSenseV1Simulator } from '../simulators/pfsense-v1/server.ts';
import { startPfSenseV2Simulator } from '../simulators/pfsense-v2/server.ts';
import { RouterOsSimulator } from '../simulators/routeros/server.ts';

/** What the scenarios need from a simulated device, whatever its API. */
interface DeviceUnderTest {
  integration: Record<string, unknown>;
  env: Record<string, string>;
  /** The addresses the relay has on the device now. */
  addresses(): string[];
  setDown(down: boolean): Promise<void> | void;
  /** The device loses its entries (a reboot drops RouterOS timeout entries; an admin restore on pfSense). */
  loseEntries(): void;
  close(): Promise<void>;
}

const DEVICES: Record<string, () => Promise<DeviceUnderTest>> = {
  'pfSense (pfrest v1)': async () => {
    const sim = await startPfSenseV1Simulator({ loginProtection: false });
    const entries = () => sim.device.config.entries('flowtriq_blocked') ?? [];
    return {
      integration: { type: 'pfsense', options: { url: sim.origin, apiVersion: 'v1', auth: 'basic', allowInsecureHttp: true }, secrets: { username: { env: 'PF_USER' }, password: { env: 'PF_PASS' } } },
      env: { PF_USER: 'admin', PF_PASS: 'pfsense' },
      addresses: () => [...entries()].sort(),
      setDown: (down) => sim.device.setDown(down ? 'drop' : false),
      loseEntries: () => {
        const alias = sim.device.config.aliases.find((a) => a.name === 'flowtriq_blocked');
        if (alias) {
          alias.addresses = [];
          alias.details = [];
        }
      },
      close: () => sim.close(),
    };
  },
  'pfSense (pfrest v2)': async () => {
    const sim = await startPfSenseV2Simulator();
    return {
      integration: { type: 'pfsense', options: { url: sim.origin, apiVersion: 'v2', auth: 'basic', allowInsecureHttp: true }, secrets: { username: { env: 'PF_USER' }, password: { env: 'PF_PASS' } } },
      env: { PF_USER: 'admin', PF_PASS: 'pfsense' },
      addresses: () => [...(sim.sim.alias('flowtriq_blocked')?.address ?? [])].sort(),
      setDown: (down) => sim.sim.setDown(down ? 'reset' : false),
      loseEntries: () => sim.sim.editAlias('flowtriq_blocked', { address: [], detail: [] }),
      close: () => sim.close(),
    };
  },
  'MikroTik RouterOS': async () => {
    const sim = await RouterOsSimulator.start();
    return {
      integration: { type: 'routeros', options: { url: sim.origin, allowInsecureHttp: true }, secrets: { username: { env: 'MT_USER' }, password: { env: 'MT_PASS' } } },
      env: { MT_USER: 'relay', MT_PASS: 'relay-password' },
      addresses: () => [...sim.device.entries(4, 'flowtriq_blocked'), ...sim.device.entries(6, 'flowtriq_blocked')].map((entry) => entry.address!.replace(/\/128$/, '')).sort(),
      setDown: (down) => sim.setDown(down ? 'refused' : false),
      loseEntries: () => void sim.device.reboot(),
      close: () => sim.close(),
    };
  },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(makeDevice: () => Promise<DeviceUnderTest>) {
  const device = await makeDevice();
  cleanups.push(() => device.close());
  const dir = mkdtempSync(join(tmpdir(), 'relay-devices-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({
    storage: { dir },
    webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
    sweeper: { interval: '1h', driftCheck: '1m' },
    integrations: [{ id: 'edge', ttl: '1h', ...device.integration }],
  });
  const relay: OneBox = await startOneBox({
    loaded: { config, file: join(dir, 'relay.config.yaml'), defaultedToDryRun: false },
    logger: silentLogger,
    env: { ...device.env, HOOK_SECRET: TEST_SECRET },
    port: 0,
    sweeper: false,
  });
  cleanups.push(() => relay.stop());
  const send = async (event: ReturnType<typeof attackEvent>) => {
    const body = JSON.stringify(event);
    const response = await fetch(relay.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-flowtriq-signature': signFlowtriq(TEST_SECRET, body) },
      body,
    });
    expect(response.status).toBe(202);
    await relay.idle();
  };
  return { device, relay, send };
}

describe.each(Object.entries(DEVICES))('%s through the one-box relay', (_name, makeDevice) => {
  it('adds on attack_start, adds only the new IPs on attack_update, removes on attack_end', async () => {
    // Prepare
    const { device, send } = await setup(makeDevice);
    const [a, b, c] = publicIps(3, 48) as [string, string, string];
    const v6 = '2a0e:97c0:3e0::7';
    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips: [a, b, v6] }));
    const afterStart = device.addresses();
    await send(attackEvent({ type: 'attack_update', uuid: 'inc-1', at: Date.now() + 1, ips: [a, b, c] }));
    const afterUpdate = device.addresses();
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-1', at: Date.now() + 2 }));
    // Assess
    expect(afterStart).toEqual([a, b, v6].sort());
    expect(afterUpdate).toEqual([a, b, c, v6].sort());
    expect(device.addresses()).toEqual([]);
  }, 60_000);

  it('keeps an IP another active incident still holds', async () => {
    // Prepare
    const { device, send } = await setup(makeDevice);
    const [shared, only] = publicIps(2, 49) as [string, string];
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: Date.now(), ips: [shared, only] }));
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-b', at: Date.now(), ips: [shared] }));
    // Act
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: Date.now() + 1 }));
    // Assess
    expect(device.addresses()).toEqual([shared]);
  }, 60_000);

  it('retries a removal that failed while the device was down and finishes it after recovery', async () => {
    // Prepare
    const { device, relay, send } = await setup(makeDevice);
    const ips = publicIps(3, 50);
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips }));
    await device.setDown(true);
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-1', at: Date.now() + 1 }));
    const stillThere = device.addresses();
    // Act
    await device.setDown(false);
    const retryAt = Math.max(...(await relay.store.listBlocks()).map((block) => block.dueAt ?? 0));
    const early = await relay.sweepNow();
    const afterEarlySweep = device.addresses();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, retryAt - Date.now()) + 50));
    await relay.sweepNow();
    // Assess
    expect(stillThere).toEqual([...ips].sort());
    expect(early.integrations.reduce((n, s) => n + s.removed, 0)).toBe(0);
    expect(afterEarlySweep).toEqual([...ips].sort());
    expect(device.addresses()).toEqual([]);
    expect(await relay.store.listBlocks()).toEqual([]);
  }, 60_000);

  it('gives a device that lost its entries mid-attack its entries back (drift repair)', async () => {
    // Prepare
    const { device, relay, send } = await setup(makeDevice);
    const ips = publicIps(4, 51);
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips }));
    device.loseEntries();
    const lost = device.addresses();
    // Act: the next sweep after the drift interval (the start-up sweep already compared once).
    relay.engine.sweeper.lastDriftCheck?.clear();
    await relay.sweepNow();
    // Assess
    expect(lost).toEqual([]);
    expect(device.addresses()).toEqual([...ips].sort());
  }, 60_000);
});
