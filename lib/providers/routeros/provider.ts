/**
 * The `routeros` integration: MikroTik RouterOS v7.1+ over its REST API
 * (`/rest`, HTTP Basic auth). Attacker IPs go into an address-list (IPv4 in
 * `/ip/firewall/address-list`, IPv6 in `/ipv6/firewall/address-list`, both
 * named `options.list`) that the operator's drop rule references. Every entry
 * carries `options.comment`; only entries with that comment are ever removed.
 *
 * ## Ownership
 *
 * The relay's entries are the ones with `options.comment`; every other entry
 * of the list is the operator's and is never removed or changed (RouterOS
 * keeps one entry per list + address, so an address the operator already
 * lists cannot get a second, relay-marked one).
 *
 * - add: the list is read first (one GET per address family in the batch).
 *   An address already listed under the relay's comment is answered ok with
 *   its `.id` and nothing is sent for it (a retried batch, `resumed` or not,
 *   writes nothing twice; RouterOS has no separate commit step, so `resumed`
 *   needs nothing else here); its timeout is refreshed when it would expire
 *   well before the relay wants. An address listed under any other comment,
 *   or none, is answered `{ ok: true, foreign: true }` and no add is sent.
 * - remove: only ever matches entries with the relay's comment.
 * - list: every single-address entry of the list (IPv4 and IPv6), `owned`
 *   when it carries the relay's comment; CIDR blocks wider than one host,
 *   ranges and DNS names are left out.
 *
 * Addresses read from the router are parsed and compared in canonical form,
 * so an IPv6 host printed as `2001:db8::1`, `2001:db8::1/128` or in any other
 * spelling or case is the same address.
 *
 * ## Script mode (default)
 *
 * RouterOS serves REST requests one at a time, so one PUT per IP is slow.
 * Adds and removes are sent as scripts instead, `POST /rest/execute` with
 * `as-string` (synchronous), at most `options.scriptChunk` addresses and
 * {@link MAX_SCRIPT_BYTES} per script (see ./script.ts for the exact
 * lines and how every value is checked before it is written into one).
 * Each script is sent once; a retry is the reconciler's decision.
 *
 * - add: only addresses not on the list are written, each with `timeout=`
 *   from its `expiresAt`, so the router drops it by itself if the relay
 *   disappears. A line prints `ok i` only after RouterOS accepted its add,
 *   so the list is read back only when some line did not (no `.id` is
 *   returned for lines that did: `ref` is optional); an address that turned
 *   up under another comment in between ("already have such entry") is
 *   then found to be foreign.
 * - remove: `remove [find where list=… and address=… and comment=…]` per
 *   address (IPv6: both the bare and the `/128` form), then the relay's
 *   entries are read back; any of the batch still there (another spelling)
 *   are deleted by `.id`.
 *
 * ## Per-entry mode
 *
 * For users whose group may not run scripts: the same read first, `PUT` per
 * address not on the list, one `GET` of the list, `DELETE` per `.id`, at most `options.concurrency` at once (the
 * first request always alone, so bad credentials cost one failed login).
 * Script mode falls back to it by itself when `/execute` answers that the
 * user lacks the permission (the health check says so, and returns to script
 * mode once its probe script runs again), or that RouterOS could not parse
 * the relay's script (until restart: the probe cannot tell that this is fixed).
 *
 * ## Failures
 *
 * 401 stops the batch at once (no further request) with a non-retryable
 * ProviderError. When the list cannot be read before adding, the add batch
 * fails as a whole and nothing is written. Timeouts, refused connections and 5xx stop the batch with a
 * retryable one. RouterOS's 60 s command limit ("Session closed") is
 * retryable and suggests a smaller `scriptChunk`. A batch-level failure is
 * thrown only when no entry of the batch succeeded; otherwise each entry
 * gets its own result.
 */
