/**
 * The `pfsense` integration with `apiVersion: v1`: pfSense CE 2.7.x with
 * pfSense-pkg-API (the legacy pfrest package). Attacker addresses go into one
 * host alias (default `flowtriq_blocked`) that the operator's own block rule
 * references; the relay never reads or writes rules.
 *
 * ## Requests per batch (N addresses)
 *
 * | step | request | when |
 * | ---- | ------- | ---- |
 * | token | `POST /api/v1/access_token` (Basic) | auth: jwt, no valid token cached |
 * | read | `GET /api/v1/firewall/alias?name=<alias>` | always |
 * | create | `POST /api/v1/firewall/alias {"name","type":"host","descr","address":[...],"detail":[...],"apply":false}` | add, alias missing |
 * | add | `POST /api/v1/firewall/alias/entry {"name","address":[...],"detail":[...],"apply":false}` | add, some addresses not present |
 * | remove | `DELETE /api/v1/firewall/alias/entry {"name","address":[...],"apply":false}` (JSON body) | remove, some of the relay's present |
 * | apply | `POST /api/v1/firewall/apply {"async":true}` | after a write, a resumed batch, or a write left unapplied |
 *
 * So adding and later removing 1,000 addresses costs 6 requests (7 with a
 * JWT to fetch), against 2,002 for one add per address plus apply.
 * `PUT /api/v1/firewall/alias` (a whole-list replace that would overwrite an
 * edit made meanwhile) is never used.
 *
 * ## Ownership: the relay's mark in `detail`
 *
 * Every address the relay adds carries the description
 * `flowtriq-relay <incident> <ip>` (../mark.ts), sent as the entry's
 * `detail`. Everything else in the alias is the operator's:
 *
 * - add: an address already listed under the relay's mark is ok and not
 *   sent again (the package does not de-duplicate); listed under any other
 *   entry it is answered `foreign: true` and not sent.
 * - remove: `DELETE …/alias/entry` removes every entry with that address, so
 *   only addresses whose every entry carries the relay's mark are sent; an
 *   address the operator also lists is left (answered ok, logged).
 * - list: one entry per address, `owned` when every entry for it carries
 *   the relay's mark for that very address.
 *
 * The package keeps addresses and details in two strings paired only by
 * position, and its writes can shift the pairing (./detail.ts has what its
 * code does). Before each write the adapter predicts the alias the package
 * will store; when the prediction would put the relay's description beside
 * an operator's address, or move an operator's description, nothing is
 * written and a non-retryable error names the fix (an alias whose details
 * are fewer than its addresses, or that holds an empty one). The alias the
 * write answers with is checked too, and a misalignment from a package
 * release with a different bug is logged as an error.
 *
 * ## Apply
 *
 * Writes pass `apply: false` (v1 defaults to reloading the filter on each
 * write) and one `POST /api/v1/firewall/apply` follows. The apply is
 * asynchronous on the firewall: the answer comes before pf has reloaded.
 * What is owed is kept per firewall (URL origin) for every instance in the
 * process (./gate.ts): a write the apply did not cover, a failed apply, a
 * new process (an earlier one may have died between a write and its apply),
 * and any batch with a `resumed` entry (the alias may have been written and
 * not applied: a kill mid-batch leaves nothing to write on the retry) each
 * make the next operation apply. At most one apply is in flight per
 * firewall; an apply asked for within `applyGapMs` of the previous one
 * waits for the gap when the operation's budget allows, and every batch
 * that asks meanwhile shares it. A Retry-After from the firewall (or a proxy
 * before it) is honoured: nothing is sent before it ends; an operation that
 * cannot wait that long fails retryably with `retryAfterMs`.
 *
 * ## What v1 cannot see
 *
 * The package has no endpoint that reads pf's live table (v2 has
 * `/diagnostics/table`; v1's command prompt endpoint needs shell privileges
 * and is not used). So `list` reports the configured alias, and a pf table
 * flushed behind the configuration's back cannot be detected: the health
 * check says so. Re-asserting relies on the reconciler's `resumed` entries
 * and the apply after every write.
 *
 * ## Safety
 *
 * - Every address passes `normalizeAddress` before it enters a request;
 *   entries that do not are answered `ok: false` and never sent. Addresses
 *   read from the firewall are validated the same way before they are sent
 *   back in a DELETE; entries that are not single addresses (FQDNs, anything
 *   odd) are never touched.
 * - The alias name is checked in the constructor (the config schema checks
 *   it too): pfSense would silently rewrite other characters.
 * - Every request to one firewall runs one at a time (a per-origin lock
 *   shared by every instance in the process), in addition to the
 *   reconciler's per-integration lease: the firewall's whole configuration
 *   is one XML file rewritten by every write.
 * - An authentication or authorization failure stops the batch at once with
 *   a non-retryable error naming the fix (login protection counts failures).
 * - Answers are validated with zod; `return` 4055 (alias gone) and 4056
 *   (alias appeared) are handled by reading again, 4058 (address refused)
 *   fails the batch's entries, 5xx and transport failures are retryable.
 */
