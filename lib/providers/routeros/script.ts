/**
 * Builds the RouterOS scripts the adapter sends to `POST /rest/execute`, and
 * reads their output.
 *
 * A script is a remote shell, so every value is checked right here, at the
 * point where it is written into the text, against a strict character class
 * (even though addresses were already parsed by `normalizeAddress` and the
 * list name and comment by the config schema). Nothing that fails is ever
 * written; the builder throws {@link RouterOsUnsafeValueError} instead. The
 * classes exclude everything RouterOS treats specially inside or outside a
 * quoted string: `"`, `\`, `$`, `[`, `]`, `{`, `}`, `;`, whitespace and
 * control characters.
 *
 * One line per address, each wrapped so a failure cannot stop the rest, and
 * each printing a machine-readable result (`i` is the line's index):
 *
 * ```
 * :do {/ip/firewall/address-list/add list="L" address="A" timeout=1h comment="C";:put "ok i"} on-error={:put "err i"}
 * :do {/ip/firewall/address-list/remove [find where list="L" and address="A" and comment="C"];:put "ok i"} on-error={:put "err i"}
 * :do {/ip/firewall/address-list/set [find where list="L" and address="A" and comment="C"] timeout=1h;:put "ok i"} on-error={:put "err i"}
 * :put "done n"
 * ```
 *
 * IPv6 addresses use `/ipv6/firewall/address-list`. RouterOS v7 prints an
 * IPv6 host entry as `2001:db8::1/128`, and whether `find where address=`
 * compares typed values or text is not documented, so remove and refresh
 * lines for IPv6 match both forms, with one command for each inside the same
 * `:do` (a `find` that matches nothing removes nothing and is no error):
 *
 * ```
 * :do {/ipv6/firewall/address-list/remove [find where list="L" and address="A" and comment="C"];/ipv6/firewall/address-list/remove [find where list="L" and address="A/128" and comment="C"];:put "ok i"} on-error={:put "err i"}
 * ```
 *
 * Any other spelling the router might print is caught by the adapter's
 * read-back, which parses what it reads and deletes leftovers by `.id`.
 * Adds write the bare canonical address (RouterOS stores it as a /128 host).
 *
 * The last line confirms the script ran to its end. Output comes back as
 * `{"ret":"ok 0\r\nok 1\r\n…"}`. RouterOS gives an `on-error` block no
 * reason, so `err` carries none.
 */
import { RouterOsUnsafeValueError } from './errors.ts';

/** Which address-list menu an address belongs to. */
export type AddressFamily = 4 | 6;

/** The list and comment every line names. */
export interface ScriptScope {
  list: string;
  comment: string;
}

/** One address for a script line. `timeout` is required for add and refresh lines. */
export interface ScriptItem {
  family: AddressFamily;
  address: string;
  timeout?: string;
}

export type ScriptOperation = 'add' | 'remove' | 'refresh';

/**
 * Script size cap in bytes. RouterOS's limit for `/execute` over REST is not
 * documented; a public client reports 64 KiB for `:execute` (unverified), so
 * scripts stay below that whatever `scriptChunk` says.
 */
export const MAX_SCRIPT_BYTES = 63 * 1024;

/** Address-list names the relay may use (the config schema's rule). */
export const LIST_NAME_RULE = /^[A-Za-z0-9_.-]{1,63}$/;
/** Comments the relay may use (the config schema's rule). */
export const COMMENT_RULE = /^[A-Za-z0-9_.:-]{1,64}$/;
const IPV4_RULE = /^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/;
const IPV6_RULE = /^[0-9a-f:.]{2,45}$/;
const TIMEOUT_RULE = /^(?=[0-9])(?:[0-9]{1,3}w)?(?:[0-9]{1,3}d)?(?:[0-9]{1,2}h)?(?:[0-9]{1,2}m)?(?:[0-9]{1,2}s)?$/;

const MENU: Record<AddressFamily, string> = {
  4: '/ip/firewall/address-list',
  6: '/ipv6/firewall/address-list',
};

function checked(kind: string, value: unknown, rule: RegExp, ruleText: string): string {
  if (typeof value !== 'string' || !rule.test(value)) throw new RouterOsUnsafeValueError(kind, ruleText);
  return value;
}

/** The list name, checked. @throws RouterOsUnsafeValueError */
export function scriptList(list: unknown): string {
  return checked('address-list name', list, LIST_NAME_RULE, '1–63 of A-Z a-z 0-9 . _ -');
}

/** The comment, checked. @throws RouterOsUnsafeValueError */
export function scriptComment(comment: unknown): string {
  return checked('comment', comment, COMMENT_RULE, '1–64 of A-Z a-z 0-9 . : _ -');
}

