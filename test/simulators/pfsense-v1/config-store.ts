/**
 * The simulated firewall's configuration (the `<aliases>` part of
 * config.xml) and pf's runtime tables.
 *
 * Aliases are kept as lists (position = config index) and shown as pfSense
 * stores them (`aliasRecord`): `address` space-separated, `detail`
 * `||`-separated. Every write counts as one
 * full config.xml rewrite and marks the "aliases" subsystem dirty (the
 * pending-apply flag) until a filter reload copies the host aliases into the
 * runtime tables.
 */

export interface StoredAlias {
  name: string;
  type: string;
  descr: string;
  addresses: string[];
  /** One per address, aligned by index. */
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
    detail: alias.details.filter((detail) => detail !== '').join('||'),
  };
}

export interface SeedAlias {
  name: string;
  type?: 'host' | 'network' | 'port';
  /** Stored verbatim, without validation (to seed odd or hostile entries). */
  address?: string[];
  descr?: string;
  detail?: string[];
}

export class ConfigStore {
  readonly aliases: StoredAlias[] = [];
  /** config.xml rewrites. */
  writes = 0;
  /** Filter reloads (explicit apply, or a write with apply not false). */
  reloads = 0;
  /** The "aliases" subsystem is dirty: written but not yet applied. */
  pendingApply = false;
  /** pf's tables as of the last reload: alias name → entries. */
  live = new Map<string, string[]>();

  constructor(seed: SeedAlias[] = []) {
    for (const alias of seed) {
      const addresses = [...(alias.address ?? [])];
      this.aliases.push({
        name: alias.name,
        type: alias.type ?? 'host',
        descr: alias.descr ?? '',
        addresses,
        details: addresses.map((_, index) => alias.detail?.[index] ?? ''),
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

  /** Every entry in every alias: what a filter reload loads. */
  totalEntries(): number {
    return this.aliases.reduce((sum, alias) => sum + alias.addresses.length, 0);
  }

  /** One config.xml rewrite. */
  write(): void {
    this.writes += 1;
    this.pendingApply = true;
  }

  /** A filter reload: the runtime tables take the configured host/network aliases. */
  reload(): void {
    this.reloads += 1;
    this.pendingApply = false;
    this.live = this.#snapshot();
  }

  #snapshot(): Map<string, string[]> {
    const tables = new Map<string, string[]>();
    for (const alias of this.aliases) {
      if (alias.type !== 'port') tables.set(alias.name, [...alias.addresses]);
    }
    return tables;
  }
}
