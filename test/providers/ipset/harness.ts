/**
 * Shared set-up of the ipset tests: the same two namespaces as the nftables
 * tests, with the operator's ipsets and iptables/ip6tables drop rules from
 * the docs in the protected one, and a provider whose ipset runs there.
 */
import { ipsetOptionsSchema } from '../../../lib/providers/ipset/config.ts';
import { createIpsetProvider } from '../../../lib/providers/ipset/provider.ts';
import type { HostCommandRunner } from '../../../lib/providers/host-command.ts';
import type { ProviderContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import type { Netns } from '../../helpers/netns.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';

/** The operator's sets, as /tmp/docs/host-firewall.md shows them. */
export const OPERATOR_SETS = ['create flowtriq_v4 hash:ip family inet timeout 0 comment', 'create flowtriq_v6 hash:ip family inet6 timeout 0 comment'];

/** Removes every rule and set of the namespace and creates `sets` (ipset restore lines); with `rules`, the operator's drop rules. */
export async function resetSets(host: Netns, sets: readonly string[] = OPERATOR_SETS, rules = true): Promise<void> {
  await host.exec('iptables', ['-F', 'INPUT']);
  await host.exec('ip6tables', ['-F', 'INPUT']);
  await host.exec('ipset', ['destroy']);
  if (sets.length > 0) await host.exec('ipset', ['restore'], `${sets.join('\n')}\n`);
  if (rules) {
    await host.exec('iptables', ['-I', 'INPUT', '-m', 'set', '--match-set', 'flowtriq_v4', 'src', '-j', 'DROP']);
    await host.exec('ip6tables', ['-I', 'INPUT', '-m', 'set', '--match-set', 'flowtriq_v6', 'src', '-j', 'DROP']);
  }
}

export function ipsetProvider(host: Netns, options: Record<string, unknown> = {}, runner?: HostCommandRunner) {
  const clock = new ManualClock(Date.now());
  const logger = new RecordingLogger();
  const provider = createIpsetProvider({ id: 'host-ipset', options: ipsetOptionsSchema.parse(options) }, { runner: runner ?? host.run, now: clock.now });
  const ctx: ProviderContext = { signal: AbortSignal.timeout(20_000), logger };
  return { provider, clock, logger, ctx };
}

export interface Member {
  ip: string;
  timeout?: number;
  comment?: string;
}

/** The entries of a set as `ipset save` prints them (read straight from the kernel, not through the provider). */
export async function membersOf(host: Netns, set: string): Promise<Member[]> {
  const result = await host.exec('ipset', ['save', set]);
  const members: Member[] = [];
  for (const line of result.stdout.split('\n')) {
    const match = /^add \S+ (\S+)(?: timeout (\d+))?(?: comment "([^"]*)")?/.exec(line);
    if (!match) continue;
    members.push({
      ip: match[1]!,
      ...(match[2] === undefined ? {} : { timeout: Number(match[2]) }),
      ...(match[3] === undefined ? {} : { comment: match[3] }),
    });
  }
  return members.sort((a, b) => a.ip.localeCompare(b.ip));
}

/** Packets counted by the first INPUT rule of iptables (v4) or ip6tables (v6). */
export async function inputDrops(host: Netns, tool: 'iptables' | 'ip6tables'): Promise<number> {
  const result = await host.exec(tool, ['-n', '-v', '-x', '-L', 'INPUT']);
  const rule = result.stdout.split('\n').find((line) => line.includes('match-set'));
  if (!rule) throw new Error(`no ${tool} rule matches a set`);
  return Number(rule.trim().split(/\s+/)[0]);
}
