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
 * POST  /api/v2/firewall/alias {name,type:"host",descr,address:[…],apply:true}   only when the alias is missing
 * PATCH /api/v2/firewall/alias {id,name,address:[missing…],append:true,apply:true}
 * PATCH /api/v2/firewall/alias {id,name,address:[present…],remove:true,apply:true}
 * PATCH /api/v2/firewall/alias {id,name,address:[],detail:[],apply:true}          removal that empties the alias
 * GET   /api/v2/diagnostics/table?id=<alias>            with verify: the live pf table
 * ```
 *
 * So an add or a remove of any size is 2 requests (+1 JWT login per token
 * lifetime with `auth: jwt`, + the verification polls with `verify`).
 *
 * ## Decisions
 *
 * - **Resolve before every write.** Each PATCH is preceded by a fresh GET
 *   by name, and carries `name` too: `name` is not editable, so if the id
 *   pointed at another alias by the time the PATCH arrives the package
 *   refuses it (`FIELD_VALUE_CHANGED_WHEN_NOT_EDITABLE`) instead of changing
 *   the wrong alias; the adapter then resolves again. (That an unchanged
 *   `name` is accepted is read from the package's code and notes, not yet
 *   seen on a device; should a package refuse it, the instance notices the
 *   refusal repeating at an id that did not move and writes by id alone.)
 * - **Append only what is missing**: `append` does not de-duplicate.
 * - **Removal that empties the alias is a plain replace** (`address: []`):
 *   `remove` with the complete stored list is a silent no-op (pfrest#569).
 *   An alias carrying per-entry descriptions (`detail`) is also changed by
 *   plain replace, keeping each remaining description with its address;
 *   `remove` alone would leave more details than addresses
 *   (`TOO_MANY_ALIAS_DETAILS`). The relay itself never writes `detail`.
 * - **Apply with `apply: true` on the last write** (one request less than a
 *   separate `POST /firewall/apply`). If that write answers 503 (dispatcher
 *   full: the package wrote config.xml and then failed to start the reload),
 *   the adapter remembers that an apply is owed and pays it with
 *   `POST /firewall/apply` on the next round or call. A call that finds
 *   nothing to write asks `GET /firewall/apply` whether alias changes wait
 *   for a reload (from an earlier process) and applies them.
 * - **503 + Retry-After**: waited for when it fits in the operation's time
 *   budget (`opBudgetMs`, default 50 s, inside the reconciler's 60 s),
 *   honouring the AbortSignal; otherwise a retryable ProviderError at once.
 *   The package always says 300 s, so in practice the reconciler retries.
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
 * - **Serialised**: one in-instance lock around every operation, so this
 *   instance never has two requests in flight (the reconciler also holds a
 *   per-integration lease).
 * - **Authentication failures stop the instance** (see client.ts).
 * - Every address passes `normalizeAddress` before it can enter a request;
 *   IPv4 and IPv6 share the alias.
 */
import type { PfSenseIntegrationConfig } from '../../../config/schema.ts';
import { normalizeAddress } from '../../../ip/address.ts';
import type { TlsOptions, Transport } from '../../../transport/types.ts';
import { ProviderError } from '../../errors.ts';
import { PfSenseV2Credentials, type PfSenseV2Secrets } from './auth.ts';
import { PfSenseV2Client, type PfSenseV2Op } from './client.ts';
import { findAlias, type PfSenseAlias, readApplyStatus, readTableEntries } from './envelope.ts';
import { PfSenseV2ApiError, PfSenseV2ConfigError } from './errors.ts';
import { SerialLock } from '../../../util/serial-lock.ts';
import { indexAlias, planAdd, planRemove } from './plan.ts';
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
}

/** pfSense package versions before 2.5.4 accept this many items per `many` field. */
export const LEGACY_ARRAY_LIMIT = 128;
const ALIAS_NAME = /^[A-Za-z0-9_]{1,31}$/;
const INTEGRATION_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Attempts at `POST /firewall/apply` that answer 503 before giving up. */
const APPLY_ATTEMPTS = 5;
/** Rounds (resolve + write) one operation may take beyond one per chunk: id shifts, races, 503 waits. */
const SPARE_ROUNDS = 8;

type Failures = Map<string, string>;

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
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #budgetMs: number;
  readonly #verifyAttempts: number;
  readonly #verifyIntervalMs: number;
  /** Most addresses one request may carry; undefined = unlimited. */
  #perRequestMax: number | undefined;
  #perRequestSource: 'configured' | 'detected' | undefined;
  /** Most addresses the alias may hold (learned from the device); undefined = unlimited. */
  #totalMax: number | undefined;
  /** A write landed but its filter reload could not be started. */
  #applyPending = false;
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
    this.#descr = `Managed by Flowtriq Relay${owner}: attacker IPs are added and removed automatically. Reference it from a block rule; do not edit.`;
    this.#verify = options.verify;
    this.#now = deps.now ?? Date.now;
    this.#sleep = deps.sleep ?? sleep;
    this.#budgetMs = deps.opBudgetMs ?? 50_000;
    this.#verifyAttempts = Math.max(1, deps.verifyAttempts ?? 5);
    this.#verifyIntervalMs = deps.verifyIntervalMs ?? 1000;
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
   * The addresses configured in the alias, canonical (entries that are not
   * single IPs are left out). With `verify`, only those also in the live pf
   * table, so a flushed table shows up as drift and gets re-asserted.
   */
  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    const op = this.#op(ctx);
    return this.#lock.run(async () => {
      const alias = await this.#resolve(op);
      if (alias === undefined) return [];
      let configured = [...indexAlias(alias.address).keys()];
      if (this.#verify) {
        const live = await this.#liveTable(op);
        configured = configured.filter((ip) => live?.has(ip) === true);
      }
      return configured.map((ip) => ({ ip, owned: true }));
    }, ctx.signal);
  }

  /** Authenticates, reads the alias (creates nothing), reports the array limits known to this instance. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    try {
      return await this.#lock.run(async () => {
        const alias = await this.#resolve(op);
        const limits = this.#limitsText();
        if (alias === undefined) {
          return { ok: true, detail: `authenticated; alias ${this.#alias} does not exist yet (created on the first block); ${limits}` };
        }
        if (alias.type !== undefined && alias.type !== 'host') return { ok: false, detail: this.#wrongType(alias).message };
        const details = alias.detail.length > 0 ? '; it carries per-entry descriptions (removals use a full replace)' : '';
        return {
          ok: true,
          detail: `authenticated; alias ${this.#alias} (id ${alias.id}) holds ${alias.address.length} entries${details}; ${limits}`,
        };
      }, ctx.signal);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  // ------------------------------------------------------------ operations

  #op(ctx: ProviderContext): PfSenseV2Op {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#budgetMs };
  }

  async #batch(kind: 'add' | 'remove', entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const op = this.#op(ctx);
    const canonical = new Map<string, { ok: true; ip: string } | { ok: false; reason: string }>();
    for (const entry of entries) {
      const normalized = normalizeAddress(entry.ip);
      canonical.set(entry.ip, normalized.ok ? { ok: true, ip: normalized.canonical } : { ok: false, reason: normalized.reason });
    }
    const wanted = [...new Set([...canonical.values()].flatMap((value) => (value.ok ? [value.ip] : [])))];
    const failures: Failures =
      wanted.length === 0
        ? new Map()
        : await this.#lock.run(() => (kind === 'add' ? this.#add(op, wanted) : this.#remove(op, wanted)), ctx.signal);
    return entries.map((entry): EntryResult => {
      const value = canonical.get(entry.ip);
      if (value === undefined || !value.ok) return { ip: entry.ip, ok: false, error: `not a single IP address: ${value?.ok === false ? value.reason : 'missing'}` };
      const error = failures.get(value.ip);
      return error === undefined ? { ip: entry.ip, ok: true } : { ip: entry.ip, ok: false, error };
    });
  }

  async #add(op: PfSenseV2Op, wanted: string[]): Promise<Failures> {
    const failures: Failures = new Map();
    const pending = new Set(wanted);
    let applied = false;
    const maxRounds = SPARE_ROUNDS + Math.ceil(wanted.length / LEGACY_ARRAY_LIMIT);
    for (let round = 0; ; round += 1) {
      if (round >= maxRounds) throw this.#noProgress('add', round);
      const alias = await this.#resolve(op);
      if (alias !== undefined && alias.type !== undefined && alias.type !== 'host') throw this.#wrongType(alias);
      const plan = planAdd([...pending], alias?.address ?? [], this.#totalMax);
      for (const ip of plan.overflow) {
        failures.set(ip, this.#overflowMessage());
        pending.delete(ip);
      }
      if (plan.missing.length === 0) {
        applied = await this.#ensureApplied(op);
        break;
      }
      const chunk = plan.missing.slice(0, this.#perRequestMax ?? plan.missing.length);
      const last = chunk.length === plan.missing.length;
      try {
        if (alias === undefined) {
          await this.#client.call(op, 'POST', '/api/v2/firewall/alias', {
            body: { name: this.#alias, type: 'host', descr: this.#descr, address: chunk, apply: last },
          });
          op.logger.info('pfsense: created alias', { integration: this.id, alias: this.#alias });
        } else {
          await this.#client.call(op, 'PATCH', '/api/v2/firewall/alias', {
            body: { ...this.#target(alias), address: chunk, append: true, apply: last },
          });
        }
      } catch (error) {
        await this.#react(op, error, { sent: chunk, withApply: last, aliasId: alias?.id }, pending, failures);
        continue;
      }
      if (this.#written(last)) {
        applied = true;
        break;
      }
    }
    return this.#verified(op, 'add', wanted, failures, applied);
  }

  async #remove(op: PfSenseV2Op, wanted: string[]): Promise<Failures> {
    const failures: Failures = new Map();
    const pending = new Set(wanted);
    let applied = false;
    const maxRounds = SPARE_ROUNDS + Math.ceil(wanted.length / LEGACY_ARRAY_LIMIT);
    for (let round = 0; ; round += 1) {
      if (round >= maxRounds) throw this.#noProgress('remove', round);
      const alias = await this.#resolve(op);
      if (alias === undefined) break; // no alias, nothing blocked by it
      if (alias.type !== undefined && alias.type !== 'host') throw this.#wrongType(alias);
      const plan = planRemove([...pending], alias);
      if (plan.kind === 'none') {
        applied = await this.#ensureApplied(op);
        break;
      }
      let body: Record<string, unknown>;
      let sent: string[];
      let last = true;
      if (plan.kind === 'replace') {
        body = { ...this.#target(alias), address: plan.address, detail: plan.detail, apply: true };
        sent = [];
      } else {
        sent = plan.send.slice(0, this.#perRequestMax ?? plan.send.length);
        last = sent.length === plan.send.length;
        body = { ...this.#target(alias), address: sent, remove: true, apply: last };
      }
      try {
        await this.#client.call(op, 'PATCH', '/api/v2/firewall/alias', { body });
      } catch (error) {
        await this.#react(op, error, { sent, withApply: last, aliasId: alias.id }, pending, failures);
        continue;
      }
      if (this.#written(last)) {
        applied = true;
        break;
      }
    }
    return this.#verified(op, 'remove', wanted, failures, applied);
  }

  /** A write went through. True when it carried the apply (the batch is done). */
  #written(last: boolean): boolean {
    this.#refusedId = undefined;
    if (last) this.#applyPending = false;
    return last;
  }

  /** With verification on, checks on the firewall every IP not already failed; a mismatch becomes its failure. */
  async #verified(op: PfSenseV2Op, direction: 'add' | 'remove', wanted: string[], failures: Failures, applied: boolean): Promise<Failures> {
    if (!this.#verify) return failures;
    const check = wanted.filter((ip) => !failures.has(ip));
    for (const [ip, message] of await this.#verifyLive(op, direction, check, applied)) failures.set(ip, message);
    return failures;
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
    const { sent, withApply } = write;
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
      case 'INVALID_HOST_ALIAS_ADDRESS': {
        const named = [...error.deviceMessage.matchAll(/`([^`]{1,64})`/g)]
          .map((match) => normalizeAddress(match[1] as string))
          .flatMap((normalized) => (normalized.ok && pending.has(normalized.canonical) ? [normalized.canonical] : []));
        const rejected = named.length > 0 ? named : sent.filter((ip) => pending.has(ip));
        if (rejected.length === 0) throw this.#batchFailure(error);
        for (const ip of rejected) {
          failures.set(ip, `${this.#client.label}: pfSense rejected the address (${error.responseId}): ${error.deviceMessage}`);
          pending.delete(ip);
        }
        return;
      }
      case 'TOO_MANY_ALIAS_DETAILS':
        throw new ProviderError(
          `${this.#client.label}: ${error.message}. Alias ${this.#alias} has more per-entry descriptions than addresses; remove the descriptions in Firewall > Aliases`,
          { retryable: false, status: error.status, cause: error },
        );
      default:
        break;
    }
    if (error.status === 503) {
      // A full dispatcher answers after the config was written: the reload is still owed.
      if (withApply) this.#applyPending = true;
      await this.#waitRetryAfter(op, error);
      return;
    }
    throw this.#batchFailure(error);
  }

  /** Pays an owed apply; without one, applies alias changes another process left unapplied. Returns whether an apply started. */
  async #ensureApplied(op: PfSenseV2Op): Promise<boolean> {
    if (!this.#applyPending) {
      if (this.#verify) return false; // verification reads the live table and applies if it must
      const status = readApplyStatus((await this.#call(op, 'GET', '/api/v2/firewall/apply')).data);
      if (status === undefined || status.applied || !status.pending.includes('aliases')) return false;
    }
    await this.#applyNow(op);
    return true;
  }

  /** `POST /firewall/apply`, waiting out 503s that fit the budget. */
  async #applyNow(op: PfSenseV2Op): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#client.call(op, 'POST', '/api/v2/firewall/apply', { body: {} });
        this.#applyPending = false;
        return;
      } catch (error) {
        if (!(error instanceof PfSenseV2ApiError) || error.status !== 503 || attempt >= APPLY_ATTEMPTS) {
          throw error instanceof PfSenseV2ApiError ? this.#batchFailure(error) : error;
        }
        this.#applyPending = true;
        await this.#waitRetryAfter(op, error);
      }
    }
  }

  /**
   * Reads the live pf table until it agrees with the change, applying once
   * if the configuration was right but pf was not. Returns per-entry
   * failures for addresses still not live (add) or still live (remove).
   */
  async #verifyLive(op: PfSenseV2Op, kind: 'add' | 'remove', entries: string[], applied: boolean): Promise<Failures> {
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
        await this.#applyNow(op);
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
        { retryable: true, status: error.status, cause: error },
      );
    }
    op.logger.warn('pfsense: device busy; waiting as Retry-After asks', {
      integration: this.id,
      responseId: error.responseId,
      waitMs,
    });
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
    return new ProviderError(`${this.#client.label}: ${error.message}`, { retryable, status: error.status, cause: error });
  }

  #wrongType(alias: PfSenseAlias): ProviderError {
    return new ProviderError(
      `${this.#client.label}: alias ${this.#alias} exists but is of type ${alias.type}; the relay needs a host alias. Rename or delete it, or set options.alias to another name`,
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

