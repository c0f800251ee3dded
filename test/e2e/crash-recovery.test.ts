/**
 * kill -9 in the middle of a device batch, then a restart: the relay as an
 * operator runs it (`relay start --config …` as a child process, SQLite in
 * its directory), against the RouterOS, pfSense v1 and pfSense v2
 * simulators on 127.0.0.1 answering at 35 ms per request + 1 ms per entry in
 * real time.
 *
 * Must hold: within 10 s of the restart the device enforces exactly the
 * active incidents' blocks (pfSense: the alias written *and* the filter
 * reloaded), and a new incident sent right after the restart is served at
 * normal speed (the dead process's lease does not stall it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { postSignedEvent, waitFor } from '../helpers/webhook-client.ts';
import { ONE_BOX_REAL_TIME_COST } from '../simulators/pfsense-v1/device.ts';
import { startPfSenseV1Simulator } from '../simulators/pfsense-v1/server.ts';
import { REALTIME_BENCH_COST } from '../simulators/pfsense-v2/index.ts';
import { startPfSenseV2Simulator } from '../simulators/pfsense-v2/server.ts';
import { RouterOsSimulator } from '../simulators/routeros/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RELAY = join(ROOT, 'bin', 'relay.mjs');
const LIST = 'flowtriq_blocked';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startRelay(dir: string): Promise<{ child: ChildProcess; webhookUrl: string; exited: Promise<void> }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOOK_SECRET: TEST_SECRET, DEV_USER: 'relay', DEV_PASS: 'relay-password', RELAY_LOG_LEVEL: 'WARN' };
  delete env.RELAY_CONFIG;
  delete env.FLOWTRIQ_WEBHOOK_SECRET;
  const child = spawn(process.execPath, [RELAY, 'start', '--config', join(dir, 'relay.config.json'), '--port', '0'], { cwd: dir, env });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stdout!.resume();
  const webhookUrl = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${stderr}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /webhook URL:\s+(\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}:\n${stderr}`)));
  });
  return webhookUrl.then((url) => ({ child, webhookUrl: url, exited }));
}



async function send(webhookUrl: string, event: ReturnType<typeof attackEvent>): Promise<void> {
  expect(await postSignedEvent(webhookUrl, event)).toBe(202);
}

/** A device in real time, with what the relay has enforced on it. */
interface CrashDevice {
  integration: Record<string, unknown>;
  /** Addresses the device enforces now (pfSense: only once the filter has been reloaded). */
  enforced(): Set<string>;
  requests(): number;
  duplicateWrites(): number;
  /** The operator's own entry (OPERATOR_IP), still there with its own comment or description. */
  operatorEntryIntact(): boolean;
  close(): Promise<void>;
}

/** An entry the operator keeps in the relay's list before the relay ever starts. */
const OPERATOR_IP = '46.9.9.9';

const SECRETS = { username: { env: 'DEV_USER' }, password: { env: 'DEV_PASS' } };
const USERS = { username: 'relay', password: 'relay-password' };

