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
 * | create | `POST /api/v1/firewall/alias {"name","type":"host","descr","address":[...],"apply":false}` | add, alias missing |
 * | add | `POST /api/v1/firewall/alias/entry {"name","address":[...],"apply":false}` | add, some addresses not present |
 * | remove | `DELETE /api/v1/firewall/alias/entry {"name","address":[...],"apply":false}` (JSON body) | remove, some present |
 * | apply | `POST /api/v1/firewall/apply {"async":true}` | after a write, or a write this process left unapplied |
 *
 * So adding and later removing 1,000 addresses costs 6 requests (7 with a
 * JWT to fetch), against 2,002 for one add per address plus apply.
 *
 * ## Why read first
 *
 * v1 appends without de-duplicating, and removes only entries that equal
 * the sent text. Reading the alias lets `add` send only the addresses not
 * yet present (in canonical form) and `remove` send the alias's own spelling
 * of each address (e.g. `2001:DB8::1` typed by hand matches `2001:db8::1`).
 * The read also makes retries safe: a write whose answer was lost is found
 * on the next attempt instead of being repeated.
 *
 * ## Apply
 *
 * Writes pass `apply: false` (v1 defaults to reloading the filter on each
 * write) and one `POST /api/v1/firewall/apply` follows. The apply is
 * asynchronous on the firewall: the answer comes before pf has reloaded.
 * The provider remembers a write it could not apply (the apply failed) and
 * applies on the next batch even when that batch has nothing to write; a new
 * process assumes such a leftover and applies on its first batch.
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
 * - All operations of one instance run one at a time (an in-process mutex),
 *   in addition to the reconciler's per-integration lease: the firewall's
 *   whole configuration is one XML file rewritten by every write.
 * - An authentication or authorization failure stops the batch at once with
 *   a non-retryable error naming the fix (login protection counts failures).
 * - Answers are validated with zod; `return` 4055 (alias gone) is handled,
 *   4058 (address refused) fails the batch's entries, 5xx and transport
 *   failures are retryable.
 */
import type { z } from 'zod';
import type { pfsenseIntegrationSchema } from '../../../config/schema.ts';
import { resolveRequiredSecret } from '../../../config/secrets.ts';
import { describeError } from '../../../errors.ts';
import { normalizeAddress } from '../../../ip/address.ts';
import type { TlsOptions, Transport } from '../../../transport/types.ts';
import { ProviderError } from '../../errors.ts';
import { PfSenseV1Client, type PfSenseV1Secrets, type V1Call } from './client.ts';
import { aliasAddresses, aliasRecords, V1_RETURN, type V1Alias } from './envelope.ts';
import { PfSenseV1AliasTypeError, PfSenseV1ApiError, PfSenseV1ConfigError } from './errors.ts';
import { SerialLock } from '../../../util/serial-lock.ts';
import type { BlockEntry, BlocklistProvider, DeviceEntry, EntryResult, HealthResult, ProviderContext } from '../../types.ts';

export type PfSenseIntegrationConfig = z.infer<typeof pfsenseIntegrationSchema>;
export type { PfSenseV1Secrets } from './client.ts';

/** Description written on an alias the relay creates. */
export const PFSENSE_V1_ALIAS_DESCRIPTION =
  'Managed by Flowtriq Relay: attacker addresses during DDoS attacks. Entries are added and removed automatically.';

/** Largest batch per add/remove call: one request body of about 10,000 × 40 bytes. */
export const PFSENSE_V1_MAX_BATCH = 10_000;

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
  /** Clock for JWT renewal (default Date.now). */
  now?: () => number;
}

/** The alias as the firewall holds it. */
interface AliasState {
  type: string | undefined;
  /** Entries as stored (the firewall's spelling), in order, duplicates kept. */
  entries: string[];
}

