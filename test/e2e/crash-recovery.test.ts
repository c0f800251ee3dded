/**
 * kill -9 in the middle of a device batch, then a restart: the relay as an
 * operator runs it (`relay start --config …` as a child process, SQLite in
 * its directory), against the RouterOS simulator on 127.0.0.1 answering at
 * 35 ms per request + 1 ms per entry in real time.
 *
 * Must hold: within 10 s of the restart the router holds exactly the active
 * incidents' blocks, and a new incident sent right after the restart is
 * served at normal speed (the dead process's lease does not stall it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';
import { attackEvent, publicIps, TEST_SECRET } from '../helpers/events.ts';
import { RouterOsSimulator } from '../simulators/routeros/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RELAY = join(ROOT, 'bin', 'relay.mjs');
const LIST = 'flowtriq_blocked';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startRelay(dir: string): Promise<{ child: ChildProcess; webhookUrl: string; exited: Promise<void> }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOOK_SECRET: TEST_SECRET, MT_USER: 'relay', MT_PASS: 'relay-password', RELAY_LOG_LEVEL: 'WARN' };
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
  const body = JSON.stringify(event);
  const response = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-flowtriq-signature': signFlowtriq(TEST_SECRET, body) },
    body,
  });
  expect(response.status).toBe(202);
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

describe('crash recovery (kill -9 mid-batch)', () => {
  it('holds exactly the active incidents\' blocks within 10 s of the restart, and serves a new incident at once', async () => {
    // Prepare: a router at 35 ms per request + 1 ms per entry, and a relay that uses it.
    const sim = await RouterOsSimulator.start({ username: 'relay', password: 'relay-password', cost: { requestMs: 35, entryMs: 1 }, realDelayFactor: 1 });
    cleanups.push(() => sim.close());
    const dir = mkdtempSync(join(tmpdir(), 'relay-crash-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'relay.config.json'),
      JSON.stringify({
        storage: { dir: join(dir, 'state') },
        webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
        sweeper: { interval: '2s', driftCheck: '1h' },
        integrations: [
          { id: 'edge', type: 'routeros', ttl: '1h', options: { url: sim.origin, allowInsecureHttp: true, list: LIST }, secrets: { username: { env: 'MT_USER' }, password: { env: 'MT_PASS' } } },
        ],
      }),
    );
    const relayed = () => new Set([...sim.device.entries(4, LIST)].map((entry) => entry.address));
    const first = await startRelay(dir);
    const attackers = publicIps(500);

    // Act: kill -9 while the 500-address batch is being written.
    const writes = sim.device.totalRequests;
    await send(first.webhookUrl, attackEvent({ type: 'attack_start', uuid: 'inc-crash', at: Date.now(), ips: attackers }));
    await waitFor(() => sim.device.totalRequests > writes + 1, 'the batch to reach the router', 10_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const restartedAt = Date.now();
    const second = await startRelay(dir);
    await waitFor(() => attackers.every((ip) => relayed().has(ip)) && relayed().size === attackers.length, 'the router to hold exactly the 500 blocks', 15_000);
    const sinceRestartMs = Date.now() - restartedAt;
    const fresh = publicIps(520).slice(500);
    await send(second.webhookUrl, attackEvent({ type: 'attack_start', uuid: 'inc-new', at: Date.now(), ips: fresh }));
    const newIncidentMs = await waitFor(() => fresh.every((ip) => relayed().has(ip)), 'the new incident to reach the router', 10_000);

    // Assess
    expect(sinceRestartMs).toBeLessThanOrEqual(10_000);
    expect(newIncidentMs).toBeLessThan(2_000);
  }, 60_000);
});
