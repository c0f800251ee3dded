/**
 * The simulated firewall's configuration (the `<aliases>` part of
 * config.xml) and pf's runtime tables.
 *
 * Aliases are kept as lists (position = config index) and shown as pfSense
 * stores them (`aliasRecord`): `address` space-separated, `detail`
 * `||`-separated. The two lists are kept exactly as the package leaves them:
 * nothing forces one detail per address, so an alias can hold fewer details
 * than addresses (an alias created or edited without them) or more (the
 * package bug pfrest#374), and pfSense pairs them by position (the i-th
 * address shows the i-th detail). Every write counts as one full config.xml
 * rewrite and marks the "aliases" subsystem dirty (the pending-apply flag)
 * until a filter reload copies the host aliases into the runtime tables.
 *
 * Operator entries: every entry seeded without the relay's mark, and every
 * entry added through the admin helpers of ./device.ts, is remembered as the
 * operator's (alias, address, detail); `brokenOperatorEntries()` tells which
 * of them are no longer in their alias with the same detail beside them.
 */
import { PFSENSE_MARK_PREFIX } from '../../../lib/providers/pfsense/mark.ts';

export interface StoredAlias {
  name: string;
  type: string;
  descr: string;
  addresses: string[];
  /** Paired with `addresses` by position; may be shorter or longer, as on a real firewall. */
  details: string[];
}

/** An alias as config.xml holds it and the API answers it. */
export interface AliasRecord {
  name: string;
  type: string;
  address: string;
  descr: string;
  detail: string;
}

export function aliasRecord(alias: StoredAlias): AliasRecord {
  return {
    name: alias.name,
    type: alias.type,
    address: alias.addresses.join(' '),
    descr: alias.descr,
    detail: alias.details.join('||'),
  };
}

export interface SeedAlias {
  name: string;
  type?: 'host' | 'network' | 'port';
  /** Stored verbatim, without validation (to seed odd or hostile entries). */
  address?: string[];
  descr?: string;
  /**
   * Stored verbatim. Omitted: one `Entry added <date>` per address, as the
   * webConfigurator saves an entry without a description. Give a shorter
   * list (or `[]`) to seed an alias whose details are fewer than its addresses.
   */
  detail?: string[];
}

/** The description pfSense gives an entry saved without one (fixed date: deterministic tests). */
export const GUI_DEFAULT_DETAIL = 'Entry added Mon, 01 Jan 2024 00:00:00 +0000';

/** An entry the operator owns: it must stay in its alias with this detail beside it. */
export interface OperatorEntry {
  alias: string;
  address: string;
  detail: string | undefined;
}

export class ConfigStore {
  readonly aliases: StoredAlias[] = [];
  /** config.xml rewrites. */
  writes = 0;
  /** Filter reloads (explicit apply, or a write with apply not false). */
  reloads = 0;
  /** The "aliases" subsystem is dirty: written but not yet applied. */
  pendingApply = false;
  /** config.xml rewrites since the last filter reload (0 = everything written is applied). */
  writesSinceApply = 0;
  /** pf's tables as of the last reload: alias name → entries. */
  live = new Map<string, string[]>();
  /** The operator's entries (seeded without the relay's mark, or added through the admin helpers). */
  readonly operatorEntries: OperatorEntry[] = [];

  constructor(seed: SeedAlias[] = []) {
    for (const alias of seed) {
      const addresses = [...(alias.address ?? [])];
      const details = alias.detail === undefined ? addresses.map(() => GUI_DEFAULT_DETAIL) : [...alias.detail];
      this.aliases.push({ name: alias.name, type: alias.type ?? 'host', descr: alias.descr ?? '', addresses, details });
      addresses.forEach((address, index) => {
        const detail = details[index];
        if (detail === undefined || !detail.startsWith(`${PFSENSE_MARK_PREFIX} `)) {
          this.operatorEntries.push({ alias: alias.name, address, detail });
        }
      });
    }
    this.live = this.#snapshot();
  }

  indexOf(name: string): number | undefined {
    const index = this.aliases.findIndex((alias) => alias.name === name);
    return index === -1 ? undefined : index;
  }

  /** The entries of an alias as a list, or undefined when it does not exist. */
  entries(name: string): string[] | undefined {
    const index = this.indexOf(name);
    if (index === undefined) return undefined;
    return [...this.aliases[index]!.addresses];
  }

  /** The (address, detail) pairs of an alias as pfSense shows them (by position), or undefined. */
  pairs(name: string): Array<{ address: string; detail: string | undefined }> | undefined {
    const index = this.indexOf(name);
    if (index === undefined) return undefined;
    const alias = this.aliases[index]!;
    return alias.addresses.map((address, position) => ({ address, detail: alias.details[position] }));
  }

  /** Every entry in every alias: what a filter reload loads. */
  totalEntries(): number {
    return this.aliases.reduce((sum, alias) => sum + alias.addresses.length, 0);
  }

  /** One config.xml rewrite. */
  write(): void {
    this.writes += 1;
    this.writesSinceApply += 1;
    this.pendingApply = true;
  }

  /** A filter reload: the runtime tables take the configured host/network aliases. */
  reload(): void {
    this.reloads += 1;
    this.pendingApply = false;
    this.writesSinceApply = 0;
    this.live = this.#snapshot();
  }

  /** The operator entries no longer in their alias with the same detail beside them. */
  brokenOperatorEntries(): OperatorEntry[] {
    const remaining = new Map<string, number>();
    const key = (alias: string, address: string, detail: string | undefined) => `${alias}\u0000${address}\u0000${detail ?? '\u0001'}`;
    for (const alias of this.aliases) {
      alias.addresses.forEach((address, position) => {
        const k = key(alias.name, address, alias.details[position]);
        remaining.set(k, (remaining.get(k) ?? 0) + 1);
      });
    }
    const broken: OperatorEntry[] = [];
    for (const entry of this.operatorEntries) {
      const k = key(entry.alias, entry.address, entry.detail);
      const left = remaining.get(k) ?? 0;
      if (left > 0) remaining.set(k, left - 1);
      else broken.push(entry);
    }
    return broken;
  }

  #snapshot(): Map<string, string[]> {
    const tables = new Map<string, string[]>();
    for (const alias of this.aliases) {
      if (alias.type !== 'port') tables.set(alias.name, [...alias.addresses]);
    }
    return tables;
  }
}
