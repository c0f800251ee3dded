/**
 * The `abuseipdb` integration: a reporter, shaped as a blocklist.
 *
 * - add: sends nothing (a report cannot be taken back and the attack is not
 *   over). Each entry is answered ok with `ref` = the incident it belongs to
 *   (its first holder), which the relay stores with the block and hands back
 *   on remove.
 * - remove: the incident is over (or the block's TTL ran out): this is when
 *   reports are sent. Entries are grouped by incident (`ref`); each
 *   incident's facts are read (`ctx.incident`) for the comment and the
 *   timestamp (the attack's start). Nothing is reported for a sample
 *   incident (`relay send-test`), an unknown incident, with `dryRun`, for a
 *   non-public address, for an address this process reported in the last 15
 *   minutes (AbuseIPDB's rule per key), for an (incident, address) already
 *   reported, beyond `topN` per incident, beyond `dailyBudget` per UTC day,
 *   or while the endpoint's daily quota is used up: those are answered ok
 *   (a skipped report is not worth a retry) and logged. An incident with more
 *   than `bulkThreshold` addresses goes as one bulk report, otherwise one
 *   report per address.
 * - A plain rate limit (429 with Retry-After), a 5xx or a broken connection
 *   answers ok:false (with `retryAfterMs` when AbuseIPDB gave one), so the
 *   relay retries those addresses later; the 15-minute rule makes a retry of
 *   a report that did land harmless.
 * - No `list`: there is nothing to drift.
 */
