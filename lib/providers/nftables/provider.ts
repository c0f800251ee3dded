/**
 * The `nftables` integration (one-box mode, on the protected Linux host):
 * attacker addresses go into two named sets of an nftables table (IPv4 and
 * IPv6, `flags timeout`), one `nft -j -f -` transaction per batch, each
 * element with a kernel timeout equal to what is left of its TTL and the
 * comment `options.comment` that marks it as the relay's. The operator's own
 * rule (`ip saddr @flowtriq_v4 drop`, …) does the dropping.
 *
 * The relay never creates, changes or deletes a table, a set, a chain or a
 * rule: a missing or unsuitable set is an error that names the command that
 * fixes it. Elements without the relay's comment are never touched (see
 * ./kernel-set.ts for the exact rules, shared with the ipset integration).
 */
import { ProviderError } from '../errors.ts';
import { createHostCommandRunner, type HostCommandRunner } from '../host-command.ts';
import type { BlocklistProvider, HealthResult, ProviderContext } from '../types.ts';
import { NftablesBackend, setProblem } from './backend.ts';
import type { NftablesOptions } from './config.ts';
import { KernelSetProvider } from './kernel-set-provider.ts';

/** Elements per transaction. */
export const NFTABLES_MAX_BATCH = 1000;
/**
 * Longest element timeout the relay writes: 30 days, the longest TTL the
 * config allows (nft itself takes longer ones).
 */
export const NFTABLES_MAX_TIMEOUT_SECONDS = 30 * 86_400;

export interface NftablesIntegration {
  id: string;
  options: NftablesOptions;
}

export interface NftablesProviderDeps {
  /** Runs nft; tests pass one that runs it inside a network namespace. Default: createHostCommandRunner(). */
  runner?: HostCommandRunner;
  now?: () => number;
}

class NftablesProvider extends KernelSetProvider<NftablesBackend> {
  readonly type = 'nftables';
  readonly maxBatch = NFTABLES_MAX_BATCH;
  readonly #options: NftablesOptions;

  constructor(integration: NftablesIntegration, deps: NftablesProviderDeps) {
    super(integration.id, new NftablesBackend(integration.options, deps.runner ?? createHostCommandRunner()), {
      elementTimeout: integration.options.elementTimeout,
      maxTimeoutSeconds: NFTABLES_MAX_TIMEOUT_SECONDS,
      now: deps.now,
    });
    this.#options = integration.options;
  }

  /**
   * Both sets exist and suit the relay, and some rule of the table
   * references each (a set no rule uses drops nothing). Reads only.
   */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const { family, table } = this.#options;
    try {
      const described = await this.backend.describeTable(ctx);
      if (!described) return { ok: false, detail: this.backend.missing(4).message };
      const problems: string[] = [];
      const ready: string[] = [];
      for (const setFamily of [4, 6] as const) {
        const name = this.backend.setName(setFamily);
        const set = described.sets.find((candidate) => candidate.name === name);
        if (!set) {
          problems.push(this.backend.missing(setFamily).message);
          continue;
        }
        const problem = setProblem(set, setFamily, this.policy.timeouts, this.backend.where(setFamily));
        if (problem) {
          problems.push(problem);
          continue;
        }
        const users = described.rules.filter((rule) => JSON.stringify(rule.expr ?? []).includes(JSON.stringify(`@${name}`)));
        if (users.length === 0) {
          const match = setFamily === 4 ? 'ip saddr' : 'ip6 saddr';
          problems.push(
            `no rule of table ${family} ${table} uses @${name}, so its addresses are not dropped: add one, e.g. nft add rule ${family} ${table} <your input chain> ${match} @${name} drop`,
          );
          continue;
        }
        ready.push(`${name} (used by ${users.length} rule${users.length === 1 ? '' : 's'} in ${[...new Set(users.map((rule) => rule.chain))].join(', ')})`);
      }
      if (problems.length > 0) return { ok: false, detail: problems.join('; ') };
      return { ok: true, detail: `nftables table ${family} ${table}: ${ready.join(', ')}` };
    } catch (error) {
      if (error instanceof ProviderError) return { ok: false, detail: error.message };
      throw error;
    }
  }
}

/** Builds the `nftables` blocklist provider. */
export function createNftablesProvider(integration: NftablesIntegration, deps: NftablesProviderDeps = {}): BlocklistProvider {
  return new NftablesProvider(integration, deps);
}