import type { z } from 'zod';
import type { pfsenseIntegrationSchema } from '../../../config/schema.ts';
import { resolveRequiredSecret } from '../../../config/secrets.ts';
import { describeError } from '../../../errors.ts';
import { normalizeAddress } from '../../../ip/address.ts';
import type { TlsOptions, Transport } from '../../../transport/types.ts';
import { ProviderError } from '../../errors.ts';
import { isRelayDetail, relayDetail } from '../mark.ts';
import { PfSenseV1Client, type PfSenseV1Secrets, type V1Answer, type V1Call } from './client.ts';
import {
  type AliasLists,
  type AliasPair,
  aliasLists,
  intendedAppend,
  intendedDelete,
  pairsOf,
  predictAppend,
  predictDelete,
  samePairs,
} from './detail.ts';
import { aliasRecords, V1_RETURN, v1AliasSchema, type V1Alias } from './envelope.ts';
import { PfSenseV1AliasDetailError, PfSenseV1AliasTypeError, PfSenseV1ApiError, PfSenseV1ConfigError } from './errors.ts';
import { type FirewallGate, firewallGate, type GateOp } from './gate.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../../types.ts';

export type PfSenseIntegrationConfig = z.infer<typeof pfsenseIntegrationSchema>;
export type { PfSenseV1Secrets } from './client.ts';

/** Description written on an alias the relay creates. */
export const PFSENSE_V1_ALIAS_DESCRIPTION =
  'Managed by Flowtriq Relay: attacker addresses during DDoS attacks. Entries are added and removed automatically.';

/** Largest batch per add/remove call: one request body of about 10,000 × 80 bytes (address and mark). */
export const PFSENSE_V1_MAX_BATCH = 10_000;

/** Default shortest time between two applies to one firewall (a burst of batches shares one reload). */
export const PFSENSE_V1_APPLY_GAP_MS = 1_000;

/** Default time one operation may spend waiting (coalescing gap, Retry-After), inside the reconciler's 60 s. */
export const PFSENSE_V1_OP_BUDGET_MS = 50_000;

/** What the health check says about the live table v1 cannot read. */
export const PFSENSE_V1_LIVE_TABLE_NOTE =
  'a flushed pf table cannot be detected on v1 (pfSense-pkg-API has no endpoint that reads the live table); ' +
  'the relay re-applies after every write and for resumed batches, and v2 (pfSense-pkg-RESTAPI) can verify the table';

/** pfSense alias names: letters, digits and "_", at most 31 (the config schema's rule). */
const ALIAS_NAME = /^[A-Za-z0-9_]{1,31}$/;

const ALIAS_PATH = '/api/v1/firewall/alias';
const ENTRY_PATH = '/api/v1/firewall/alias/entry';
const APPLY_PATH = '/api/v1/firewall/apply';

