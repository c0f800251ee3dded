/**
 * The crowdsec provider against a REAL CrowdSec Local API: the `crowdsec`
 * binary of the Debian package (bookworm ships 1.4.6), one LAPI for this
 * file on 127.0.0.1 and a free port, stopped in afterAll.
 *
 * With CI=true these tests must run: a missing crowdsec fails the file.
 * Elsewhere they are skipped with a message saying how to install it
 * (`node scripts/engines/crowdsec.mjs`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrowdsecClient } from '../../../lib/providers/crowdsec/client.ts';
import { crowdsecOptionsSchema } from '../../../lib/providers/crowdsec/config.ts';
import { CrowdsecLoginError, CrowdsecRejectedError } from '../../../lib/providers/crowdsec/errors.ts';
import { parseGoDuration } from '../../../lib/providers/crowdsec/model.ts';
import { type CrowdsecProvider, createCrowdsecProvider } from '../../../lib/providers/crowdsec/provider.ts';
import type { BlockEntry, ProviderContext } from '../../../lib/providers/types.ts';
import { createDirectTransport } from '../../../lib/transport/node-http.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { type RunningLapi, crowdsecAvailability, crowdsecVersion, startCrowdsecLapi } from '../../helpers/crowdsec-lapi.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';

const available = crowdsecAvailability();
const inCi = process.env.CI === 'true';
if (!available.ok && !inCi) {
  console.warn(`[crowdsec] skipping the real-LAPI tests: ${available.reason}`);
}

describe.runIf(!available.ok && inCi)('crowdsec LAPI (CI)', () => {
  it('has crowdsec installed (CI=true requires the real-LAPI tests to run)', () => {
    // Prepare / Act / Assess: in CI a missing engine is a failure, not a skip.
    expect.fail(available.ok ? 'unreachable' : available.reason);
  });
});

const INCIDENT = '6d1f0a3c-2b4e-4f5a-8c7d-9e0f1a2b3c4d';
const HOUR = 3_600_000;

/** A transport that records every exchange (method, path, status) on the way to the real LAPI. */
function recordingTransport(inner: Transport) {
  const seen: { method: string; path: string; status: number; userAgent: string | undefined }[] = [];
  const transport: Transport = {
    async request(request: HttpRequest): Promise<HttpResponse> {
      const response = await inner.request(request);
      const url = new URL(request.url);
      seen.push({ method: request.method, path: `${url.pathname}${url.search}`, status: response.status, userAgent: request.headers?.['User-Agent'] });
      return response;
    },
  };
  return { transport, seen };
}

