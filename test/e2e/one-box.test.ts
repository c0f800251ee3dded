/**
 * The relay as a user runs it: `relay start` in a fresh directory (no config
 * file: built-in defaults, dry-run provider, generated secret), then
 * `relay send-test` and `relay status` as separate processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor as waitUntil } from '../helpers/webhook-client.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RELAY = join(ROOT, 'bin', 'relay.mjs');

interface Running {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  webhookUrl: string;
}

const running: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RELAY_LOG_LEVEL: 'INFO' };
  delete env.FLOWTRIQ_WEBHOOK_SECRET;
  delete env.RELAY_CONFIG;
  return env;
}

async function startRelay(cwd: string): Promise<Running> {
  const child = spawn(process.execPath, [RELAY, 'start', '--port', '0'], { cwd, env: cleanEnv() });
  running.push(child);
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  const webhookUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${stderr.join('')}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr.push(chunk.toString('utf8'));
      const match = /webhook URL:\s+(\S+)/.exec(stderr.join(''));
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}:\n${stderr.join('')}`)));
  });
  return { child, lines, stderr, webhookUrl };
}

function relay(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [RELAY, ...args], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
}

const waitFor = (predicate: () => boolean, what: string) => waitUntil(predicate, what, 15_000, 50);

describe('one-box relay (npm start)', () => {
  it('blocks 20 IPs on a signed attack_start, removes all 20 on attack_end, and leaves nothing behind', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    dirs.push(cwd);
    const relayProcess = await startRelay(cwd);

    // Act
    const sent = relay(cwd, 'send-test', '--url', relayProcess.webhookUrl, '--ips', '20', '--wait', '0.5');
    await waitFor(() => relayProcess.lines.some((line) => line.message === 'block remove'), 'the removals');
    const status = relay(cwd, 'status', '--json');

    // Assess
    expect(sent.status, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/attack_start: HTTP 202/);
    expect(sent.stdout).toMatch(/attack_end: HTTP 202/);
    const adds = relayProcess.lines.filter((line) => line.message === 'block add');
    const removes = relayProcess.lines.filter((line) => line.message === 'block remove');
    expect(adds.reduce((sum, line) => sum + Number(line.succeeded), 0)).toBe(20);
    expect(removes.reduce((sum, line) => sum + Number(line.succeeded), 0)).toBe(20);
    const dryRunAdds = relayProcess.lines.filter((line) => line.message === 'dry-run add');
    expect(dryRunAdds.flatMap((line) => line.ips as string[])).toHaveLength(20);
    for (const line of [...adds, ...removes]) {
      expect(line).toMatchObject({ integration: 'dry-run', outcome: 'ok', ipCount: 20 });
      expect(typeof line.latencyMs).toBe('number');
      expect(typeof line.trigger).toBe('string');
    }
    expect(status.status, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { incidents: unknown[]; blocks: unknown[]; queue: { visible: number; inFlight: number; dead: number } };
    expect(report.incidents).toEqual([]);
    expect(report.blocks).toEqual([]);
    expect(report.queue).toEqual({ visible: 0, inFlight: 0, dead: 0 });
  }, 60_000);

  it('withdraws every block of still-active incidents with relay drain', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    dirs.push(cwd);
    const relayProcess = await startRelay(cwd);
    relay(cwd, 'send-test', '--url', relayProcess.webhookUrl, '--ips', '5', '--keep');
    await waitFor(() => relayProcess.lines.some((line) => line.message === 'block add'), 'the adds');
    // Act
    const drained = relay(cwd, 'drain');
    const status = relay(cwd, 'status', '--json');
    // Assess
    expect(drained.status, drained.stderr).toBe(0);
    expect(drained.stdout).toMatch(/ended 1 active incident/);
    expect(drained.stdout).toMatch(/removed 5; 0 block\(s\) left/);
    const report = JSON.parse(status.stdout) as { incidents: unknown[]; blocks: unknown[] };
    expect(report.incidents).toEqual([]);
    expect(report.blocks).toEqual([]);
  }, 60_000);

  it('makes a private webhook secret on first start and never logs it', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    dirs.push(cwd);
    // Act
    const relayProcess = await startRelay(cwd);
    // Assess
    const secretFile = join(cwd, '.relay', 'webhook-secret');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const secret = (await import('node:fs')).readFileSync(secretFile, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(relayProcess.stderr.join('')).not.toContain(secret);
    expect(JSON.stringify(relayProcess.lines)).not.toContain(secret);
  }, 30_000);

  it('finishes in-flight work and exits 0 on SIGTERM', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    dirs.push(cwd);
    const relayProcess = await startRelay(cwd);
    // Act
    const exited = new Promise<number | null>((resolve) => relayProcess.child.once('exit', resolve));
    relayProcess.child.kill('SIGTERM');
    // Assess
    expect(await exited).toBe(0);
  }, 30_000);

  it('refuses to start when a config file names a secret that is not set', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    dirs.push(cwd);
    (await import('node:fs')).writeFileSync(join(cwd, 'relay.config.yaml'), 'integrations:\n  - id: dry\n    type: dry-run\n');
    // Act
    const result = relay(cwd, 'start', '--port', '0');
    // Assess
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/FLOWTRIQ_WEBHOOK_SECRET/);
    expect(result.stderr).toMatch(/webhook\.secrets\[0\]/);
  }, 30_000);

  it('reports an invalid config with the path and the fix, and exits 2', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    dirs.push(cwd);
    (await import('node:fs')).writeFileSync(
      join(cwd, 'relay.config.yaml'),
      'integrations:\n  - id: hook\n    type: webhook\n    options:\n      url: http://example.invalid/x\n    secrets:\n      signingSecret: { env: HOOK_SECRET }\n',
    );
    // Act
    const result = relay(cwd, 'check-config');
    // Assess
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('integrations[0].options.url');
    expect(result.stderr).toMatch(/https/);
  }, 30_000);

  it('turns a switch on and off by hand (relay activate / withdraw), and explains a wrong id without a stack', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    dirs.push(cwd);
    (await import('node:fs')).writeFileSync(
      join(cwd, 'relay.config.yaml'),
      'webhook:\n  secrets: [{ env: HOOK_SECRET }]\nintegrations:\n  - id: scrub\n    type: dry-run\n    options: { kind: switch }\n',
    );
    const env: NodeJS.ProcessEnv = { ...cleanEnv(), HOOK_SECRET: 'x'.repeat(32) };
    delete env.RELAY_LOG_LEVEL;
    const run = (...args: string[]) => spawnSync(process.execPath, [RELAY, ...args], { cwd, env, encoding: 'utf8', timeout: 30_000 });
    // Act
    const test = run('test', 'scrub');
    const on = run('activate', 'scrub');
    const status = run('status');
    const off = run('withdraw', 'scrub');
    const wrong = run('activate', 'edge');
    // Assess
    expect(test.status).toBe(0);
    expect(test.stdout).toContain('scrub (dry-run): healthy');
    expect(on.status).toBe(0);
    expect(on.stdout).toMatch(/^scrub: on \(manual hold until /);
    expect(status.stdout).toMatch(/scrub: 1 applied/);
    expect(off.status).toBe(0);
    expect(off.stdout).toContain('scrub: restored');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('no enabled integration "edge" in the configuration; switch integrations: scrub');
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
