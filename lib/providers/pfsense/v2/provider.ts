/**
 * The `pfsense` integration with `apiVersion: v2`: a host alias of attacker
 * IPs on pfSense CE 2.8 / Plus through pfSense-pkg-RESTAPI (>= 2.1). The
 * operator's own block rule references the alias; the relay never touches
 * rules and never uses `PUT /firewall/aliases` (it replaces every alias).
 *
 * ## Requests (N addresses, package >= 2.5.4)
 *
 * ```http
 * GET   /api/v2/firewall/aliases?name=<alias>          resolve the id (ids are array positions and shift)
 * POST  /api/v2/firewall/alias {name,type:"host",descr,address:[…],detail:[marks…],apply}   only when the alias is missing
 * PATCH /api/v2/firewall/alias {id,name,address:[missing…],detail:[pads…,marks…],append:true,apply}
 * PATCH /api/v2/firewall/alias {id,name,address:[relay entries…],detail:[their marks…],remove:true,apply}
 * GET   /api/v2/diagnostics/table?id=<alias>            list(): the live pf table; verify: after applying
 * POST  /api/v2/firewall/apply                          only when an apply is owed and no write carried it
 * ```
 *
 * So an add or a remove of any size is 2 requests (+1 JWT login per token
 * lifetime with `auth: jwt`, + the verification polls with `verify`).
 *
 * ## Ownership (lib/providers/types.ts)
 *
 * Every address the relay appends carries its mark as the entry's
 * description (`relayDetail`, lib/providers/pfsense/mark.ts). Everything
 * else in the alias is the operator's. plan.ts explains, from the package's
 * code, how `address` and `detail` stay aligned:
 * - **add**: an address present under the relay's mark is ok (nothing
 *   sent: `append` does not de-duplicate); present only under operator
 *   entries → `{ ok: true, foreign: true }`, nothing sent; otherwise
 *   appended with its mark, after empty descriptions that pad a short
 *   detail list so no mark lands beside an operator address.
 * - **remove**: partial `remove: true` with the relay entries' addresses
 *   and their exact marks. An address the operator also lists is left
 *   alone (the package removes by value, every occurrence) and answered ok
 *   (logged). Removing the last entries repeats the last value in the sent
 *   lists, because a sent list identical to the stored one is a no-op
 *   (pfrest#569) while `array_diff` ignores the repeat. **No whole-list
 *   replace, ever**: it would overwrite an edit made since the read.
 * - **list**: every single-address entry, `owned` when its description is
 *   the relay's mark for that address.
 *
 * ## Filter reloads (apply-gate.ts)
 *
 * Each write's reload is started with `apply: true` on the last write (one
 * request less than a separate `POST /firewall/apply`), through a gate
 * shared per firewall (URL origin) by every instance in the process:
 * - **One request in flight per firewall**: every operation runs under the
 *   gate's lock (and under this instance's lock).
 * - **Minimum gap between reloads: 0.5 s** (`minApplyGapMs`). A write that
 *   comes sooner after the last reload goes out at once with `apply: false`
 *   and its entries are answered `deferred` (not a failure) with
 *   `retryAfterMs` = the time to the next slot; the reconciler keeps them in
 *   flight and comes back then (resumed), and that one reload covers every
 *   write made meanwhile. So the device keeps writing the burst while
 *   reloads are spaced: the relay alone fills the package's 10 dispatcher
 *   slots only if a reload takes longer than 5 s under a continuous stream
 *   of writes, and should it happen, the 503 + Retry-After rule below stops
 *   every reload until then. Measured by `npm run bench` (burst: 40
 *   incidents × 50 IPs in a second at 35 ms/request + 1 ms/entry, 1.5 s
 *   reloads): live about 1.9 s after the last start and after the last end;
 *   with 1 s the ends took up to 3.05 s, with 3 s (waiting inside the
 *   operation) 7.5 s.
 * - **Retry-After**: a 503 (dispatcher full; the package answers it after
 *   it wrote config.xml) sets `notBefore`. Until then writes go with
 *   `apply: false` and the batch's entries are answered
 *   `{ ok: false, error: 'written; filter reload deferred until …',
 *   retryAfterMs }`, so the reconciler retries then; the retry finds
 *   nothing to write and applies. A Retry-After that fits the budget is
 *   waited out inside the operation instead.
 * - **What is owed**: the gate knows when this process wrote config no
 *   reload covers yet. A call with nothing to write applies when that is
 *   so, or — for `resumed` entries — when `list()` saw relay entries
 *   missing from the live table, or when no reload was started in the last
 *   30 s and the live table disagrees with the batch (or has no table);
 *   otherwise (unless `verify`) it asks `GET /firewall/apply` whether alias
 *   changes from elsewhere wait for a reload.
 *
 * ## Other decisions
 *
 * - **Resolve before every write.** Each PATCH is preceded by a fresh GET
 *   by name, and carries `name` too: `name` is not editable, so if the id
 *   pointed at another alias by the time the PATCH arrives the package
 *   refuses it (`FIELD_VALUE_CHANGED_WHEN_NOT_EDITABLE`) instead of changing
 *   the wrong alias; the adapter then resolves again. (Should a package
 *   refuse an unchanged `name`, the instance notices the refusal repeating
 *   at an id that did not move and writes by id alone.) A wait for the
 *   reload gap comes before the read, so the read is fresh.
 * - **list() reads the live table every time** (`GET /diagnostics/table`,
 *   one cheap request): a relay entry configured but not live (a flushed
 *   table, a reboot) is left out — with every other entry of that address —
 *   so drift re-asserts it, with `resumed`, which applies. When pf has no
 *   such table (no rule references the alias yet) the configured entries
 *   are reported as they are: reloading cannot create it.
 * - **128-item limit** (packages < 2.5.4): with `legacyArrayLimit` each
 *   request carries at most 128 addresses; without it, the first
 *   `LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT` teaches the instance the limit. The
 *   package checks the array *after* `append`, so on those packages the
 *   alias itself cannot exceed 128 addresses: when a request of at most 128
 *   still fails, the adapter learns that total limit and reports addresses
 *   that do not fit as per-entry errors naming the upgrade.
 * - **verify**: after applying, polls `GET /diagnostics/table?id=<alias>`
 *   (the reload is asynchronous) and reports addresses not yet live (or
 *   still live, for removals) as per-entry errors; when the configuration
 *   was already right but pf was not (a flushed table), it applies again.
 * - **Authentication failures stop the instance** (see client.ts).
 * - Every address passes `normalizeAddress` before it can enter a request;
 *   IPv4 and IPv6 share the alias.
 */