/** Which canonical addresses a batch asks for, and the results of the entries refused before any request. */
interface ValidatedBatch {
  results: Map<number, EntryResult>;
  /** canonical address → indices of the entries naming it. */
  wanted: Map<string, number[]>;
}

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
  readonly #mutex = new SerialLock();
  /** A write may be on the firewall unapplied (true at start: an earlier process may have left one). */
  #applyPending = true;

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
    this.#client = new PfSenseV1Client({
      id: config.id,
      origin,
      auth: options.auth,
      secrets: deps.secrets,
      transport: deps.transport,
      tls: deps.tls,
      timeoutMs: options.timeout,
      now: deps.now ?? Date.now,
      where,
    });
  }

  /**
   * Adds the addresses not already in the alias with one request (creating
   * the alias when it is missing), then applies once.
   */
  async add(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const batch = validate(entries);
    if (batch.wanted.size === 0) return collect(entries, batch.results, undefined);
    return this.#mutex.run(async () => {
      const alias = await this.#readAlias(ctx);
      let wrote = false;
      try {
        if (alias === undefined) {
          wrote = await this.#createAlias([...batch.wanted.keys()], ctx);
        } else {
          this.#requireHost(alias);
          const present = canonicalSet(alias.entries);
          const missing = [...batch.wanted.keys()].filter((address) => !present.has(address));
          if (missing.length > 0) wrote = await this.#appendEntries(missing, ctx);
        }
      } catch (error) {
        const refused = refusedAddresses(error);
        if (refused !== undefined) {
          ctx.logger.warn('pfsense refused an address; batch not written', { integration: this.id, error: refused });
          return collect(entries, batch.results, refused);
        }
        throw error;
      }
      if (wrote) this.#applyPending = true;
      await this.#applyIfPending(ctx);
      return collect(entries, batch.results, undefined);
    }, ctx.signal);
  }

  /**
   * Removes every alias entry that denotes one of the addresses with one
   * request, then applies once. Absent addresses and a missing alias succeed.
   */
  async remove(entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> {
    const batch = validate(entries);
    if (batch.wanted.size === 0) return collect(entries, batch.results, undefined);
    return this.#mutex.run(async () => {
      const alias = await this.#readAlias(ctx);
      if (alias !== undefined) {
        this.#requireHost(alias);
        const spellings = new Set<string>();
        for (const stored of alias.entries) {
          const normalized = normalizeAddress(stored);
          if (normalized.ok && batch.wanted.has(normalized.canonical)) spellings.add(stored);
        }
        if (spellings.size > 0) {
          const answer = await this.#client.call(
            {
              method: 'DELETE',
              path: ENTRY_PATH,
              body: { name: this.#alias, address: [...spellings], apply: false },
              accept: [V1_RETURN.aliasDoesNotExist],
            },
            ctx,
          );
          if (answer.envelope.return === V1_RETURN.ok) this.#applyPending = true;
        }
      }
      await this.#applyIfPending(ctx);
      return collect(entries, batch.results, undefined);
    }, ctx.signal);
  }

  /** The alias's single-address entries, canonical and de-duplicated; empty when the alias is missing. */
  async list(ctx: ProviderContext): Promise<DeviceEntry[]> {
    return this.#mutex.run(async () => {
      const alias = await this.#readAlias(ctx);
      if (alias === undefined) return [];
      return [...canonicalSet(alias.entries)].map((ip) => ({ ip, owned: true }));
    }, ctx.signal);
  }

  /** Authenticates and reads the alias. A missing alias is healthy: it is created on the first block. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    try {
      return await this.#mutex.run(async () => {
        await this.#client.authenticate(ctx);
        const alias = await this.#readAlias(ctx);
        if (alias === undefined) return { ok: true, detail: `alias ${this.#alias} missing: will be created on first block` };
        if (alias.type !== 'host') {
          return { ok: false, detail: aliasTypeMessage(this.id, this.#alias, alias.type) };
        }
        return { ok: true, detail: `alias ${this.#alias}: ${canonicalSet(alias.entries).size} addresses` };
      }, ctx.signal);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof ProviderError ? error.message : describeError(error) };
    }
  }

  async #readAlias(ctx: ProviderContext): Promise<AliasState | undefined> {
    const answer = await this.#client.call({ method: 'GET', path: ALIAS_PATH, query: { name: this.#alias } }, ctx);
    // The query filter is applied by the firewall, but match by name here too:
    // an older package that ignores it answers every alias.
    const record: V1Alias | undefined = aliasRecords(answer.envelope.data).find((alias) => alias.name === this.#alias);
    if (record === undefined) return undefined;
    return { type: record.type, entries: aliasAddresses(record) };
  }

  /** Creates the alias holding `addresses`; if it appeared meanwhile, appends to it instead. */
  async #createAlias(addresses: string[], ctx: ProviderContext): Promise<boolean> {
    const call: V1Call = {
      method: 'POST',
      path: ALIAS_PATH,
      body: { name: this.#alias, type: 'host', descr: PFSENSE_V1_ALIAS_DESCRIPTION, address: addresses, apply: false },
      accept: [V1_RETURN.aliasAlreadyExists],
    };
    const answer = await this.#client.call(call, ctx);
    if (answer.envelope.return === V1_RETURN.ok) {
      ctx.logger.info('pfsense alias created', { integration: this.id, alias: this.#alias });
      return true;
    }
    const alias = await this.#readAlias(ctx);
    if (alias === undefined) {
      throw new ProviderError(`pfsense ${this.id}: alias ${this.#alias} neither exists nor can be created`, {
        retryable: true,
      });
    }
    this.#requireHost(alias);
    const present = canonicalSet(alias.entries);
    const missing = addresses.filter((address) => !present.has(address));
    return missing.length > 0 ? this.#appendEntries(missing, ctx) : false;
  }

  /** Appends `addresses` (none present yet); if the alias vanished since the read, creates it. */
  async #appendEntries(addresses: string[], ctx: ProviderContext): Promise<boolean> {
    const answer = await this.#client.call(
      {
        method: 'POST',
        path: ENTRY_PATH,
        body: { name: this.#alias, address: addresses, apply: false },
        accept: [V1_RETURN.aliasDoesNotExist],
      },
      ctx,
    );
    if (answer.envelope.return === V1_RETURN.ok) return true;
    ctx.logger.warn('pfsense alias vanished between read and write; creating it', { integration: this.id });
    const created = await this.#client.call(
      {
        method: 'POST',
        path: ALIAS_PATH,
        body: { name: this.#alias, type: 'host', descr: PFSENSE_V1_ALIAS_DESCRIPTION, address: addresses, apply: false },
      },
      ctx,
    );
    return created.envelope.return === V1_RETURN.ok;
  }

  async #applyIfPending(ctx: ProviderContext): Promise<void> {
    if (!this.#applyPending) return;
    await this.#client.call({ method: 'POST', path: APPLY_PATH, body: { async: true } }, ctx);
    this.#applyPending = false;
  }

  #requireHost(alias: AliasState): void {
    if (alias.type !== 'host') throw new PfSenseV1AliasTypeError(aliasTypeMessage(this.id, this.#alias, alias.type));
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

/** One result per entry, in order: refusals from validation, then `failure` or success for the rest. */
function collect(entries: BlockEntry[], refusals: Map<number, EntryResult>, failure: string | undefined): EntryResult[] {
  return entries.map((entry, index) => {
    const refused = refusals.get(index);
    if (refused !== undefined) return refused;
    return failure === undefined ? { ip: entry.ip, ok: true } : { ip: entry.ip, ok: false, error: failure };
  });
}

/** The canonical forms of the single-address entries; anything else (FQDNs, odd text) is left out. */
function canonicalSet(stored: string[]): Set<string> {
  const out = new Set<string>();
  for (const entry of stored) {
    const normalized = normalizeAddress(entry);
    if (normalized.ok) out.add(normalized.canonical);
  }
  return out;
}

/** The per-entry error for a batch the firewall refused with return 4058, or undefined for other errors. */
function refusedAddresses(error: unknown): string | undefined {
  if (error instanceof PfSenseV1ApiError && error.returnCode === V1_RETURN.aliasAddressInvalid) {
    return `pfSense refused an address in this batch (return 4058), so none was written: ${error.message}`;
  }
  return undefined;
}
