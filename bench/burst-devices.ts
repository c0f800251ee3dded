/**
 * The devices of the burst section, each a simulator on 127.0.0.1 that
 * serves one request at a time and sleeps its modelled cost in real time:
 * 35 ms per request + 1 ms per entry.
 */
import { REALTIME_BENCH_COST } from '../test/simulators/pfsense-v2/index.ts';
import { startPfSenseV2Simulator } from '../test/simulators/pfsense-v2/server.ts';
import { RouterOsSimulator } from '../test/simulators/routeros/server.ts';
import type { BurstDevice } from './burst.ts';

const LIST = 'flowtriq_blocked';
const COMMENT = 'flowtriq-relay';
const ROUTER_USER = { username: 'relay', password: 'relay-password' };

export async function routerOsBurstDevice(): Promise<BurstDevice> {
  const sim = await RouterOsSimulator.start({ ...ROUTER_USER, cost: { requestMs: 35, entryMs: 1 }, realDelayFactor: 1 });
  return {
    name: 'RouterOS v7 REST',
    integration: {
      type: 'routeros',
      options: { url: sim.origin, allowInsecureHttp: true, list: LIST, comment: COMMENT },
      secrets: { username: { env: 'MT_USER' }, password: { env: 'MT_PASS' } },
    },
    env: { MT_USER: ROUTER_USER.username, MT_PASS: ROUTER_USER.password },
    addresses: () => new Set(sim.device.stored(4, LIST).filter((entry) => entry.comment === COMMENT).map((entry) => entry.address)),
    requests: () => sim.device.totalRequests,
    duplicateWrites: () => sim.device.duplicateWrites,
    close: () => sim.close(),
  };
}

/**
 * pfSense v2: "holds" means the live pf table (what pf enforces after the
 * asynchronous filter reload), not the alias in config.xml.
 */
export async function pfSenseV2BurstDevice(): Promise<BurstDevice> {
  const running = await startPfSenseV2Simulator({ realTime: true, cost: REALTIME_BENCH_COST, chargeEntries: 'request', keepLog: false });
  const { sim } = running;
  return {
    name: 'pfSense v2 (pfrest)',
    integration: {
      type: 'pfsense',
      options: { url: running.origin, apiVersion: 'v2', auth: 'basic', alias: LIST, allowInsecureHttp: true },
      secrets: { username: { env: 'PF_USER' }, password: { env: 'PF_PASS' } },
    },
    env: { PF_USER: 'admin', PF_PASS: 'pfsense' },
    addresses: () => new Set(sim.liveTable(LIST) ?? []),
    requests: () => sim.counters.requests,
    duplicateWrites: () => sim.counters.duplicateWrites,
    extra: () => ({
      'applies while full': sim.counters.appliesWhileFull,
      'applies before Retry-After': sim.counters.appliesIgnoringRetryAfter,
      'operator entries touched': sim.counters.foreignTouched,
      'whole-list replaces': sim.counters.replaces,
    }),
    close: () => running.close(),
  };
}

export const BURST_DEVICES: (() => Promise<BurstDevice>)[] = [routerOsBurstDevice, pfSenseV2BurstDevice];
