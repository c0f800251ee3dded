/**
 * `config.xml`'s `aliases/alias` list with the package's `FirewallAlias`
 * model semantics (`Models/FirewallAlias.inc`, `Core/Model.inc`):
 *
 * - The object `id` is the array position: deleting an alias shifts every
 *   later id down by one.
 * - `PATCH` replaces the `many` fields it is sent (`address`, `detail`).
 *   With `append: true` each sent array becomes `array_merge(stored, sent)`
 *   (no de-duplication) and with `remove: true` `array_diff(stored, sent)`
 *   (every occurrence removed) — in both cases only when the sent array is
 *   not identical (`!==`: same values in the same order) to the stored one,
 *   so removing an alias's complete list is a silent no-op (pfrest#569).
 *   Both happen before validation, so a size limit applies to the result.
 * - `name` is required, unique, at most 31 characters, alias-name
 *   characters only, and not editable (sending the same name is accepted).
 * - `type: host` addresses must be an IP address, an FQDN or another alias.
 * - Before package 2.5.4 `address`/`detail` held at most 128 items
 *   (`LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT`); `manyMaximum` models that.
 * - `detail` (delimiter `||`) is handled as its own `many` field by the
 *   same rules: not sent → unchanged; `append`/`remove` merge or diff it
 *   independently of `address` (by value: `array_diff` removes every
 *   description equal to a sent one, wherever it stands), identical →
 *   unchanged. Nothing keeps the two lists aligned but the client.
 * - More `detail` items than addresses is `TOO_MANY_ALIAS_DETAILS`. Fewer:
 *   `FirewallAlias::validate_detail` appends `Entry added <date>` items, but
 *   `Model::validate` then overwrites the field with the per-value results
 *   (one per original item), so the list stays short (`detailPadding:
 *   'kept-short'`, the default, as read in the code); `'stamp'` models a
 *   package where the padding sticks. Either way only when at least one
 *   detail exists (the validator runs per value).
 * - Stored with `implode`, read back with `explode` unless the string is
 *   PHP `empty()` (`""` or `"0"`): a lone empty description reads back as
 *   no descriptions; empty strings between delimiters survive.
 */
import { isIP } from 'node:net';
import { SimApiError } from './envelope.ts';

/** One alias as stored. */
export interface StoredAlias {
  name: string;
  type: string;
  descr: string;
  address: string[];
  detail: string[];
}

/** How the package limits `many` fields. */
export interface ManyLimit {
  /** 0 = unlimited (package ≥ 2.5.4); 128 before. */
  maximum: number;
  /**
   * `result`: the array after append/remove is checked (what Model.inc does:
   * append/remove run before validation). `request`: only the arrays sent.
   */
  scope: 'result' | 'request';
}

const ALIAS_TYPES = ['host', 'network', 'port'];
const FQDN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const ALIAS_NAME = /^[A-Za-z0-9_]+$/;

/** See the module comment. */
export type DetailPadding = 'kept-short' | 'stamp';

/** Result of a write. */
export interface AliasWrite {
  id: number;
  alias: StoredAlias;
  /** PATCH that set `address`/`detail` without append/remove (a whole-list replace). */
  replace?: boolean;
  /** Addresses appended that the alias already held. */
  duplicates?: number;
  /** After `remove`: the positions removed from `address`, ascending (PHP's `array_diff` keeps the other keys). */
  removedPositions?: number[];
}

/** The alias list of config.xml. */
export class AliasStore {
  readonly #aliases: StoredAlias[] = [];
  readonly #limit: ManyLimit;
  readonly #now: () => number;
  readonly #rejectNameInPatch: boolean;
  readonly #detailPadding: DetailPadding;

  /** @param rejectNameInPatch model a package that refuses `name` in a PATCH even when unchanged (not seen; a compatibility knob). */
  constructor(limit: ManyLimit, now: () => number, rejectNameInPatch = false, detailPadding: DetailPadding = 'kept-short') {
    this.#limit = limit;
    this.#now = now;
    this.#rejectNameInPatch = rejectNameInPatch;
    this.#detailPadding = detailPadding;
  }

  /** All aliases in config order (id = index). Do not mutate. */
  get all(): readonly StoredAlias[] {
    return this.#aliases;
  }

  byId(id: number): StoredAlias | undefined {
    return this.#aliases[id];
  }

  indexOf(name: string): number {
    return this.#aliases.findIndex((alias) => alias.name === name);
  }

