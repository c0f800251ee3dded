/**
 * The behaviour every StateStore adapter must show, as a reusable vitest
 * suite. Each test gets a fresh store from the factory, but only ever looks
 * at ids it created itself (unique integrations, incidents, lease names and
 * event keys), so adapters backed by one shared engine pass too.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SWITCH_KEY } from '../../lib/model/types.ts';
import type { AuditEntry, AuditQuery, BlockCompletion, BlockKey, BlockRecord, HoldIntent, IncidentRecord } from '../../lib/model/types.ts';
import { AUDIT_DETAIL_MAX } from '../../lib/model/audit.ts';
import type { StateStore } from '../../lib/state/types.ts';

/** What the factory hands to each test; `cleanup` must also close the store. */
export interface StateStoreHarness {
  store: StateStore;
  cleanup(): Promise<void>;
}

/** A realistic clock origin; the purge tests use tiny timestamps so they never touch other tests' data. */
const T0 = 1_750_000_000_000;
const HOUR = 3_600_000;

/** A unique id for this test run. */
function uid(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

function incident(uuid: string, overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    uuid,
    status: 'active',
    lastEventAt: T0,
    lastEventType: 'attack.started',
    firstSeenAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function intent(incidentId: string, integration: string, key: string, expiresAt = T0 + HOUR): HoldIntent {
  return { incident: incidentId, integration, key, kind: key === SWITCH_KEY ? 'switch' : 'ip', expiresAt };
}

function completion(block: BlockRecord, fields: Partial<BlockCompletion> = {}): BlockCompletion {
  return {
    integration: block.integration,
    key: block.key,
    expectVersion: block.version,
    actual: 'present',
    dueAt: null,
    attempts: 0,
    lastError: null,
    lastAttemptAt: T0,
    ...fields,
  };
}

/** The nth of a run of distinct IPv4 addresses. */
function ip(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Registers the StateStore contract suite for one adapter. */
export function stateStoreContract(name: string, factory: () => Promise<StateStoreHarness>): void {
  describe(`StateStore contract: ${name}`, () => {
    let harness: StateStoreHarness | undefined;
    let store: StateStore;

    beforeEach(async () => {
      harness = await factory();
      store = harness.store;
    });

    afterEach(async () => {
      await harness?.cleanup();
      harness = undefined;
    });

    /** Reads one block, failing the test if it does not exist. */
    async function block(integration: string, key: string): Promise<BlockRecord> {
      const [found] = await store.getBlocks([{ integration, key }]);
      if (!found) throw new Error(`block ${integration}/${key} does not exist`);
      return found;
    }

    /** Holds, releases and confirms removal: a block with no holders, absent and not due. */
    async function settledBlock(integration: string, key: string, at: number): Promise<BlockRecord> {
      const owner = uid('inc');
      await store.hold([intent(owner, integration, key, at + HOUR)], at - 2);
      await store.release(owner, at - 1);
      const released = await block(integration, key);
      await store.complete([completion(released, { actual: 'absent', dueAt: null, lastAttemptAt: at })], at);
      return block(integration, key);
    }

    describe('incidents', () => {
      it('returns undefined for an incident it has never seen', async () => {
        // Act
        const found = await store.getIncident(uid('inc'));

        // Assess
        expect(found).toBeUndefined();
      });

      it('stores an incident and returns every field', async () => {
        // Prepare
        const record = incident(uid('inc'), {
          id: 4711,
          title: 'UDP flood',
          family: 'udp_flood',
          severity: 'high',
          node: { id: 'n-1', name: 'edge-1', ip: '192.0.2.10' },
          spoofed: true,
          startedAt: '2025-06-15T12:00:00Z',
        });

        // Act
        const written = await store.putIncident(record);
        const found = await store.getIncident(record.uuid);

        // Assess
        expect(written).toBe(true);
        expect(found).toEqual(record);
      });

      it('overwrites an incident with an event at least as new', async () => {
        // Prepare
        const uuid = uid('inc');
        await store.putIncident(incident(uuid));

        // Act
        const sameTime = await store.putIncident(incident(uuid, { lastEventType: 'attack.updated', severity: 'low' }));
        const newer = await store.putIncident(
          incident(uuid, { status: 'ended', lastEventAt: T0 + 1, lastEventType: 'attack.ended', endedAt: '2025-06-15T13:00:00Z' }),
        );

        // Assess
        expect(sameTime).toBe(true);
        expect(newer).toBe(true);
        expect(await store.getIncident(uuid)).toMatchObject({ status: 'ended', lastEventAt: T0 + 1, lastEventType: 'attack.ended' });
      });

      it('keeps the stored incident when an older event arrives', async () => {
        // Prepare
        const uuid = uid('inc');
        const current = incident(uuid, { status: 'ended', lastEventAt: T0 + 10, lastEventType: 'attack.ended' });
        await store.putIncident(current);

        // Act
        const written = await store.putIncident(incident(uuid, { lastEventAt: T0 + 5, lastEventType: 'attack.updated' }));

        // Assess
        expect(written).toBe(false);
        expect(await store.getIncident(uuid)).toEqual(current);
      });

      it('lists incidents filtered by status', async () => {
        // Prepare
        const active = [uid('inc'), uid('inc')];
        const ended = uid('inc');
        for (const uuid of active) await store.putIncident(incident(uuid));
        await store.putIncident(incident(ended, { status: 'ended' }));
        const mine = new Set([...active, ended]);

        // Act
        const listedActive = (await store.listIncidents({ status: 'active' })).filter((r) => mine.has(r.uuid));
        const listedEnded = (await store.listIncidents({ status: 'ended' })).filter((r) => mine.has(r.uuid));
        const listedAll = (await store.listIncidents()).filter((r) => mine.has(r.uuid));

        // Assess
        expect(listedActive.map((r) => r.uuid).sort()).toEqual([...active].sort());
        expect(listedEnded.map((r) => r.uuid)).toEqual([ended]);
        expect(listedAll).toHaveLength(3);
      });

      it('lists no more incidents than the limit', async () => {
        // Prepare
        for (let n = 0; n < 3; n += 1) await store.putIncident(incident(uid('inc')));

        // Act
        const listed = await store.listIncidents({ limit: 2 });

        // Assess
        expect(listed).toHaveLength(2);
      });
    });

    describe('hold and release', () => {
      it('creates a due, absent block owned by the incident on the first hold', async () => {
        // Prepare
        const integration = uid('fw');
        const owner = uid('inc');

        // Act
        await store.hold([intent(owner, integration, '198.51.100.7', T0 + HOUR)], T0);

        // Assess
        expect(await block(integration, '198.51.100.7')).toEqual({
          integration,
          key: '198.51.100.7',
          kind: 'ip',
          holders: [owner],
          actual: 'absent',
          expiresAt: T0 + HOUR,
          dueAt: T0,
          attempts: 0,
          version: 1,
          updatedAt: T0,
        });
      });

      it('records a holding for each intent of the incident', async () => {
        // Prepare
        const ipIntegration = uid('fw');
        const switchIntegration = uid('switch');
        const owner = uid('inc');

        // Act
        await store.hold([intent(owner, ipIntegration, '198.51.100.7'), intent(owner, switchIntegration, SWITCH_KEY)], T0);

        // Assess
        const holdings = await store.listHoldings(owner);
        expect(holdings).toHaveLength(2);
        expect(holdings).toEqual(
          expect.arrayContaining([
            { incident: owner, integration: ipIntegration, key: '198.51.100.7', kind: 'ip', heldAt: T0 },
            { incident: owner, integration: switchIntegration, key: SWITCH_KEY, kind: 'switch', heldAt: T0 },
          ]),
        );
        expect((await block(switchIntegration, SWITCH_KEY)).kind).toBe('switch');
      });

      it('holds the same intent twice without a second holder', async () => {
        // Prepare
        const integration = uid('fw');
        const owner = uid('inc');
        await store.hold([intent(owner, integration, '198.51.100.7', T0 + HOUR)], T0);

        // Act
        await store.hold([intent(owner, integration, '198.51.100.7', T0 + 2 * HOUR)], T0 + 5);

        // Assess
        expect(await block(integration, '198.51.100.7')).toMatchObject({
          holders: [owner],
          expiresAt: T0 + 2 * HOUR,
          dueAt: T0 + 5,
          version: 2,
          updatedAt: T0 + 5,
        });
        expect(await store.listHoldings(owner)).toHaveLength(1);
      });

      it('keeps the holders of a block sorted and unique', async () => {
        // Prepare
        const integration = uid('fw');
        const prefix = uid('inc');
        const [a, b, c] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];

        // Act
        await store.hold([intent(c, integration, '198.51.100.7')], T0);
        await store.hold([intent(a, integration, '198.51.100.7'), intent(b, integration, '198.51.100.7')], T0 + 1);
        await store.hold([intent(c, integration, '198.51.100.7')], T0 + 2);

        // Assess
        expect((await block(integration, '198.51.100.7')).holders).toEqual([a, b, c]);
      });

      it('keeps the device state of a block that is held again', async () => {
        // Prepare
        const integration = uid('fw');
        const first = uid('inc');
        await store.hold([intent(first, integration, '198.51.100.7')], T0);
        const read = await block(integration, '198.51.100.7');
        await store.complete([completion(read, { actual: 'present', ref: '*1A', addedAt: T0 + 1, lastAttemptAt: T0 + 1 })], T0 + 1);

        // Act
        const second = uid('inc');
        await store.hold([intent(second, integration, '198.51.100.7', T0 + 3 * HOUR)], T0 + 2);

        // Assess
        expect(await block(integration, '198.51.100.7')).toMatchObject({
          actual: 'present',
          ref: '*1A',
          addedAt: T0 + 1,
          holders: [first, second].sort(),
          expiresAt: T0 + 3 * HOUR,
          dueAt: T0 + 2,
          version: read.version + 2,
        });
      });

      it('keeps a shared IP held while another incident still holds it', async () => {
        // Prepare
        const integration = uid('fw');
        const first = uid('inc');
        const second = uid('inc');
        await store.hold([intent(first, integration, '203.0.113.9')], T0);
        await store.hold([intent(second, integration, '203.0.113.9')], T0 + 1);
        const before = await block(integration, '203.0.113.9');

        // Act
        await store.release(first, T0 + 10);

        // Assess
        expect(await block(integration, '203.0.113.9')).toMatchObject({
          holders: [second],
          dueAt: T0 + 10,
          version: before.version + 1,
          updatedAt: T0 + 10,
        });
        expect(await store.listHoldings(first)).toEqual([]);
        expect(await store.listHoldings(second)).toHaveLength(1);
      });

      it('lets go of every block of the incident and marks each due', async () => {
        // Prepare
        const ipIntegration = uid('fw');
        const switchIntegration = uid('switch');
        const owner = uid('inc');
        await store.hold([intent(owner, ipIntegration, '198.51.100.7'), intent(owner, switchIntegration, SWITCH_KEY)], T0);
        for (const held of await store.getBlocks([
          { integration: ipIntegration, key: '198.51.100.7' },
          { integration: switchIntegration, key: SWITCH_KEY },
        ])) {
          await store.complete([completion(held, { actual: 'present', dueAt: null })], T0 + 1);
        }

        // Act
        await store.release(owner, T0 + 20);

        // Assess
        const released = await store.getBlocks([
          { integration: ipIntegration, key: '198.51.100.7' },
          { integration: switchIntegration, key: SWITCH_KEY },
        ]);
        expect(released).toHaveLength(2);
        for (const record of released) {
          expect(record).toMatchObject({ holders: [], actual: 'present', dueAt: T0 + 20, version: 3 });
        }
        expect(await store.listHoldings(owner)).toEqual([]);
      });

      it('changes nothing when an incident is released a second time', async () => {
        // Prepare
        const integration = uid('fw');
        const owner = uid('inc');
        await store.hold([intent(owner, integration, '198.51.100.7')], T0);
        await store.release(owner, T0 + 1);
        const afterFirst = await block(integration, '198.51.100.7');

        // Act
        await store.release(owner, T0 + 2);
        await store.release(uid('inc'), T0 + 3);

        // Assess
        expect(await block(integration, '198.51.100.7')).toEqual(afterFirst);
      });
    });

    describe('reading blocks', () => {
      it('returns only the requested blocks that exist', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold([intent(uid('inc'), integration, '198.51.100.1'), intent(uid('inc'), integration, '198.51.100.2')], T0);

        // Act
        const found = await store.getBlocks([
          { integration, key: '198.51.100.2' },
          { integration, key: '198.51.100.99' },
          { integration: uid('fw'), key: '198.51.100.1' },
        ]);

        // Assess
        expect(found.map((b) => b.key)).toEqual(['198.51.100.2']);
      });

      it('returns nothing for no keys', async () => {
        // Act
        const found = await store.getBlocks([]);

        // Assess
        expect(found).toEqual([]);
      });

      it('lists the blocks of one integration only', async () => {
        // Prepare
        const mine = uid('fw');
        const other = uid('fw');
        await store.hold([intent(uid('inc'), mine, '198.51.100.1'), intent(uid('inc'), mine, '198.51.100.2')], T0);
        await store.hold([intent(uid('inc'), other, '198.51.100.3')], T0);

        // Act
        const listed = await store.listBlocks({ integration: mine });

        // Assess
        expect(listed.map((b) => `${b.integration}/${b.key}`).sort()).toEqual([`${mine}/198.51.100.1`, `${mine}/198.51.100.2`]);
      });

      it('lists blocks of every integration when none is named', async () => {
        // Prepare
        const first = uid('fw');
        const second = uid('fw');
        await store.hold([intent(uid('inc'), first, '198.51.100.1'), intent(uid('inc'), second, SWITCH_KEY)], T0);

        // Act
        const listed = await store.listBlocks();

        // Assess
        const mine = listed.filter((b) => b.integration === first || b.integration === second);
        expect(mine.map((b) => b.integration).sort()).toEqual([first, second].sort());
      });

      it('hides settled blocks unless asked to include them', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold([intent(uid('inc'), integration, '198.51.100.1')], T0);
        await settledBlock(integration, '198.51.100.2', T0 + 10);
        const leaving = uid('inc');
        await store.hold([intent(leaving, integration, '198.51.100.3')], T0);
        const present = await block(integration, '198.51.100.3');
        await store.complete([completion(present, { actual: 'present', dueAt: null })], T0 + 1);
        await store.release(leaving, T0 + 2);

        // Act
        const wanted = await store.listBlocks({ integration });
        const everything = await store.listBlocks({ integration, includeSettled: true });

        // Assess
        expect(wanted.map((b) => b.key).sort()).toEqual(['198.51.100.1', '198.51.100.3']);
        expect(everything.map((b) => b.key).sort()).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
      });
    });

    describe('due blocks', () => {
      it('returns due blocks oldest due first, up to the limit', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold([intent(uid('inc'), integration, '198.51.100.30')], T0 + 30);
        await store.hold([intent(uid('inc'), integration, '198.51.100.10')], T0 + 10);
        await store.hold([intent(uid('inc'), integration, '198.51.100.20')], T0 + 20);
        await store.hold([intent(uid('inc'), integration, '198.51.100.99')], T0 + 99);

        // Act
        const due = await store.dueBlocks(integration, T0 + 50, 10);
        const firstTwo = await store.dueBlocks(integration, T0 + 50, 2);

        // Assess
        expect(due.map((b) => b.key)).toEqual(['198.51.100.10', '198.51.100.20', '198.51.100.30']);
        expect(firstTwo.map((b) => b.key)).toEqual(['198.51.100.10', '198.51.100.20']);
      });

      it('counts a block due at exactly now', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold([intent(uid('inc'), integration, '198.51.100.1')], T0);

        // Act
        const due = await store.dueBlocks(integration, T0, 10);
        const early = await store.dueBlocks(integration, T0 - 1, 10);

        // Assess
        expect(due.map((b) => b.key)).toEqual(['198.51.100.1']);
        expect(early).toEqual([]);
      });

      it('leaves out blocks completed with no next look or a later one', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold(
          [intent(uid('inc'), integration, '198.51.100.1'), intent(uid('inc'), integration, '198.51.100.2'), intent(uid('inc'), integration, '198.51.100.3')],
          T0,
        );
        const [settled, later] = await store.getBlocks([
          { integration, key: '198.51.100.1' },
          { integration, key: '198.51.100.2' },
        ]);
        await store.complete([completion(settled!, { dueAt: null }), completion(later!, { dueAt: T0 + 60_000 })], T0 + 1);

        // Act
        const dueNow = await store.dueBlocks(integration, T0 + 2, 10);
        const dueLater = await store.dueBlocks(integration, T0 + 60_000, 10);

        // Assess
        expect(dueNow.map((b) => b.key)).toEqual(['198.51.100.3']);
        expect(dueLater.map((b) => b.key)).toEqual(['198.51.100.3', '198.51.100.2']);
      });

      it('names each integration with a due block once', async () => {
        // Prepare
        const dueNow = uid('fw');
        const dueLater = uid('fw');
        await store.hold([intent(uid('inc'), dueNow, '198.51.100.1'), intent(uid('inc'), dueNow, '198.51.100.2')], T0);
        await store.hold([intent(uid('inc'), dueLater, '198.51.100.1')], T0);
        const later = await block(dueLater, '198.51.100.1');
        await store.complete([completion(later, { dueAt: T0 + 60_000 })], T0 + 1);

        // Act
        const atFirst = await store.dueIntegrations(T0 + 2);
        const afterwards = await store.dueIntegrations(T0 + 60_000);

        // Assess
        expect(atFirst.filter((name) => name === dueNow)).toHaveLength(1);
        expect(atFirst).not.toContain(dueLater);
        expect(afterwards).toEqual(expect.arrayContaining([dueNow, dueLater]));
      });
    });

    describe('complete', () => {
      it('applies a completion that expects the current version', async () => {
        // Prepare
        const integration = uid('fw');
        const owner = uid('inc');
        await store.hold([intent(owner, integration, '198.51.100.7')], T0);
        const read = await block(integration, '198.51.100.7');

        // Act
        const result = await store.complete(
          [completion(read, { actual: 'present', ref: '*2B', addedAt: T0 + 3, dueAt: T0 + HOUR, attempts: 0, lastAttemptAt: T0 + 3 })],
          T0 + 4,
        );

        // Assess
        expect(result.conflicts).toEqual([]);
        expect(await block(integration, '198.51.100.7')).toEqual({
          integration,
          key: '198.51.100.7',
          kind: 'ip',
          holders: [owner],
          actual: 'present',
          ref: '*2B',
          addedAt: T0 + 3,
          expiresAt: read.expiresAt,
          dueAt: T0 + HOUR,
          attempts: 0,
          lastAttemptAt: T0 + 3,
          version: read.version + 1,
          updatedAt: T0 + 4,
        });
      });

      it('records a failed attempt with its error', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold([intent(uid('inc'), integration, '198.51.100.7')], T0);
        const read = await block(integration, '198.51.100.7');

        // Act
        await store.complete(
          [completion(read, { actual: 'unknown', dueAt: T0 + 5_000, attempts: 3, lastError: 'ECONNRESET', lastAttemptAt: T0 + 1 })],
          T0 + 1,
        );

        // Assess
        expect(await block(integration, '198.51.100.7')).toMatchObject({
          actual: 'unknown',
          dueAt: T0 + 5_000,
          attempts: 3,
          lastError: 'ECONNRESET',
          lastAttemptAt: T0 + 1,
        });
      });

      it('reports a conflict and changes nothing when the block moved on', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold([intent(uid('inc'), integration, '198.51.100.7')], T0);
        const stale = await block(integration, '198.51.100.7');
        await store.hold([intent(uid('inc'), integration, '198.51.100.7')], T0 + 1);
        const current = await block(integration, '198.51.100.7');

        // Act
        const result = await store.complete([completion(stale, { actual: 'present', ref: '*9' })], T0 + 2);

        // Assess
        expect(result.conflicts).toEqual([{ integration, key: '198.51.100.7' }]);
        expect(await block(integration, '198.51.100.7')).toEqual(current);
      });

      it('applies the current completions of a batch and reports only the stale ones', async () => {
        // Prepare
        const integration = uid('fw');
        await store.hold([intent(uid('inc'), integration, '198.51.100.1'), intent(uid('inc'), integration, '198.51.100.2')], T0);
        const [one, two] = await store.getBlocks([
          { integration, key: '198.51.100.1' },
          { integration, key: '198.51.100.2' },
        ]);
        await store.hold([intent(uid('inc'), integration, '198.51.100.2')], T0 + 1);

        // Act
        const result = await store.complete([completion(one!), completion(two!)], T0 + 2);

        // Assess
        expect(result.conflicts).toEqual([{ integration, key: '198.51.100.2' }]);
        expect((await block(integration, '198.51.100.1')).actual).toBe('present');
        expect((await block(integration, '198.51.100.2')).actual).toBe('absent');
      });

      it('reports a completion for a block that does not exist as a conflict', async () => {
        // Prepare
        const missing: BlockKey = { integration: uid('fw'), key: '198.51.100.7' };

        // Act
        const result = await store.complete(
          [{ ...missing, expectVersion: 1, actual: 'present', dueAt: null, attempts: 0, lastError: null, lastAttemptAt: T0 }],
          T0,
        );

        // Assess
        expect(result.conflicts).toEqual([missing]);
        expect(await store.getBlocks([missing])).toEqual([]);
      });

      it('keeps ref, addedAt and snapshot when a completion leaves them out', async () => {
        // Prepare
        const integration = uid('switch');
        await store.hold([intent(uid('inc'), integration, SWITCH_KEY)], T0);
        const read = await block(integration, SWITCH_KEY);
        await store.complete([completion(read, { ref: 'rule-1', addedAt: T0 + 1, snapshot: { enabled: false } })], T0 + 1);
        const applied = await block(integration, SWITCH_KEY);

        // Act
        await store.complete([completion(applied, { actual: 'present', dueAt: T0 + HOUR, lastAttemptAt: T0 + 2 })], T0 + 2);

        // Assess
        expect(await block(integration, SWITCH_KEY)).toMatchObject({ ref: 'rule-1', addedAt: T0 + 1, snapshot: { enabled: false } });
      });

      it('clears ref, addedAt, snapshot, lastError and dueAt when completed with null', async () => {
        // Prepare
        const integration = uid('switch');
        await store.hold([intent(uid('inc'), integration, SWITCH_KEY)], T0);
        const read = await block(integration, SWITCH_KEY);
        await store.complete(
          [completion(read, { ref: 'rule-1', addedAt: T0 + 1, snapshot: { enabled: false }, lastError: 'timeout', dueAt: T0 + 5 })],
          T0 + 1,
        );
        const applied = await block(integration, SWITCH_KEY);

        // Act
        await store.complete(
          [completion(applied, { actual: 'absent', ref: null, addedAt: null, snapshot: null, lastError: null, dueAt: null })],
          T0 + 2,
        );

        // Assess
        const cleared = await block(integration, SWITCH_KEY);
        expect(cleared.actual).toBe('absent');
        for (const field of ['ref', 'addedAt', 'snapshot', 'lastError', 'dueAt'] as const) {
          expect(cleared[field] ?? undefined, field).toBeUndefined();
        }
      });

      it('records "present, not ours", keeps it when left out and clears it with null', async () => {
        // Prepare
        const integration = uid('fw');
        const ip = '45.0.0.9';
        await store.hold([intent(uid('inc'), integration, ip)], T0);
        const read = await block(integration, ip);

        // Act
        await store.complete([completion(read, { actual: 'present', foreign: true, lastAttemptAt: T0 + 1 })], T0 + 1);
        const foreign = await block(integration, ip);
        await store.complete([completion(foreign, { actual: 'present', dueAt: T0 + HOUR, lastAttemptAt: T0 + 2 })], T0 + 2);
        const kept = await block(integration, ip);
        await store.complete([completion(kept, { actual: 'absent', foreign: null, dueAt: null, lastAttemptAt: T0 + 3 })], T0 + 3);
        const cleared = await block(integration, ip);

        // Assess
        expect(foreign.foreign).toBe(true);
        expect(kept.foreign).toBe(true);
        expect(cleared.foreign ?? undefined).toBeUndefined();
        expect(read.foreign ?? undefined).toBeUndefined();
      });

      it('records "absent just before the relay wrote it" (foreign false) apart from unknown, until an outcome clears it', async () => {
        // Prepare
        const integration = uid('waf');
        const ip = '45.0.0.10';
        await store.hold([intent(uid('inc'), integration, ip)], T0);
        const read = await block(integration, ip);

        // Act: the write-ahead, a failed attempt that leaves it out, then the add that lands.
        await store.complete([completion(read, { actual: 'unknown', foreign: false, lastAttemptAt: T0 + 1 })], T0 + 1);
        const noted = await block(integration, ip);
        await store.complete([completion(noted, { actual: 'unknown', lastError: 'timed out', attempts: 1, lastAttemptAt: T0 + 2 })], T0 + 2);
        const afterFailure = await block(integration, ip);
        await store.complete([completion(afterFailure, { actual: 'present', foreign: null, dueAt: T0 + HOUR, lastAttemptAt: T0 + 3 })], T0 + 3);
        const added = await block(integration, ip);

        // Assess
        expect(noted.foreign).toBe(false);
        expect(afterFailure.foreign).toBe(false);
        expect(added.foreign ?? undefined).toBeUndefined();
      });

      it('round-trips a nested JSON snapshot', async () => {
        // Prepare
        const integration = uid('switch');
        await store.hold([intent(uid('inc'), integration, SWITCH_KEY)], T0);
        const read = await block(integration, SWITCH_KEY);
        const snapshot = {
          enabled: false,
          mode: 'standby',
          limits: { pps: 1_500_000, bps: 9.5e9, burst: [1, 2, 3] },
          rules: [
            { id: 'r-1', match: { proto: 'udp', ports: [53, 123] }, action: null },
            { id: 'r-2', note: 'Ünïcödé ✓ "quoted" \\ back', tags: [] },
          ],
          empty: {},
          negative: -42,
        };

        // Act
        await store.complete([completion(read, { snapshot })], T0 + 1);

        // Assess
        expect((await block(integration, SWITCH_KEY)).snapshot).toEqual(snapshot);
      });
    });

    describe('purgeSettled', () => {
      it('deletes settled blocks last updated before the cutoff and keeps the rest', async () => {
        // Prepare
        const integration = uid('fw');
        await settledBlock(integration, '198.51.100.1', 1_000);
        await settledBlock(integration, '198.51.100.2', 3_000);
        await store.hold([intent(uid('inc'), integration, '198.51.100.3', 5_000)], 1_000);
        const leaving = uid('inc');
        await store.hold([intent(leaving, integration, '198.51.100.4', 5_000)], 900);
        await store.release(leaving, 950);
        const stillPresent = await block(integration, '198.51.100.4');
        await store.complete([completion(stillPresent, { actual: 'present', dueAt: null })], 1_000);

        // Act
        const purged = await store.purgeSettled(2_000);

        // Assess
        expect(purged).toBeGreaterThanOrEqual(1);
        const left = await store.listBlocks({ integration, includeSettled: true });
        expect(left.map((b) => b.key).sort()).toEqual(['198.51.100.2', '198.51.100.3', '198.51.100.4']);
      });

      it('forgets ended incidents last updated before the cutoff and keeps active and recent ones', async () => {
        // Prepare
        const oldEnded = uid('inc');
        const recentEnded = uid('inc');
        const oldActive = uid('inc');
        await store.putIncident(incident(oldEnded, { status: 'ended', updatedAt: 1_000 }));
        await store.putIncident(incident(recentEnded, { status: 'ended', updatedAt: 3_000 }));
        await store.putIncident(incident(oldActive, { status: 'active', updatedAt: 1_000 }));

        // Act
        await store.purgeSettled(2_000);

        // Assess
        expect(await store.getIncident(oldEnded)).toBeUndefined();
        expect(await store.getIncident(recentEnded)).toBeDefined();
        expect(await store.getIncident(oldActive)).toBeDefined();
      });

      it('forgets processed-event markers older than the cutoff', async () => {
        // Prepare
        const old = uid('evt');
        const recent = uid('evt');
        await store.markProcessed(old, 1_000);
        await store.markProcessed(recent, 3_000);

        // Act
        await store.purgeSettled(2_000);

        // Assess
        expect(await store.wasProcessed(old)).toBe(false);
        expect(await store.wasProcessed(recent)).toBe(true);
      });
    });

    describe('leases', () => {
      it('grants a free lease to one owner and refuses others until it expires', async () => {
        // Prepare
        const lease = uid('lease');

        // Act
        const first = await store.acquireLease(lease, 'worker-a', T0, 1_000);
        const contended = await store.acquireLease(lease, 'worker-b', T0 + 999, 1_000);
        const afterExpiry = await store.acquireLease(lease, 'worker-b', T0 + 1_000, 1_000);
        const formerOwner = await store.acquireLease(lease, 'worker-a', T0 + 1_001, 1_000);

        // Assess
        expect([first, contended, afterExpiry, formerOwner]).toEqual([true, false, true, false]);
      });

      it('renews a lease for the owner that holds it', async () => {
        // Prepare
        const lease = uid('lease');
        await store.acquireLease(lease, 'worker-a', T0, 1_000);

        // Act
        const renewed = await store.acquireLease(lease, 'worker-a', T0 + 900, 1_000);

        // Assess
        expect(renewed).toBe(true);
        expect(await store.acquireLease(lease, 'worker-b', T0 + 1_500, 1_000)).toBe(false);
        expect(await store.acquireLease(lease, 'worker-b', T0 + 1_900, 1_000)).toBe(true);
      });

      it('releases a lease only for its owner', async () => {
        // Prepare
        const lease = uid('lease');
        await store.acquireLease(lease, 'worker-a', T0, 60_000);

        // Act
        await store.releaseLease(lease, 'worker-b');
        const afterWrongRelease = await store.acquireLease(lease, 'worker-b', T0 + 1, 60_000);
        await store.releaseLease(lease, 'worker-a');
        const afterRelease = await store.acquireLease(lease, 'worker-b', T0 + 2, 60_000);

        // Assess
        expect(afterWrongRelease).toBe(false);
        expect(afterRelease).toBe(true);
      });

      it('tells who holds a lease and until when, and nothing for an unknown one', async () => {
        // Prepare
        const lease = uid('lease');
        await store.acquireLease(lease, 'one-box:host:123:ab', T0, 10_000);

        // Act
        const held = await store.getLease(lease);
        const unknown = await store.getLease(uid('lease'));
        await store.releaseLease(lease, 'one-box:host:123:ab');
        const released = await store.getLease(lease);

        // Assess
        expect(held).toEqual({ owner: 'one-box:host:123:ab', expiresAt: T0 + 10_000 });
        expect(unknown).toBeUndefined();
        expect(released).toBeUndefined();
      });

      it('keeps leases of different names independent', async () => {
        // Prepare
        const first = uid('lease');
        const second = uid('lease');
        await store.acquireLease(first, 'worker-a', T0, 60_000);

        // Act
        const other = await store.acquireLease(second, 'worker-b', T0, 60_000);

        // Assess
        expect(other).toBe(true);
      });
    });

    describe('processed events', () => {
      it('remembers an event once it is marked processed', async () => {
        // Prepare
        const eventKey = uid('evt');
        const before = await store.wasProcessed(eventKey);

        // Act
        await store.markProcessed(eventKey, T0);
        await store.markProcessed(eventKey, T0 + 1);

        // Assess
        expect(before).toBe(false);
        expect(await store.wasProcessed(eventKey)).toBe(true);
        expect(await store.wasProcessed(uid('evt'))).toBe(false);
      });
    });

    describe('audit trail', () => {
      /** Entries of this test only (the engine may be shared). */
      async function mine(integration: string, query: Omit<AuditQuery, 'integration'> = {}): Promise<AuditEntry[]> {
        return store.listAudit({ ...query, integration });
      }

      it('lists entries newest first, filtered by incident, integration and time, within the limit', async () => {
        // Prepare: entries over two days.
        const integration = uid('fw');
        const other = uid('fw');
        const [a, b] = [uid('inc'), uid('inc')];
        const now = Date.now();
        await store.appendAudit([
          { at: now - 30 * HOUR, action: 'block.add', integration, incident: a, count: 40, outcome: 'ok' },
          { at: now - 2 * HOUR, action: 'block.add', integration, incident: b, count: 3, outcome: 'partial', detail: '1 failed: timeout' },
          { at: now - HOUR, action: 'block.remove', integration, count: 40, outcome: 'ok' },
          { at: now - HOUR, action: 'switch.on', integration: other, incident: a, count: 1, outcome: 'ok' },
        ]);

        // Act
        const all = await mine(integration);
        const ofA = await store.listAudit({ incident: a });
        const recent = await mine(integration, { since: now - 3 * HOUR });
        const newest = await mine(integration, { limit: 1 });

        // Assess
        expect(all.map((e) => [e.action, e.count, e.outcome])).toEqual([
          ['block.remove', 40, 'ok'],
          ['block.add', 3, 'partial'],
          ['block.add', 40, 'ok'],
        ]);
        expect(all[1]).toEqual({ at: now - 2 * HOUR, action: 'block.add', integration, incident: b, count: 3, outcome: 'partial', detail: '1 failed: timeout' });
        expect(all[0]?.incident).toBeUndefined();
        expect(ofA.map((e) => e.action)).toEqual(['switch.on', 'block.add']);
        expect(recent).toHaveLength(2);
        expect(newest.map((e) => e.action)).toEqual(['block.remove']);
      });

      it('keeps a long detail bounded', async () => {
        // Prepare
        const integration = uid('fw');
        // Act
        await store.appendAudit([{ at: Date.now(), action: 'block.add', integration, count: 1, outcome: 'failed', detail: 'x'.repeat(5_000) }]);
        const [entry] = await mine(integration);
        // Assess
        expect(entry?.detail).toHaveLength(AUDIT_DETAIL_MAX);
        expect(entry?.detail?.endsWith('…')).toBe(true);
      });

      it('forgets entries older than the retention on purgeAudit', async () => {
        // Prepare
        const integration = uid('fw');
        const now = Date.now();
        await store.appendAudit([
          { at: now - 50 * HOUR, action: 'block.add', integration, count: 1, outcome: 'ok' },
          { at: now - 26 * HOUR, action: 'block.add', integration, count: 2, outcome: 'ok' },
          { at: now - HOUR, action: 'block.add', integration, count: 3, outcome: 'ok' },
        ]);

        // Act
        await store.purgeAudit(now - 24 * HOUR);
        const left = await mine(integration, { since: now - 72 * HOUR });

        // Assess
        expect(left.map((e) => e.count)).toEqual([3]);
      });
    });

    describe('device expiry', () => {
      it('records the expiry last written to the device, keeps it when left out and clears it with null', async () => {
        // Prepare
        const integration = uid('nft');
        await store.hold([intent(uid('inc'), integration, '45.0.0.20')], T0);
        const read = await block(integration, '45.0.0.20');
        // Act
        await store.complete([completion(read, { actual: 'present', deviceExpiresAt: T0 + HOUR, lastAttemptAt: T0 + 1 })], T0 + 1);
        const written = await block(integration, '45.0.0.20');
        await store.complete([completion(written, { actual: 'present', dueAt: T0 + HOUR, lastAttemptAt: T0 + 2 })], T0 + 2);
        const kept = await block(integration, '45.0.0.20');
        await store.complete([completion(kept, { actual: 'absent', deviceExpiresAt: null, lastAttemptAt: T0 + 3 })], T0 + 3);
        const cleared = await block(integration, '45.0.0.20');
        // Assess
        expect(written.deviceExpiresAt).toBe(T0 + HOUR);
        expect(kept.deviceExpiresAt).toBe(T0 + HOUR);
        expect(cleared.deviceExpiresAt ?? undefined).toBeUndefined();
      });
    });

    describe('counters', () => {
      it('adds to a named counter atomically and returns the total; names are independent', async () => {
        // Prepare
        const name = uid('budget');
        const other = uid('budget');
        const expiresAt = Date.now() + HOUR;
        // Act: concurrent additions, as from several processes.
        const totals = await Promise.all([3, 4, 5].map((amount) => store.addToCounter(name, amount, expiresAt)));
        const later = await store.addToCounter(name, 1, expiresAt);
        const separate = await store.addToCounter(other, 2, expiresAt);
        // Assess
        expect(Math.max(...totals)).toBe(12);
        expect(new Set(totals).size).toBe(3);
        expect(later).toBe(13);
        expect(separate).toBe(2);
      });
    });

    describe('large batches', () => {
      it('holds, reads, completes and releases 1,000 IPs in single calls', async () => {
        // Prepare
        const integration = uid('fw');
        const owner = uid('inc');
        const keys: BlockKey[] = Array.from({ length: 1_000 }, (_, n) => ({ integration, key: ip(n) }));

        // Act
        await store.hold(
          keys.map((k) => intent(owner, k.integration, k.key)),
          T0,
        );
        const held = await store.getBlocks(keys);
        const holdings = await store.listHoldings(owner);
        const due = await store.dueBlocks(integration, T0, 1_000);
        const result = await store.complete(
          held.map((b) => completion(b, { actual: 'present', dueAt: null })),
          T0 + 1,
        );
        await store.release(owner, T0 + 2);
        const released = await store.getBlocks(keys);

        // Assess
        expect(held).toHaveLength(1_000);
        expect(new Set(held.map((b) => b.key)).size).toBe(1_000);
        expect(holdings).toHaveLength(1_000);
        expect(due).toHaveLength(1_000);
        expect(result.conflicts).toEqual([]);
        expect(released).toHaveLength(1_000);
        expect(released.every((b) => b.holders.length === 0 && b.actual === 'present' && b.dueAt === T0 + 2)).toBe(true);
        expect(await store.listHoldings(owner)).toEqual([]);
      });
    });
  });
}