describe.runIf(available.ok)(`crowdsec provider against the real LAPI (${available.ok ? crowdsecVersion() : 'absent'})`, () => {
  let lapi: RunningLapi;
  const logger = new RecordingLogger();
  const ctx: ProviderContext = { signal: new AbortController().signal, logger };

  beforeAll(async () => {
    lapi = await startCrowdsecLapi();
  }, 30_000);
  afterAll(async () => {
    await lapi?.stop();
  }, 15_000);

  function provider(id: string, options: { now?: () => number; transport?: Transport; password?: string } = {}): CrowdsecProvider {
    return createCrowdsecProvider(
      { id, options: crowdsecOptionsSchema.parse({ url: lapi.url, machineId: lapi.machineId, timeout: '5s' }) },
      {
        transport: options.transport ?? createDirectTransport(),
        secrets: { password: options.password ?? lapi.password },
        logger,
        ...(options.now ? { now: options.now } : {}),
      },
    );
  }
  const block = (ip: string, ttlMs = HOUR, extra: Partial<BlockEntry> = {}): BlockEntry => ({ ip, expiresAt: Date.now() + ttlMs, incidents: [INCIDENT], ...extra });
  const relayOnes = <T extends { origin: string }>(decisions: T[]): T[] => decisions.filter((decision) => decision.origin === 'flowtriq-relay');

  it('runs the Debian package build of CrowdSec (1.4.x)', () => {
    // Prepare / Act
    const version = crowdsecVersion();
    // Assess: the quirks handled (500 for validation, `scopes`) are those of this version.
    expect(version).toMatch(/^v1\.\d+\.\d+/);
  });

  it('a bouncer sees the relay\'s decisions after add and none after remove', async () => {
    // Prepare
    const relay = provider('cs-basic');
    // Act
    const added = await relay.add([block('198.51.100.10'), block('2001:db8::10')], ctx);
    const seenV4 = await lapi.bouncerDecisions('198.51.100.10');
    const seenV6 = await lapi.bouncerDecisions('2001:db8::10');
    const removed = await relay.remove([block('198.51.100.10'), block('2001:db8::10')], ctx);
    // Assess
    expect(added).toEqual([
      { ip: '198.51.100.10', ok: true },
      { ip: '2001:db8::10', ok: true },
    ]);
    expect(seenV4).toEqual([expect.objectContaining({ origin: 'flowtriq-relay', scenario: 'flowtriq-relay/cs-basic', scope: 'Ip', type: 'ban', value: '198.51.100.10' })]);
    expect(seenV6).toEqual([expect.objectContaining({ origin: 'flowtriq-relay', scenario: 'flowtriq-relay/cs-basic', value: '2001:db8::10' })]);
    expect(removed).toEqual([
      { ip: '198.51.100.10', ok: true },
      { ip: '2001:db8::10', ok: true },
    ]);
    expect(await lapi.bouncerDecisions('198.51.100.10')).toEqual([]);
    expect(await lapi.bouncerDecisions('2001:db8::10')).toEqual([]);
    expect(relay.deleteMode).toBe('filter');
  });

  it('a longer hold replaces the relay\'s decision with a longer one (never stacking), and leaves a nearly-as-long one alone', async () => {
    // Prepare: the relay's ban for 1 hour, and the operator's for the same address.
    lapi.addOperatorDecision('198.51.100.60', { duration: '3h', reason: 'operator same ip' });
    const relay = provider('cs-refresh');
    await relay.add([block('198.51.100.60', HOUR)], ctx);
    const first = relayOnes(await lapi.bouncerDecisions('198.51.100.60'));

    // Act: another incident holds it for 2 hours; then an update a moment later asks for barely more.
    const refreshed = await relay.add([block('198.51.100.60', 2 * HOUR, { refresh: true })], ctx);
    const second = relayOnes(await lapi.bouncerDecisions('198.51.100.60'));
    await relay.add([block('198.51.100.60', 2 * HOUR + 60_000, { refresh: true })], ctx);
    const third = relayOnes(await lapi.bouncerDecisions('198.51.100.60'));

    // Assess
    expect(refreshed).toEqual([{ ip: '198.51.100.60', ok: true }]);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0]!.id).not.toBe(first[0]!.id);
    expect(parseGoDuration(second[0]!.duration)!).toBeGreaterThan(1.9 * HOUR);
    expect(third.map((decision) => decision.id)).toEqual([second[0]!.id]);
    expect((await lapi.bouncerDecisions('198.51.100.60')).filter((decision) => decision.origin === 'cscli')).toHaveLength(1);
    await relay.remove([block('198.51.100.60')], ctx);
  });

  it('never touches decisions added with `cscli decisions add`, for the same address or another', async () => {
    // Prepare: the operator bans the address the relay will block, and another one.
    lapi.addOperatorDecision('198.51.100.20', { duration: '3h', reason: 'operator same ip' });
    lapi.addOperatorDecision('198.51.100.21', { duration: '3h', reason: 'operator other ip' });
    const before = [...(await lapi.bouncerDecisions('198.51.100.20')), ...(await lapi.bouncerDecisions('198.51.100.21'))];
    const relay = provider('cs-operator');
    // Act
    await relay.add([block('198.51.100.20')], ctx);
    const during = await lapi.bouncerDecisions('198.51.100.20');
    await relay.remove([block('198.51.100.20')], ctx);
    await relay.remove([block('198.51.100.21')], ctx); // never added by the relay: must remove nothing
    const after = [...(await lapi.bouncerDecisions('198.51.100.20')), ...(await lapi.bouncerDecisions('198.51.100.21'))];
    // Assess
    expect(before).toHaveLength(2);
    expect(before.every((decision) => decision.origin === 'cscli')).toBe(true);
    expect(during.map((decision) => decision.origin).sort()).toEqual(['cscli', 'flowtriq-relay']);
    expect(after.map((decision) => ({ id: decision.id, origin: decision.origin, scenario: decision.scenario }))).toEqual(
      before.map((decision) => ({ id: decision.id, origin: decision.origin, scenario: decision.scenario })),
    );
    for (const decision of after) expect(parseGoDuration(decision.duration)!).toBeGreaterThan(2.9 * HOUR);
    expect(await relay.list(ctx)).toEqual([]);
  });

  it('sends a duration equal to the block\'s remaining TTL', async () => {
    // Prepare: a block with 1 h 47 min 13 s left.
    const relay = provider('cs-ttl');
    const ttl = HOUR + 47 * 60_000 + 13_000;
    const entry = block('198.51.100.30', ttl);
    // Act
    await relay.add([entry], ctx);
    const [seen] = relayOnes(await lapi.bouncerDecisions('198.51.100.30'));
    const leftNow = entry.expiresAt - Date.now();
    // Assess: what the LAPI reports as left matches what the relay has left (within the test's own latency).
    expect(seen).toBeDefined();
    expect(Math.abs(parseGoDuration(seen!.duration)! - leftNow)).toBeLessThan(3_000);
    await relay.remove([entry], ctx);
  });

  it('list() reports exactly the relay\'s own decisions, all owned', async () => {
    // Prepare: the operator's decisions, another integration's decision, and the relay's.
    lapi.addOperatorDecision('198.51.100.40', { reason: 'operator list' });
    const other = provider('cs-other');
    await other.add([block('198.51.100.41')], ctx);
    const relay = provider('cs-list');
    await relay.add([block('198.51.100.42'), block('198.51.100.40'), block('2001:db8::42')], ctx);
    // Act
    const listed = await relay.list(ctx);
    await relay.remove([block('198.51.100.42')], ctx);
    const afterRemove = await relay.list(ctx);
    // Assess
    expect(listed.map(({ ip, owned }) => ({ ip, owned })).sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '198.51.100.40', owned: true },
      { ip: '198.51.100.42', owned: true },
      { ip: '2001:db8::42', owned: true },
    ]);
    expect(listed.every((entry) => /^\d+$/.test(entry.ref ?? ''))).toBe(true);
    expect(afterRemove.map((entry) => entry.ip).sort()).toEqual(['198.51.100.40', '2001:db8::42']);
    expect((await other.list(ctx)).map((entry) => entry.ip)).toEqual(['198.51.100.41']);
    await relay.remove([block('198.51.100.40'), block('2001:db8::42')], ctx);
    await other.remove([block('198.51.100.41')], ctx);
    expect((await lapi.bouncerDecisions('198.51.100.40')).map((decision) => decision.origin)).toEqual(['cscli']);
  });

  it('logs in again when the LAPI refuses the token (401 after a LAPI restart)', async () => {
    // Prepare: a logged-in relay; restarting the LAPI changes its JWT secret.
    const { transport, seen } = recordingTransport(createDirectTransport());
    const relay = provider('cs-restart', { transport });
    await relay.add([block('198.51.100.50')], ctx);
    await lapi.restart();
    // Act
    const removed = await relay.remove([block('198.51.100.50')], ctx);
    // Assess: one 401, a second login, the delete repeated and done.
    expect(removed).toEqual([{ ip: '198.51.100.50', ok: true }]);
    expect(seen.filter((exchange) => exchange.status === 401)).toHaveLength(1);
    expect(seen.filter((exchange) => exchange.path === '/v1/watchers/login').map((exchange) => exchange.status)).toEqual([200, 200]);
    expect(relayOnes(await lapi.bouncerDecisions('198.51.100.50'))).toEqual([]);
  }, 30_000);

  it('renews the token before it expires, without ever sending an expired one', async () => {
    // Prepare: the relay's clock runs 58 minutes ahead after its first login (the LAPI's tokens live 1 h).
    let offset = 0;
    const { transport, seen } = recordingTransport(createDirectTransport());
    const relay = provider('cs-expiry', { transport, now: () => Date.now() + offset });
    await relay.list(ctx);
    // Act
    offset = 58 * 60_000;
    await relay.list(ctx);
    // Assess
    expect(seen.filter((exchange) => exchange.path === '/v1/watchers/login')).toHaveLength(2);
    expect(seen.filter((exchange) => exchange.status === 401)).toEqual([]);
    expect(relay.loginCount).toBe(2);
  });

  it('identifies itself with a name/version User-Agent (the LAPI refuses a login without one "/")', async () => {
    // Prepare
    const { transport, seen } = recordingTransport(createDirectTransport());
    const relay = provider('cs-ua', { transport });
    // Act
    const health = await relay.healthCheck(ctx);
    // Assess
    expect(health.ok).toBe(true);
    expect(seen[0]!.userAgent).toMatch(/^flowtriq-relay\/[^/]+$/);
  });

  it('does not push a second decision for a resumed block that is already there', async () => {
    // Prepare
    const relay = provider('cs-resume');
    const entry = block('198.51.100.60');
    await relay.add([entry], ctx);
    // Act
    const again = await relay.add([{ ...entry, resumed: true }], ctx);
    // Assess
    expect(again).toEqual([{ ip: '198.51.100.60', ok: true }]);
    expect(relayOnes(await lapi.bouncerDecisions('198.51.100.60'))).toHaveLength(1);
    await relay.remove([entry], ctx);
  });

  it('removes by decision id, still never touching the operator\'s, when the LAPI refuses the scenario filter', async () => {
    // Prepare: a LAPI that answers the filtered DELETE as CrowdSec versions without that key do.
    lapi.addOperatorDecision('198.51.100.70', { reason: 'operator by-id' });
    const direct = createDirectTransport();
    const transport: Transport = {
      async request(request) {
        const url = new URL(request.url);
        if (request.method === 'DELETE' && url.pathname === '/v1/decisions') {
          return { status: 500, headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode('{"message":"\'scenario\' doesn\'t exist: invalid filter"}') };
        }
        return direct.request(request);
      },
    };
    const relay = provider('cs-byid', { transport });
    await relay.add([block('198.51.100.70'), block('198.51.100.71')], ctx);
    // Act
    const removed = await relay.remove([block('198.51.100.70'), block('198.51.100.71')], ctx);
    // Assess
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(relay.deleteMode).toBe('by-id');
    expect((await lapi.bouncerDecisions('198.51.100.70')).map((decision) => decision.origin)).toEqual(['cscli']);
    expect(await lapi.bouncerDecisions('198.51.100.71')).toEqual([]);
  });

  it('reads 1.4.x\'s 500 for invalid input as a rejection, not something to retry', async () => {
    // Prepare: an alert without scenario_hash (required by the swagger).
    const client = new CrowdsecClient({
      label: 'crowdsec raw',
      baseUrl: lapi.url,
      machineId: lapi.machineId,
      password: lapi.password,
      transport: createDirectTransport(),
      timeoutMs: 5_000,
      now: Date.now,
      sleep: async () => {},
    });
    const op = { signal: new AbortController().signal, logger, deadline: Date.now() + 10_000 };
    // Act
    const failure = await client.pushAlert(op, { scenario: 'x', message: 'x' }).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(CrowdsecRejectedError);
    expect((failure as CrowdsecRejectedError).retryable).toBe(false);
    expect((failure as CrowdsecRejectedError).message).toMatch(/answered (400|500|422)/);
  });

  it('reports a wrong password with the fix, without the password', async () => {
    // Prepare
    const relay = provider('cs-badpw', { password: 'wrong-password-value' });
    // Act
    const health = await relay.healthCheck(ctx);
    const failure = await relay.list(ctx).catch((error: unknown) => error);
    // Assess
    expect(health.ok).toBe(false);
    expect(health.detail).toContain('secrets.password');
    expect(health.detail).not.toContain('wrong-password-value');
    expect(failure).toBeInstanceOf(CrowdsecLoginError);
  });
});
