/**
 * The `crowdsec` integration: a blocklist over a CrowdSec Local API.
 *
 * - add: one alert per batch (`POST /v1/alerts`), carrying one `ban`
 *   decision per address (scope `Ip`), each with a Go duration equal to the
 *   block's remaining TTL (`expiresAt - now`, whole seconds rounded up), the
 *   origin `flowtriq-relay` and the scenario `flowtriq-relay/<integration
 *   id>`. Every bouncer of the LAPI then enforces it. A block that may be
 *   half-done (`resumed`) is looked up first, and not pushed again when the
 *   relay's decision for it is still there for (about) as long.
 * - remove: expires the relay's decisions for each address with a filtered
 *   `DELETE /v1/decisions?scenario=…&origin=…&ip=…&type=ban&scopes=Ip`
 *   (1.4.x and current LAPIs both honour these keys; the swagger's `scope`
 *   is refused by both). A LAPI that refuses one of those keys is never
 *   sent a broader delete: the relay reads its own decisions
 *   (`GET /v1/alerts?scenario=…`) and expires them one by one
 *   (`DELETE /v1/decisions/{id}`), for the rest of the process's life.
 * - list: the relay's active decisions, read back from its alerts (origin
 *   and scenario both the relay's), all `owned`.
 *
 * Decisions from any other origin or scenario (`cscli decisions add`, the
 *   agent, the community blocklist) are never read as the relay's and never
 *   deleted. An address that already has someone else's decision still gets
 *   the relay's own (decisions coexist; each is removed by whoever added
 *   it), so `add` never answers `foreign`.
 */
