/** `relay history` as a subprocess, over a one-box state store seeded with audit entries. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STATE_DB } from '../../lib/runtime/one-box.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';

const RELAY = join(import.meta.dirname, '..', '..', 'bin', 'relay.mjs');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('relay history', () => {
  it('prints the audit trail newest first, filtered by incident and time, and as JSON', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'relay-history-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'relay.config.yaml'), 'storage: { dir: state }\nwebhook: { secrets: [{ env: HOOK }] }\n');
    const store = SqliteStateStore.open(join(dir, 'state', STATE_DB));
    const now = Date.now();
    await store.appendAudit([
      { at: now - 3 * 3_600_000, action: 'block.add', integration: 'fw', incident: 'inc-old', count: 9, outcome: 'ok' },
      { at: now - 60_000, action: 'block.add', integration: 'fw', incident: 'inc-a', count: 40, outcome: 'ok' },
      { at: now - 30_000, action: 'switch.on', integration: 'scrub', incident: 'inc-a', count: 1, outcome: 'ok', detail: 'security_level under_attack' },
      { at: now - 10_000, action: 'block.remove', integration: 'fw', count: 40, outcome: 'partial', detail: '1 failed: timeout' },
    ]);
    await store.close();
    const run = (...args: string[]) => spawnSync(process.execPath, [RELAY, 'history', ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOOK: 'x'.repeat(40) } });

    // Act
    const recent = run('--since', '1h');
    const ofIncident = run('--since', '1d', '--incident', 'inc-a');
    const json = run('--since', '1d', '--json');
    const bad = run('--since', 'yesterday');

    // Assess
    expect(recent.status, recent.stderr).toBe(0);
    expect(recent.stdout.trim().split('\n').map((line) => line.split(/\s{2,}/).slice(1, 3).join(' '))).toEqual(['block.remove fw', 'switch.on scrub', 'block.add fw']);
    expect(recent.stdout).toContain('1 failed: timeout');
    expect(ofIncident.stdout.trim().split('\n')).toHaveLength(2);
    expect(ofIncident.stdout).not.toContain('block.remove');
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(4);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^relay: --since yesterday: write a duration such as 30m, 6h or 7d/);
  });
});