import type { z } from 'zod';
import type { routerosIntegrationSchema } from '../../config/schema.ts';
import { normalizeAddress } from '../../ip/address.ts';
import type { TlsOptions, Transport } from '../../transport/types.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry as ProviderDeviceEntry, EntryResult, HealthResult, ProviderContext } from '../types.ts';
import { RouterOsClient, type RouterOsEntry } from './client.ts';
import {
  RouterOsConfigError,
  RouterOsError,
  RouterOsUnsafeValueError,
  isAlreadyHaveSuchEntry,
  scriptUnavailability,
} from './errors.ts';
import { formatRouterOsInterval, parseRouterOsInterval, timeoutSecondsUntil } from './interval.ts';
import {
  type AddressFamily,
  COMMENT_RULE,
  HEALTH_OUTPUT,
  HEALTH_SCRIPT,
  LIST_NAME_RULE,
  MAX_SCRIPT_BYTES,
  type ScriptOperation,
  chunkForScripts,
  parseScriptOutput,
  scriptLine,
  scriptOf,
} from './script.ts';

export type RouterOsIntegrationConfig = z.infer<typeof routerosIntegrationSchema>;

/** The resolved `secrets` of the integration. */
export interface RouterOsSecrets {
  username: string;
  password: string;
}

/** Optional collaborators, for tests. */
export interface RouterOsProviderOptions {
  /** Clock (epoch ms) used to turn `expiresAt` into a RouterOS timeout. */
  now?: () => number;
}

/** A relay entry whose timeout on the router is this much shorter than wanted gets refreshed. */
const REFRESH_SLACK_SECONDS = 60;
const READ_PROPS = ['.id', 'address', 'comment', 'timeout'] as const;

/** What one step found out about one address. */
type Mark =
  | { state: 'ok'; ref?: string }
  | { state: 'err'; error?: string }
  | { state: 'dup' }
  | { state: 'unknown'; error: string };

/** One distinct address of a batch (duplicates in the batch share it). */
interface Target {
  address: string;
  family: AddressFamily;
  /** Positions in the caller's batch. */
  positions: number[];
  /** Wanted timeout, add only. */
  timeoutSeconds: number;
  mark: Mark;
}

/** An entry of the list as read back, address in canonical form. */
interface DeviceEntry {
  id: string;
  address: string;
  family: AddressFamily;
  ours: boolean;
  timeoutSeconds?: number;
}

/** The list as read back: canonical address → its entries. */
type DeviceView = Map<string, DeviceEntry[]>;

/** How a script phase ended. */
interface ScriptPhase {
  /** Targets to redo in per-entry mode (scripts turned out to be unavailable). */
  fallback: Target[];
  /** The batch-level failure that stopped the phase, if any. */
  failure?: RouterOsError;
  /** False when the router is not answering (a read-back would fail too). */
  reachable: boolean;
}

/** A batch being worked on: validation results plus the distinct addresses. */
class Batch {
  readonly results: Array<EntryResult | undefined>;
  readonly targets: Target[] = [];
  readonly #entries: BlockEntry[];

  constructor(entries: BlockEntry[], now: number) {
    this.#entries = entries;
    this.results = new Array<EntryResult | undefined>(entries.length);
    const byAddress = new Map<string, Target>();
    entries.forEach((entry, position) => {
      const parsed = normalizeAddress(entry.ip);
      if (!parsed.ok) {
        this.results[position] = { ip: String(entry.ip), ok: false, error: `not an IP address (${parsed.reason}); nothing sent` };
        return;
      }
      const timeoutSeconds = timeoutSecondsUntil(entry.expiresAt, now);
      const known = byAddress.get(parsed.canonical);
      if (known) {
        known.positions.push(position);
        known.timeoutSeconds = Math.max(known.timeoutSeconds, timeoutSeconds);
        return;
      }
      const target: Target = {
        address: parsed.canonical,
        family: parsed.address.family,
        positions: [position],
        timeoutSeconds,
        mark: { state: 'unknown', error: 'not attempted' },
      };
      byAddress.set(parsed.canonical, target);
      this.targets.push(target);
    });
  }