  /**
   * API representation of the alias at `id`. With `removedPositions` (after `remove`),
   * `address` is written as PHP's json_encode writes an array with gaps in
   * its keys: an object keyed by the surviving positions.
   */
  represent(id: number, removedPositions?: number[]): Record<string, unknown> {
    const alias = this.#aliases[id];
    if (alias === undefined) throw notFound(id);
    let address: unknown = [...alias.address];
    const total = alias.address.length + (removedPositions?.length ?? 0);
    // Keys stay sequential only when the removed positions were the tail.
    if (removedPositions !== undefined && removedPositions.some((position, i) => position !== total - removedPositions.length + i)) {
      const gone = new Set(removedPositions);
      const keys: number[] = [];
      for (let position = 0; position < total; position += 1) if (!gone.has(position)) keys.push(position);
      address = Object.fromEntries(keys.map((key, index) => [String(key), alias.address[index]]));
    }
    return { id, name: alias.name, type: alias.type, descr: alias.descr, address, detail: [...alias.detail] };
  }

  /** `POST /api/v2/firewall/alias`. */
  create(params: Record<string, unknown>): AliasWrite {
    const name = params.name;
    if (typeof name !== 'string' || name === '') throw new SimApiError(400, 'FIELD_IS_REQUIRED', "Field 'name' is required.");
    if (name.length > 31) {
      throw new SimApiError(400, 'STRING_FIELD_MAXIMUM_LENGTH_EXCEEDED', "Field 'name' exceeds the maximum length of 31.");
    }
    this.#validateName(name);
    if (this.indexOf(name) !== -1) {
      throw new SimApiError(400, 'FIELD_MUST_BE_UNIQUE', `Field 'name' must be unique. Another object with 'name' set to '${name}' already exists.`);
    }
    const type = params.type;
    if (typeof type !== 'string') throw new SimApiError(400, 'FIELD_IS_REQUIRED', "Field 'type' is required.");
    if (!ALIAS_TYPES.includes(type)) {
      throw new SimApiError(400, 'FIELD_INVALID_CHOICE', `Field 'type' must be one of [${ALIAS_TYPES.join(', ')}].`);
    }
    const address = params.address === undefined ? [] : manyField('address', params.address);
    const detail = params.detail === undefined ? [] : manyField('detail', params.detail);
    const descr = params.descr === undefined ? '' : stringField('descr', params.descr);
    const alias: StoredAlias = { name, type, descr, address, detail };
    this.#checkLimit('address', address);
    this.#checkLimit('detail', detail);
    this.#validate(alias, address);
    this.#aliases.push(alias);
    return { id: this.#aliases.length - 1, alias };
  }

  /** `PATCH /api/v2/firewall/alias`: validates fully before changing anything. */
  update(params: Record<string, unknown>): AliasWrite {
    const id = objectId(params.id);
    const stored = this.#aliases[id];
    if (stored === undefined) throw notFound(id);
    if (params.name !== undefined && (params.name !== stored.name || this.#rejectNameInPatch)) {
      throw new SimApiError(400, 'FIELD_VALUE_CHANGED_WHEN_NOT_EDITABLE', "Field 'name' is not editable.");
    }
    const next: StoredAlias = { ...stored, address: stored.address, detail: stored.detail };
    if (params.type !== undefined) {
      if (typeof params.type !== 'string' || !ALIAS_TYPES.includes(params.type)) {
        throw new SimApiError(400, 'FIELD_INVALID_CHOICE', `Field 'type' must be one of [${ALIAS_TYPES.join(', ')}].`);
      }
      next.type = params.type;
    }
    if (params.descr !== undefined) next.descr = stringField('descr', params.descr);
    const append = params.append === true;
    const remove = params.remove === true;
    let removedPositions: number[] | undefined;
    let duplicates = 0;
    const replace = (params.address !== undefined || params.detail !== undefined) && !append && !remove;
    // Only sent values can be new; stored ones were validated when they were written.
    let fresh: string[] = [];
    for (const field of ['address', 'detail'] as const) {
      if (params[field] === undefined) continue;
      const sent = manyField(field, params[field]);
      if (field === 'address' && !remove) fresh = sent;
      if (field === 'address' && append) {
        const held = new Set(stored.address.map(sameAddressKey));
        duplicates = sent.filter((address) => held.has(sameAddressKey(address))).length;
      }
      if (this.#limit.scope === 'request') this.#checkLimit(field, sent);
      let value = sent;
      if (append && !identical(sent, stored[field])) value = stored[field].concat(sent);
      if (remove && !identical(sent, stored[field])) {
        const removed = positionsOf(stored[field], sent);
        value = withoutPositions(stored[field], removed);
        if (field === 'address') removedPositions = removed;
      }
      next[field] = value;
    }
    if (this.#limit.scope === 'result') {
      this.#checkLimit('address', next.address);
      this.#checkLimit('detail', next.detail);
    }
    if (params.type !== undefined && params.type !== stored.type) fresh = next.address;
    this.#validate(next, fresh);
    this.#aliases[id] = next;
    const result: AliasWrite = { id, alias: next, replace, duplicates };
    if (removedPositions !== undefined) result.removedPositions = removedPositions;
    return result;
  }

  /** `DELETE /api/v2/firewall/alias?id=N`: later ids shift down. */
  delete(idValue: unknown): Record<string, unknown> {
    const id = objectId(idValue);
    const representation = this.represent(id);
    this.#aliases.splice(id, 1);
    return representation;
  }

  /** Test hook: store an alias without API validation (e.g. created in the GUI). */
  insert(alias: StoredAlias, at = this.#aliases.length): number {
    this.#aliases.splice(at, 0, { ...alias, address: [...alias.address], detail: [...alias.detail] });
    return Math.min(at, this.#aliases.length - 1);
  }

  #validateName(name: string): void {
    if (!ALIAS_NAME.test(name) || /^\d+$/.test(name) || name.startsWith('pkg_')) {
      throw new SimApiError(400, 'INVALID_FIREWALL_ALIAS_NAME', `Invalid firewall alias name '${name}'.`);
    }
  }

  #checkLimit(field: string, values: string[]): void {
    const max = this.#limit.maximum;
    if (max > 0 && values.length > max) {
      throw new SimApiError(400, 'LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT', `Field \`${field}\` exceeds the maximum array length of ${max}.`);
    }
  }

  /** Validates the new addresses (stored ones passed when they were written) and the details rule. */
  #validate(alias: StoredAlias, fresh: readonly string[]): void {
    if (alias.type === 'host') {
      for (const address of fresh) {
        const valid = !address.includes('%') && (isIP(address) !== 0 || FQDN.test(address) || this.indexOf(address) !== -1);
        if (!valid) {
          throw new SimApiError(400, 'INVALID_HOST_ALIAS_ADDRESS', `Host alias 'address' value '${address}' is not a valid IP, FQDN, or alias.`);
        }
      }
    }
    if (alias.detail.length > 0) {
      if (alias.detail.length > alias.address.length) {
        throw new SimApiError(400, 'TOO_MANY_ALIAS_DETAILS', "Aliases cannot contain more 'detail' items than 'address' items.");
      }
      if (this.#detailPadding === 'stamp') {
        const stamp = `Entry added ${new Date(this.#now()).toUTCString()}`;
        const filled = [...alias.detail];
        while (filled.length < alias.address.length) filled.push(stamp);
        alias.detail = filled;
      }
    }
    // config.xml round trip: implode, then explode unless PHP empty().
    alias.address = roundTrip(alias.address, ' ');
    alias.detail = roundTrip(alias.detail, '||');
  }
}

/** A `many` field as config.xml stores and reads it back (Field::to_internal / from_internal). */
function roundTrip(values: string[], delimiter: string): string[] {
  const joined = values.join(delimiter);
  return joined === '' || joined === '0' ? [] : joined.split(delimiter);
}

/** One key per address however it is spelled (IPv6 case and compression). */
export function sameAddressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname;
}