import { describeError } from '../../errors.ts';
import { normalizeAddress } from '../../ip/address.ts';
import type { Logger } from '../../log/types.ts';
import type { TlsOptions } from '../../transport/types.ts';
import { clientRuntime } from '../client-runtime.ts';
import { ProviderError } from '../errors.ts';
import type { BlockEntry, BlocklistProvider, CloudProviderDeps, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import { CrowdsecClient, type CrowdsecOp } from './client.ts';
import { CROWDSEC_ORIGIN, type CrowdsecOptions, type CrowdsecSecrets, crowdsecScenario } from './config.ts';
import { CrowdsecFilterUnsupportedError, CrowdsecForbiddenError, CrowdsecLoginError, CrowdsecRejectedError } from './errors.ts';
import { buildAlert, parseGoDuration } from './model.ts';

export const CROWDSEC_TYPE = 'crowdsec';
/** Addresses per alert (the LAPI inserts decisions in bulks of 50; one alert may carry thousands). */
export const CROWDSEC_MAX_BATCH = 500;
/** A resumed add is not pushed again when the relay's decision has at least this little less time left. */
export const RESUME_TOLERANCE_MS = 60_000;
/**
 * A refreshed block (another incident holds it, or its TTL was extended) gets
 * a new, longer decision only when the relay's current one would end more
 * than this before the block: updates a minute apart do not each add one.
 */
export const REFRESH_SLACK_MS = 5 * 60_000;

export interface CrowdsecIntegration {
  id: string;
  options: CrowdsecOptions;
}

export interface CrowdsecDeps extends CloudProviderDeps<CrowdsecSecrets> {
  /** Certificate checks for an https URL (the registry builds it from options.tls with deviceTls()). Ignored for http. */
  tls?: TlsOptions;
}

/** How remove deletes: a filtered DELETE per address, or (LAPI without those filters) by decision id. */
export type CrowdsecDeleteMode = 'filter' | 'by-id';

/** An EntryResult without its address (filled in per entry). */
type EntryOutcome = EntryResult extends infer R ? (R extends unknown ? Omit<R, 'ip'> : never) : never;

/** One of the relay's active decisions, as read back. */
interface RelayDecision {
  id: number;
  ip: string;
  remainingMs: number;
}

export function createCrowdsecProvider(integration: CrowdsecIntegration, deps: CrowdsecDeps): CrowdsecProvider {
  const { options } = integration;
  const runtime = clientRuntime(deps, options.timeout);
  const { now } = runtime;
  const label = `${CROWDSEC_TYPE} ${integration.id}`;
  const https = options.url.startsWith('https://');
  const client = new CrowdsecClient({
    label,
    baseUrl: options.url,
    machineId: options.machineId,
    password: deps.secrets.password,
    ...(https && deps.tls ? { tls: deps.tls } : {}),
    ...runtime,
  });
  return new CrowdsecProvider({
    id: integration.id,
    origin: new URL(options.url).origin,
    machineId: options.machineId,
    concurrency: options.concurrency,
    budgetMs: Math.max(60_000, options.timeout * 6),
    client,
    now,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}

export interface CrowdsecProviderOptions {
  id: string;
  /** The LAPI's origin, for messages. */
  origin: string;
  machineId: string;
  concurrency: number;
  budgetMs: number;
  client: CrowdsecClient;
  now: () => number;
  logger?: Logger;
}

export class CrowdsecProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = CROWDSEC_TYPE;
  readonly id: string;
  readonly maxBatch = CROWDSEC_MAX_BATCH;
  /** Decisions end by themselves at the duration they were given: a longer hold pushes a longer one. */
  readonly refreshOnHold = true;
  /** The relay's scenario for this integration: its mark. */
  readonly scenario: string;
  readonly origin = CROWDSEC_ORIGIN;
  readonly #o: CrowdsecProviderOptions;
  #deleteMode: CrowdsecDeleteMode = 'filter';

  constructor(options: CrowdsecProviderOptions) {
    this.#o = options;
    this.id = options.id;
    this.scenario = crowdsecScenario(options.id);
  }

  /** How remove deletes now (switches to by-id once if the LAPI refuses the filter). */
  get deleteMode(): CrowdsecDeleteMode {
    return this.#deleteMode;
  }

  /** Logins so far (a new one each time the token nears expiry or is refused). */
  get loginCount(): number {
    return this.#o.client.loginCount;
  }

  get #label(): string {
    return `${CROWDSEC_TYPE} ${this.id}`;
  }

  #op(ctx: ProviderContext): CrowdsecOp {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#o.now() + this.#o.budgetMs };
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const now = this.#o.now();
    const results: (EntryResult | undefined)[] = entries.map(() => undefined);
    const wanted: { index: number; ip: string; remainingMs: number }[] = [];
    entries.forEach((entry, index) => {
      const address = normalizeAddress(entry.ip);
      if (!address.ok) {
        results[index] = { ip: entry.ip, ok: false, error: `${this.#label}: not an IP address (${address.reason})` };
        return;
      }
      const remainingMs = entry.expiresAt - now;
      if (remainingMs <= 0) {
        // Its TTL is over: the relay removes it next; a decision now would outlive the block.
        ctx.logger.debug('crowdsec: block already expired; nothing pushed', { integration: this.id, ip: address.canonical });
        results[index] = { ip: entry.ip, ok: true };
        return;
      }
      wanted.push({ index, ip: address.canonical, remainingMs });
    });

    let toPush = wanted;
    // Decisions of the relay already there, for entries that may have one.
    let existing: RelayDecision[] = [];
    if (entries.some((entry) => entry.resumed || entry.refresh) && wanted.length > 0) {
      existing = await this.#relayDecisions(op);
      const present = longestPerIp(existing);
      toPush = wanted.filter((item) => {
        const left = present.get(item.ip);
        // Resumed: a previous push may have landed. Refresh: extend only when
        // the decision would end well before the block (no decision per update).
        const tolerance = entries[item.index]!.refresh ? REFRESH_SLACK_MS : RESUME_TOLERANCE_MS;
        if (left !== undefined && left >= item.remainingMs - tolerance) {
          results[item.index] = { ip: entries[item.index]!.ip, ok: true };
          return false;
        }
        return true;
      });
    }
    // One decision per address in the alert (the batch may name one twice).
    const unique = new Map<string, number>();
    for (const item of toPush) unique.set(item.ip, Math.max(unique.get(item.ip) ?? 0, item.remainingMs));
    if (unique.size > 0) {
      const alert = buildAlert({
        scenario: this.scenario,
        origin: this.origin,
        integrationId: this.id,
        decisions: [...unique].map(([ip, remainingMs]) => ({ ip, remainingMs })),
        incidents: [...new Set(entries.flatMap((entry) => entry.incidents))],
        nowIso: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
      await this.#o.client.pushAlert(op, alert);
      // The longer decision is in place: the shorter ones it replaces go (never another origin's or scenario's).
      const replaced = existing.filter((decision) => unique.has(decision.ip));
      for (const decision of replaced) {
        try {
          await this.#o.client.expireDecisionById(op, decision.id);
        } catch (error) {
          // Harmless: it ends by itself before the new one, and removal takes every relay decision of the address.
          ctx.logger.warn('crowdsec: a shorter decision the relay replaced was not deleted', { integration: this.id, ip: decision.ip, error: describeError(error) });
        }
      }
    }
    for (const item of toPush) results[item.index] = { ip: entries[item.index]!.ip, ok: true };
    return results.map((result, index) => result ?? { ip: entries[index]!.ip, ok: false, error: `${this.#label}: not processed` });
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const results: (EntryResult | undefined)[] = entries.map(() => undefined);
    const byIp = new Map<string, number[]>();
    entries.forEach((entry, index) => {
      const address = normalizeAddress(entry.ip);
      if (!address.ok) {
        results[index] = { ip: entry.ip, ok: false, error: `${this.#label}: not an IP address (${address.reason})` };
        return;
      }
      byIp.set(address.canonical, [...(byIp.get(address.canonical) ?? []), index]);
    });
    const settle = (ip: string, result: EntryOutcome) => {
      for (const index of byIp.get(ip) ?? []) results[index] = { ...result, ip: entries[index]!.ip } as EntryResult;
    };

    let pending = [...byIp.keys()];
    if (this.#deleteMode === 'filter') {
      const unsupported: string[] = [];
      await pool(pending, this.#o.concurrency, async (ip) => {
        if (this.#deleteMode !== 'filter') {
          unsupported.push(ip);
          return;
        }
        try {
          const expired = await this.#o.client.expireRelayDecisions(op, { scenario: this.scenario, origin: this.origin, ip });
          ctx.logger.debug('crowdsec: decisions expired', { integration: this.id, ip, expired });
          settle(ip, { ok: true });
        } catch (error) {
          if (error instanceof CrowdsecFilterUnsupportedError) {
            if (this.#deleteMode === 'filter') {
              this.#deleteMode = 'by-id';
              ctx.logger.warn('crowdsec: this LAPI cannot filter DELETE /v1/decisions by the relay\'s scenario and origin; removing the relay\'s decisions by id from now on', {
                integration: this.id,
                key: error.key,
              });
            }
            unsupported.push(ip);
            return;
          }
          this.#entryFailure(error, (result) => settle(ip, result));
        }
      });
      pending = unsupported;
    }
    if (pending.length > 0) await this.#removeById(op, ctx, pending, settle);
    return results.map((result, index) => result ?? { ip: entries[index]!.ip, ok: false, error: `${this.#label}: not processed` });
  }

  /** Expires the relay's own decisions for these addresses, each by its id. */
  async #removeById(op: CrowdsecOp, ctx: ProviderContext, ips: string[], settle: (ip: string, result: EntryOutcome) => void): Promise<void> {
    let decisions: RelayDecision[];
    try {
      decisions = await this.#relayDecisions(op);
    } catch (error) {
      if (error instanceof CrowdsecLoginError || error instanceof CrowdsecForbiddenError) throw error;
      for (const ip of ips) this.#entryFailure(error, (result) => settle(ip, result));
      return;
    }
    const wanted = new Set(ips);
    const ids = new Map<string, number[]>();
    for (const decision of decisions) {
      if (wanted.has(decision.ip)) ids.set(decision.ip, [...(ids.get(decision.ip) ?? []), decision.id]);
    }
    await pool(ips, this.#o.concurrency, async (ip) => {
      try {
        for (const id of ids.get(ip) ?? []) {
          try {
            await this.#o.client.expireDecisionById(op, id);
          } catch (error) {
            // Gone meanwhile (expired and flushed): nothing left to remove.
            if (!(error instanceof CrowdsecRejectedError && /doesn't exist/i.test(error.message))) throw error;
          }
        }
        ctx.logger.debug('crowdsec: decisions expired by id', { integration: this.id, ip, ids: ids.get(ip) ?? [] });
        settle(ip, { ok: true });
      } catch (error) {
        this.#entryFailure(error, (result) => settle(ip, result));
      }
    });
  }

  /** A failure for one address; the batch fails as a whole when the credentials are the problem. */
  #entryFailure(error: unknown, settle: (result: EntryOutcome) => void): void {
    if (error instanceof CrowdsecLoginError || error instanceof CrowdsecForbiddenError) throw error;
    if (error instanceof ProviderError) {
      settle({ ok: false, error: error.message, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) });
      return;
    }
    throw error;
  }

  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    const decisions = await this.#relayDecisions(this.#op(ctx));
    const entries = new Map<string, DeviceEntry>();
    for (const decision of decisions) {
      if (!entries.has(decision.ip)) entries.set(decision.ip, { ip: decision.ip, ref: String(decision.id), owned: true });
    }
    return [...entries.values()];
  }

  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    try {
      await this.#o.client.ensureLogin(op);
      await this.#o.client.alertDecisions(op, this.scenario, 1);
      return { ok: true, detail: `CrowdSec LAPI ${this.#o.origin}: machine ${this.#o.machineId} logged in and can read the relay's alerts` };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  /** The relay's active decisions: origin and scenario both the relay's, scope Ip, type ban, time left. */
  async #relayDecisions(op: CrowdsecOp): Promise<RelayDecision[]> {
    const decisions = await this.#o.client.alertDecisions(op, this.scenario);
    const out: RelayDecision[] = [];
    for (const decision of decisions) {
      if (decision.origin !== this.origin || decision.scenario !== this.scenario) continue;
      if (decision.scope.toLowerCase() !== 'ip' || decision.type !== 'ban' || decision.simulated === true) continue;
      const remainingMs = parseGoDuration(decision.duration);
      if (remainingMs !== undefined && remainingMs <= 0) continue;
      const address = normalizeAddress(decision.value);
      if (!address.ok) continue;
      out.push({ id: decision.id, ip: address.canonical, remainingMs: remainingMs ?? Number.POSITIVE_INFINITY });
    }
    return out;
  }
}

function longestPerIp(decisions: RelayDecision[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const decision of decisions) out.set(decision.ip, Math.max(out.get(decision.ip) ?? 0, decision.remainingMs));
  return out;
}

/** Runs `work` over `items` with at most `limit` in flight; the first thrown error is rethrown after all settle. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(runners);
  if (failure) throw failure.error;
}
