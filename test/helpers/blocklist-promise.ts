/**
 * The promise, for any blocklist integration through the one-box relay: a
 * burst of 40 overlapping incidents within a second, and a crash right after
 * the provider call (before its outcome is recorded) followed by a restart
 * over the same storage. Each ends with the target enforcing exactly the
 * active incidents' addresses, and the operator's own entries or rules as
 * they were. Call `blocklistPromise(make, cleanups)` inside a describe; the
 * caller's afterEach runs `cleanups`.
 */
import { expect, it } from 'vitest';
import type { Checkpoint } from '../../lib/engine/types.ts';
import type { Provider } from '../../lib/providers/types.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { attackEvent, publicIps } from './events.ts';
import { startTestRelay } from './test-relay.ts';
import { postSignedEvent } from './webhook-client.ts';

export interface BlocklistUnderTest {
  /** The integration's config, without id and ttl. */
  integration: Record<string, unknown>;
  env?: Record<string, string>;
  transport?: Transport;
  /** A fresh provider for integration id `list` (a restarted process builds its own). */
  provider?: () => Provider;
  /** The addresses the relay enforces on the target now, sorted. */
  enforced(): Promise<string[]> | string[];
  /** Everything on the target that is not the relay's: must never change. */
  others(): Promise<unknown> | unknown;
  /** What a careful client never does, counted by the simulator (all zero). */
  misbehaviour?(): Record<string, number>;
}

type Cleanups = (() => Promise<void> | void)[];

async function startRelay(target: BlocklistUnderTest, cleanups: Cleanups, dir?: string, checkpoint?: (point: Checkpoint) => void) {
  return startTestRelay(
    {
      integrations: [{ id: 'list', ttl: '1h', ...target.integration }],
      ...(target.env ? { env: target.env } : {}),
      ...(target.transport ? { transport: target.transport } : {}),
      ...(target.provider ? { providers: new Map([['list', target.provider()]]) } : {}),
      ...(dir ? { dir } : {}),
      ...(checkpoint ? { checkpoint } : {}),
    },
    cleanups,
  );
}

const start = (uuid: string, ips: string[]) => attackEvent({ type: 'attack_start', uuid, at: Date.now(), ips });
const end = (uuid: string) => attackEvent({ type: 'attack_end', uuid, at: Date.now() + 1 });

function expectWellBehaved(target: BlocklistUnderTest) {
  const counts = target.misbehaviour?.() ?? {};
  expect(Object.values(counts).every((count) => count === 0), JSON.stringify(counts)).toBe(true);
}

export function blocklistPromise(make: () => Promise<BlocklistUnderTest> | BlocklistUnderTest, cleanups: Cleanups, base = 46): void {
  it('a burst of 40 overlapping incidents within a second: exactly the active incidents\' addresses while they last, nothing after, the operator\'s own untouched', async () => {
    // Prepare: incident n holds pool[n] and pool[n+1], so neighbours share one address.
    const target = await make();
    const before = structuredClone(await target.others());
    const { relay } = await startRelay(target, cleanups);
    const pool = publicIps(41, base);
    const uuids = Array.from({ length: 40 }, (_, n) => `burst-${n}`);
    const post = async (event: ReturnType<typeof start>) => {
      expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);
    };

    // Act
    await Promise.all(uuids.map((uuid, n) => post(start(uuid, [pool[n]!, pool[n + 1]!]))));
    await relay.idle();
    const afterStarts = await target.enforced();
    await Promise.all(uuids.slice(0, 30).map((uuid) => post(end(uuid))));
    await relay.idle();
    const whileTenRemain = await target.enforced();
    await Promise.all(uuids.slice(30).map((uuid) => post(end(uuid))));
    await relay.idle();

    // Assess
    expect(afterStarts).toEqual([...pool].sort());
    expect(whileTenRemain).toEqual(pool.slice(30).sort());
    expect(await target.enforced()).toEqual([]);
    expect(await target.others()).toEqual(before);
    expectWellBehaved(target);
  }, 60_000);

  it('a crash right after the provider call, before its outcome is recorded: the restarted relay enforces exactly the active incidents and removes exactly them', async () => {
    // Prepare: the first process dies right after its first provider call.
    const target = await make();
    const before = structuredClone(await target.others());
    const [a, shared, c] = publicIps(3, base + 1) as [string, string, string];
    let crashed = false;
    const dying = await startRelay(target, cleanups, undefined, (point) => {
      if (point === 'after-provider' && !crashed) {
        crashed = true;
        throw new Error('simulated crash after the provider call');
      }
    });

    // Act
    await dying.send(start('inc-a', [a, shared]));
    await dying.relay.stop();
    const restarted = await startRelay(target, cleanups, dying.dir);
    await restarted.relay.idle();
    await restarted.send(start('inc-b', [shared, c]));
    const afterRestart = await target.enforced();
    await restarted.send(end('inc-a'));
    const afterFirstEnd = await target.enforced();
    await restarted.send(end('inc-b'));

    // Assess
    expect(crashed).toBe(true);
    expect(afterRestart).toEqual([a, shared, c].sort());
    expect(afterFirstEnd).toEqual([shared, c].sort());
    expect(await target.enforced()).toEqual([]);
    expect(await target.others()).toEqual(before);
    expectWellBehaved(target);
  }, 60_000);
}