/** An address in canonical form, checked for its family. @throws RouterOsUnsafeValueError */
export function scriptAddress(family: unknown, address: unknown): string {
  if (family === 4) return checked('IPv4 address', address, IPV4_RULE, 'a dotted quad of digits');
  if (family === 6) {
    const value = checked('IPv6 address', address, IPV6_RULE, 'lower-case hex digits, colons and dots');
    if (!value.includes(':')) throw new RouterOsUnsafeValueError('IPv6 address', 'an address containing a colon');
    return value;
  }
  throw new RouterOsUnsafeValueError('address family', '4 or 6');
}

/** A timeout such as `1d2h3m4s`, checked. @throws RouterOsUnsafeValueError */
export function scriptTimeout(timeout: unknown): string {
  return checked('timeout', timeout, TIMEOUT_RULE, 'a RouterOS interval such as 1d2h3m4s');
}

function scriptIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RouterOsUnsafeValueError('line index', 'a non-negative integer');
  return String(index);
}

function menu(family: AddressFamily): string {
  const path = MENU[family];
  if (path === undefined) throw new RouterOsUnsafeValueError('address family', '4 or 6');
  return path;
}

/** One wrapped, self-reporting line. @throws RouterOsUnsafeValueError */
export function scriptLine(operation: ScriptOperation, index: number, scope: ScriptScope, item: ScriptItem): string {
  const list = scriptList(scope.list);
  const comment = scriptComment(scope.comment);
  const address = scriptAddress(item.family, item.address);
  const path = menu(item.family);
  const i = scriptIndex(index);
  // Both forms RouterOS may print an IPv6 host in; IPv4 hosts print bare.
  const forms = item.family === 6 ? [address, `${address}/128`] : [address];
  const find = (form: string) => `[find where list="${list}" and address="${form}" and comment="${comment}"]`;
  let commands: string[];
  switch (operation) {
    case 'add':
      commands = [`${path}/add list="${list}" address="${address}" timeout=${scriptTimeout(item.timeout)} comment="${comment}"`];
      break;
    case 'remove':
      commands = forms.map((form) => `${path}/remove ${find(form)}`);
      break;
    case 'refresh': {
      const timeout = scriptTimeout(item.timeout);
      commands = forms.map((form) => `${path}/set ${find(form)} timeout=${timeout}`);
      break;
    }
    default:
      throw new RouterOsUnsafeValueError('operation', 'add, remove or refresh');
  }
  return `:do {${commands.join(';')};:put "ok ${i}"} on-error={:put "err ${i}"}`;
}

/** Joins lines into a script that ends by printing `done <count>`. */
export function scriptOf(lines: readonly string[]): string {
  return `${lines.join('\n')}\n:put "done ${scriptIndex(lines.length)}"`;
}

/** Splits items into groups of at most `maxItems` whose scripts stay under `maxBytes`. */
export function chunkForScripts<T>(
  items: readonly T[],
  lineBytes: (item: T, index: number) => number,
  maxItems: number,
  maxBytes = MAX_SCRIPT_BYTES,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 32; // the closing "done" line
  for (const item of items) {
    const size = lineBytes(item, current.length) + 1;
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 32;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** What a script's output says about each line. */
export interface ScriptOutput {
  /** Per line index: `ok`, `err`, or undefined when the line printed nothing. */
  lines: Array<'ok' | 'err' | undefined>;
  /** The closing `done <count>` line was printed with the right count. */
  complete: boolean;
  /** Output lines that are not result markers (counted, never echoed). */
  unexpected: number;
}

/** Reads `ok i` / `err i` / `done n` lines from a script's output. */
export function parseScriptOutput(ret: string, count: number): ScriptOutput {
  const lines = new Array<'ok' | 'err' | undefined>(count).fill(undefined);
  let complete = false;
  let unexpected = 0;
  for (const raw of ret.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const marker = /^(ok|err) ([0-9]{1,6})$/.exec(line);
    if (marker) {
      const index = Number(marker[2]);
      if (index < count && lines[index] === undefined) lines[index] = marker[1] as 'ok' | 'err';
      else unexpected += 1;
      continue;
    }
    const done = /^done ([0-9]{1,6})$/.exec(line);
    if (done && Number(done[1]) === count) {
      complete = true;
      continue;
    }
    unexpected += 1;
  }
  return { lines, complete, unexpected };
}

/** A fixed script for the health check: proves `/execute` works for this user. */
export const HEALTH_SCRIPT = ':put "relay-health-ok"';
export const HEALTH_OUTPUT = 'relay-health-ok';