import { normalizeAddress } from '../../ip/address.ts';
import { createNeverBlockList } from '../../ip/never-block.ts';
import type { Logger } from '../../log/types.ts';
import type { BlockEntry, BlocklistProvider, CloudProviderDeps, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import { AbuseipdbClient, type AbuseipdbEndpoint, type AbuseipdbOp, type CallOutcome, type QuotaHeaders, nextUtcMidnight } from './client.ts';
import { ABUSEIPDB_API_BASE, ABUSEIPDB_BULK_MAX_LINES, type AbuseipdbOptions, type AbuseipdbSecrets } from './config.ts';
import { ProviderError } from '../errors.ts';
import { AbuseipdbConfigRejectedError } from './errors.ts';
import { attackTimestamp, buildBulkCsv, buildComment, formatTimestamp } from './model.ts';

export const ABUSEIPDB_TYPE = 'abuseipdb';
/** AbuseIPDB accepts one report of an address per key every 15 minutes. */
export const ABUSEIPDB_COOLDOWN_MS = 15 * 60_000;
/** Entries per add/remove call. */
export const ABUSEIPDB_MAX_BATCH = 200;
/** How long the process remembers what it reported for an incident (never twice). */
const INCIDENT_MEMORY_MS = 7 * 24 * 3_600_000;

export interface AbuseipdbIntegration {
  id: string;
  options: AbuseipdbOptions;
}

export interface AbuseipdbDeps extends CloudProviderDeps<AbuseipdbSecrets> {
  /** Tests only: another API base. */
  baseUrl?: string;
}

export function createAbuseipdbProvider(integration: AbuseipdbIntegration, deps: AbuseipdbDeps): AbuseipdbProvider {
  const now = deps.now ?? Date.now;
  const label = `${ABUSEIPDB_TYPE} ${integration.id}`;
  const client = new AbuseipdbClient({
    label,
    baseUrl: deps.baseUrl ?? ABUSEIPDB_API_BASE,
    apiKey: deps.secrets.apiKey,
    transport: deps.transport,
    timeoutMs: integration.options.timeout,
    now,
  });
  return new AbuseipdbProvider({ id: integration.id, options: integration.options, client, now, ...(deps.logger ? { logger: deps.logger } : {}) });
}

export interface AbuseipdbProviderOptions {
  id: string;
  options: AbuseipdbOptions;
  client: AbuseipdbClient;
  now: () => number;
  logger?: Logger;
}

/** What the process remembers of one incident. */
interface IncidentMemory {
  at: number;
  /** Reported (or, with dryRun, logged as would-be reported): counts toward topN. */
  reported: Set<string>;
  /** Dealt with for good: reported, skipped for a reason that will not change. Never sent again. */
  handled: Set<string>;
}

/** One address of an incident about to be reported. */
interface Candidate {
  index: number;
  ip: string;
}

type Outcome = EntryResult;

/** One incident's reports on their way: what #bulk and #singles share. */
interface ReportRun {
  uuid: string;
  report: { categories: readonly number[]; comment: string; timestamp?: string };
  memory: IncidentMemory;
  entries: BlockEntry[];
  /** Filled in per entry index. */
  results: (Outcome | undefined)[];
  op: AbuseipdbOp;
  /** Gives back the claims of addresses AbuseIPDB saved nothing for (see #claim). */
  release: (list: Candidate[]) => Promise<void>;
}
/** An EntryResult without its address (filled in per entry). */
type EntryOutcome = EntryResult extends infer R ? (R extends unknown ? Omit<R, 'ip'> : never) : never;

const PUBLIC = createNeverBlockList();

export class AbuseipdbProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = ABUSEIPDB_TYPE;
  readonly id: string;
  readonly maxBatch = ABUSEIPDB_MAX_BATCH;
  readonly maxIpsPerEvent: number;
  readonly #o: AbuseipdbProviderOptions;
  /** Address → when this process last reported it (any incident). */
  readonly #lastReported = new Map<string, number>();
  readonly #incidents = new Map<string, IncidentMemory>();
  #budget = { day: '', used: 0 };
  /** Endpoint → epoch ms its daily quota resets, while used up. */
  readonly #exhausted = new Map<AbuseipdbEndpoint, number>();
  /** A plain rate limit: nothing is sent before this. */
  #pausedUntil = 0;
  /** Warnings given once per key (budget per day, quota per reset). */
  readonly #said = new Set<string>();

  constructor(options: AbuseipdbProviderOptions) {
    this.#o = options;
    this.id = options.id;
    this.maxIpsPerEvent = options.options.topN;
  }

  get #label(): string {
    return `${ABUSEIPDB_TYPE} ${this.id}`;
  }

  /** Reports sent so far today (UTC), for status and tests. */
  get reportsToday(): number {
    this.#rollDay();
    return this.#budget.used;
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    ctx.logger.debug('abuseipdb: nothing sent while the attack runs; reported when the incident ends', { integration: this.id, ipCount: entries.length });
    return entries.map((entry) => {
      const ref = entry.ref ?? entry.incidents[0];
      return ref === undefined ? { ip: entry.ip, ok: true } : { ip: entry.ip, ok: true, ref };
    });
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const results: (Outcome | undefined)[] = entries.map(() => undefined);
    const groups = new Map<string, number[]>();
    entries.forEach((entry, index) => {
      const uuid = entry.ref ?? entry.incidents[0];
      if (uuid === undefined) {
        ctx.logger.warn('abuseipdb: block without an incident; not reported', { integration: this.id, ip: entry.ip });
        results[index] = { ip: entry.ip, ok: true };
        return;
      }
      const list = groups.get(uuid) ?? [];
      list.push(index);
      groups.set(uuid, list);
    });
    this.#prune();
    const op: AbuseipdbOp = { signal: ctx.signal, logger: ctx.logger };
    for (const [uuid, indexes] of groups) {
      await this.#reportIncident(uuid, indexes, entries, results, op, ctx);
    }
    return results.map((result, index) => result ?? { ip: entries[index]!.ip, ok: false, error: `${this.#label}: not processed` });
  }

  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const mode = this.#o.options.dryRun ? ' (dryRun: reports are only logged)' : '';
    let outcome: Awaited<ReturnType<AbuseipdbClient['check']>>;
    try {
      outcome = await this.#o.client.check({ signal: ctx.signal, logger: ctx.logger }, '127.0.0.1');
    } catch (error) {
      if (error instanceof ProviderError) return { ok: false, detail: error.message };
      throw error;
    }
    switch (outcome.kind) {
      case 'ok':
        return { ok: true, detail: `API key accepted (GET /check, which costs 1 of the key's daily check quota)${mode}` };
      case 'quota':
      case 'rate-limited':
        return { ok: true, detail: `API key accepted, but the check quota is used up until ${iso(outcome.kind === 'quota' ? outcome.resetAt : this.#o.now() + outcome.retryAfterMs)}; reports have their own quota${mode}` };
      case 'cooldown':
      case 'rejected':
        return { ok: false, detail: `GET /check was refused: ${outcome.detail}` };
      case 'failed':
        return { ok: false, detail: outcome.message };
    }
  }

  async #reportIncident(uuid: string, indexes: number[], entries: BlockEntry[], results: (Outcome | undefined)[], op: AbuseipdbOp, ctx: ProviderContext) {
    const log = ctx.logger;
    const okAll = (list: number[]) => {
      for (const index of list) results[index] = { ip: entries[index]!.ip, ok: true };
    };
    const facts = ctx.incident ? await ctx.incident(uuid) : undefined;
    if (facts === undefined) {
      log.warn('abuseipdb: incident unknown to the relay; not reported', { integration: this.id, incident: uuid, ipCount: indexes.length });
      okAll(indexes);
      return;
    }
    if (facts.sample) {
      log.info('abuseipdb: sample incident (relay send-test); not reported', { integration: this.id, incident: uuid, ipCount: indexes.length });
      okAll(indexes);
      return;
    }
    const now = this.#o.now();
    const memory = this.#memory(uuid, now);
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    const recent: string[] = [];
    for (const index of indexes) {
      const entry = entries[index]!;
      results[index] = { ip: entry.ip, ok: true };
      const address = normalizeAddress(entry.ip);
      if (!address.ok) {
        log.warn('abuseipdb: not an IP address; not reported', { integration: this.id, incident: uuid, reason: address.reason });
        continue;
      }
      const ip = address.canonical;
      const publicCheck = PUBLIC.check(address.address);
      if (!publicCheck.ok) {
        log.warn('abuseipdb: not a public address; not reported', { integration: this.id, incident: uuid, ip, reason: publicCheck.reason });
        continue;
      }
      if (memory.handled.has(ip) || seen.has(ip)) continue;
      const last = this.#lastReported.get(ip);
      if (last !== undefined && now - last < ABUSEIPDB_COOLDOWN_MS) {
        memory.handled.add(ip);
        recent.push(ip);
        continue;
      }
      seen.add(ip);
      results[index] = undefined;
      candidates.push({ index, ip });
    }
    if (recent.length > 0) {
      log.info('abuseipdb: reported by this relay in the last 15 minutes; skipped', { integration: this.id, incident: uuid, ips: recent.slice(0, 20), ipCount: recent.length });
    }
    const room = Math.max(0, this.#o.options.topN - memory.reported.size);
    const beyond = candidates.splice(room);
    if (beyond.length > 0) {
      for (const item of beyond) memory.handled.add(item.ip);
      okAll(beyond.map((item) => item.index));
      log.info('abuseipdb: beyond topN for this incident; not reported', { integration: this.id, incident: uuid, topN: this.#o.options.topN, ipCount: beyond.length });
    }
    if (candidates.length === 0) return;

    const categories = this.#o.options.categories;
    const comment = buildComment(facts, now);
    const timestamp = attackTimestamp(facts, now);
    if (this.#o.options.dryRun) {
      for (const item of candidates) {
        memory.reported.add(item.ip);
        memory.handled.add(item.ip);
      }
      okAll(candidates.map((item) => item.index));
      log.info('abuseipdb dry-run: would report', {
        integration: this.id,
        incident: uuid,
        ips: candidates.map((item) => item.ip),
        categories,
        comment,
        ...(timestamp !== undefined ? { timestamp } : {}),
        via: candidates.length > this.#o.options.bulkThreshold ? 'bulk-report' : 'report',
      });
      return;
    }
    const allowed = await this.#withinLimits(candidates, uuid, results, entries, log, ctx);
    if (allowed.length === 0) return;
    const { pending, release } = await this.#claim(uuid, allowed, ctx);
    const claimedBefore = allowed.filter((item) => !pending.includes(item));
    if (claimedBefore.length > 0) {
      for (const item of claimedBefore) memory.handled.add(item.ip);
      okAll(claimedBefore.map((item) => item.index));
      log.info('abuseipdb: already sent for this incident (by this relay before a restart, or by another process); not sent again', { integration: this.id, incident: uuid, ips: claimedBefore.map((item) => item.ip).slice(0, 20), ipCount: claimedBefore.length });
    }
    if (pending.length === 0) return;
    const report = { categories, comment, ...(timestamp !== undefined ? { timestamp } : {}) };
    const run: ReportRun = { uuid, report, memory, entries, results, op, release };
    let singles = pending;
    if (pending.length > this.#o.options.bulkThreshold && !this.#isExhausted('bulk-report')) {
      singles = await this.#bulk(run, pending);
    }
    if (singles.length > 0) await this.#singles(run, singles);
  }

  /**
   * Write-ahead claims in the relay's shared counter (ctx.counter), one per
   * incident and address, taken before the report is sent: a process that
   * crashed after sending but before recording it, and the one that retries
   * its work, never report the same address for the same incident twice.
   * Claims are released when AbuseIPDB answered that it saved nothing and
   * the report is tried again (rate limit, failure). Without the counter,
   * this process's memory alone.
   */
  async #claim(uuid: string, items: Candidate[], ctx: ProviderContext): Promise<{ pending: Candidate[]; release: (list: Candidate[]) => Promise<void> }> {
    const counter = ctx.counter;
    if (!counter) return { pending: items, release: async () => {} };
    const name = (item: Candidate) => `reported:${uuid}:${item.ip}`;
    const expiresAt = this.#o.now() + INCIDENT_MEMORY_MS;
    const pending: Candidate[] = [];
    for (const item of items) if ((await counter(name(item), 1, expiresAt)) === 1) pending.push(item);
    return {
      pending,
      release: async (list) => {
        for (const item of list) await counter(name(item), -1, expiresAt);
      },
    };
  }

  /** Rate-limit pause, report quota used up, daily budget: what is left to send. */
  async #withinLimits(
    candidates: Candidate[],
    uuid: string,
    results: (Outcome | undefined)[],
    entries: BlockEntry[],
    log: Logger,
    ctx: ProviderContext,
  ): Promise<Candidate[]> {
    const now = this.#o.now();
    if (now < this.#pausedUntil) {
      const retryAfterMs = this.#pausedUntil - now;
      for (const item of candidates) {
        results[item.index] = { ip: entries[item.index]!.ip, ok: false, error: `${this.#label}: AbuseIPDB rate limit; tried again later`, retryAfterMs };
      }
      return [];
    }
    if (this.#isExhausted('report')) {
      for (const item of candidates) results[item.index] = { ip: entries[item.index]!.ip, ok: true };
      log.info('abuseipdb: daily report quota used up; not reported', { integration: this.id, incident: uuid, ipCount: candidates.length, resetsAt: iso(this.#exhausted.get('report')!) });
      return [];
    }
    this.#rollDay();
    const left = await this.#budgetLeft(candidates.length, ctx);
    const over = candidates.slice(left);
    if (over.length > 0) {
      for (const item of over) results[item.index] = { ip: entries[item.index]!.ip, ok: true };
      const attributes = { integration: this.id, incident: uuid, dailyBudget: this.#o.options.dailyBudget, skipped: over.length, day: this.#budget.day };
      if (this.#once(`budget ${this.#budget.day}`)) log.warn('abuseipdb: options.dailyBudget reached for today (UTC); further reports are skipped until midnight UTC', attributes);
      else log.debug('abuseipdb: options.dailyBudget reached; skipped', attributes);
    }
    return candidates.slice(0, left);
  }

  /** One bulk report; answers the addresses it covered, returns those to send one by one instead. */
  async #bulk(run: ReportRun, pending: Candidate[]): Promise<Candidate[]> {
    const { uuid, report, memory, entries, results, op, release } = run;
    const log = op.logger;
    const chunk = pending.slice(0, ABUSEIPDB_BULK_MAX_LINES - 1);
    const timestamp = report.timestamp ?? formatTimestamp(this.#o.now());
    const csv = buildBulkCsv(chunk.map((item) => ({ ip: item.ip, categories: report.categories, timestamp, comment: report.comment })));
    const outcome = await this.#o.client.bulkReport(op, csv);
    if (outcome.kind === 'ok') {
      this.#noteQuota('bulk-report', outcome.quota, log);
      const invalid = new Map<string, string>();
      for (const item of outcome.value.invalidReports) {
        const byInput = item.input === undefined ? undefined : normalizeAddress(item.input);
        // Rows are numbered from the header line (UNVERIFIED); the address itself is matched first.
        const byRow = item.rowNumber === undefined ? undefined : chunk[item.rowNumber - 2];
        const ip = byInput?.ok ? byInput.canonical : byRow?.ip;
        if (ip !== undefined) invalid.set(ip, item.error);
      }
      const now = this.#o.now();
      const refused: { ip: string; error: string }[] = [];
      let saved = 0;
      for (const item of chunk) {
        results[item.index] = { ip: entries[item.index]!.ip, ok: true };
        memory.handled.add(item.ip);
        const error = invalid.get(item.ip);
        if (error === undefined) {
          saved += 1;
          memory.reported.add(item.ip);
          this.#lastReported.set(item.ip, now);
        } else if (/duplicate/i.test(error)) {
          // Reported with this key within 15 minutes (or listed twice): it is reported.
          this.#lastReported.set(item.ip, now);
        } else {
          refused.push({ ip: item.ip, error });
        }
      }
      this.#budget.used += saved;
      log.info('abuseipdb: bulk report sent', {
        integration: this.id,
        incident: uuid,
        ipCount: chunk.length,
        saved,
        savedReports: outcome.value.savedReports,
        invalid: outcome.value.invalidReports.length,
      });
      if (refused.length > 0) {
        log.warn('abuseipdb: AbuseIPDB refused some rows of the bulk report; not retried', { integration: this.id, incident: uuid, refused: refused.slice(0, 20) });
      }
      return pending.slice(chunk.length);
    }
    if (outcome.kind === 'quota') {
      this.#setExhausted('bulk-report', outcome.resetAt, outcome.limit, log);
      return pending;
    }
    if (outcome.kind === 'rate-limited') {
      this.#pause(outcome.retryAfterMs);
      await release(pending);
      for (const item of pending) {
        results[item.index] = { ip: entries[item.index]!.ip, ok: false, error: `${this.#label}: POST /bulk-report rate limited (${outcome.detail || '429'}); tried again later`, retryAfterMs: outcome.retryAfterMs };
      }
      return [];
    }
    if (outcome.kind === 'failed') {
      await release(pending);
      for (const item of pending) {
        results[item.index] = {
          ip: entries[item.index]!.ip,
          ok: false,
          error: `${this.#label}: ${outcome.message}`,
          ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
        };
      }
      return [];
    }
    // cooldown/rejected on the file as a whole: report one by one instead.
    log.error('abuseipdb: AbuseIPDB refused the bulk report; reporting one address at a time instead', { integration: this.id, incident: uuid, detail: outcome.detail });
    return pending;
  }

  /** One POST /report per address, in order, stopping at the first limit. */
  async #singles(run: ReportRun, pending: Candidate[]): Promise<void> {
    const { uuid, report, memory, entries, results, op, release } = run;
    const log = op.logger;
    let sent = 0;
    let cooled = 0;
    for (let position = 0; position < pending.length; position += 1) {
      const item = pending[position]!;
      const rest = pending.slice(position);
      const answer = (outcome: EntryOutcome, list: Candidate[] = [item]) => {
        for (const each of list) results[each.index] = { ip: entries[each.index]!.ip, ...outcome } as EntryResult;
      };
      if (this.#isExhausted('report')) {
        answer({ ok: true }, rest);
        log.info('abuseipdb: daily report quota used up; not reported', { integration: this.id, incident: uuid, ipCount: rest.length, resetsAt: iso(this.#exhausted.get('report')!) });
        break;
      }
      const outcome: CallOutcome<unknown> = await this.#o.client.report(op, { ip: item.ip, ...report });
      const now = this.#o.now();
      switch (outcome.kind) {
        case 'ok':
          this.#noteQuota('report', outcome.quota, log);
          this.#budget.used += 1;
          memory.reported.add(item.ip);
          memory.handled.add(item.ip);
          this.#lastReported.set(item.ip, now);
          answer({ ok: true });
          sent += 1;
          continue;
        case 'cooldown':
          // This key reported it in the last 15 minutes (another tool, or before a restart).
          memory.handled.add(item.ip);
          this.#lastReported.set(item.ip, now);
          answer({ ok: true });
          cooled += 1;
          continue;
        case 'quota':
          this.#setExhausted('report', outcome.resetAt, outcome.limit, log);
          answer({ ok: true }, rest);
          break;
        case 'rate-limited':
          this.#pause(outcome.retryAfterMs);
          await release(rest);
          answer({ ok: false, error: `${this.#label}: POST /report rate limited (${outcome.detail || '429'}); tried again later`, retryAfterMs: outcome.retryAfterMs }, rest);
          break;
        case 'failed':
          await release(rest);
          answer(
            { ok: false, error: `${this.#label}: ${outcome.message}`, ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}) },
            [item],
          );
          answer({ ok: false, error: `${this.#label}: not sent after AbuseIPDB failed (${outcome.message}); tried again later` }, rest.slice(1));
          break;
        case 'rejected': {
          const parameters = outcome.items.map((each) => each.parameter);
          if (parameters.includes('categories')) throw new AbuseipdbConfigRejectedError(this.#label, outcome.detail);
          memory.handled.add(item.ip);
          answer({ ok: true });
          log.warn('abuseipdb: AbuseIPDB refused the report; not retried', { integration: this.id, incident: uuid, ip: item.ip, status: outcome.status, detail: outcome.detail });
          continue;
        }
      }
      break;
    }
    if (sent > 0 || cooled > 0) {
      log.info('abuseipdb: reports sent', { integration: this.id, incident: uuid, sent, ...(cooled > 0 ? { alreadyReportedWithin15Min: cooled } : {}) });
    }
  }

  #memory(uuid: string, now: number): IncidentMemory {
    let memory = this.#incidents.get(uuid);
    if (memory === undefined) {
      memory = { at: now, reported: new Set(), handled: new Set() };
      this.#incidents.set(uuid, memory);
    }
    memory.at = now;
    return memory;
  }

  #prune(): void {
    const now = this.#o.now();
    for (const [ip, at] of this.#lastReported) if (now - at >= ABUSEIPDB_COOLDOWN_MS) this.#lastReported.delete(ip);
    for (const [uuid, memory] of this.#incidents) if (now - memory.at >= INCIDENT_MEMORY_MS) this.#incidents.delete(uuid);
  }

  /**
   * How many of `wanted` reports today's budget still allows. With the
   * relay's shared counter (ctx.counter: one store for every process, so
   * the budget holds across Lambda containers) the reports are reserved
   * there first; a reservation not used stays counted (the budget errs
   * towards fewer reports). Without it, this process's own count.
   */
  async #budgetLeft(wanted: number, ctx: ProviderContext): Promise<number> {
    const budget = this.#o.options.dailyBudget;
    if (!ctx.counter) return Math.max(0, budget - this.#budget.used);
    const total = await ctx.counter(`reports:${this.#budget.day}`, wanted, nextUtcMidnight(this.#o.now()));
    return Math.max(0, Math.min(wanted, budget - (total - wanted)));
  }

  #rollDay(): void {
    const day = new Date(this.#o.now()).toISOString().slice(0, 10);
    if (this.#budget.day !== day) this.#budget = { day, used: 0 };
  }

  #isExhausted(endpoint: AbuseipdbEndpoint): boolean {
    const until = this.#exhausted.get(endpoint);
    if (until === undefined) return false;
    if (this.#o.now() >= until) {
      this.#exhausted.delete(endpoint);
      return false;
    }
    return true;
  }

  /** The endpoint's daily quota is used up: nothing more until `resetAt`; one error line per reset. */
  #setExhausted(endpoint: AbuseipdbEndpoint, resetAt: number, limit: number | undefined, log: Logger): void {
    const until = Math.max(resetAt, this.#o.now() + 1000);
    this.#exhausted.set(endpoint, until);
    if (this.#once(`quota ${endpoint} ${until}`)) {
      log.error(
        endpoint === 'bulk-report'
          ? 'abuseipdb: the daily bulk-report quota of this API key is used up; reporting one address at a time until it resets'
          : 'abuseipdb: the daily report quota of this API key is used up; reports are skipped until it resets (lower options.dailyBudget, or check other tools using the same key)',
        { integration: this.id, endpoint, resetsAt: iso(until), ...(limit !== undefined ? { dailyLimit: limit } : {}) },
      );
    }
  }

  /** A 2xx whose X-RateLimit-Remaining is 0: the next call would be refused. */
  #noteQuota(endpoint: AbuseipdbEndpoint, quota: QuotaHeaders, log: Logger): void {
    if (quota.remaining === 0) this.#setExhausted(endpoint, quota.resetAt ?? nextUtcMidnight(this.#o.now()), quota.limit, log);
  }

  #pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#o.now() + ms);
  }

  #once(key: string): boolean {
    if (this.#said.has(key)) return false;
    this.#said.add(key);
    if (this.#said.size > 1000) this.#said.clear();
    return true;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

