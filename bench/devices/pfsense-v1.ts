/**
 * pfSense v1 (pfSense-pkg-API) device bench: the relay's adapter against the
 * per-IP approach Flowtriq's own integration uses, on the simulator
 * (test/simulators/pfsense-v1), for 20, 1,000 and 10,000 addresses.
 *
 * Both approaches run in the same process against fresh simulated firewalls
 * that already hold an empty host alias (the per-IP baseline expects the
 * operator to create it), with local (Basic) authentication, through the
 * simulator's in-process transport: requests go through the same routing,
 * validation and counters as over HTTP, without sockets, so the bench is
 * fast and prints nothing.
 *
 * - relay: `PfSenseV1Provider.add` then `.remove` with the whole list as one
 *   batch (GET alias, one POST/DELETE alias/entry, one POST apply each).
 * - per-IP: one `POST /api/v1/firewall/alias/entry {"address":[ip],"apply":false}`
 *   per address, then one `POST /api/v1/firewall/apply`; removal the same
 *   with `DELETE /api/v1/firewall/alias/entry`.
 *
 * Request counts come from the simulator's counters. Times are simulated
 * firewall time on the virtual clock, under the cost model of
 * test/simulators/pfsense-v1/cost-model.ts: 60 ms per request plus 0.5 ms
 * per alias entry the request makes the firewall handle (entries sent, entries
 * a GET returns, and every entry reloaded by a filter apply).
 *
 * Target: 1,000 addresses added and removed in at most 8 device requests.
 */
import { pfsenseIntegrationSchema } from '../../lib/config/schema.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { PfSenseV1Provider } from '../../lib/providers/pfsense/v1/provider.ts';
import type { BlockEntry, ProviderContext } from '../../lib/providers/types.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { type CostModel, DEFAULT_COST_MODEL } from '../../test/simulators/pfsense-v1/cost-model.ts';
import { PfSenseV1Device } from '../../test/simulators/pfsense-v1/device.ts';
import type { DeviceBenchRow } from './types.ts';


const API = 'pfsense-v1';
const SIZES = [20, 1_000, 10_000] as const;
const ORIGIN = 'https://pfsense.bench.invalid';
const ALIAS = 'flowtriq_blocked';
const USER = 'relay';
const PASSWORD = 'bench-password';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
/** The cost model the numbers are measured under (the simulator's default). */
export const PFSENSE_V1_BENCH_COST: CostModel = DEFAULT_COST_MODEL;

/** Runs both approaches for each size; resolves to one row per approach and size. */
export async function benchPfSenseV1(): Promise<DeviceBenchRow[]> {
  const rows: DeviceBenchRow[] = [];
  for (const size of SIZES) {
    const ips = addresses(size);
    rows.push(await measure(size, 'relay', (device) => relayApproach(device.transport(), ips)));
    rows.push(await measure(size, 'per-ip', (device) => perIpApproach(device.transport(), ips)));
  }
  return rows;
}

interface Phases {
  add(): Promise<void>;
  remove(): Promise<void>;
}

async function measure(
  size: number,
  approach: DeviceBenchRow['approach'],
  build: (device: PfSenseV1Device) => Phases,
): Promise<DeviceBenchRow> {
  const device = new PfSenseV1Device({
    users: [{ username: USER, password: PASSWORD, privileges: ['page-all'] }],
    aliases: [{ name: ALIAS, type: 'host' }],
    loginProtection: false,
    cost: PFSENSE_V1_BENCH_COST,
    keepLog: false,
    writeAnswer: 'none',
  });
  const phases = build(device);

  const startAdd = snapshot(device);
  await phases.add();
  const afterAdd = snapshot(device);
  if ((device.config.live.get(ALIAS)?.length ?? 0) !== size) throw new Error(`${approach}: ${size} addresses were not all applied`);
  await phases.remove();
  const afterRemove = snapshot(device);
  if ((device.config.live.get(ALIAS)?.length ?? -1) !== 0) throw new Error(`${approach}: addresses were left behind`);

  return {
    api: API,
    ips: size,
    approach,
    addRequests: afterAdd.requests - startAdd.requests,
    removeRequests: afterRemove.requests - afterAdd.requests,
    addSimMs: afterAdd.ms - startAdd.ms,
    removeSimMs: afterRemove.ms - afterAdd.ms,
  };
}

function snapshot(device: PfSenseV1Device): { requests: number; ms: number } {
  return { requests: device.totalRequests, ms: device.clock.nowMs };
}

function relayApproach(transport: Transport, ips: string[]): Phases {
  const config = pfsenseIntegrationSchema.parse({
    id: 'bench',
    type: 'pfsense',
    options: { url: ORIGIN, apiVersion: 'v1', auth: 'basic', alias: ALIAS, allowInsecureHttp: true },
    secrets: { username: { env: 'UNUSED' }, password: { env: 'UNUSED' } },
  });
  // No apply gap: add and remove are measured apart, and a gap would only add real
  // waiting that the virtual clock does not see.
  const provider = new PfSenseV1Provider(config, {
    transport,
    tls: {},
    secrets: { username: USER, password: PASSWORD },
    applyGapMs: 0,
  });
  const ctx: ProviderContext = { signal: new AbortController().signal, logger: silentLogger };
  const batch: BlockEntry[] = ips.map((ip) => ({ ip, expiresAt: Date.now() + 3_600_000, incidents: ['bench'] }));
  const check = (results: Array<{ ok: boolean }>) => {
    if (!results.every((result) => result.ok)) throw new Error('relay: an entry failed');
  };
  return {
    add: async () => check(await provider.add(batch, ctx)),
    remove: async () => check(await provider.remove(batch, ctx)),
  };
}

/** Flowtriq's integration: one request per address, then apply. */
function perIpApproach(transport: Transport, ips: string[]): Phases {
  const send = async (method: string, path: string, body: unknown) => {
    const response = await transport.request({
      method,
      url: `${ORIGIN}${path}`,
      headers: { Authorization: BASIC, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: 30_000,
    });
    if (response.status !== 200) throw new Error(`per-ip: ${method} ${path} answered ${response.status}`);
  };
  return {
    add: async () => {
      for (const ip of ips) await send('POST', '/api/v1/firewall/alias/entry', { name: ALIAS, address: [ip], apply: false });
      await send('POST', '/api/v1/firewall/apply', { async: true });
    },
    remove: async () => {
      for (const ip of ips) await send('DELETE', '/api/v1/firewall/alias/entry', { name: ALIAS, address: [ip], apply: false });
      await send('POST', '/api/v1/firewall/apply', { async: true });
    },
  };
}

/** `count` distinct documentation/test-range-like IPv4 addresses, with a few IPv6 mixed in. */
function addresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    i % 10 === 9 ? `2001:db8::${(i + 1).toString(16)}` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  );
}
