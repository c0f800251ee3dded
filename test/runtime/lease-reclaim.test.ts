import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { oneBoxOwner, parseOneBoxOwner, processExists, reclaimDeadLeases } from '../../lib/runtime/lease-reclaim.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** The pid of a process that has exited (and so cannot renew anything). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('one-box lease owners', () => {
  it('name their host and process, and read back', () => {
    const owner = oneBoxOwner(4242, 'ab12cd34', 'relay-host.example');
    expect(owner).toBe('one-box:relay-host.example:4242:ab12cd34');
    expect(parseOneBoxOwner(owner)).toEqual({ host: 'relay-host.example', pid: 4242 });
  });

  it('are not confused with other owners', () => {
    for (const owner of ['lambda-0f1e', 'one-box-123-abcd', 'one-box:h:0:x', 'one-box:h:12x:x', 'one-box:h:1:x:y']) {
      expect(parseOneBoxOwner(owner), owner).toBeUndefined();
    }
  });

  it('tells a live process from one that is gone', () => {
    expect(processExists(process.pid)).toBe(true);
    expect(processExists(deadPid())).toBe(false);
  });
});

describe('reclaimDeadLeases', () => {
  it('frees at once the leases a crashed one-box of this host held, and nothing else', async () => {
    // Prepare: leases of a dead local process, a live local one, another host, a Lambda, and this process.
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const now = Date.now();
    const self = oneBoxOwner(process.pid, 'self0000', 'box');
    const dead = oneBoxOwner(deadPid(), 'dead0000', 'box');
    await store.acquireLease('reconcile#crashed', dead, now, 10_000);
    await store.acquireLease('reconcile#alive', oneBoxOwner(process.pid, 'other000', 'box'), now, 10_000);
    await store.acquireLease('reconcile#remote', oneBoxOwner(deadPid(), 'remote00', 'other-box'), now, 10_000);
    await store.acquireLease('reconcile#lambda', 'lambda-1234', now, 10_000);
    await store.acquireLease('reconcile#mine', self, now, 10_000);
    const logger = new RecordingLogger();

    // Act
    const freed = await reclaimDeadLeases({
      store,
      integrations: ['crashed', 'alive', 'remote', 'lambda', 'mine', 'never-leased'],
      self,
      logger,
      host: 'box',
    });

    // Assess
    expect(freed).toEqual(['crashed']);
    expect(await store.getLease('reconcile#crashed')).toBeUndefined();
    expect(await store.acquireLease('reconcile#crashed', self, now, 10_000)).toBe(true);
    for (const kept of ['alive', 'remote', 'lambda', 'mine']) expect(await store.getLease(`reconcile#${kept}`), kept).toBeDefined();
    expect(logger.lines.some((line) => line.message.includes('took back device leases'))).toBe(true);
  });
});