/** What the provider needs besides its config. */
export interface PfSenseV1ProviderDeps {
  transport: Transport;
  /** From `deviceTls(config.options.tls)`. Used for https:// URLs only. */
  tls: TlsOptions;
  /** The resolved secrets the auth mode needs (see {@link resolvePfSenseV1Secrets}). */
  secrets: PfSenseV1Secrets;
  /** Config path of the integration for messages, e.g. `integrations[2]`. */
  configPath?: string;
  /** Clock for JWT renewal, Retry-After and the apply gap (default Date.now). */
  now?: () => number;
  /** Shortest time between two applies to this firewall (default {@link PFSENSE_V1_APPLY_GAP_MS}; 0 = none). */
  applyGapMs?: number;
  /** Longest one operation may wait in total (default {@link PFSENSE_V1_OP_BUDGET_MS}). */
  opBudgetMs?: number;
}

/** The alias as the firewall holds it. */
interface AliasState {
  type: string | undefined;
  lists: AliasLists;
  /** Entries as pfSense pairs them (the firewall's spelling), in order, duplicates kept. */
  pairs: AliasPair[];
}

/** Which canonical addresses a batch asks for, and the results of the entries refused before any request. */
interface ValidatedBatch {
  results: Map<number, EntryResult>;
  /** canonical address → indices of the entries naming it. */
  wanted: Map<string, number[]>;
}

/** One operation: the caller's context plus the time it may spend waiting. */
type Op = ProviderContext & GateOp;

/**
 * Resolves the secrets the integration's auth mode needs.
 * @throws SecretMissingError / SecretMalformedError naming `<where>.secrets.<name>`.
 */
export function resolvePfSenseV1Secrets(
  config: PfSenseIntegrationConfig,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): PfSenseV1Secrets {
  const names = config.options.auth === 'token' ? (['clientId', 'clientToken'] as const) : (['username', 'password'] as const);
  const out: PfSenseV1Secrets = {};
  for (const name of names) {
    const ref = config.secrets[name];
    if (ref === undefined) throw new PfSenseV1ConfigError(`${where}.secrets.${name}: is required for auth: ${config.options.auth}`);
    out[name] = resolveRequiredSecret(ref, `${where}.secrets.${name}`, env);
  }
  return out;
}

/** A blocklist target that keeps attacker addresses in a pfSense host alias through pfSense-pkg-API v1. */
export class PfSenseV1Provider implements BlocklistProvider {
  readonly kind = 'blocklist';
  readonly type = 'pfsense';
  readonly id: string;
  readonly maxBatch = PFSENSE_V1_MAX_BATCH;

  readonly #alias: string;
  readonly #client: PfSenseV1Client;
  /** Shared with every instance talking to the same firewall (URL origin). */
  readonly #gate: FirewallGate;
  readonly #now: () => number;
  readonly #applyGapMs: number;
  readonly #budgetMs: number;