const DEVICES: Record<string, () => Promise<CrashDevice>> = {
  'MikroTik RouterOS': async () => {
    const sim = await RouterOsSimulator.start({ ...USERS, cost: { requestMs: 35, entryMs: 1 }, realDelayFactor: 1 });
    sim.device.adminAdd(4, { list: LIST, address: OPERATOR_IP, comment: 'office' });
    return {
      integration: { type: 'routeros', options: { url: sim.origin, allowInsecureHttp: true, list: LIST }, secrets: SECRETS },
      enforced: () => new Set(sim.device.stored(4, LIST).map((entry) => entry.address)),
      requests: () => sim.device.totalRequests,
      duplicateWrites: () => sim.device.duplicateWrites,
      operatorEntryIntact: () => sim.device.stored(4, LIST).some((entry) => entry.address === OPERATOR_IP && entry.comment === 'office'),
      close: () => sim.close(),
    };
  },
  'pfSense (pfrest v1)': async () => {
    const sim = await startPfSenseV1Simulator({
      loginProtection: false,
      users: [{ ...USERS, privileges: ['page-all'] }],
      realTime: true,
      cost: ONE_BOX_REAL_TIME_COST,
      aliases: [{ name: LIST, address: [OPERATOR_IP], detail: ['office'] }],
    });
    return {
      integration: { type: 'pfsense', options: { url: sim.origin, apiVersion: 'v1', auth: 'basic', alias: LIST, allowInsecureHttp: true }, secrets: SECRETS },
      // v1 cannot read pf's table: enforced = in the alias and no write waiting for a reload.
      enforced: () => (sim.device.unappliedWrites === 0 ? new Set(sim.device.config.entries(LIST) ?? []) : new Set()),
      requests: () => sim.device.totalRequests,
      duplicateWrites: () => sim.device.violations.duplicateWrites + sim.device.violations.foreignTouched + sim.device.violations.replaces,
      operatorEntryIntact: () => (sim.device.aliasPairs(LIST) ?? []).some((pair) => pair.address === OPERATOR_IP && pair.detail === 'office'),
      close: () => sim.close(),
    };
  },
  'pfSense (pfrest v2)': async () => {
    const running = await startPfSenseV2Simulator({
      users: { [USERS.username]: USERS.password },
      realTime: true,
      cost: REALTIME_BENCH_COST,
      chargeEntries: 'request',
      aliases: [{ name: LIST, type: 'host', descr: 'shared', address: [OPERATOR_IP], detail: ['office'] }],
    });
    return {
      integration: { type: 'pfsense', options: { url: running.origin, apiVersion: 'v2', auth: 'basic', alias: LIST, allowInsecureHttp: true }, secrets: SECRETS },
      enforced: () => new Set(running.sim.liveTable(LIST) ?? []),
      requests: () => running.sim.counters.requests,
      duplicateWrites: () => running.sim.counters.duplicateWrites + running.sim.counters.foreignTouched + running.sim.counters.replaces,
      operatorEntryIntact: () => {
        const alias = running.sim.alias(LIST);
        return (alias?.address ?? []).some((address, i) => address === OPERATOR_IP && alias?.detail[i] === 'office');
      },
      close: () => running.close(),
    };
  },
};

describe.each(Object.entries(DEVICES))('crash recovery on %s (kill -9 mid-batch)', (_name, makeDevice) => {
  it('enforces exactly the active incidents\' blocks within 10 s of the restart, and serves a new incident at once', async () => {
    // Prepare: a device at 35 ms per request + 1 ms per entry, and a relay that uses it.
    const device = await makeDevice();
    cleanups.push(() => device.close());
    const dir = mkdtempSync(join(tmpdir(), 'relay-crash-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'relay.config.json'),
      JSON.stringify({
        storage: { dir: join(dir, 'state') },
        webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
        sweeper: { interval: '2s', driftCheck: '1h' },
        integrations: [{ id: 'edge', ttl: '1h', ...device.integration }],
      }),
    );
    const first = await startRelay(dir);
    const attackers = publicIps(500);
    // Exactly the active incidents' blocks, beside the operator's own entry.
    const exactly = (wanted: string[]) => () => {
      const held = device.enforced();
      return held.size === wanted.length + 1 && held.has(OPERATOR_IP) && wanted.every((ip) => held.has(ip));
    };

    // Act: kill -9 while the 500-address batch is being written.
    const before = device.requests();
    await send(first.webhookUrl, attackEvent({ type: 'attack_start', uuid: 'inc-crash', at: Date.now(), ips: attackers }));
    await waitFor(() => device.requests() > before + 1, 'the batch to reach the device', 10_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const restartedAt = Date.now();
    const second = await startRelay(dir);
    await waitFor(exactly(attackers), 'the device to enforce exactly the 500 blocks', 15_000);
    const sinceRestartMs = Date.now() - restartedAt;
    const fresh = publicIps(520).slice(500);
    const sentAt = Date.now();
    await send(second.webhookUrl, attackEvent({ type: 'attack_start', uuid: 'inc-new', at: Date.now(), ips: fresh }));
    await waitFor(() => fresh.every((ip) => device.enforced().has(ip)), 'the new incident to be enforced', 10_000);
    const newIncidentMs = Date.now() - sentAt;

    // Assess
    expect(sinceRestartMs).toBeLessThanOrEqual(10_000);
    expect(newIncidentMs).toBeLessThan(3_000);
    expect(device.duplicateWrites()).toBe(0);
    expect(device.operatorEntryIntact()).toBe(true);
  }, 60_000);
});
