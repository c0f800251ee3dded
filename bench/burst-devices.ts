/**
 * The devices of the burst section, each a simulator on 127.0.0.1 that
 * serves one request at a time and sleeps its modelled cost in real time:
 * 35 ms per request + 1 ms per entry.
 */
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

export const BURST_DEVICES: (() => Promise<BurstDevice>)[] = [routerOsBurstDevice];
