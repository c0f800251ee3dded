/**
 * RouterOS REST: the relay's adapter against the per-IP approach (what
 * Flowtriq's own integration does: one PUT per IP to add; one GET plus one
 * DELETE per IP to remove), for 20, 1,000 and 10,000 IPv4 addresses, on the
 * RouterOS simulator in the same run.
 *
 * Cost model of the simulated router: 35 ms per request, 1 ms per entry
 * added or removed, {@link READ_ENTRY_MS} per entry returned by a read.
 * Requests are served one at a time, as RouterOS's www service does, so
 * simulated time is the sum of the costs. Time is virtual: nothing sleeps,
 * and no socket is opened (the simulator's in-process transport).
 *
 * Targets: 1,000 IPs added and removed in at most 8 device requests; 10,000
 * IPs added in at most 15 s of simulated time. Removing 10,000 IPs cannot
 * take less than 10 s here: each removed entry costs 1 ms, so the adapter's
 * remove is its floor plus one request per script and the read-back.
 *
 * Prints nothing; throws if any add or remove did not fully succeed, or if
 * the simulator flagged a duplicate write or a touched operator entry.
 */
import { routerosIntegrationSchema } from '../../lib/config/schema.ts';
import { RouterOsProvider } from '../../lib/providers/routeros/provider.ts';
import type { BlockEntry, ProviderContext } from '../../lib/providers/types.ts';
import type { Logger } from '../../lib/log/types.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { RouterOsSimulator } from '../../test/simulators/routeros/server.ts';
import type { DeviceBenchRow } from './types.ts';


const API = 'RouterOS v7 REST';
const SIZES = [20, 1_000, 10_000] as const;
const REQUEST_MS = 35;
const ENTRY_MS = 1;
/**
 * Reads are not in the brief's cost model; a filtered print of four short
 * properties is assumed to cost a tenth of a write per entry.
 */
export const READ_ENTRY_MS = 0.1;
const LIST = 'flowtriq_blocked';
const COMMENT = 'flowtriq-relay';
const USER = { username: 'bench', password: 'bench-password' };
const ORIGIN = 'http://192.0.2.1';

const silent: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

function simulator(): RouterOsSimulator {
  return RouterOsSimulator.inProcess({ ...USER, cost: { requestMs: REQUEST_MS, entryMs: ENTRY_MS, readEntryMs: READ_ENTRY_MS } });
}

/** Distinct addresses in 198.18.0.0/15 (benchmarking range). */
function addresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
}

/** Runs `work` and returns the requests and simulated ms it cost. */
async function measure(sim: RouterOsSimulator, work: () => Promise<void>): Promise<{ requests: number; simMs: number }> {
  const requests = sim.device.totalRequests;
  const started = sim.device.now();
  await work();
  return { requests: sim.device.totalRequests - requests, simMs: Math.round((sim.device.now() - started) * 10) / 10 };
}

function assertEmpty(sim: RouterOsSimulator, label: string): void {
  const left = sim.device.entries(4, LIST).length;
  if (left !== 0) throw new Error(`routeros bench (${label}): ${left} entries left on the list after remove`);
}

/** The adapter must never write the same thing twice nor touch an operator's entry. */
function assertCareful(sim: RouterOsSimulator, label: string): void {
  const { duplicateWrites, foreignTouched, scripts } = sim.device;
  const identical = scripts.length - new Set(scripts).size;
  if (duplicateWrites > 0 || foreignTouched > 0 || identical > 0) {
    throw new Error(
      `routeros bench (${label}): ${duplicateWrites} duplicate writes, ${identical} identical scripts, ${foreignTouched} operator entries touched`,
    );
  }
}

async function relay(ips: string[]): Promise<DeviceBenchRow> {
  const sim = simulator();
  const config = routerosIntegrationSchema.parse({
    id: 'bench-routeros',
    type: 'routeros',
    options: { url: ORIGIN, list: LIST, comment: COMMENT, allowInsecureHttp: true },
    secrets: { username: { env: 'BENCH_ROUTEROS_USER' }, password: { env: 'BENCH_ROUTEROS_PASSWORD' } },
  });
  const provider = new RouterOsProvider(config, USER, sim.transport(), {});
  const ctx: ProviderContext = { signal: new AbortController().signal, logger: silent };
  const expiresAt = Date.now() + 3_600_000;
  const entries: BlockEntry[] = ips.map((ip) => ({ ip, expiresAt, incidents: [] }));
  const add = await measure(sim, async () => {
    const results = await provider.add(entries, ctx);
    const failed = results.filter((result) => !result.ok).length;
    if (failed > 0 || sim.device.entries(4, LIST).length !== ips.length) {
      throw new Error(`routeros bench (relay add ${ips.length}): ${failed} failed`);
    }
  });
  const remove = await measure(sim, async () => {
    const results = await provider.remove(entries, ctx);
    const failed = results.filter((result) => !result.ok).length;
    if (failed > 0) throw new Error(`routeros bench (relay remove ${ips.length}): ${failed} failed`);
  });
  assertEmpty(sim, `relay ${ips.length}`);
  assertCareful(sim, `relay ${ips.length}`);
  await sim.close();
  return row(ips.length, 'relay', add, remove);
}

/** The per-IP approach, written the obvious way against the same transport. */
async function perIp(ips: string[]): Promise<DeviceBenchRow> {
  const sim = simulator();
  const transport = sim.transport();
  const authorization = `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}`;
  const menu = `${ORIGIN}/rest/ip/firewall/address-list`;
  const send = async (method: string, url: string, body?: unknown) => {
    const response = await call(transport, method, url, authorization, body);
    if (response.status >= 300) throw new Error(`routeros bench (per-ip): ${method} answered ${response.status}`);
    return response.text;
  };
  const add = await measure(sim, async () => {
    for (const address of ips) await send('PUT', menu, { list: LIST, address, timeout: '1h', comment: COMMENT });
  });
  const remove = await measure(sim, async () => {
    for (const address of ips) {
      const query = new URLSearchParams({ list: LIST, address, '.proplist': '.id' });
      const found = JSON.parse(await send('GET', `${menu}?${query.toString()}`)) as Array<{ '.id': string }>;
      for (const entry of found) await send('DELETE', `${menu}/${entry['.id']}`);
    }
  });
  assertEmpty(sim, `per-ip ${ips.length}`);
  await sim.close();
  return row(ips.length, 'per-ip', add, remove);
}

async function call(
  transport: Transport,
  method: string,
  url: string,
  authorization: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const response = await transport.request({
    method,
    url,
    headers: { Authorization: authorization, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    timeoutMs: 50_000,
  });
  return { status: response.status, text: Buffer.from(response.body).toString('utf8') };
}

function row(
  ips: number,
  approach: 'relay' | 'per-ip',
  add: { requests: number; simMs: number },
  remove: { requests: number; simMs: number },
): DeviceBenchRow {
  return {
    api: API,
    ips,
    approach,
    addRequests: add.requests,
    removeRequests: remove.requests,
    addSimMs: add.simMs,
    removeSimMs: remove.simMs,
  };
}

/** The relay adapter vs the per-IP approach at 20, 1,000 and 10,000 IPs. */
export async function benchRouterOs(): Promise<DeviceBenchRow[]> {
  const rows: DeviceBenchRow[] = [];
  for (const size of SIZES) {
    const ips = addresses(size);
    rows.push(await relay(ips));
    rows.push(await perIp(ips));
  }
  return rows;
}