import type { PfSenseIntegrationConfig } from '../../../config/schema.ts';
import { normalizeAddress } from '../../../ip/address.ts';
import type { TlsOptions, Transport } from '../../../transport/types.ts';
import { ProviderError } from '../../errors.ts';
import { relayDetail } from '../mark.ts';
import { type ApplyGate, type ApplyGates, SHARED_APPLY_GATES } from './apply-gate.ts';
import { PfSenseV2Credentials, type PfSenseV2Secrets } from './auth.ts';
import { PfSenseV2Client, type PfSenseV2Op } from './client.ts';
import { findAlias, type PfSenseAlias, readApplyStatus, readTableEntries } from './envelope.ts';
import { PfSenseV2ApiError, PfSenseV2ConfigError } from './errors.ts';
import { SerialLock } from '../../../util/serial-lock.ts';
import { aliasEntries, appendLists, identicalLists, planAdd, planRemove, removalKeepsOthers, removeLists } from './plan.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../../types.ts';
import { sleep } from '../../../util/sleep.ts';

export type { PfSenseIntegrationConfig };

/** What the provider needs besides its config. Timing is injectable for tests. */
export interface PfSenseV2ProviderDeps {
  transport: Transport;
  /** From `deviceTls(config.options.tls)`; used for https:// URLs. */
  tls: TlsOptions;
  /** Resolved secrets: username + password (basic, jwt) or apiKey. */
  secrets: PfSenseV2Secrets;
  /** Config path for messages, e.g. `integrations[3]`. */
  configPath?: string;
  now?: () => number;
  /** Waits `ms`, rejecting with the signal's reason when it aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Time one add/remove/list/health call may take in total (default 50 s). */
  opBudgetMs?: number;
  /** How long to send nothing after an authentication failure (default 30 min). */
  authCooldownMs?: number;
  /** verify: table reads after an apply (default 5) and the pause between them (default 1 s). */
  verifyAttempts?: number;
  verifyIntervalMs?: number;
  /** Least time between two filter reloads this process starts on one firewall (default 0.5 s). */
  minApplyGapMs?: number;
  /** The per-firewall gates; default the process-wide ones (tests pass their own). */
  applyGates?: ApplyGates;
}

/** pfSense package versions before 2.5.4 accept this many items per `many` field. */
export const LEGACY_ARRAY_LIMIT = 128;
export const DEFAULT_MIN_APPLY_GAP_MS = 500;
const ALIAS_NAME = /^[A-Za-z0-9_]{1,31}$/;
const INTEGRATION_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** `POST /firewall/apply` attempts answered 503 (and waited out) before deferring. */
const APPLY_ATTEMPTS = 5;
/** Rounds (resolve + write) one operation may take beyond one per chunk: id shifts, races, waits. */
const SPARE_ROUNDS = 8;
/** A wait inside an operation must leave this much of the budget for the requests after it. */
const AFTER_WAIT_SPARE_MS = 5000;
/** A resumed batch checks the live table only when no reload was started this recently (one may still run). */
const RELOAD_GRACE_MS = 30_000;

type Failures = Map<string, string>;

/** An apply that could not be started now: the batch is written, its reload owed. */
interface Deferral {
  until: number;
  reason: string;
  /** Held back by the relay to coalesce reloads (not the device's refusal): reported as deferred, not failed. */
  coalesce?: true;
}

/** What one add/remove did, per canonical address. */
interface Outcome {
  failures: Failures;
  /** add: present only under operator entries. */
  foreign: Set<string>;
  deferred: Deferral | undefined;
}

type ApplyDecision = { kind: 'now' } | { kind: 'wait'; ms: number; why: string } | ({ kind: 'defer' } & Deferral);

function deferral(decision: { kind: 'defer' } & Deferral): Deferral {
  return { until: decision.until, reason: decision.reason, ...(decision.coalesce ? { coalesce: true as const } : {}) };
}

