/**
 * Burst section of `npm run bench`: 40 incidents × 50 addresses started
 * within one second, then all ended within one second, through the one-box
 * relay (HTTP intake, SQLite queue and state, workers, the integration's
 * writer) against a device simulator on 127.0.0.1 that answers in real time
 * at 35 ms per request + 1 ms per entry.
 *
 * Measured for each device: time from the last send until the device holds
 * exactly the wanted set (all 2,000 after the starts; none of them after the
 * ends), device requests for the starts and for the ends, and the
 * simulator's duplicate-write count. Baseline in the same run: the same
 * 2,000 addresses as ONE incident (one event) on a fresh simulator, the best
 * batching can do.
 *
 * Targets (issue #9): converged ≤ 3 s after the last start and ≤ 3 s after
 * the last end, ≤ 80 requests for the starts, 0 duplicate writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../lib/config/load.ts';
import { silentLogger } from '../lib/log/logger.ts';
import { startOneBox } from '../lib/runtime/one-box.ts';
import { attackEvent, TEST_SECRET } from '../test/helpers/events.ts';
import { postSignedEvent, waitFor } from '../test/helpers/webhook-client.ts';

export interface BurstDevice {
  name: string;
  integration: Record<string, unknown>;
  env: Record<string, string>;
  /** The relay's addresses the device enforces now. */
  addresses(): Set<string>;
  requests(): number;
  duplicateWrites(): number;
  /** Other counters worth printing (e.g. applies while the apply queue was full). */
  extra?(): Record<string, number>;
  close(): Promise<void>;
}

export interface BurstRow {
  device: string;
  scenario: 'burst' | 'baseline';
  startConvergeMs: number;
  startRequests: number;
  endConvergeMs: number;
  endRequests: number;
  duplicateWrites: number;
  extra: Record<string, number>;
}

const INCIDENTS = 40;
const PER_INCIDENT = 50;
const WINDOW_MS = 1_000;
const LIMIT_MS = 30_000;

