import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bodyLimit, maxSampleIps, sampleBytes, targetUrl } from '../../lib/cli/commands/send-test.ts';
import { readRunning, removeRunning, runningFile, writeRunning, type RunningRecord } from '../../lib/cli/running.ts';
import { shortSecretWarnings, signingSecret } from '../../lib/cli/webhook-secret.ts';
import { loadConfig, parseConfig, type LoadedConfig } from '../../lib/config/load.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-cli-unit-'));
  dirs.push(dir);
  return dir;
}
function loadedFrom(value: unknown, file?: string): LoadedConfig {
  return { config: parseConfig(value), file, defaultedToDryRun: false };
}

describe('the --ips limit', () => {
  it('is the largest sample whose event, and the job that queues it, fit the 256 KiB body limit', () => {
    // Act
    const max = maxSampleIps();
    // Assess
    expect(bodyLimit()).toBe(256 * 1024);
    expect(sampleBytes(max)).toBeLessThanOrEqual(bodyLimit());
    expect(sampleBytes(max + 1)).toBeGreaterThan(bodyLimit());
    expect(max).toBeGreaterThan(1000);
  });

  it('follows a smaller limit', () => {
    // Act
    const max = maxSampleIps(10_000);
    // Assess
    expect(sampleBytes(max)).toBeLessThanOrEqual(10_000);
    expect(sampleBytes(max + 1)).toBeGreaterThan(10_000);
  });
});

describe('targetUrl', () => {
  const running: RunningRecord = { pid: 1, webhookUrl: 'http://127.0.0.1:40001/webhooks/flowtriq', secretSource: 's', insecure: false, startedAt: 't' };
  const loaded = loadedFrom({ server: { host: '0.0.0.0', port: 9000 } });

  it('prefers --url, then --port, then the running relay, then the config', () => {
    // Act
    const byUrl = targetUrl({ url: 'http://10.0.0.5:1/webhooks/flowtriq', port: '5' }, loaded, running);
    const byPort = targetUrl({ port: '5' }, loaded, running);
    const byRunning = targetUrl({}, loaded, running);
    const byConfig = targetUrl({}, loaded, undefined);
    // Assess
    expect(byUrl.url).toBe('http://10.0.0.5:1/webhooks/flowtriq');
    expect(byPort.url).toBe('http://127.0.0.1:5/webhooks/flowtriq'); // 0.0.0.0 is reached on loopback
    expect(byRunning.url).toBe(running.webhookUrl);
    expect(byConfig.url).toBe('http://127.0.0.1:9000/webhooks/flowtriq');
  });
});

describe('signingSecret', () => {
  it('uses the first configured secret that is set', () => {
    // Prepare
    const loaded = loadedFrom({ webhook: { secrets: [{ env: 'A', optional: true }, { env: 'B' }] } }, '/x/relay.config.yaml');
    // Act
    const secret = signingSecret(loaded, { B: 'b'.repeat(32) });
    // Assess
    expect(secret).toEqual({ ok: true, secret: 'b'.repeat(32), source: '$B' });
  });

  it('with no config file reads the generated file, and never makes one', () => {
    // Prepare
    const cwd = tempDir();
    const loaded = loadConfig({ cwd });
    const dir = join(cwd, 'store');
    const relocated = { ...loaded, config: { ...loaded.config, storage: { dir } } };
    // Act
    const missing = signingSecret(relocated, {});
    mkdirSync(dir);
    writeFileSync(join(dir, 'webhook-secret'), `${'f'.repeat(64)}\n`);
    const found = signingSecret(relocated, {});
    // Assess
    expect(missing).toMatchObject({ ok: false });
    expect(!missing.ok && missing.fix).toMatch(/FLOWTRIQ_WEBHOOK_SECRET is not set and .*webhook-secret does not exist/);
    expect(found).toMatchObject({ ok: true, secret: 'f'.repeat(64) });
    expect(existsSync(join(cwd, '.relay'))).toBe(false);
  });

  it('with a config file names the variable to set', () => {
    // Prepare
    const loaded = loadedFrom({ webhook: { secrets: [{ env: 'HOOK_SECRET' }] } }, '/x/relay.config.yaml');
    // Act
    const secret = signingSecret(loaded, {});
    // Assess
    expect(secret.ok).toBe(false);
    expect(!secret.ok && secret.fix).toMatch(/\$HOOK_SECRET .* is not set; set the environment variable HOOK_SECRET/);
  });
});

describe('shortSecretWarnings', () => {
  it('warns about a secret under 32 bytes without showing it', () => {
    // Prepare
    const loaded = loadedFrom({ webhook: { secrets: [{ env: 'A' }, { env: 'B', optional: true }] } }, '/x/c.yaml');
    // Act
    const warnings = shortSecretWarnings(loaded, { A: 'q', B: 'z'.repeat(32) });
    // Assess
    expect(warnings).toEqual([expect.stringMatching(/^webhook\.secrets\[0\] \(\$A\) is 1 byte long; use at least 32 random bytes/)]);
    expect(warnings[0]).not.toContain("'q'");
  });
});

describe('the running record', () => {
  it('is read back while its process lives, ignored after, and removed only by its owner', () => {
    // Prepare
    const dir = tempDir();
    const record: RunningRecord = { pid: process.pid, webhookUrl: 'http://127.0.0.1:4/webhooks/flowtriq', secretSource: 's', insecure: false, startedAt: 't' };
    writeRunning(dir, record);
    // Act
    const alive = readRunning(dir);
    const dead = readRunning(dir, () => false);
    removeRunning(dir, process.pid + 1);
    const keptForOthers = existsSync(runningFile(dir));
    removeRunning(dir, process.pid);
    // Assess
    expect(alive).toEqual(record);
    expect(dead).toBeUndefined();
    expect(keptForOthers).toBe(true);
    expect(existsSync(runningFile(dir))).toBe(false);
  });
});
