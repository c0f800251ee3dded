/**
 * One RouterOS address-list menu (`/ip/firewall/address-list` or its IPv6
 * twin) as the simulator keeps it.
 *
 * - `.id` values are `*` + upper-case hex, never reused.
 * - An entry with a timeout is dynamic: it disappears when the timeout
 *   passes (on the simulator's clock) and on reboot.
 * - Adding the same list + address twice fails with
 *   `failure: already have such entry`.
 * - Addresses are printed the way RouterOS prints them: IPv4 without `/32`;
 *   an IPv6 host with `/128` (`2001:db8::1/128`, the default, what RouterOS
 *   v7 shows) or bare (`ipv6HostForm: 'bare'`), so a client can be tested
 *   against either; wider IPv6 prefixes always carry their length.
 * - `find` (GET filters, `[find where …]`) compares the address as a string
 *   with the printed form. Whether RouterOS compares typed values is not
 *   documented, so the stricter case is modelled: a `/128`-printed entry is
 *   not found by the bare address (and a bare-printed one not by `…/128`),
 *   nor by another spelling (`2001:DB8::1`). A client must match both forms.
 * - Every change says who made it: `client` (the REST user under test) or
 *   `admin` (the operator, through the simulator's helpers). A client that
 *   removes or changes an entry without the relay's comment, or adds an
 *   address already in the list, is reported to the {@link TableWatcher}.
 * - Every printed value is a string.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { MAX_TIMEOUT_MS, printTime, readTime } from './interval.ts';

/** A failure RouterOS reports for a command (a 400 `detail`, or the script's error). */
export class CommandFailure extends Error {}

export interface TableEntry {
  id: number;
  list: string;
  /** As printed, e.g. `198.51.100.7` or `2001:db8::1/128`. */
  address: string;
  comment?: string;
  disabled: boolean;
  /** Simulator-clock ms at which it expires; absent for static entries. */
  expiresAt?: number;
  createdAt: number;
}

/** Field values as a request or a script gives them. */
export type Fields = Record<string, string>;

/** How an IPv6 host entry (`/128`) is printed. */
export type Ipv6HostForm = 'prefix128' | 'bare';

/** Who made a change: the REST client under test, or the operator (simulator helpers). */
export type Actor = 'client' | 'admin';

/** Told about what a careful client must not do. */
export interface TableWatcher {
  /** The client added an address the list already holds (RouterOS refuses: "already have such entry"). */
  duplicateAdd(family: 4 | 6, address: string): void;
  /** The client removed or changed an entry that does not carry the relay's comment. */
  foreignTouched(family: 4 | 6, entry: TableEntry, action: 'remove' | 'set'): void;
}

export interface AddressTableOptions {
  firstId?: number;
  ipv6HostForm?: Ipv6HostForm;
  /** The comment that marks the relay's entries (anything else is the operator's). */
  relayComment?: string;
  watcher?: TableWatcher;
}

const WRITABLE = new Set(['list', 'address', 'timeout', 'comment', 'disabled']);
const EPOCH = Date.UTC(2030, 0, 1);

/** Canonical printed form of an address for this family, or undefined when it is not one. */
export function printAddress(family: 4 | 6, text: string, ipv6HostForm: Ipv6HostForm = 'prefix128'): string | undefined {
  const slash = text.indexOf('/');
  const host = slash === -1 ? text : text.slice(0, slash);
  const length = slash === -1 ? undefined : text.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (length !== undefined && !/^[0-9]{1,3}$/.test(length)) return undefined;
  const bits = length === undefined ? max : Number(length);
  if (bits > max) return undefined;
  if (family === 4) {
    if (!isIPv4(host)) return undefined;
    return bits === 32 ? host : `${host}/${bits}`;
  }
  if (!isIPv6(host)) return undefined;
  // The WHATWG URL serializer gives the RFC 5952 compressed, lower-case form.
  const compressed = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return bits === 128 && ipv6HostForm === 'bare' ? compressed : `${compressed}/${bits}`;
}

