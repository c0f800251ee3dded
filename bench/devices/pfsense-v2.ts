/**
 * pfSense pfrest v2: the relay's adapter against the per-IP approach
 * (Flowtriq's own integration: one alias update per attacker IP, then one
 * apply), for 20, 1,000 and 10,000 IPs, on the simulator, in one run.
 *
 * Cost model (test/simulators/pfsense-v2/cost-model.ts): the firewall is a
 * serial worker; each request costs 60 ms plus 0.5 ms per alias address the
 * package handles in it — the addresses returned by a read, and the whole
 * resulting alias for a write (the package validates the merged array
 * before writing config.xml). The filter reload an apply starts runs in the
 * background and is not counted; both approaches start one per direction.
 *
 * Both approaches start from the same state: the alias exists, empty
 * (created before counting). The per-IP client knows the alias id already
 * (it is not charged for resolving it) and uses BasicAuth, like the relay
 * here. Numbers come from the simulator's counters and virtual clock.
 *
 * The relay marks each address it adds (`detail`) and removes with
 * `remove: true` plus the marks; to empty the alias it repeats the last
 * value (a list identical to the stored one is a no-op, pfrest#569), never
 * a whole-list replace. The per-IP removal of the last address sends
 * `remove` with a list equal to the stored one, which the package ignores,
 * so the per-IP approach leaves one address behind.
 *
 * The relay's provider runs on the simulator's clock (its waits advance
 * it), with its own apply gate; a minute of idle device time separates the
 * add from the remove (an attack lasts), so the 3 s gap between the relay's
 * filter reloads is not charged to the remove.
 *
 * Uses the simulator in-process (no sockets): fast, prints nothing.
 */
import { pfsenseIntegrationSchema } from '../../lib/config/schema.ts';
import type { Logger } from '../../lib/log/types.ts';
import { ApplyGates } from '../../lib/providers/pfsense/v2/apply-gate.ts';
import { PfSenseV2Provider } from '../../lib/providers/pfsense/v2/provider.ts';
import type { BlockEntry } from '../../lib/providers/types.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { type CostModel, PfSenseV2Simulator, simulatorTransport } from '../../test/simulators/pfsense-v2/index.ts';
import type { DeviceBenchRow } from './types.ts';


/** The documented bench cost model. */
export const PFSENSE_V2_BENCH_COST: CostModel = { perRequestMs: 60, perEntryMs: 0.5 };
export const PFSENSE_V2_BENCH_SIZES = [20, 1_000, 10_000] as const;

const API = 'pfSense pfrest v2';
const ALIAS = 'flowtriq_blocked';
const ORIGIN = 'https://pfsense.bench';
const USER = 'admin';
const PASSWORD = 'pfsense';

const silent: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silent,
};

/** `count` distinct public-looking IPv4 addresses, a tenth of them IPv6. */
function attackers(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    i % 10 === 9 ? `2001:db8:${(i >> 16).toString(16)}::${(i & 0xffff).toString(16)}` : `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`,
  );
}

function simulator(writeResponses: 'full' | 'summary'): { sim: PfSenseV2Simulator; id: number } {
  const sim = new PfSenseV2Simulator({ cost: PFSENSE_V2_BENCH_COST, keepLog: false, writeResponses, users: { [USER]: PASSWORD } });
  const id = sim.addAlias({ name: ALIAS, type: 'host' });
  sim.resetCounters();
  return { sim, id };
}

/** Requests and virtual ms one phase cost. */
async function measure(sim: PfSenseV2Simulator, phase: () => Promise<void>): Promise<{ requests: number; simMs: number }> {
  sim.resetCounters();
  const start = sim.clockMs;
  await phase();
  return { requests: sim.counters.requests, simMs: Math.round((sim.clockMs - start) * 10) / 10 };
}

async function benchRelay(ips: string[]): Promise<DeviceBenchRow> {
  const { sim } = simulator('full');
  const config = pfsenseIntegrationSchema.parse({
    id: 'bench',
    type: 'pfsense',
    options: { url: ORIGIN, apiVersion: 'v2', auth: 'basic', alias: ALIAS, allowInsecureHttp: true },
    secrets: { username: { env: 'UNUSED' }, password: { env: 'UNUSED' } },
  });
  const epoch = Date.parse('2030-01-01T00:00:00Z');
  const provider = new PfSenseV2Provider(config, {
    transport: simulatorTransport(sim),
    tls: {},
    secrets: { username: USER, password: PASSWORD },
    now: () => epoch + sim.clockMs,
    sleep: async (ms) => sim.advance(ms),
    applyGates: new ApplyGates(),
  });
  const entries: BlockEntry[] = ips.map((ip) => ({ ip, expiresAt: 0, incidents: ['bench-incident'] }));
  const ctx = { signal: new AbortController().signal, logger: silent };
  const expectAllOk = (results: Array<{ ok: boolean }>) => {
    if (results.some((result) => !result.ok)) throw new Error('bench: the relay adapter reported failed entries');
  };
  const clean = () => {
    const c = sim.counters;
    if (c.replaces + c.foreignTouched + c.duplicateWrites + c.appliesWhileFull + c.appliesIgnoringRetryAfter > 0) {
      throw new Error('bench: the simulator flagged a violation by the relay adapter');
    }
  };
  const add = await measure(sim, async () => expectAllOk(await provider.add(entries, ctx)));
  clean();
  sim.advance(60_000);
  const remove = await measure(sim, async () => expectAllOk(await provider.remove(entries, ctx)));
  clean();
  return { api: API, ips: ips.length, approach: 'relay', addRequests: add.requests, removeRequests: remove.requests, addSimMs: add.simMs, removeSimMs: remove.simMs };
}

async function benchPerIp(ips: string[]): Promise<DeviceBenchRow> {
  const { sim, id } = simulator('summary');
  const transport = simulatorTransport(sim);
  const add = await measure(sim, async () => {
    for (const ip of ips) await send(transport, 'PATCH', '/api/v2/firewall/alias', { id, address: [ip], append: true });
    await send(transport, 'POST', '/api/v2/firewall/apply', {});
  });
  const remove = await measure(sim, async () => {
    for (const ip of ips) await send(transport, 'PATCH', '/api/v2/firewall/alias', { id, address: [ip], remove: true });
    await send(transport, 'POST', '/api/v2/firewall/apply', {});
  });
  return { api: API, ips: ips.length, approach: 'per-ip', addRequests: add.requests, removeRequests: remove.requests, addSimMs: add.simMs, removeSimMs: remove.simMs };
}

async function send(transport: Transport, method: string, path: string, body: unknown): Promise<void> {
  const response = await transport.request({
    method,
    url: `${ORIGIN}${path}`,
    headers: {
      Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(body),
    timeoutMs: 30_000,
  });
  if (response.status !== 200) throw new Error(`bench: per-IP ${method} ${path} answered ${response.status}`);
}

/** Relay adapter vs per-IP for 20, 1,000 and 10,000 IPs; request counts and virtual times. */
export async function benchPfSenseV2(): Promise<DeviceBenchRow[]> {
  const rows: DeviceBenchRow[] = [];
  for (const size of PFSENSE_V2_BENCH_SIZES) {
    const ips = attackers(size);
    rows.push(await benchRelay(ips));
    rows.push(await benchPerIp(ips));
  }
  return rows;
}
