/**
 * The `ipset` integration (one-box mode, on the protected Linux host;
 * Flowtriq's "iptables" row): attacker addresses go into two ipsets
 * (`hash:ip`, family inet and inet6, created with `timeout` and `comment`),
 * one `ipset restore` per batch, each entry with a kernel timeout equal to
 * what is left of its TTL and the comment `options.comment` that marks it as
 * the relay's. The operator's own iptables/ip6tables rule
 * (`-m set --match-set flowtriq_v4 src -j DROP`) does the dropping.
 *
 * The relay never creates, changes or destroys a set or a rule. Entries
 * without the relay's comment are never touched; a set created without the
 * `comment` extension is used in the safe fallback described in
 * ../nftables/kernel-set.ts (shared with the nftables integration).
 */
import { ProviderError } from '../errors.ts';
import { createHostCommandRunner, type HostCommandRunner } from '../host-command.ts';
import { KernelSetProvider } from '../nftables/kernel-set-provider.ts';
import type { BlocklistProvider, HealthResult, ProviderContext } from '../types.ts';
import { IPSET_MAX_TIMEOUT_SECONDS, IpsetBackend, headerFacts } from './backend.ts';
import type { IpsetOptions } from './config.ts';

/** Lines per `ipset restore`. */
export const IPSET_MAX_BATCH = 1000;

export interface IpsetIntegration {
  id: string;
  options: IpsetOptions;
}

export interface IpsetProviderDeps {
  /** Runs ipset; tests pass one that runs it inside a network namespace. Default: createHostCommandRunner(). */
  runner?: HostCommandRunner;
  now?: () => number;
}

class IpsetProvider extends KernelSetProvider<IpsetBackend> {
  readonly type = 'ipset';
  readonly maxBatch = IPSET_MAX_BATCH;

  constructor(integration: IpsetIntegration, deps: IpsetProviderDeps) {
    super(integration.id, new IpsetBackend(integration.options, deps.runner ?? createHostCommandRunner()), {
      elementTimeout: integration.options.elementTimeout,
      maxTimeoutSeconds: IPSET_MAX_TIMEOUT_SECONDS,
      now: deps.now,
    });
  }

  /**
   * Both sets exist and suit the relay, and some iptables/ip6tables rule
   * references each (the kernel's reference count; a set no rule uses drops
   * nothing). A set without the comment extension works, with a warning.
   * Reads only.
   */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const problems: string[] = [];
    const ready: string[] = [];
    const warnings: string[] = [];
    for (const family of [4, 6] as const) {
      const name = this.backend.setName(family);
      try {
        const listing = await this.backend.listSet(family, ctx, true);
        if (listing.references === 0) {
          const tool = family === 4 ? 'iptables' : 'ip6tables';
          problems.push(
            `no ${tool} rule uses ipset ${name}, so its addresses are not dropped: add one, e.g. ${tool} -I INPUT -m set --match-set ${name} src -j DROP`,
          );
          continue;
        }
        if (!headerFacts(listing.header).comments) {
          warnings.push(
            `ipset ${name} has no comment extension: the relay cannot mark its entries, so it reports every entry present before it as foreign and drift repair removes none (recreate it with comment to fix)`,
          );
        }
        ready.push(`${name} (${listing.entries} entries, ${listing.references} rule reference${listing.references === 1 ? '' : 's'})`);
      } catch (error) {
        if (error instanceof ProviderError) problems.push(error.message);
        else throw error;
      }
    }
    if (problems.length > 0) return { ok: false, detail: problems.join('; ') };
    return { ok: true, detail: [`ipsets ${ready.join(', ')}`, ...warnings].join('; ') };
  }
}

/** Builds the `ipset` blocklist provider. */
export function createIpsetProvider(integration: IpsetIntegration, deps: IpsetProviderDeps = {}): BlocklistProvider {
  return new IpsetProvider(integration, deps);
}