  /** @throws PfSenseV1ConfigError when the config is not a usable v1 integration. */
  constructor(config: PfSenseIntegrationConfig, deps: PfSenseV1ProviderDeps) {
    const where = deps.configPath ?? `integrations[id=${config.id}]`;
    const { options } = config;
    if (options.apiVersion !== 'v1') {
      throw new PfSenseV1ConfigError(`${where}.options.apiVersion: is ${options.apiVersion}; this provider speaks v1`);
    }
    if (options.auth !== 'basic' && options.auth !== 'jwt' && options.auth !== 'token') {
      throw new PfSenseV1ConfigError(`${where}.options.auth: v1 supports basic, jwt and token, not ${options.auth}`);
    }
    if (typeof options.alias !== 'string' || !ALIAS_NAME.test(options.alias)) {
      throw new PfSenseV1ConfigError(`${where}.options.alias: use 1–31 letters, digits or "_" (pfSense alias names)`);
    }
    let origin: string;
    try {
      const url = new URL(options.url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
      origin = url.origin;
    } catch {
      throw new PfSenseV1ConfigError(`${where}.options.url: must be an absolute http(s) URL such as https://10.0.0.1`);
    }
    this.id = config.id;
    this.#alias = options.alias;
    this.#now = deps.now ?? Date.now;
    this.#applyGapMs = deps.applyGapMs ?? PFSENSE_V1_APPLY_GAP_MS;
    this.#budgetMs = deps.opBudgetMs ?? PFSENSE_V1_OP_BUDGET_MS;
    this.#gate = firewallGate(origin);
    this.#client = new PfSenseV1Client({
      id: config.id,
      origin,
      auth: options.auth,
      secrets: deps.secrets,
      transport: deps.transport,
      tls: deps.tls,
      timeoutMs: options.timeout,
      now: this.#now,
      where,
    });
  }

  /**
   * Adds the addresses not already in the alias with one request (creating
   * the alias when it is missing), each with the relay's mark, then applies
   * once. Addresses the operator lists are answered `foreign`, unsent.
   */
  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const batch = validate(entries);
    if (batch.wanted.size === 0) return collect(entries, batch.results, undefined, new Set());
    const op = this.#op(ctx);
    const marks = new Map<string, string>();
    for (const [address, indices] of batch.wanted) marks.set(address, relayDetail(address, entries[indices[0]!]!.incidents[0]));
    const written = await this.#gate.writes.run(async () => {
      try {
        return await this.#writeMissing(batch, marks, op);
      } catch (error) {
        const refused = refusedAddresses(error);
        if (refused === undefined) throw error;
        op.logger.warn('pfsense refused an address; batch not written', { integration: this.id, error: refused });
        return { refused };
      }
    }, op.signal);
    if ('refused' in written) return collect(entries, batch.results, written.refused, new Set());
    if (written.wrote) this.#gate.noteWrite();
    if (entries.some((entry) => entry.resumed === true)) this.#gate.noteWrite();
    await this.#applyIfPending(op);
    return collect(entries, batch.results, undefined, written.foreign);
  }

  /**
   * Removes the relay's entries for the addresses with one request, then
   * applies once. Absent addresses, a missing alias, and addresses the
   * operator also lists (left in place) succeed.
   */
  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const batch = validate(entries);
    if (batch.wanted.size === 0) return collect(entries, batch.results, undefined, new Set());
    const op = this.#op(ctx);
    const wrote = await this.#gate.writes.run(async () => {
      const alias = await this.#readAlias(op);
      if (alias === undefined) return false;
      this.#requireHost(alias);
      const doomed = new Set<string>();
      const shared: string[] = [];
      for (const [address, matches] of matchesByAddress(alias.pairs, batch.wanted)) {
        if (matches.every((pair) => isRelayDetail(pair.detail, pair.address))) {
          for (const pair of matches) doomed.add(pair.address);
        } else {
          shared.push(address);
        }
      }
      if (shared.length > 0) {
        op.logger.info('pfsense: left addresses the operator also lists in the alias (their entry stays, so does the block)', {
          integration: this.id,
          count: shared.length,
          addresses: shared.slice(0, 20),
        });
      }
      if (doomed.size === 0) return false;
      const expected = intendedDelete(alias.lists, doomed);
      if (!samePairs(predictDelete(alias.lists, doomed), expected)) throw this.#detailError(alias);
      const answer = await this.#call(
        {
          method: 'DELETE',
          path: ENTRY_PATH,
          body: { name: this.#alias, address: [...doomed], apply: false },
          accept: [V1_RETURN.aliasDoesNotExist],
        },
        op,
      );
      if (answer.envelope.return !== V1_RETURN.ok) return false;
      this.#checkStored(answer, expected, op);
      return true;
    }, op.signal);
    if (wrote) this.#gate.noteWrite();
    if (entries.some((entry) => entry.resumed === true)) this.#gate.noteWrite();
    await this.#applyIfPending(op);
    return collect(entries, batch.results, undefined, new Set());
  }

  /**
   * The alias's single-address entries, canonical, one per address, `owned`
   * when every entry for it carries the relay's mark; empty when the alias is
   * missing. This is the configuration: v1 cannot read pf's live table.
   */
  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    const op = this.#op(ctx);
    return this.#gate.writes.run(async () => {
      const alias = await this.#readAlias(op);
      if (alias === undefined) return [];
      const owned = new Map<string, boolean>();
      for (const pair of alias.pairs) {
        const normalized = normalizeAddress(pair.address);
        if (!normalized.ok) continue;
        const mine = isRelayDetail(pair.detail, pair.address);
        owned.set(normalized.canonical, (owned.get(normalized.canonical) ?? true) && mine);
      }
      return [...owned].map(([ip, isOwned]) => ({ ip, owned: isOwned }));
    }, op.signal);
  }

  /**
   * Authenticates and reads the alias. A missing alias is healthy: it is
   * created on the first block. An alias whose descriptions are out of line
   * with its addresses is not (the relay would refuse to write to it).
   */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    try {
      return await this.#gate.writes.run(async () => {
        await this.#client.authenticate(op);
        const alias = await this.#readAlias(op);
        if (alias === undefined) {
          return { ok: true, detail: `alias ${this.#alias} missing: will be created on first block; ${PFSENSE_V1_LIVE_TABLE_NOTE}` };
        }
        if (alias.type !== 'host') {
          return { ok: false, detail: aliasTypeMessage(this.id, this.#alias, alias.type) };
        }
        if (!aligned(alias.lists)) {
          return { ok: false, detail: this.#detailError(alias).message };
        }
        const addresses = canonicalOwnership(alias.pairs);
        const mine = [...addresses.values()].filter(Boolean).length;
        return {
          ok: true,
          detail: `alias ${this.#alias}: ${addresses.size} addresses (${mine} the relay's); ${PFSENSE_V1_LIVE_TABLE_NOTE}`,
        };
      }, op.signal);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof ProviderError ? error.message : describeError(error) };
    }
  }

  #op(ctx: ProviderContext): Op {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#budgetMs };
  }

  /** One request, after any Retry-After the firewall asked for; a new Retry-After is remembered for the firewall. */
  async #call(call: V1Call, op: Op): Promise<V1Answer> {
    await this.#gate.waitRetryAfter(op, this.#now);
    try {
      return await this.#client.call(call, op);
    } catch (error) {
      if (error instanceof ProviderError && error.retryAfterMs !== undefined) this.#gate.noteRetryAfter(error.retryAfterMs, this.#now());
      throw error;
    }
  }

  /**
   * Reads the alias and writes the wanted addresses it lacks (creating it
   * when missing). If the alias appears or vanishes between the read and
   * the write (4056/4055), reads again once.
   */
  async #writeMissing(batch: ValidatedBatch, marks: Map<string, string>, op: Op): Promise<{ wrote: boolean; foreign: Set<string> }> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const alias = await this.#readAlias(op);
      const foreign = new Set<string>();
      const missing: string[] = [];
      if (alias === undefined) {
        missing.push(...batch.wanted.keys());
      } else {
        this.#requireHost(alias);
        const found = matchesByAddress(alias.pairs, batch.wanted);
        for (const address of batch.wanted.keys()) {
          const matches = found.get(address);
          if (matches === undefined) missing.push(address);
          else if (!matches.some((pair) => isRelayDetail(pair.detail, pair.address))) foreign.add(address);
        }
        if (foreign.size > 0) {
          op.logger.info('pfsense: addresses already in the alias under the operator\'s entries; not added, never removed', {
            integration: this.id,
            count: foreign.size,
            addresses: [...foreign].slice(0, 20),
          });
        }
      }
      if (missing.length === 0) return { wrote: false, foreign };
      const details = missing.map((address) => marks.get(address)!);
      if (alias === undefined) {
        const answer = await this.#call(
          {
            method: 'POST',
            path: ALIAS_PATH,
            body: { name: this.#alias, type: 'host', descr: PFSENSE_V1_ALIAS_DESCRIPTION, address: missing, detail: details, apply: false },
            accept: [V1_RETURN.aliasAlreadyExists],
          },
          op,
        );
        if (answer.envelope.return === V1_RETURN.ok) {
          op.logger.info('pfsense alias created', { integration: this.id, alias: this.#alias });
          this.#checkStored(answer, intendedAppend(aliasLists(undefined, undefined), missing, details), op);
          return { wrote: true, foreign };
        }
        op.logger.info('pfsense alias appeared between read and write; reading it again', { integration: this.id });
        continue;
      }
      const expected = intendedAppend(alias.lists, missing, details);
      if (!samePairs(predictAppend(alias.lists, missing, details), expected)) throw this.#detailError(alias);
      const answer = await this.#call(
        {
          method: 'POST',
          path: ENTRY_PATH,
          body: { name: this.#alias, address: missing, detail: details, apply: false },
          accept: [V1_RETURN.aliasDoesNotExist],
        },
        op,
      );
      if (answer.envelope.return === V1_RETURN.ok) {
        this.#checkStored(answer, expected, op);
        return { wrote: true, foreign };
      }
      op.logger.warn('pfsense alias vanished between read and write; reading again', { integration: this.id });
    }
    throw new ProviderError(`pfsense ${this.id}: alias ${this.#alias} kept changing while being written; it will be retried`, {
      retryable: true,
    });
  }

  async #readAlias(op: Op): Promise<AliasState | undefined> {
    const answer = await this.#call({ method: 'GET', path: ALIAS_PATH, query: { name: this.#alias } }, op);
    // The query filter is applied by the firewall, but match by name here too:
    // an older package that ignores it answers every alias.
    const record: V1Alias | undefined = aliasRecords(answer.envelope.data).find((alias) => alias.name === this.#alias);
    if (record === undefined) return undefined;
    const lists = aliasLists(record.address, record.detail ?? undefined);
    return { type: record.type, lists, pairs: pairsOf(lists) };
  }

  /**
   * Compares the alias a write answered with to the intended pairs. A
   * package release with a different pairing bug shows here; the entries are
   * written by then, so this only logs (a relay address whose mark is not
   * beside it is not treated as the relay's, so it is never removed by it).
   */
  #checkStored(answer: V1Answer, expected: AliasPair[], op: Op): void {
    const parsed = v1AliasSchema.safeParse(answer.envelope.data);
    if (!parsed.success || parsed.data.address === undefined) return;
    const stored = aliasLists(parsed.data.address, parsed.data.detail ?? undefined);
    if (samePairs(stored, expected)) return;
    op.logger.error(
      'pfsense: the package stored the alias descriptions out of line with the addresses (a bug of some pfSense-pkg-API ' +
        'releases, e.g. pfrest#374/#395); misplaced relay descriptions are not treated as the relay\'s. Fix: update the ' +
        'package to v1.9.0 or move to v2 (pfSense-pkg-RESTAPI), then check the alias descriptions in Firewall > Aliases',
      { integration: this.id, alias: this.#alias, addresses: stored.addresses.length, details: stored.details.length },
    );
  }

  async #applyIfPending(op: Op): Promise<void> {
    await this.#gate.ensureApplied(
      op,
      async () => {
        await this.#call({ method: 'POST', path: APPLY_PATH, body: { async: true } }, op);
      },
      { gapMs: this.#applyGapMs, now: this.#now },
    );
  }

  #requireHost(alias: AliasState): void {
    if (alias.type !== 'host') throw new PfSenseV1AliasTypeError(aliasTypeMessage(this.id, this.#alias, alias.type));
  }

  #detailError(alias: AliasState): PfSenseV1AliasDetailError {
    const { addresses, details } = alias.lists;
    const empty = details.some((detail) => detail === '') || addresses.some((address) => address === '');
    return new PfSenseV1AliasDetailError(
      `pfsense ${this.id}: alias ${this.#alias} holds ${addresses.length} addresses but ${details.length} descriptions` +
        `${empty ? ' (one of them empty)' : ''}; pfSense-pkg-API pairs them by position, so writing now would put the ` +
        "relay's descriptions beside other entries or move yours. Nothing was written. Fix: in Firewall > Aliases > " +
        `${this.#alias} give every entry a description and save, or set options.alias to a new alias name (the relay creates it)`,
    );
  }
}