export class AddressTable {
  readonly family: 4 | 6;
  readonly ipv6HostForm: Ipv6HostForm;
  readonly relayComment: string;
  readonly #watcher: TableWatcher | undefined;
  readonly #entries = new Map<number, TableEntry>();
  /** Printed address → ids, so `find where address=…` does not scan the table. */
  readonly #byAddress = new Map<string, Set<number>>();
  /** Earliest expiry of any entry; the table is scanned only once the clock passes it. */
  #nextExpiry = Number.POSITIVE_INFINITY;
  #nextId: number;

  constructor(family: 4 | 6, options: AddressTableOptions = {}) {
    this.family = family;
    this.#nextId = options.firstId ?? 1;
    this.ipv6HostForm = options.ipv6HostForm ?? 'prefix128';
    this.relayComment = options.relayComment ?? 'flowtriq-relay';
    this.#watcher = options.watcher;
  }

  /** The printed form of an address given to add (normalised as RouterOS does), or undefined. */
  printed(text: string): string | undefined {
    return printAddress(this.family, text, this.ipv6HostForm);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Removes entries whose timeout has passed. */
  expire(now: number): void {
    if (now < this.#nextExpiry) return;
    this.#nextExpiry = Number.POSITIVE_INFINITY;
    for (const entry of [...this.#entries.values()]) {
      if (entry.expiresAt === undefined) continue;
      if (entry.expiresAt <= now) this.#drop(entry.id);
      else this.#nextExpiry = Math.min(this.#nextExpiry, entry.expiresAt);
    }
  }

  /** Drops every dynamic entry (what a reboot does). */
  dropDynamic(): number {
    let dropped = 0;
    for (const entry of [...this.#entries.values()]) {
      if (entry.expiresAt !== undefined) {
        this.#drop(entry.id);
        dropped += 1;
      }
    }
    this.#nextExpiry = Number.POSITIVE_INFINITY;
    return dropped;
  }

  /** `add`: validates like RouterOS and creates the entry. @throws CommandFailure */
  add(fields: Fields, now: number, by: Actor = 'client'): TableEntry {
    for (const name of Object.keys(fields)) if (!WRITABLE.has(name)) throw new CommandFailure(`unknown parameter ${name}`);
    const list = fields.list;
    if (list === undefined || list === '') throw new CommandFailure('failure: list not specified');
    if (fields.address === undefined) throw new CommandFailure('failure: address not specified');
    const address = this.printed(fields.address);
    if (address === undefined) throw new CommandFailure('invalid value for argument address');
    const timeoutMs = fields.timeout === undefined ? undefined : this.#timeout(fields.timeout);
    for (const id of this.#byAddress.get(address) ?? []) {
      if (this.#entries.get(id)?.list === list) {
        if (by === 'client') this.#watcher?.duplicateAdd(this.family, address);
        throw new CommandFailure('failure: already have such entry');
      }
    }
    const entry: TableEntry = { id: this.#nextId, list, address, disabled: fields.disabled === 'true' || fields.disabled === 'yes', createdAt: now };
    this.#nextId += 1;
    if (fields.comment !== undefined && fields.comment !== '') entry.comment = fields.comment;
    if (timeoutMs !== undefined && timeoutMs > 0) this.#setExpiry(entry, now + timeoutMs);
    this.#entries.set(entry.id, entry);
    const ids = this.#byAddress.get(address);
    if (ids) ids.add(entry.id);
    else this.#byAddress.set(address, new Set([entry.id]));
    return entry;
  }

  /** `set`: changes timeout, comment or disabled. @throws CommandFailure */
  update(id: number, fields: Fields, now: number, by: Actor = 'client'): TableEntry {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new CommandFailure('no such item');
    for (const name of Object.keys(fields)) {
      if (!['timeout', 'comment', 'disabled'].includes(name)) throw new CommandFailure(`unknown parameter ${name}`);
    }
    if (by === 'client' && entry.comment !== this.relayComment) this.#watcher?.foreignTouched(this.family, { ...entry }, 'set');
    if (fields.timeout !== undefined) {
      const timeoutMs = this.#timeout(fields.timeout);
      if (timeoutMs === 0) delete entry.expiresAt;
      else this.#setExpiry(entry, now + timeoutMs);
    }
    if (fields.comment !== undefined) {
      if (fields.comment === '') delete entry.comment;
      else entry.comment = fields.comment;
    }
    if (fields.disabled !== undefined) entry.disabled = fields.disabled === 'true' || fields.disabled === 'yes';
    return entry;
  }

  /** `remove` by id; false when there is no such entry. */
  remove(id: number, by: Actor = 'client'): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    if (by === 'client' && entry.comment !== this.relayComment) this.#watcher?.foreignTouched(this.family, { ...entry }, 'remove');
    return this.#drop(id);
  }

  /** Removes an entry without asking who (timeouts, reboots). */
  #drop(id: number): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#entries.delete(id);
    const ids = this.#byAddress.get(entry.address);
    ids?.delete(id);
    if (ids?.size === 0) this.#byAddress.delete(entry.address);
    return true;
  }

  get(id: number): TableEntry | undefined {
    return this.#entries.get(id);
  }

  /** Entries whose printed properties equal every condition (the address compared as printed text, see above). */
  find(conditions: Fields, now: number): TableEntry[] {
    let candidates: TableEntry[];
    if (conditions.address !== undefined) {
      const ids = [...(this.#byAddress.get(conditions.address) ?? [])];
      candidates = ids.map((id) => this.#entries.get(id)!);
    } else {
      candidates = [...this.#entries.values()];
    }
    return candidates.filter((entry) =>
      Object.entries(conditions).every(([name, value]) => {
        switch (name) {
          case 'address':
            return true;
          case 'list':
            return entry.list === value;
          case 'comment':
            return (entry.comment ?? '') === value;
          default:
            return (this.print(entry, now)[name] ?? '') === value;
        }
      }),
    );
  }

  all(): TableEntry[] {
    return [...this.#entries.values()];
  }

  /** The entry as RouterOS REST prints it, optionally only some properties. */
  print(entry: TableEntry, now: number, proplist?: readonly string[]): Record<string, string> {
    const full: Record<string, string> = {
      '.id': formatId(entry.id),
      list: entry.list,
      address: entry.address,
      'creation-time': new Date(EPOCH + entry.createdAt).toISOString().slice(0, 19).replace('T', ' '),
    };
    if (entry.expiresAt !== undefined) full.timeout = printTime(entry.expiresAt - now);
    full.dynamic = entry.expiresAt === undefined ? 'false' : 'true';
    full.disabled = entry.disabled ? 'true' : 'false';
    if (entry.comment !== undefined) full.comment = entry.comment;
    if (proplist === undefined) return full;
    const out: Record<string, string> = {};
    for (const name of proplist) if (full[name] !== undefined) out[name] = full[name];
    return out;
  }

  #setExpiry(entry: TableEntry, at: number): void {
    entry.expiresAt = at;
    this.#nextExpiry = Math.min(this.#nextExpiry, at);
  }

  #timeout(text: string): number {
    const ms = readTime(text);
    if (ms === undefined) throw new CommandFailure('invalid value for argument timeout');
    if (ms > MAX_TIMEOUT_MS) throw new CommandFailure('value of timeout out of range (0s..35w3d13h13m56s)');
    return ms;
  }
}

/** `*1A` for 26. */
export function formatId(id: number): string {
  return `*${id.toString(16).toUpperCase()}`;
}

/** 26 for `*1A`; undefined when not an id. */
export function parseId(text: string): number | undefined {
  return /^\*[0-9A-Fa-f]{1,8}$/.test(text) ? Number.parseInt(text.slice(1), 16) : undefined;
}