  settle(target: Target, result: { ok: true; ref?: string; foreign?: true } | { ok: false; error: string }): void {
    for (const position of target.positions) {
      const ip = this.#entries[position]!.ip;
      this.results[position] = result.ok
        ? { ip, ok: true, ...(result.ref === undefined ? {} : { ref: result.ref }), ...(result.foreign ? { foreign: true as const } : {}) }
        : { ip, ok: false, error: result.error };
    }
  }

  failAll(error: string): EntryResult[] {
    return this.#entries.map((entry, position) => this.results[position] ?? { ip: entry.ip, ok: false, error });
  }

  finish(): EntryResult[] {
    return this.failAll('internal error: no result');
  }

  anyOk(): boolean {
    return this.results.some((result) => result?.ok === true);
  }
}

/** A blocklist target: a MikroTik RouterOS v7.1+ address-list over REST. */
/** Addresses per call in per-entry mode (see maxBatch). */
export const PER_ENTRY_MAX_BATCH = 200;

export class RouterOsProvider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = 'routeros';
  readonly id: string;
  /** The reconciler hands over up to this many; scripts are chunked below it. */
  /**
   * Script mode takes big batches (chunked into scripts here). Per-entry mode
   * makes one serial request per address, so a batch must fit in one call's
   * deadline: at ~0.1–0.15 s per request, a few hundred.
   */
  /** Entries carry a RouterOS timeout: a block touched again is added again, which refreshes it when short. */
  readonly refreshOnHold = true;

  get maxBatch(): number {
    return this.effectiveMode === 'per-entry' ? PER_ENTRY_MAX_BATCH : 10_000;
  }

  readonly #client: RouterOsClient;
  readonly #list: string;
  readonly #comment: string;
  readonly #mode: 'script' | 'per-entry';
  readonly #scriptChunk: number;
  readonly #concurrency: number;
  readonly #now: () => number;
  /** Set when list/comment fail validation: every call then fails without sending anything. */
  readonly #configProblem: string | undefined;
  /** Why `/execute` cannot be used (script mode fell back to per-entry); `sticky` until restart. */
  #scriptUnavailable: { reason: string; sticky: boolean } | undefined;

  /**
   * @param config the parsed integration (`routerosIntegrationSchema`).
   * @param secrets the resolved user name and password.
   * @param transport how requests reach the router (direct or the device relay).
   * @param tls from `deviceTls(config.options.tls, …)`.
   * @throws RouterOsConfigError when the URL or the user name cannot be used at all.
   */
  constructor(
    config: RouterOsIntegrationConfig,
    secrets: RouterOsSecrets,
    transport: Transport,
    tls: TlsOptions,
    options: RouterOsProviderOptions = {},
  ) {
    this.id = config.id;
    const where = `integration ${config.id}`;
    let origin: string;
    try {
      const url = new URL(config.options.url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
      origin = url.origin;
    } catch {
      throw new RouterOsConfigError(`${where}: options.url must be an absolute http(s) URL such as https://10.0.0.2`);
    }
    if (secrets.username === '' || secrets.username.includes(':')) {
      throw new RouterOsConfigError(`${where}: the RouterOS user name must be non-empty and contain no ":" (HTTP Basic auth)`);
    }
    this.#list = config.options.list;
    this.#comment = config.options.comment;
    this.#mode = config.options.mode;
    this.#scriptChunk = Math.max(1, Math.floor(config.options.scriptChunk));
    this.#concurrency = Math.max(1, Math.floor(config.options.concurrency));
    this.#now = options.now ?? Date.now;
    const problems: string[] = [];
    if (typeof this.#list !== 'string' || !LIST_NAME_RULE.test(this.#list)) {
      problems.push('options.list must be 1–63 of A-Z a-z 0-9 . _ -');
    }
    if (typeof this.#comment !== 'string' || !COMMENT_RULE.test(this.#comment)) {
      problems.push('options.comment must be 1–64 of A-Z a-z 0-9 . : _ -');
    }
    this.#configProblem = problems.length > 0 ? `${where}: ${problems.join('; ')}; nothing is sent to the router` : undefined;
    this.#client = new RouterOsClient({
      origin,
      username: secrets.username,
      password: secrets.password,
      transport,
      tls,
      timeoutMs: config.options.timeout,
    });
  }

  /** Current way of writing: `script`, or `per-entry` (configured, or fallen back to). */
  get effectiveMode(): 'script' | 'per-entry' {
    return this.#useScripts() ? 'script' : 'per-entry';
  }

  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const batch = new Batch(entries, this.#now());
    if (batch.targets.length === 0) return batch.finish();
    if (this.#configProblem !== undefined) return batch.failAll(this.#configProblem);

    // Read the list first: what is already there is not written again. A failure here fails the batch, nothing sent.
    const before = await this.#readBack(familiesOf(batch.targets), false, ctx);
    const refresh: Array<{ target: Target; entry: DeviceEntry }> = [];
    const targets: Target[] = [];
    for (const target of batch.targets) {
      const present = before.get(target.address);
      if (present === undefined || present.length === 0) targets.push(target);
      else this.#settlePresent(batch, target, present, refresh);
    }

    let failure: RouterOsError | undefined;
    let reachable = true;
    let perEntry = targets;
    if (this.#useScripts() && targets.length > 0) {
      const phase = await this.#runScripts('add', targets, ctx);
      failure = phase.failure;
      reachable = phase.reachable;
      perEntry = phase.fallback;
    }
    if (perEntry.length > 0) {
      const put = await this.#putEach(perEntry, ctx);
      failure ??= put.failure;
      reachable &&= put.reachable;
    }

    // Read back only when a line or PUT was not a plain success: a script prints "ok i" only after RouterOS
    // accepted that add, and a PUT answers the created entry.
    const needsReadBack = targets.some((target) => target.mark.state !== 'ok');
    let device: DeviceView | undefined;
    let readFailure: RouterOsError | undefined;
    if (needsReadBack && reachable) {
      try {
        // The relay's own entries first; the whole list only for addresses still unaccounted for
        // (added under another comment meanwhile: "already have such entry").
        device = await this.#readBack(familiesOf(targets), true, ctx);
        const missing = targets.filter((target) => !device!.has(target.address));
        if (missing.length > 0) {
          for (const [address, found] of await this.#readBack(familiesOf(missing), false, ctx)) {
            if (!device.has(address)) device.set(address, found);
          }
        }
      } catch (error) {
        if (!(error instanceof RouterOsError) || error.failure === 'auth') throw error;
        readFailure = error;
        ctx.logger.warn('routeros: could not read the list back after adding; trusting the script output', {
          integration: this.id,
          error: error.message,
        });
      }
    }

    for (const target of targets) {
      if (device !== undefined) {
        const present = device.get(target.address) ?? [];
        if (present.length > 0) this.#settlePresent(batch, target, present, refresh);
        else batch.settle(target, { ok: false, error: this.#absentAfterAdd(target.mark) });
        continue;
      }
      const mark = target.mark;
      if (mark.state === 'ok') batch.settle(target, mark.ref === undefined ? { ok: true } : { ok: true, ref: mark.ref });
      else batch.settle(target, { ok: false, error: this.#markError(mark, readFailure) });
    }
    if (refresh.length > 0) await this.#refresh(refresh, ctx);
    if (failure !== undefined && !batch.anyOk()) throw failure;
    return batch.finish();
  }

  /** An address the list holds: the relay's entry (ok, its id; refreshed when short), or someone else's (foreign). */
  #settlePresent(batch: Batch, target: Target, present: DeviceEntry[], refresh: Array<{ target: Target; entry: DeviceEntry }>): void {
    const mine = present.find((entry) => entry.ours);
    if (mine === undefined) {
      batch.settle(target, { ok: true, foreign: true });
      return;
    }
    batch.settle(target, { ok: true, ref: mine.id });
    if (mine.timeoutSeconds !== undefined && mine.timeoutSeconds + REFRESH_SLACK_SECONDS < target.timeoutSeconds) {
      refresh.push({ target, entry: mine });
    }
  }

  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const batch = new Batch(entries, this.#now());
    if (batch.targets.length === 0) return batch.finish();
    if (this.#configProblem !== undefined) return batch.failAll(this.#configProblem);
    const targets = batch.targets;

    let failure: RouterOsError | undefined;
    let reachable = true;
    if (this.#useScripts()) {
      const phase = await this.#runScripts('remove', targets, ctx);
      failure = phase.failure;
      reachable = phase.reachable;
      // Fallen-back targets need nothing special: the read-back below finds them and DELETE removes them.
    }

    let device: DeviceView | undefined;
    let readFailure: RouterOsError | undefined;
    if (reachable) {
      try {
        device = await this.#readBack(familiesOf(targets), true, ctx);
      } catch (error) {
        if (!(error instanceof RouterOsError) || error.failure === 'auth') throw error;
        readFailure = error;
        failure ??= error;
      }
    }

    const leftovers: Array<{ target: Target; entries: DeviceEntry[] }> = [];
    for (const target of targets) {
      if (device === undefined) {
        const mark = target.mark;
        if (mark.state === 'ok') batch.settle(target, { ok: true });
        else batch.settle(target, { ok: false, error: this.#markError(mark, readFailure) });
        continue;
      }
      const mine = (device.get(target.address) ?? []).filter((entry) => entry.ours);
      if (mine.length === 0) batch.settle(target, { ok: true });
      else leftovers.push({ target, entries: mine });
    }
    if (leftovers.length > 0 && failure !== undefined) {
      // The scripts stopped (60 s limit, a rejected script): report, do not turn the rest into single DELETEs.
      for (const { target } of leftovers) batch.settle(target, { ok: false, error: `still on list ${this.#list}: ${failure.message}` });
    } else if (leftovers.length > 0) {
      if (this.#useScripts()) {
        ctx.logger.warn('routeros: relay entries still on the list after the remove script; deleting them by .id', {
          integration: this.id,
          ipCount: leftovers.length,
        });
      }
      failure = await this.#deleteEach(leftovers, batch, ctx);
    }
    if (failure !== undefined && !batch.anyOk()) throw failure;
    return batch.finish();
  }

  /** Every single-address entry of the list (IPv4 and IPv6), canonical addresses, `owned` when it carries the relay's comment. */
  async list(ctx: ProviderContext): Promise<ProviderDeviceEntry[]> {
    if (this.#configProblem !== undefined) {
      throw new RouterOsError('config', this.#configProblem, { retryable: false });
    }
    const device = await this.#readBack([4, 6], false, ctx);
    const out: ProviderDeviceEntry[] = [];
    for (const [address, entries] of device) {
      for (const entry of entries) out.push({ ip: address, ref: entry.id, owned: entry.ours });
    }
    return out;
  }

  /**
   * Reads the ids of the relay's IPv4 entries and, in script mode, runs a
   * fixed one-line script to prove `/execute` works for this user.
   */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    if (this.#configProblem !== undefined) return { ok: false, detail: this.#configProblem };
    try {
      const entries = await this.#client.listEntries(4, { list: this.#list, comment: this.#comment }, ['.id'], ctx.signal);
      let mode: string;
      if (this.#mode === 'per-entry') {
        mode = 'mode: per-entry (configured)';
      } else {
        mode = await this.#probeScripts(ctx);
      }
      return {
        ok: true,
        detail: `RouterOS ${this.#client.origin}: IPv4 list "${this.#list}" holds ${entries.length} relay entries; ${mode}`,
      };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  #useScripts(): boolean {
    return this.#mode === 'script' && this.#scriptUnavailable === undefined;
  }

  async #probeScripts(ctx: ProviderContext): Promise<string> {
    try {
      const output = await this.#client.execute(HEALTH_SCRIPT, ctx.signal);
      if (!output.includes(HEALTH_OUTPUT)) {
        throw new RouterOsError('shape', `RouterOS ${this.#client.origin}: /execute ran but did not print the health marker`, {
          retryable: false,
        });
      }
      if (this.#scriptUnavailable?.sticky === false) {
        ctx.logger.info('routeros: /execute works again; back to script mode', { integration: this.id });
        this.#scriptUnavailable = undefined;
      }
      if (this.#scriptUnavailable === undefined) return 'mode: script';
    } catch (error) {
      if (!(error instanceof RouterOsError)) throw error;
      const kind = scriptUnavailability(error);
      if (kind === undefined) throw error;
      this.#fallBack(error, kind, ctx);
    }
    return `script mode unavailable: ${this.#scriptUnavailable?.reason ?? 'unknown'}; using per-entry`;
  }

  #fallBack(error: RouterOsError, kind: 'permission' | 'dialect', ctx: ProviderContext): void {
    const reason = error.detail ?? error.message;
    if (this.#scriptUnavailable === undefined) {
      ctx.logger.warn('routeros: script mode unavailable; using per-entry requests (slower)', {
        integration: this.id,
        reason,
        fix:
          kind === 'permission'
            ? "give the relay user's group the policies /execute needs, or set options.mode: per-entry"
            : 'this RouterOS version did not accept the relay\'s script; set options.mode: per-entry and report the RouterOS version',
      });
    }
    if (this.#scriptUnavailable?.sticky !== true) this.#scriptUnavailable = { reason, sticky: kind === 'dialect' };
  }

  /** Sends the scripts for `operation`; marks each target from the output. */
  async #runScripts(operation: ScriptOperation, targets: Target[], ctx: ProviderContext): Promise<ScriptPhase> {
    const scope = { list: this.#list, comment: this.#comment };
    const lineOf = (target: Target, index: number) =>
      scriptLine(operation, index, scope, {
        family: target.family,
        address: target.address,
        timeout: formatRouterOsInterval(target.timeoutSeconds),
      });
    // Every line is built once up front: a value that fails its last check is reported, never sent.
    const safe: Target[] = [];
    for (const target of targets) {
      try {
        lineOf(target, 0);
        safe.push(target);
      } catch (error) {
        if (!(error instanceof RouterOsUnsafeValueError)) throw error;
        target.mark = { state: 'err', error: `${error.message}; nothing sent` };
      }
    }
    const chunks = chunkForScripts(safe, (target, index) => lineOf(target, index).length, this.#scriptChunk, MAX_SCRIPT_BYTES);
    for (let c = 0; c < chunks.length; c += 1) {
      ctx.signal.throwIfAborted();
      const chunk = chunks[c]!;
      let ret: string;
      try {
        ret = await this.#client.execute(scriptOf(chunk.map(lineOf)), ctx.signal);
      } catch (error) {
        if (!(error instanceof RouterOsError) || error.failure === 'auth') throw error;
        const rest = chunks.slice(c).flat();
        const unavailable = scriptUnavailability(error);
        if (unavailable !== undefined) {
          this.#fallBack(error, unavailable, ctx);
          return { fallback: rest, reachable: true };
        }
        const failure =
          error.failure === 'session-closed'
            ? new RouterOsError(
                'session-closed',
                `${error.message}; a script of ${chunk.length} entries ran too long: lower options.scriptChunk (now ${this.#scriptChunk})`,
                { retryable: true, ...(error.status === undefined ? {} : { status: error.status }), cause: error },
              )
            : error;
        for (const target of chunk) target.mark = { state: 'unknown', error: failure.message };
        for (const target of chunks.slice(c + 1).flat()) target.mark = { state: 'unknown', error: `not attempted: ${failure.message}` };
        const down = failure.failure === 'transport' || failure.failure === 'server' || failure.failure === 'tls' || failure.failure === 'config';
        return { fallback: [], failure, reachable: !down };
      }
      const output = parseScriptOutput(ret, chunk.length);
      chunk.forEach((target, index) => {
        const line = output.lines[index];
        target.mark =
          line === 'ok'
            ? { state: 'ok' }
            : line === 'err'
              ? { state: 'err' }
              : {
                  state: 'unknown',
                  error: output.complete
                    ? 'the script printed no result for this address'
                    : 'the script stopped before this address (RouterOS aborted it)',
                };
      });
      if (output.unexpected > 0 || !output.complete) {
        ctx.logger.warn('routeros: script output not as expected', {
          integration: this.id,
          operation,
          entries: chunk.length,
          unexpectedLines: output.unexpected,
          complete: output.complete,
        });
      }
    }
    ctx.logger.debug('routeros: scripts sent', { integration: this.id, operation, scripts: chunks.length, entries: safe.length });
    return { fallback: [], reachable: true };
  }

  /** Per-entry add: one PUT per target. */
  async #putEach(targets: Target[], ctx: ProviderContext): Promise<{ failure?: RouterOsError; reachable: boolean }> {
    let failure: RouterOsError | undefined;
    for (const target of targets) target.mark = { state: 'unknown', error: 'not attempted' };
    await this.#pool(targets, ctx, () => failure !== undefined, async (target) => {
      try {
        const created = await this.#client.addEntry(
          target.family,
          {
            list: this.#list,
            address: target.address,
            timeout: formatRouterOsInterval(target.timeoutSeconds),
            comment: this.#comment,
          },
          ctx.signal,
        );
        target.mark = { state: 'ok', ref: created['.id'] };
      } catch (error) {
        if (!(error instanceof RouterOsError) || error.failure === 'auth') throw error;
        if (error.failure === 'rejected' && isAlreadyHaveSuchEntry(error.detail)) {
          target.mark = { state: 'dup' };
        } else if (error.retryable || error.failure === 'tls' || error.failure === 'config') {
          failure ??= error;
          target.mark = { state: 'unknown', error: error.message };
        } else {
          target.mark = { state: 'err', error: error.message };
        }
      }
    });
    if (failure !== undefined) {
      for (const target of targets) {
        if (target.mark.state === 'unknown' && target.mark.error === 'not attempted') {
          target.mark = { state: 'unknown', error: `not attempted: ${failure.message}` };
        }
      }
    }
    const down = failure !== undefined && failure.failure !== 'session-closed';
    return { ...(failure === undefined ? {} : { failure }), reachable: !down };
  }

  /** DELETE by `.id` every relay entry still listed for these targets; settles them. */
  async #deleteEach(
    leftovers: Array<{ target: Target; entries: DeviceEntry[] }>,
    batch: Batch,
    ctx: ProviderContext,
  ): Promise<RouterOsError | undefined> {
    let failure: RouterOsError | undefined;
    const pending = new Set(leftovers.map((item) => item.target));
    await this.#pool(leftovers, ctx, () => failure !== undefined, async ({ target, entries }) => {
      try {
        for (const entry of entries) await this.#client.deleteEntry(entry.family, entry.id, ctx.signal);
        batch.settle(target, { ok: true });
      } catch (error) {
        if (!(error instanceof RouterOsError) || error.failure === 'auth') throw error;
        if (error.retryable || error.failure === 'tls' || error.failure === 'config') failure ??= error;
        batch.settle(target, { ok: false, error: `still on list ${this.#list}: ${error.message}` });
      }
      pending.delete(target);
    });
    for (const target of pending) {
      batch.settle(target, { ok: false, error: `still on list ${this.#list}; not attempted: ${failure?.message ?? 'stopped'}` });
    }
    return failure;
  }

  /** Lengthens the timeout of relay entries that would expire before the relay wants. Best effort. */
  async #refresh(items: Array<{ target: Target; entry: DeviceEntry }>, ctx: ProviderContext): Promise<void> {
    try {
      if (this.#useScripts()) {
        const targets = items.map((item) => item.target);
        const phase = await this.#runScripts('refresh', targets, ctx);
        const failed = targets.filter((target) => target.mark.state !== 'ok').length + phase.fallback.length;
        if (failed > 0) {
          ctx.logger.warn('routeros: could not refresh the timeout of some existing entries', {
            integration: this.id,
            ipCount: failed,
          });
        }
        return;
      }
      await this.#pool(items, ctx, () => false, async ({ target, entry }) => {
        await this.#client.updateEntry(entry.family, entry.id, { timeout: formatRouterOsInterval(target.timeoutSeconds) }, ctx.signal);
      });
    } catch (error) {
      if (!(error instanceof RouterOsError) || error.failure === 'auth') throw error;
      ctx.logger.warn('routeros: could not refresh the timeout of existing entries', { integration: this.id, error: error.message });
    }
  }

  /** Reads the list for these families: all entries, or only the relay's (filtered by comment on the router too). */
  async #readBack(families: Iterable<AddressFamily>, oursOnly: boolean, ctx: ProviderContext): Promise<DeviceView> {
    const view: DeviceView = new Map();
    let skipped = 0;
    for (const family of new Set(families)) {
      const filters: Record<string, string> = { list: this.#list };
      if (oursOnly) filters.comment = this.#comment;
      const entries = await this.#client.listEntries(family, filters, READ_PROPS, ctx.signal);
      for (const raw of entries) {
        const entry = this.#deviceEntry(raw, family);
        if (entry === undefined) {
          skipped += 1;
          continue;
        }
        if (oursOnly && !entry.ours) continue;
        const known = view.get(entry.address);
        if (known) known.push(entry);
        else view.set(entry.address, [entry]);
      }
    }
    if (skipped > 0) {
      ctx.logger.debug('routeros: list entries that are not single addresses were ignored', { integration: this.id, count: skipped });
    }
    return view;
  }

  #deviceEntry(raw: RouterOsEntry, family: AddressFamily): DeviceEntry | undefined {
    if (raw.address === undefined) return undefined;
    const single = family === 4 ? raw.address.replace(/\/32$/, '') : raw.address.replace(/\/128$/, '');
    const parsed = normalizeAddress(single);
    if (!parsed.ok || parsed.address.family !== family) return undefined;
    const entry: DeviceEntry = { id: raw['.id'], address: parsed.canonical, family, ours: raw.comment === this.#comment };
    if (raw.timeout !== undefined && raw.timeout !== '') {
      const seconds = parseRouterOsInterval(raw.timeout);
      if (seconds !== undefined) entry.timeoutSeconds = seconds;
    }
    return entry;
  }

  /** Runs `work` over items, the first alone, then `concurrency` at a time; stops starting new ones on `stopped()` or a throw. */
  async #pool<T>(items: T[], ctx: ProviderContext, stopped: () => boolean, work: (item: T) => Promise<void>): Promise<void> {
    if (items.length === 0) return;
    ctx.signal.throwIfAborted();
    await work(items[0]!);
    let next = 1;
    let thrown = false;
    const lane = async () => {
      while (next < items.length && !thrown && !stopped()) {
        ctx.signal.throwIfAborted();
        const item = items[next]!;
        next += 1;
        try {
          await work(item);
        } catch (error) {
          thrown = true;
          throw error;
        }
      }
    };
    const lanes = Array.from({ length: Math.min(this.#concurrency, items.length - 1) }, lane);
    const settled = await Promise.allSettled(lanes);
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  }

  #absentAfterAdd(mark: Mark): string {
    switch (mark.state) {
      case 'ok':
        return `RouterOS reported it added, but it is not on list ${this.#list} when read back`;
      case 'dup':
        return `RouterOS reported "already have such entry", but it is not on list ${this.#list} when read back`;
      case 'err':
        return (
          mark.error ??
          `RouterOS refused the add and it is not on list ${this.#list} (scripts give no reason; per-entry mode shows RouterOS's message)`
        );
      case 'unknown':
        return mark.error;
    }
  }

  #markError(mark: Mark, readFailure: RouterOsError | undefined): string {
    const unverified = readFailure === undefined ? '' : ` (not verified: ${readFailure.message})`;
    switch (mark.state) {
      case 'ok':
        return `not verified: ${readFailure?.message ?? 'no read-back'}`;
      case 'dup':
        return `RouterOS answered "already have such entry", but whose entry it is could not be read: ${readFailure?.message ?? 'no read-back'}`;
      case 'err':
        return `${mark.error ?? 'RouterOS refused the command (the script gives no reason)'}${unverified}`;
      case 'unknown':
        return mark.error;
    }
  }
}

function familiesOf(targets: Target[]): Set<AddressFamily> {
  return new Set(targets.map((target) => target.family));
}