function aliasTypeMessage(id: string, alias: string, type: string | undefined): string {
  return (
    `pfsense ${id}: alias ${alias} is of type ${type ?? '(none)'}, not host; point options.alias at a host ` +
    'alias (or a new name: the relay creates it), the relay does not change alias types'
  );
}

/** Normalizes every entry; the ones that fail are answered now and never sent. */
function validate(entries: BlockEntry[]): ValidatedBatch {
  const results = new Map<number, EntryResult>();
  const wanted = new Map<string, number[]>();
  entries.forEach((entry, index) => {
    const normalized = typeof entry.ip === 'string' ? normalizeAddress(entry.ip) : { ok: false as const, reason: 'is not a string' };
    if (!normalized.ok) {
      results.set(index, { ip: entry.ip, ok: false, error: `invalid address: ${normalized.reason}` });
      return;
    }
    const indices = wanted.get(normalized.canonical);
    if (indices === undefined) wanted.set(normalized.canonical, [index]);
    else indices.push(index);
  });
  return { results, wanted };
}

/** One result per entry, in order: refusals from validation, then `failure`, `foreign` or success for the rest. */
function collect(
  entries: BlockEntry[],
  refusals: Map<number, EntryResult>,
  failure: string | undefined,
  foreign: ReadonlySet<string>,
): EntryResult[] {
  return entries.map((entry, index) => {
    const refused = refusals.get(index);
    if (refused !== undefined) return refused;
    if (failure !== undefined) return { ip: entry.ip, ok: false, error: failure };
    const normalized = normalizeAddress(entry.ip);
    return normalized.ok && foreign.has(normalized.canonical) ? { ip: entry.ip, ok: true, foreign: true } : { ip: entry.ip, ok: true };
  });
}

