import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../lib/sqlite/open.ts';
import { SqliteStateStore, STATE_SCHEMA } from '../../lib/state/sqlite.ts';
import { StateUnavailableError } from '../../lib/state/errors.ts';
import type { HoldIntent } from '../../lib/model/types.ts';
import { stateStoreContract } from '../contract/state-store.contract.ts';

const MODULE_URL = pathToFileURL(join(import.meta.dirname, '..', '..', 'lib', 'state', 'sqlite.ts')).href;

stateStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-state-'));
  const store = SqliteStateStore.open(join(dir, 'state.db'));
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStateStore', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-state-'));
    path = join(dir, 'nested', 'state.db');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps incidents, blocks, holdings, leases and markers across a restart', async () => {
    // Prepare
    const first = SqliteStateStore.open(path);
    await first.putIncident({
      uuid: 'inc-1',
      status: 'active',
      lastEventAt: 10,
      lastEventType: 'attack.started',
      firstSeenAt: 10,
      updatedAt: 10,
    });
    await first.hold([{ incident: 'inc-1', integration: 'fw', key: '192.0.2.1', kind: 'ip', expiresAt: 1_000 }], 10);
    await first.acquireLease('reconcile:fw', 'worker-a', 10, 60_000);
    await first.markProcessed('evt-1', 10);

    // Act
    await first.close();
    const reopened = SqliteStateStore.open(path);

    // Assess
    try {
      expect(await reopened.getIncident('inc-1')).toMatchObject({ status: 'active', lastEventAt: 10 });
      expect(await reopened.listHoldings('inc-1')).toHaveLength(1);
      expect(await reopened.dueBlocks('fw', 10, 10)).toMatchObject([{ key: '192.0.2.1', holders: ['inc-1'], version: 1 }]);
      expect(await reopened.acquireLease('reconcile:fw', 'worker-b', 20, 60_000)).toBe(false);
      expect(await reopened.wasProcessed('evt-1')).toBe(true);
    } finally {
      await reopened.close();
    }
  });

  it('loses no committed intent when the process is killed', async () => {
    // Prepare
    const script = `
      const { SqliteStateStore } = await import(${JSON.stringify(MODULE_URL)});
      const store = SqliteStateStore.open(${JSON.stringify(path)});
      const intents = Array.from({ length: 200 }, (_, n) => ({
        incident: 'inc-crash', integration: 'fw', key: '10.0.' + (n >> 8) + '.' + (n & 255), kind: 'ip', expiresAt: 5_000,
      }));
      await store.hold(intents, 100);
      process.stdout.write('held\\n', () => process.kill(process.pid, 'SIGKILL'));
    `;

    // Act
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });

    // Assess
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('held\n');
    expect(child.signal).toBe('SIGKILL');
    const reopened = SqliteStateStore.open(path);
    try {
      expect(await reopened.listHoldings('inc-crash')).toHaveLength(200);
      expect(await reopened.dueBlocks('fw', 100, 1_000)).toHaveLength(200);
    } finally {
      await reopened.close();
    }
  });

  it('applies none of a hold whose batch fails part-way', async () => {
    // Prepare
    const store = SqliteStateStore.open(path);
    const intents: HoldIntent[] = [
      { incident: 'inc-1', integration: 'fw', key: '192.0.2.1', kind: 'ip', expiresAt: 1_000 },
      { incident: 'inc-1', integration: 'fw', key: '192.0.2.2', kind: 'bogus' as HoldIntent['kind'], expiresAt: 1_000 },
    ];

    // Act
    const attempt = store.hold(intents, 10);

    // Assess
    try {
      await expect(attempt).rejects.toBeInstanceOf(StateUnavailableError);
      expect(await store.listBlocks({ includeSettled: true })).toEqual([]);
      expect(await store.listHoldings('inc-1')).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('refuses calls after it is closed', async () => {
    // Prepare
    const store = SqliteStateStore.open(path);
    await store.close();

    // Act
    const attempt = store.getIncident('inc-1');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('opens the same file again without re-running its migrations', async () => {
    // Prepare
    await SqliteStateStore.open(path).close();

    // Act
    const reopened = SqliteStateStore.open(path);
    await reopened.close();

    // Assess
    const db = openDatabase(path);
    try {
      expect(db.prepare('PRAGMA user_version').get()).toEqual({ user_version: STATE_SCHEMA.migrations.length });
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    } finally {
      db.close();
    }
  });

  it('upgrades a file of the first schema: its blocks read back, not foreign, and can be marked foreign', async () => {
    // Prepare: a state file written by the first schema, with one present block.
    const db = openDatabase(path);
    db.exec(STATE_SCHEMA.migrations[0] as string);
    db.exec(`PRAGMA application_id = ${STATE_SCHEMA.applicationId}; PRAGMA user_version = 1;`);
    db.prepare(`INSERT INTO blocks (integration, key, kind, actual, expires_at, attempts, version, updated_at)
      VALUES ('fw', '45.0.0.1', 'ip', 'present', 9999999999999, 0, 3, 1)`).run();
    db.close();

    // Act
    const store = SqliteStateStore.open(path);
    const [before] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.1' }]);
    await store.complete([{ integration: 'fw', key: '45.0.0.1', expectVersion: 3, actual: 'present', foreign: true, dueAt: null, attempts: 0, lastError: null, lastAttemptAt: 2 }], 2);
    const [after] = await store.getBlocks([{ integration: 'fw', key: '45.0.0.1' }]);
    await store.close();

    // Assess
    expect(before).toMatchObject({ actual: 'present', version: 3 });
    expect(before?.foreign).toBeUndefined();
    expect(after?.foreign).toBe(true);
  });

  it('works in memory', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');

    // Act
    await store.markProcessed('evt-1', 1);

    // Assess
    try {
      expect(await store.wasProcessed('evt-1')).toBe(true);
    } finally {
      await store.close();
    }
  });
});