/** Distinct public-looking addresses (the relay refuses private ones): 2,000 from 23.0.0.0/8. */
function attackers(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `23.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
}



/** Time from `since` until `predicate` holds (polled every 20 ms), or Infinity after LIMIT_MS. */
async function waitUntil(predicate: () => boolean, since: number): Promise<number> {
  const waited = await waitFor(predicate, 'convergence', LIMIT_MS - (Date.now() - since)).catch(() => Number.POSITIVE_INFINITY);
  return Number.isFinite(waited) ? Date.now() - since : waited;
}

async function post(url: string, event: ReturnType<typeof attackEvent>): Promise<void> {
  const status = await postSignedEvent(url, event);
  if (status !== 202) throw new Error(`the relay answered ${status}`);
}

/** Sends `events` spread evenly over WINDOW_MS; resolves at the last send's answer, with its time. */
async function spread(url: string, events: ReturnType<typeof attackEvent>[]): Promise<number> {
  const step = WINDOW_MS / events.length;
  const started = Date.now();
  await Promise.all(
    events.map(async (event, n) => {
      const wait = started + n * step - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await post(url, event);
    }),
  );
  return Date.now();
}

async function run(makeDevice: () => Promise<BurstDevice>, incidents: number): Promise<BurstRow> {
  const device = await makeDevice();
  const dir = mkdtempSync(join(tmpdir(), 'relay-burst-'));
  const config = parseConfig({
    storage: { dir },
    webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
    sweeper: { interval: '1h', driftCheck: '1h' },
    blocking: { maxIpsPerIncident: 10_000 },
    integrations: [{ id: 'edge', ttl: '1h', ...device.integration }],
  });
  const relay = await startOneBox({
    loaded: { config, file: join(dir, 'relay.config.json'), defaultedToDryRun: false },
    logger: silentLogger,
    env: { ...device.env, HOOK_SECRET: TEST_SECRET },
    port: 0,
    sweeper: false,
  });
  try {
    const all = attackers(INCIDENTS * PER_INCIDENT);
    const per = all.length / incidents;
    const uuid = (n: number) => `burst-${incidents}-${n}`;
    const now = Date.now();
    const starts = Array.from({ length: incidents }, (_, n) =>
      attackEvent({ type: 'attack_start', uuid: uuid(n), at: now, ips: all.slice(n * per, (n + 1) * per) }),
    );
    const before = device.requests();
    const lastStart = await spread(relay.webhookUrl, starts);
    const startConvergeMs = await waitUntil(() => {
      const held = device.addresses();
      return held.size === all.length && all.every((ip) => held.has(ip));
    }, lastStart);
    await relay.idle(LIMIT_MS);
    const afterStarts = device.requests();
    const ends = Array.from({ length: incidents }, (_, n) => attackEvent({ type: 'attack_end', uuid: uuid(n), at: Date.now() }));
    const lastEnd = await spread(relay.webhookUrl, ends);
    const endConvergeMs = await waitUntil(() => all.every((ip) => !device.addresses().has(ip)), lastEnd);
    await relay.idle(LIMIT_MS);
    return {
      device: device.name,
      scenario: incidents === 1 ? 'baseline' : 'burst',
      startConvergeMs,
      startRequests: afterStarts - before,
      endConvergeMs,
      endRequests: device.requests() - afterStarts,
      duplicateWrites: device.duplicateWrites(),
      extra: device.extra?.() ?? {},
    };
  } finally {
    await relay.stop();
    await device.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** For each device: the same 2,000 addresses as one incident (baseline), then as 40 incidents in a second. */
export async function benchBurst(devices: (() => Promise<BurstDevice>)[]): Promise<BurstRow[]> {
  const rows: BurstRow[] = [];
  for (const make of devices) {
    rows.push(await run(make, 1));
    rows.push(await run(make, INCIDENTS));
  }
  return rows;
}

const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : `> ${LIMIT_MS / 1000} s`);

export function formatBurst(rows: BurstRow[]): string {
  const lines = [
    `burst (one-box relay over loopback HTTP; simulators in real time at 35 ms/request + 1 ms/entry): ${INCIDENTS} incidents × ${PER_INCIDENT} IPs started within ${WINDOW_MS / 1000} s, then ended`,
    `${'device'.padEnd(20)} ${'scenario'.padEnd(24)} ${'converged after last start'.padEnd(27)} ${'requests (starts)'.padEnd(18)} ${'converged after last end'.padEnd(25)} ${'requests (ends)'.padEnd(16)} duplicate writes`,
  ];
  const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  const targets: string[] = [];
  for (const row of rows) {
    const label = row.scenario === 'baseline' ? 'baseline: 1 incident' : `${INCIDENTS} incidents`;
    const extra = Object.entries(row.extra).map(([name, value]) => `${name} ${value}`).join(', ');
    lines.push(
      `${row.device.padEnd(20)} ${label.padEnd(24)} ${s(row.startConvergeMs).padEnd(27)} ${String(row.startRequests).padEnd(18)} ${s(row.endConvergeMs).padEnd(25)} ${String(row.endRequests).padEnd(16)} ${row.duplicateWrites}${extra ? `  (${extra})` : ''}`,
    );
    if (row.scenario === 'burst') {
      targets.push(
        `target: ${row.device}: converged ${s(row.startConvergeMs)} after the last start (≤ 3 s: ${verdict(row.startConvergeMs <= 3_000)}), ` +
          `${s(row.endConvergeMs)} after the last end (≤ 3 s: ${verdict(row.endConvergeMs <= 3_000)}), ` +
          `${row.startRequests} requests for the starts (≤ 80: ${verdict(row.startRequests <= 80)}), ` +
          `${row.duplicateWrites} duplicate writes (0: ${verdict(row.duplicateWrites === 0)})`,
      );
    }
  }
  return [...lines, ...targets].join('\n');
}
