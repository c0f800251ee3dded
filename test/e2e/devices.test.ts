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
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { postSignedEvent } from '../helpers/webhook-client.ts';
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
  /** The operator adds an entry of their own (their description or comment) to the relay's list, by hand. */
  addOperatorEntry(ip: string): void;
  /** The operator's entries still on the device, each with its own description/comment beside it. */
  operatorEntries(): string[];
  /** What the simulator flagged: duplicate writes, operator entries touched, whole-list replaces. */
  violations(): Record<string, number>;
  close(): Promise<void>;
}

/** Entries the operator keeps in the list before the relay ever starts. */
interface DeviceSetup {
  operator?: string[];
}

const LIST = 'flowtriq_blocked';

const DEVICES: Record<string, (setup?: DeviceSetup) => Promise<DeviceUnderTest>> = {
  'pfSense (pfrest v1)': async (setup = {}) => {
    const sim = await startPfSenseV1Simulator({
      loginProtection: false,
      ...(setup.operator ? { aliases: [{ name: LIST, address: setup.operator, detail: setup.operator.map((ip) => `office ${ip}`) }] } : {}),
    });
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
      addOperatorEntry: (ip) => sim.device.adminAddEntry(LIST, ip, `office ${ip}`),
      operatorEntries: () =>
        (sim.device.aliasPairs(LIST) ?? []).filter((pair) => pair.detail === `office ${pair.address}`).map((pair) => pair.address).sort(),
      violations: () => ({ ...sim.device.violations }),
      close: () => sim.close(),
    };
  },
  'pfSense (pfrest v2)': async (setup = {}) => {
    const sim = await startPfSenseV2Simulator(
      setup.operator ? { aliases: [{ name: LIST, type: 'host', descr: 'shared', address: setup.operator, detail: setup.operator.map((ip) => `office ${ip}`) }] } : {},
    );
    return {
      integration: { type: 'pfsense', options: { url: sim.origin, apiVersion: 'v2', auth: 'basic', allowInsecureHttp: true }, secrets: { username: { env: 'PF_USER' }, password: { env: 'PF_PASS' } } },
      env: { PF_USER: 'admin', PF_PASS: 'pfsense' },
      addresses: () => [...(sim.sim.alias('flowtriq_blocked')?.address ?? [])].sort(),
      setDown: (down) => sim.sim.setDown(down ? 'reset' : false),
      loseEntries: () => sim.sim.editAlias('flowtriq_blocked', { address: [], detail: [] }),
      addOperatorEntry: (ip) => sim.sim.adminAdd(LIST, ip, `office ${ip}`),
      operatorEntries: () => {
        const alias = sim.sim.alias(LIST);
        return (alias?.address ?? []).filter((address, i) => alias?.detail[i] === `office ${address}`).sort();
      },
      violations: () => {
        const { duplicateWrites, foreignTouched, replaces } = sim.sim.counters;
        return { duplicateWrites, foreignTouched, replaces };
      },
      close: () => sim.close(),
    };
  },
  'MikroTik RouterOS': async (setup = {}) => {
    const sim = await RouterOsSimulator.start();
    for (const ip of setup.operator ?? []) sim.device.adminAdd(4, { list: LIST, address: ip, comment: `office` });
    return {
      integration: { type: 'routeros', options: { url: sim.origin, allowInsecureHttp: true }, secrets: { username: { env: 'MT_USER' }, password: { env: 'MT_PASS' } } },
      env: { MT_USER: 'relay', MT_PASS: 'relay-password' },
      addresses: () => [...sim.device.entries(4, 'flowtriq_blocked'), ...sim.device.entries(6, 'flowtriq_blocked')].map((entry) => entry.address!.replace(/\/128$/, '')).sort(),
      setDown: (down) => sim.setDown(down ? 'refused' : false),
      loseEntries: () => void sim.device.reboot(),
      addOperatorEntry: (ip) => void sim.device.adminAdd(4, { list: LIST, address: ip, comment: 'office' }),
      operatorEntries: () => sim.device.stored(4, LIST).filter((entry) => entry.comment === 'office').map((entry) => entry.address).sort(),
      violations: () => ({ duplicateWrites: sim.device.duplicateWrites, foreignTouched: sim.device.foreignTouched }),
      close: () => sim.close(),
    };
  },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(makeDevice: (setup?: DeviceSetup) => Promise<DeviceUnderTest>, deviceSetup: DeviceSetup = {}) {
  const device = await makeDevice(deviceSetup);
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
    expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);
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

  it('blocks the attackers of two different attack_updates sent in the same second (neither is a duplicate)', async () => {
    // Prepare: both updates carry the same incident, type and timestamp, with different attackers.
    const { device, send } = await setup(makeDevice);
    const [a, b, c, d] = publicIps(4, 52) as [string, string, string, string];
    const at = Math.floor(Date.now() / 1000) * 1000;
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: at - 1000, ips: [a] }));
    // Act
    await send(attackEvent({ type: 'attack_update', uuid: 'inc-1', at, ips: [a, b] }));
    await send(attackEvent({ type: 'attack_update', uuid: 'inc-1', at, ips: [a, c, d] }));
    // Assess
    expect(device.addresses()).toEqual([a, b, c, d].sort());
  }, 60_000);

  it('never touches the operator\'s own entries in the list: at the first drift check, at drift checks during the attack, at attack_end', async () => {
    // Prepare: the operator keeps two permanent entries in the relay's list before the relay starts.
    const [kept1, kept2, attacker1, attacker2, byHand] = publicIps(5, 53) as [string, string, string, string, string];
    const { device, relay, send } = await setup(makeDevice, { operator: [kept1, kept2] });
    const driftCheck = async () => {
      relay.engine.sweeper.lastDriftCheck?.clear();
      await relay.sweepNow();
    };

    // Act: an attack that includes one of the operator's addresses; the operator adds one more by hand meanwhile.
    await driftCheck();
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-1', at: Date.now(), ips: [attacker1, attacker2, kept2] }));
    device.addOperatorEntry(byHand);
    await driftCheck();
    const during = device.addresses();
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-1', at: Date.now() + 1 }));
    await driftCheck();

    // Assess
    expect(during).toEqual(expect.arrayContaining([attacker1, attacker2, kept1, kept2, byHand]));
    expect(device.operatorEntries()).toEqual([kept1, kept2, byHand].sort());
    expect(device.addresses()).toEqual([kept1, kept2, byHand].sort());
    expect(Object.values(device.violations()).every((count) => count === 0), JSON.stringify(device.violations())).toBe(true);
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

describe.each(['prefix128', 'bare'] as const)('RouterOS listing IPv6 hosts as %s, through the one-box relay', (form) => {
  it('adds and removes its IPv6 entries, and leaves the operator\'s IPv6 entry alone', async () => {
    // Prepare
    const operatorV6 = '2a0e:97c0:3e0::99';
    const attackerV6 = '2a0e:97c0:3e0::7';
    const { device, send } = await setup(async () => {
      const sim = await RouterOsSimulator.start({ ipv6HostForm: form });
      sim.device.adminAdd(6, { list: LIST, address: form === 'bare' ? operatorV6 : `${operatorV6}/128`, comment: 'office' });
      const relayV6 = () => sim.device.stored(6, LIST).filter((entry) => entry.comment === 'flowtriq-relay').map((entry) => entry.address);
      return {
        integration: { type: 'routeros', options: { url: sim.origin, allowInsecureHttp: true }, secrets: { username: { env: 'MT_USER' }, password: { env: 'MT_PASS' } } },
        env: { MT_USER: 'relay', MT_PASS: 'relay-password' },
        addresses: relayV6,
        setDown: (down) => sim.setDown(down ? 'refused' : false),
        loseEntries: () => void sim.device.reboot(),
        addOperatorEntry: () => undefined,
        operatorEntries: () => sim.device.stored(6, LIST).filter((entry) => entry.comment === 'office').map((entry) => entry.address),
        violations: () => ({ duplicateWrites: sim.device.duplicateWrites, foreignTouched: sim.device.foreignTouched }),
        close: () => sim.close(),
      };
    });

    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-v6', at: Date.now(), ips: [attackerV6, operatorV6] }));
    const during = device.addresses();
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-v6', at: Date.now() + 1 }));

    // Assess
    expect(during.map((address) => address.replace(/\/128$/, ''))).toEqual([attackerV6]);
    expect(device.addresses()).toEqual([]);
    expect(device.operatorEntries()).toHaveLength(1);
    expect(device.violations()).toEqual({ duplicateWrites: 0, foreignTouched: 0 });
  }, 60_000);
});