/** Positions (ascending) of every occurrence of any of `values` in `list` (PHP `array_diff` removes them all). */
function positionsOf(list: readonly string[], values: readonly string[]): number[] {
  const wanted = new Set(values);
  if (wanted.size > 16) {
    const positions: number[] = [];
    list.forEach((item, position) => {
      if (wanted.has(item)) positions.push(position);
    });
    return positions;
  }
  // Few values (the per-IP client's case): native scans are much faster than a Set lookup per item.
  const positions: number[] = [];
  for (const value of wanted) {
    for (let at = list.indexOf(value); at !== -1; at = list.indexOf(value, at + 1)) positions.push(at);
  }
  return positions.sort((a, b) => a - b);
}

function withoutPositions(list: readonly string[], positions: readonly number[]): string[] {
  if (positions.length === 0) return [...list];
  const out: string[] = [];
  let from = 0;
  for (const position of positions) {
    for (let i = from; i < position; i += 1) out.push(list[i] as string);
    from = position + 1;
  }
  for (let i = from; i < list.length; i += 1) out.push(list[i] as string);
  return out;
}

/** PHP `===` on two lists of strings. */
function identical(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

function objectId(value: unknown): number {
  const id = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(id) || id < 0) throw new SimApiError(400, 'MODEL_ID_REQUIRED', 'An `id` is required.');
  return id;
}

function notFound(id: number): SimApiError {
  return new SimApiError(404, 'MODEL_OBJECT_NOT_FOUND', `Object with ID '${id}' does not exist.`);
}

function manyField(field: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new SimApiError(400, 'FIELD_INVALID_MANY_VALUE', `Field '${field}' must be an array of strings.`);
  }
  return [...(value as string[])];
}

function stringField(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new SimApiError(400, 'FIELD_INVALID_TYPE', `Field '${field}' must be of type string.`);
  return value;
}