/** A pfSense host alias filled through the pfrest v2 API. */
export class PfSenseV2Provider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = 'pfsense';
  readonly id: string;
  readonly maxBatch = 10_000;

  readonly #alias: string;
  readonly #descr: string;
  readonly #verify: boolean;
  readonly #client: PfSenseV2Client;
  readonly #lock = new SerialLock();
  readonly #gate: ApplyGate;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #budgetMs: number;
  readonly #verifyAttempts: number;
  readonly #verifyIntervalMs: number;
  readonly #minApplyGapMs: number;
  /** Most addresses one request may carry; undefined = unlimited. */
  #perRequestMax: number | undefined;
  #perRequestSource: 'configured' | 'detected' | undefined;
  /** Most addresses the alias may hold (learned from the device); undefined = unlimited. */
  #totalMax: number | undefined;
  /** Send `name` with each PATCH as a guard against a stale id (see #target). */
  #sendName = true;
  /** The id of the last write refused as a name change. */
  #refusedId: number | undefined;

  /** @throws PfSenseV2ConfigError when the config or a secret cannot be used. */
  constructor(config: PfSenseIntegrationConfig, deps: PfSenseV2ProviderDeps) {
    const where = deps.configPath ?? `integrations[id=${config.id}]`;
    const options = config.options;
    if (options.apiVersion !== 'v2') {
      throw new PfSenseV2ConfigError(`${where}.options.apiVersion is ${String(options.apiVersion)}; this adapter is for v2 (pfSense-pkg-RESTAPI)`);
    }
    if (typeof options.alias !== 'string' || !ALIAS_NAME.test(options.alias)) {
      throw new PfSenseV2ConfigError(`${where}.options.alias must be 1–31 letters, digits or "_" (pfSense alias names)`);
    }
    if (options.auth !== 'basic' && options.auth !== 'jwt' && options.auth !== 'apiKey') {
      throw new PfSenseV2ConfigError(`${where}.options.auth must be basic, jwt or apiKey for v2`);
    }
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new PfSenseV2ConfigError(`${where}.options.url is not an absolute URL`);
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || url.search || url.username || url.password) {
      throw new PfSenseV2ConfigError(`${where}.options.url must be scheme, host and port only, e.g. https://10.0.0.1`);
    }
    this.id = config.id;
    this.#alias = options.alias;
    const owner = INTEGRATION_ID.test(config.id) ? ` (integration ${config.id})` : '';
    this.#descr = `Managed by Flowtriq Relay${owner}: attacker IPs are added and removed automatically; entries described flowtriq-relay … are the relay's, any other entry is yours and is left alone. Reference it from a block rule.`;
    this.#verify = options.verify;
    this.#now = deps.now ?? Date.now;
    this.#sleep = deps.sleep ?? sleep;
    this.#budgetMs = deps.opBudgetMs ?? 50_000;
    this.#verifyAttempts = Math.max(1, deps.verifyAttempts ?? 5);
    this.#verifyIntervalMs = deps.verifyIntervalMs ?? 1000;
    this.#minApplyGapMs = Math.max(0, deps.minApplyGapMs ?? DEFAULT_MIN_APPLY_GAP_MS);
    this.#gate = (deps.applyGates ?? SHARED_APPLY_GATES).get(url.origin);
    if (options.legacyArrayLimit) {
      this.#perRequestMax = LEGACY_ARRAY_LIMIT;
      this.#perRequestSource = 'configured';
    }
    this.#client = new PfSenseV2Client({
      integrationId: config.id,
      origin: url.origin,
      credentials: new PfSenseV2Credentials(options.auth, deps.secrets, this.#now, where),
      transport: deps.transport,
      tls: url.protocol === 'https:' ? deps.tls : undefined,
      timeoutMs: options.timeout,
      now: this.#now,
      authCooldownMs: deps.authCooldownMs ?? 30 * 60_000,
    });
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#batch('add', entries, ctx);
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    return this.#batch('remove', entries, ctx);
  }

  /**
   * Every single-address entry of the alias, canonical, `owned` when it
   * carries the relay's mark. An address with a relay entry that is not in
   * the live pf table is left out entirely (drift re-asserts it).
   */
  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    const op = this.#op(ctx);
    return this.#exclusive(ctx, async () => {
      const alias = await this.#resolve(op);
      if (alias === undefined) return [];
      const entries = aliasEntries(alias).filter((entry): entry is typeof entry & { ip: string } => entry.ip !== undefined);
      const live = await this.#liveTable(op);
      let notLive = new Set<string>();
      if (live === undefined) {
        op.logger.info('pfsense: pf has no table for the alias (no rule references it yet?); listing the configuration only', {
          integration: this.id,
          alias: this.#alias,
        });
      } else {
        notLive = new Set(entries.filter((entry) => entry.owned && !live.has(entry.ip)).map((entry) => entry.ip));
        if (notLive.size > 0) {
          this.#gate.liveLost.add(this.#alias);
          op.logger.warn('pfsense: relay entries are configured but not in the live pf table (flushed, or the firewall restarted); they will be re-asserted', {
            integration: this.id,
            alias: this.#alias,
            ipCount: notLive.size,
          });
        }
      }
      const seen = new Set<string>();
      const out: DeviceEntry[] = [];
      for (const entry of entries) {
        const key = `${entry.ip} ${entry.owned}`;
        if (notLive.has(entry.ip) || seen.has(key)) continue;
        seen.add(key);
        out.push({ ip: entry.ip, owned: entry.owned });
      }
      return out;
    });
  }

  /** Authenticates, reads the alias (creates nothing), reports the array limits known to this instance. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    try {
      return await this.#exclusive(ctx, async () => {
        const alias = await this.#resolve(op);
        const limits = this.#limitsText();
        if (alias === undefined) {
          return { ok: true, detail: `authenticated; alias ${this.#alias} does not exist yet (created on the first block); ${limits}` };
        }
        if (alias.type !== undefined && alias.type !== 'host') return { ok: false, detail: this.#wrongType(alias).message };
        if (alias.detail.length > alias.address.length) return { ok: false, detail: this.#tooManyDetails().message };
        const owned = aliasEntries(alias).filter((entry) => entry.owned).length;
        return {
          ok: true,
          detail: `authenticated; alias ${this.#alias} (id ${alias.id}) holds ${alias.address.length} entries (${owned} the relay's, ${alias.address.length - owned} the operator's); ${limits}`,
        };
      });
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  // ------------------------------------------------------------ operations

  #op(ctx: ProviderContext): PfSenseV2Op {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#budgetMs };
  }

  /** This instance's lock, then the firewall's: one request in flight per firewall. */
  #exclusive<T>(ctx: ProviderContext, task: () => Promise<T>): Promise<T> {
    return this.#lock.run(() => this.#gate.lock.run(task, ctx.signal), ctx.signal);
  }

  async #batch(kind: 'add' | 'remove', entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const canonical = new Map<string, { ok: true; ip: string } | { ok: false; reason: string }>();
    const marks = new Map<string, string>();
    for (const entry of entries) {
      const normalized = normalizeAddress(entry.ip);
      canonical.set(entry.ip, normalized.ok ? { ok: true, ip: normalized.canonical } : { ok: false, reason: normalized.reason });
      if (normalized.ok && !marks.has(normalized.canonical)) marks.set(normalized.canonical, relayDetail(normalized.canonical, entry.incidents[0]));
    }
    const resumed = entries.some((entry) => entry.resumed === true);
    const outcome: Outcome =
      marks.size === 0
        ? { failures: new Map(), foreign: new Set(), deferred: undefined }
        : await this.#exclusive(ctx, () =>
            kind === 'add'
              ? this.#add(op, [...marks].map(([ip, detail]) => ({ ip, detail })), resumed)
              : this.#remove(op, [...marks.keys()], resumed),
          );
    const deferred = outcome.deferred;
    return entries.map((entry): EntryResult => {
      const value = canonical.get(entry.ip);
      if (value === undefined || !value.ok) return { ip: entry.ip, ok: false, error: `not a single IP address: ${value?.ok === false ? value.reason : 'missing'}` };
      const error = outcome.failures.get(value.ip);
      if (error !== undefined) return { ip: entry.ip, ok: false, error };
      if (outcome.foreign.has(value.ip)) return { ip: entry.ip, ok: true, foreign: true };
      if (deferred !== undefined) {
        const retryAfterMs = Math.max(0, deferred.until - this.#now());
        const error = `${this.#client.label}: written; filter reload deferred until ${new Date(deferred.until).toISOString()} (${deferred.reason})`;
        return deferred.coalesce ? { ip: entry.ip, ok: false, error, retryAfterMs, deferred: true } : { ip: entry.ip, ok: false, error, retryAfterMs };
      }
      return { ip: entry.ip, ok: true };
    });
  }

  async #add(op: PfSenseV2Op, wanted: Array<{ ip: string; detail: string }>, resumed: boolean): Promise<Outcome> {
    const out: Outcome = { failures: new Map(), foreign: new Set(), deferred: undefined };
    const pending = new Map(wanted.map((item) => [item.ip, item.detail]));
    let applied = false;
    let wrote = false;
    const maxRounds = SPARE_ROUNDS + Math.ceil(wanted.length / LEGACY_ARRAY_LIMIT);
    for (let round = 0; ; round += 1) {
      if (round >= maxRounds) throw this.#noProgress('add', round);
      const alias = await this.#resolve(op);
      if (alias !== undefined && alias.type !== undefined && alias.type !== 'host') throw this.#wrongType(alias);
      if (alias !== undefined && alias.detail.length > alias.address.length) throw this.#tooManyDetails();
      const plan = planAdd(
        [...pending].map(([ip, detail]) => ({ ip, detail })),
        alias ?? { address: [], detail: [] },
        this.#totalMax,
      );
      for (const ip of plan.overflow) {
        out.failures.set(ip, this.#overflowMessage());
        pending.delete(ip);
      }
      for (const ip of plan.foreign) {
        out.foreign.add(ip);
        pending.delete(ip);
      }
      for (const ip of plan.owned) pending.delete(ip);
      if (plan.foreign.length > 0) {
        op.logger.info('pfsense: addresses already listed by the operator; recorded as not the relay\'s, nothing added', {
          integration: this.id,
          alias: this.#alias,
          ipCount: plan.foreign.length,
        });
      }
      if (plan.missing.length === 0) break;
      const chunk = plan.missing.slice(0, this.#perRequestMax ?? plan.missing.length);
      const last = chunk.length === plan.missing.length;
      let apply = false;
      if (last) {
        const decision = this.#decide(op);
        if (decision.kind === 'wait') {
          await this.#wait(op, decision);
          continue; // read again after the wait: the write must follow a fresh read
        }
        apply = decision.kind === 'now';
        out.deferred = decision.kind === 'defer' ? deferral(decision) : undefined;
      }
      const lists = appendLists(chunk, alias === undefined ? 0 : plan.pad);
      if (alias !== undefined && identicalLists(lists.detail, alias.detail)) {
        // The package would leave `detail` unchanged while appending addresses: the marks would not follow them.
        throw new ProviderError(
          `${this.#client.label}: alias ${this.#alias} already holds exactly the descriptions the relay would append; the relay cannot append without misaligning them. Remove the stray "flowtriq-relay" descriptions in Firewall > Aliases`,
          { retryable: false },
        );
      }
      this.#gate.unapplied = true;
      try {
        if (alias === undefined) {
          await this.#client.call(op, 'POST', '/api/v2/firewall/alias', {
            body: { name: this.#alias, type: 'host', descr: this.#descr, address: lists.address, detail: lists.detail, apply },
          });
          op.logger.info('pfsense: created alias', { integration: this.id, alias: this.#alias });
        } else {
          await this.#client.call(op, 'PATCH', '/api/v2/firewall/alias', {
            body: { ...this.#target(alias), address: lists.address, detail: lists.detail, append: true, apply },
          });
        }
      } catch (error) {
        if (this.#dispatcherFull(op, error, apply)) {
          for (const item of chunk) pending.delete(item.ip);
          wrote = true;
          continue; // written; the reload is owed (paid or deferred below)
        }
        await this.#react(op, error, { sent: lists.address, withApply: apply, aliasId: alias?.id }, new Set(pending.keys()), out.failures);
        for (const ip of out.failures.keys()) pending.delete(ip);
        continue;
      }
      this.#refusedId = undefined;
      for (const item of chunk) pending.delete(item.ip);
      wrote = true;
      if (apply) {
        this.#gate.applied(this.#now());
        applied = true;
      }
      if (last) break; // the rest (if any) was refused per entry
    }
    if (!applied && out.deferred === undefined) {
      applied = await this.#settleApply(op, out, 'add', wanted.map((item) => item.ip), resumed, wrote);
    }
    if (out.deferred === undefined) await this.#verified(op, 'add', wanted.map((item) => item.ip), out, applied);
    return out;
  }

  async #remove(op: PfSenseV2Op, wanted: string[], resumed: boolean): Promise<Outcome> {
    const out: Outcome = { failures: new Map(), foreign: new Set(), deferred: undefined };
    const pending = new Set(wanted);
    const sentToDevice: string[] = [];
    const kept = new Set<string>();
    let applied = false;
    let wrote = false;
    const maxRounds = SPARE_ROUNDS + Math.ceil(wanted.length / (LEGACY_ARRAY_LIMIT - 1));
    for (let round = 0; ; round += 1) {
      if (round >= maxRounds) throw this.#noProgress('remove', round);
      const alias = await this.#resolve(op);
      if (alias === undefined) break; // no alias, nothing blocked by it
      if (alias.type !== undefined && alias.type !== 'host') throw this.#wrongType(alias);
      if (alias.detail.length > alias.address.length) throw this.#tooManyDetails();
      const plan = planRemove([...pending], alias);
      for (const ip of plan.absent) pending.delete(ip);
      for (const ip of plan.operator) {
        pending.delete(ip);
        kept.add(ip);
      }
      if (plan.operator.length > 0) {
        op.logger.info('pfsense: the operator also lists these addresses; the relay entries stay (removing by value would take the operator\'s too)', {
          integration: this.id,
          alias: this.#alias,
          ipCount: plan.operator.length,
        });
      }
      for (const ip of plan.conflict) {
        pending.delete(ip);
        out.failures.set(
          ip,
          `${this.#client.label}: the relay's description for ${ip} also stands beside another entry of alias ${this.#alias}; removing it would take that description too. Remove the entry in Firewall > Aliases`,
        );
      }
      if (plan.remove.length === 0) break;
      const max = this.#perRequestMax;
      let chunk = max === undefined ? plan.remove : plan.remove.slice(0, max);
      // Emptying the alias repeats the last value (see removeLists): keep that within the per-request limit.
      if (max !== undefined && max > 1 && removeLists(chunk, alias).address.length > max) chunk = plan.remove.slice(0, max - 1);
      const last = chunk.length === plan.remove.length;
      let apply = false;
      if (last) {
        const decision = this.#decide(op);
        if (decision.kind === 'wait') {
          await this.#wait(op, decision);
          continue;
        }
        apply = decision.kind === 'now';
        out.deferred = decision.kind === 'defer' ? deferral(decision) : undefined;
      }
      const lists = removeLists(chunk, alias);
      if (!removalKeepsOthers(alias, lists)) {
        throw new ProviderError(`${this.#client.label}: refusing a removal from alias ${this.#alias} that would change other entries (safety check); it will be retried`, {
          retryable: true,
        });
      }
      this.#gate.unapplied = true;
      try {
        await this.#client.call(op, 'PATCH', '/api/v2/firewall/alias', {
          body: { ...this.#target(alias), address: lists.address, detail: lists.detail, remove: true, apply },
        });
      } catch (error) {
        if (this.#dispatcherFull(op, error, apply)) {
          for (const item of chunk) pending.delete(item.ip);
          wrote = true;
          continue;
        }
        await this.#react(op, error, { sent: lists.address, withApply: apply, aliasId: alias.id }, pending, out.failures);
        continue;
      }
      this.#refusedId = undefined;
      for (const item of chunk) {
        pending.delete(item.ip);
        sentToDevice.push(item.ip);
      }
      wrote = true;
      if (apply) {
        this.#gate.applied(this.#now());
        applied = true;
      }
      if (last) break; // the rest (if any) was refused per entry
    }
    if (!applied && out.deferred === undefined) {
      const settled = wanted.filter((ip) => !kept.has(ip) && !out.failures.has(ip));
      applied = await this.#settleApply(op, out, 'remove', settled, resumed, wrote);
    }
    if (out.deferred === undefined) await this.#verified(op, 'remove', sentToDevice, out, applied);
    return out;
  }

  /** A 503 to a write that carried the apply: the config was written, the reload was not started. */
  #dispatcherFull(op: PfSenseV2Op, error: unknown, withApply: boolean): boolean {
    if (!withApply || !(error instanceof PfSenseV2ApiError) || error.status !== 503) return false;
    this.#gate.full(this.#now(), error.retryAfterMs ?? 1000);
    this.#refusedId = undefined;
    op.logger.warn('pfsense: written, but the filter reload was refused (apply queue full); no apply is sent before Retry-After', {
      integration: this.id,
      alias: this.#alias,
      responseId: error.responseId,
      retryAfterMs: error.retryAfterMs,
    });
    return true;
  }

  /**
   * Nothing (more) to write: applies when a reload is owed (see the doc
   * comment). Returns whether a reload was started.
   */
  async #settleApply(op: PfSenseV2Op, out: Outcome, kind: 'add' | 'remove', ips: string[], resumed: boolean, wrote: boolean): Promise<boolean> {
    let why: string | undefined;
    if (this.#gate.unapplied) why = 'config written without a reload';
    else if (resumed && this.#gate.liveLost.has(this.#alias)) why = 'relay entries were missing from the live pf table';
    else if (resumed && (this.#gate.lastApplyAt === undefined || this.#now() - this.#gate.lastApplyAt > RELOAD_GRACE_MS)) {
      const live = await this.#liveTable(op);
      const mine = ips.filter((ip) => !out.foreign.has(ip) && !out.failures.has(ip));
      const wrong = live === undefined || mine.some((ip) => (kind === 'add' ? !live.has(ip) : live.has(ip)));
      if (wrong) why = 'a resumed batch whose change is not in the live pf table';
    }
    if (why === undefined && !wrote && !this.#verify) {
      const status = readApplyStatus((await this.#call(op, 'GET', '/api/v2/firewall/apply')).data);
      if (status !== undefined && !status.applied && status.pending.includes('aliases')) why = 'alias changes wait for a reload';
    }
    if (why === undefined) return false;
    op.logger.info(`pfsense: applying (${why})`, { integration: this.id, alias: this.#alias });
    return this.#applyNow(op, out);
  }

  /** `POST /firewall/apply` through the gate. Returns whether a reload was started (false: deferred, see `out`). */
  async #applyNow(op: PfSenseV2Op, out: Outcome): Promise<boolean> {
    for (let attempt = 1; ; attempt += 1) {
      const decision = this.#decide(op);
      if (decision.kind === 'wait') {
        await this.#wait(op, decision);
        continue;
      }
      if (decision.kind === 'defer') {
        out.deferred = deferral(decision);
        return false;
      }
      try {
        await this.#client.call(op, 'POST', '/api/v2/firewall/apply', { body: {} });
        this.#gate.applied(this.#now());
        return true;
      } catch (error) {
        if (!(error instanceof PfSenseV2ApiError)) throw error;
        if (error.status !== 503) throw this.#batchFailure(error);
        this.#gate.full(this.#now(), error.retryAfterMs ?? 1000);
        if (attempt >= APPLY_ATTEMPTS) {
          out.deferred = { until: this.#gate.notBefore, reason: this.#queueFullReason() };
          return false;
        }
      }
    }
  }

  /** Whether an apply may be sent now, after a wait that fits the budget, or only later. */
  #decide(op: PfSenseV2Op): ApplyDecision {
    const now = this.#now();
    const fits = (ms: number) => now + ms + AFTER_WAIT_SPARE_MS <= op.deadline;
    const gate = this.#gate;
    if (now < gate.notBefore) {
      const ms = gate.notBefore - now;
      return fits(ms) ? { kind: 'wait', ms, why: 'Retry-After' } : { kind: 'defer', until: gate.notBefore, reason: this.#queueFullReason() };
    }
    if (gate.lastApplyAt !== undefined && this.#minApplyGapMs > 0) {
      const slot = gate.lastApplyAt + this.#minApplyGapMs;
      // Not waited out: the write goes now with apply:false and the batch is answered deferred, so the
      // writer takes the next batch at once; the reload at the slot covers every write made meanwhile.
      if (slot > now) {
        return { kind: 'defer', until: slot, coalesce: true, reason: `coalesced: the relay starts at most one filter reload per ${this.#minApplyGapMs / 1000} s on a firewall` };
      }
    }
    return { kind: 'now' };
  }

  #queueFullReason(): string {
    return `pfSense apply queue full, Retry-After ${this.#gate.retryAfterSeconds} s`;
  }

  async #wait(op: PfSenseV2Op, decision: { ms: number; why: string }): Promise<void> {
    const log = { integration: this.id, alias: this.#alias, waitMs: decision.ms };
    if (decision.why === 'Retry-After') op.logger.warn('pfsense: device busy; waiting as Retry-After asks', log);
    else op.logger.debug('pfsense: waiting for the gap between filter reloads', log);
    await this.#sleep(decision.ms, op.signal);
  }

  /** With verification on, checks on the firewall every IP not already failed; a mismatch becomes its failure. */
  async #verified(op: PfSenseV2Op, direction: 'add' | 'remove', ips: string[], out: Outcome, applied: boolean): Promise<void> {
    if (!this.#verify) return;
    const check = ips.filter((ip) => !out.failures.has(ip) && !out.foreign.has(ip));
    for (const [ip, message] of await this.#verifyLive(op, direction, check, applied, out)) out.failures.set(ip, message);
  }

  /**
   * Decides what a failed write means. Returns to retry the round (after
   * waiting or learning something); throws when the batch as a whole failed.
   */
  async #react(
    op: PfSenseV2Op,
    error: unknown,
    write: { sent: string[]; withApply: boolean; aliasId: number | undefined },
    pending: Set<string>,
    failures: Failures,
  ): Promise<void> {
    if (!(error instanceof PfSenseV2ApiError)) throw error;
    const { sent } = write;
    const log = { integration: this.id, alias: this.#alias, status: error.status, responseId: error.responseId };
    switch (error.responseId) {
      case 'LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT': {
        const max = Number(/maximum array length of (\d+)/.exec(error.deviceMessage)?.[1] ?? LEGACY_ARRAY_LIMIT) || LEGACY_ARRAY_LIMIT;
        if (sent.length > max && (this.#perRequestMax === undefined || this.#perRequestMax > max)) {
          this.#perRequestMax = max;
          this.#perRequestSource = 'detected';
          op.logger.warn(`pfsense: package limits requests to ${max} addresses (older than 2.5.4); sending chunks`, log);
          return;
        }
        if (this.#totalMax === undefined) {
          this.#totalMax = max;
          op.logger.warn(`pfsense: package limits the alias to ${max} addresses (older than 2.5.4); upgrade pfSense-pkg-RESTAPI`, log);
          return;
        }
        throw new ProviderError(`${this.#client.label}: ${error.message}`, { retryable: false, status: error.status, cause: error });
      }
      case 'FIELD_VALUE_CHANGED_WHEN_NOT_EDITABLE':
        if (write.aliasId !== undefined && this.#refusedId === write.aliasId && this.#sendName) {
          // Refused twice at an id that did not move: this package refuses `name` in PATCH even unchanged.
          this.#sendName = false;
          op.logger.warn('pfsense: the package refuses `name` in PATCH; writing by id alone (resolved right before each write)', log);
          return;
        }
        this.#refusedId = write.aliasId;
        op.logger.info('pfsense: alias id changed under us; resolving again', log);
        return;
      case 'MODEL_OBJECT_NOT_FOUND':
        // The id moved (another alias was deleted or added) between our read and our write: resolve again.
        op.logger.info('pfsense: alias id changed under us; resolving again', log);
        return;
      case 'FIELD_MUST_BE_UNIQUE':
        // Someone created the alias between our read and our create.
        op.logger.info('pfsense: alias appeared meanwhile; resolving again', log);
        return;
      case 'TOO_MANY_ALIAS_DETAILS':
        // The alias changed between our read and our write (the padding was computed from the read); the next read decides.
        op.logger.info('pfsense: the alias changed between read and write (descriptions); resolving again', log);
        return;
      case 'INVALID_HOST_ALIAS_ADDRESS': {
        const named = [...error.deviceMessage.matchAll(/`([^`]{1,64})`/g)]
          .map((match) => normalizeAddress(match[1] as string))
          .flatMap((normalized) => (normalized.ok && pending.has(normalized.canonical) ? [normalized.canonical] : []));
        const rejected =
          named.length > 0
            ? named
            : sent.flatMap((address) => {
                const normalized = normalizeAddress(address);
                return normalized.ok && pending.has(normalized.canonical) ? [normalized.canonical] : [];
              });
        if (rejected.length === 0) throw this.#batchFailure(error);
        for (const ip of rejected) {
          failures.set(ip, `${this.#client.label}: pfSense rejected the address (${error.responseId}): ${error.deviceMessage}`);
          pending.delete(ip);
        }
        return;
      }
      default:
        break;
    }
    if (error.status === 503) {
      await this.#waitRetryAfter(op, error);
      return;
    }
    throw this.#batchFailure(error);
  }

  /**
   * Reads the live pf table until it agrees with the change, applying once
   * if the configuration was right but pf was not. Returns per-entry
   * failures for addresses still not live (add) or still live (remove).
   */
  async #verifyLive(op: PfSenseV2Op, kind: 'add' | 'remove', entries: string[], applied: boolean, out: Outcome): Promise<Failures> {
    if (entries.length === 0) return new Map();
    let applyStarted = applied;
    let lastLive: Set<string> | undefined;
    let bad = entries;
    if (applyStarted && !(await this.#pause(op, this.#verifyIntervalMs))) return this.#notLive(kind, bad, 0, lastLive);
    for (let check = 1; ; check += 1) {
      lastLive = await this.#liveTable(op);
      bad = entries.filter((ip) => (kind === 'add' ? lastLive?.has(ip) !== true : lastLive?.has(ip) === true));
      if (bad.length === 0) return new Map();
      if (!applyStarted) {
        op.logger.warn('pfsense: configuration is right but the live pf table is not; applying', {
          integration: this.id,
          alias: this.#alias,
          ipCount: bad.length,
        });
        if (!(await this.#applyNow(op, out))) return new Map(); // deferred: the batch is answered as such
        applyStarted = true;
      } else if (check >= this.#verifyAttempts) {
        return this.#notLive(kind, bad, check, lastLive);
      }
      if (!(await this.#pause(op, this.#verifyIntervalMs))) return this.#notLive(kind, bad, check, lastLive);
    }
  }

  #notLive(kind: 'add' | 'remove', ips: string[], checks: number, live: Set<string> | undefined): Failures {
    const table = live === undefined ? ` (pf has no table ${this.#alias} yet: the reload may still run, or no rule references the alias)` : '';
    const what = kind === 'add' ? `is in alias ${this.#alias} but not yet in the live pf table` : `was removed from alias ${this.#alias} but is still in the live pf table`;
    const message = `${this.#client.label}: ${what} after ${checks} check${checks === 1 ? '' : 's'}${table}; the filter reload is asynchronous, it will be retried`;
    return new Map(ips.map((ip) => [ip, message]));
  }

  /** `GET /diagnostics/table?id=<alias>` as canonical addresses; undefined when pf has no such table. */
  async #liveTable(op: PfSenseV2Op): Promise<Set<string> | undefined> {
    let data: unknown;
    try {
      data = (await this.#call(op, 'GET', '/api/v2/diagnostics/table', { id: this.#alias })).data;
    } catch (error) {
      if (error instanceof ProviderError && error.status === 404) return undefined;
      throw error;
    }
    const entries = readTableEntries(data, this.#alias);
    if (entries === undefined) {
      throw new ProviderError(`${this.#client.label}: GET /api/v2/diagnostics/table answered data the relay cannot read`, { retryable: false });
    }
    const live = new Set<string>();
    for (const entry of entries) {
      const normalized = normalizeAddress(entry.trim());
      if (normalized.ok) live.add(normalized.canonical);
    }
    return live;
  }

  /** The alias by name (a fresh read: ids shift), or undefined when it does not exist. */
  async #resolve(op: PfSenseV2Op): Promise<PfSenseAlias | undefined> {
    const envelope = await this.#call(op, 'GET', '/api/v2/firewall/aliases', { name: this.#alias });
    const alias = findAlias(envelope.data, this.#alias);
    if (alias === undefined) {
      throw new ProviderError(`${this.#client.label}: GET /api/v2/firewall/aliases answered data the relay cannot read`, { retryable: false });
    }
    return alias ?? undefined;
  }

  /** A read; API errors become ProviderErrors (404 keeps its status). */
  async #call(op: PfSenseV2Op, method: string, path: string, query?: Record<string, string>) {
    try {
      return await this.#client.call(op, method, path, query === undefined ? {} : { query });
    } catch (error) {
      throw error instanceof PfSenseV2ApiError ? this.#batchFailure(error) : error;
    }
  }

  async #waitRetryAfter(op: PfSenseV2Op, error: PfSenseV2ApiError): Promise<void> {
    const waitMs = error.retryAfterMs ?? 1000;
    const left = op.deadline - this.#now();
    if (waitMs >= left) {
      throw new ProviderError(
        `${this.#client.label}: ${error.message}; waiting ${Math.ceil(waitMs / 1000)} s (Retry-After) does not fit in this operation, it will be retried`,
        { retryable: true, status: error.status, cause: error, retryAfterMs: waitMs },
      );
    }
    op.logger.warn('pfsense: device busy; waiting as Retry-After asks', { integration: this.id, responseId: error.responseId, waitMs });
    await this.#sleep(waitMs, op.signal);
  }

  /** Sleeps when the pause and one more request fit in the budget; false otherwise. */
  async #pause(op: PfSenseV2Op, ms: number): Promise<boolean> {
    if (this.#now() + ms >= op.deadline) return false;
    await this.#sleep(ms, op.signal);
    return true;
  }

  /**
   * The PATCH target: the id just resolved, plus `name` — not editable, so a
   * package that finds another alias at that id refuses the write instead of
   * changing the wrong alias. If a package refuses `name` even unchanged
   * (refused twice at an id that did not move), the instance stops sending it.
   */
  #target(alias: PfSenseAlias): { id: number; name?: string } {
    return this.#sendName ? { id: alias.id, name: this.#alias } : { id: alias.id };
  }

  #batchFailure(error: PfSenseV2ApiError): ProviderError {
    const retryable = error.status >= 500 || error.status === 408 || error.status === 429;
    return new ProviderError(`${this.#client.label}: ${error.message}`, {
      retryable,
      status: error.status,
      cause: error,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    });
  }

  #wrongType(alias: PfSenseAlias): ProviderError {
    return new ProviderError(
      `${this.#client.label}: alias ${this.#alias} exists but is of type ${alias.type}; the relay needs a host alias. Rename or delete it, or set options.alias to another name`,
      { retryable: false },
    );
  }

  #tooManyDetails(): ProviderError {
    return new ProviderError(
      `${this.#client.label}: alias ${this.#alias} has more per-entry descriptions than addresses, which pfSense-pkg-RESTAPI refuses on every change (TOO_MANY_ALIAS_DETAILS); open the alias in Firewall > Aliases and save it so each address has one description`,
      { retryable: false },
    );
  }

  #noProgress(kind: string, rounds: number): ProviderError {
    return new ProviderError(`${this.#client.label}: ${kind} made no progress after ${rounds} rounds (ids kept changing?); it will be retried`, {
      retryable: true,
    });
  }

  #overflowMessage(): string {
    return (
      `${this.#client.label}: alias ${this.#alias} already holds ${this.#totalMax} addresses, the most pfSense-pkg-RESTAPI older than 2.5.4 accepts; ` +
      'upgrade the package to 2.5.4 or later'
    );
  }

  #limitsText(): string {
    const parts: string[] = [];
    if (this.#perRequestMax !== undefined) parts.push(`at most ${this.#perRequestMax} addresses per request (${this.#perRequestSource})`);
    if (this.#totalMax !== undefined) parts.push(`alias limited to ${this.#totalMax} addresses (detected; package older than 2.5.4)`);
    return parts.length > 0 ? `limits: ${parts.join(', ')}` : 'limits: none seen (package >= 2.5.4 assumed; older ones are detected)';
  }
}