/** The per-entry error for a batch the firewall refused with return 4058, or undefined for other errors. */
function refusedAddresses(error: unknown): string | undefined {
  if (error instanceof PfSenseV1ApiError && error.returnCode === V1_RETURN.aliasAddressInvalid) {
    return `pfSense refused an address in this batch (return 4058), so none was written: ${error.message}`;
  }
  return undefined;
}

/** Whether every address has exactly one non-empty description beside it (what the package's writes keep in line). */
function aligned(lists: AliasLists): boolean {
  return (
    lists.addresses.length === lists.details.length &&
    lists.addresses.every((address) => address !== '') &&
    lists.details.every((detail) => detail !== '')
  );
}

/** The alias's entries grouped by the canonical address of the wanted ones (entries for other addresses left out). */
function matchesByAddress(pairs: AliasPair[], wanted: ReadonlyMap<string, unknown>): Map<string, AliasPair[]> {
  const out = new Map<string, AliasPair[]>();
  for (const pair of pairs) {
    const normalized = normalizeAddress(pair.address);
    if (!normalized.ok || !wanted.has(normalized.canonical)) continue;
    const list = out.get(normalized.canonical);
    if (list === undefined) out.set(normalized.canonical, [pair]);
    else list.push(pair);
  }
  return out;
}

/** canonical address → whether every entry for it is the relay's. */
function canonicalOwnership(pairs: AliasPair[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const pair of pairs) {
    const normalized = normalizeAddress(pair.address);
    if (!normalized.ok) continue;
    out.set(normalized.canonical, (out.get(normalized.canonical) ?? true) && isRelayDetail(pair.detail, pair.address));
  }
  return out;
}
