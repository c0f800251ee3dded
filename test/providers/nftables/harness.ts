/**
 * Shared set-up of the nftables tests: two namespaces joined by a veth pair
 * (the protected host and the attacker side), the operator's ruleset from
 * the docs loaded in the protected one, and a provider whose nft runs there.
 */
import { nftablesOptionsSchema } from '../../../lib/providers/nftables/config.ts';
import { createNftablesProvider } from '../../../lib/providers/nftables/provider.ts';
import type { HostCommandRunner } from '../../../lib/providers/host-command.ts';
import type { BlockEntry, BlocklistProvider, ProviderContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectVeth, createNetns, startUdpEcho, udpPasses, type Netns, type UdpEcho } from '../../helpers/netns.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';

/** The operator's ruleset, as /tmp/docs/host-firewall.md shows it (counters added to prove drops). */
export const OPERATOR_RULESET = `
table inet flowtriq {
  set flowtriq_v4 { type ipv4_addr; flags timeout; }
  set flowtriq_v6 { type ipv6_addr; flags timeout; }
  chain input {
    type filter hook input priority -10; policy accept;
    ip saddr @flowtriq_v4 counter drop
    ip6 saddr @flowtriq_v6 counter drop
  }
}
`;

/** Addresses on the attacker side of the veth pair. */
export const ATTACKER_V4 = '198.51.100.10';
export const CLEAN_V4 = '198.51.100.20';
export const ATTACKER_V6 = '2001:db8:1::10';
export const CLEAN_V6 = '2001:db8:1::20';
/** Addresses of the protected host. */
export const HOST_V4 = '198.51.100.1';
export const HOST_V6 = '2001:db8:1::1';

export interface Lab {
  host: Netns;
  attacker: Netns;
}

/** The two namespaces and the veth pair between them. */
export async function createLab(label: string): Promise<Lab> {
  const host = await createNetns(`${label}h`);
  const attacker = await createNetns(`${label}a`);
  await connectVeth(
    { ns: host, ifname: 'ftr-host', addresses: [`${HOST_V4}/24`, `${HOST_V6}/64`] },
    { ns: attacker, ifname: 'ftr-atk', addresses: [`${ATTACKER_V4}/24`, `${CLEAN_V4}/24`, `${ATTACKER_V6}/64`, `${CLEAN_V6}/64`] },
  );
  return { host, attacker };
}

/** Flushes the protected namespace's ruleset and loads `ruleset` (the operator's by default). */
export async function resetRuleset(host: Netns, ruleset = OPERATOR_RULESET): Promise<void> {
  await host.nft(`flush ruleset\n${ruleset}`);
}

export function nftProvider(host: Netns, options: Record<string, unknown> = {}, runner?: HostCommandRunner) {
  const clock = new ManualClock(Date.now());
  const logger = new RecordingLogger();
  const provider = createNftablesProvider(
    { id: 'host-nft', options: nftablesOptionsSchema.parse(options) },
    { runner: runner ?? host.run, now: clock.now },
  );
  const ctx: ProviderContext = { signal: AbortSignal.timeout(20_000), logger };
  return { provider, clock, logger, ctx };
}

/** A block entry expiring `seconds` after the clock's now. */
export function entry(clock: ManualClock, ip: string, seconds = 3600, incidents = ['incident-1']): BlockEntry {
  return { ip, expiresAt: clock.now() + seconds * 1000, incidents };
}

export interface ListedElement {
  ip: string;
  timeout?: number;
  expires?: number;
  comment?: string;
}

/** The elements of a set as nft lists them (read straight from the kernel, not through the provider). */
export async function elementsOf(host: Netns, set: string, table = 'flowtriq', family = 'inet'): Promise<ListedElement[]> {
  const result = await host.exec('nft', ['-j', 'list', 'set', family, table, set]);
  const listing = JSON.parse(result.stdout) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
  const elems = listing.nftables.find((item) => item.set)?.set?.elem ?? [];
  return elems.map((item) => {
    if (typeof item === 'string') return { ip: item };
    const elem = (item as { elem: { val: string; timeout?: number; expires?: number; comment?: string } }).elem;
    return { ip: elem.val, ...(elem.timeout === undefined ? {} : { timeout: elem.timeout }), ...(elem.expires === undefined ? {} : { expires: elem.expires }), ...(elem.comment === undefined ? {} : { comment: elem.comment }) };
  });
}

/** Packets counted by the drop rule matching `@set` in the operator's input chain. */
export async function dropCounter(host: Netns, set: string): Promise<number> {
  const result = await host.exec('nft', ['-j', 'list', 'chain', 'inet', 'flowtriq', 'input']);
  const listing = JSON.parse(result.stdout) as { nftables: Array<{ rule?: { expr: unknown[] } }> };
  for (const item of listing.nftables) {
    if (!item.rule || !JSON.stringify(item.rule.expr).includes(`"@${set}"`)) continue;
    const counter = item.rule.expr.find((expr): expr is { counter: { packets: number } } => typeof expr === 'object' && expr !== null && 'counter' in expr);
    return counter?.counter.packets ?? 0;
  }
  throw new Error(`no rule uses @${set}`);
}

/**
 * Packets across the lab's veth pair (nftables and ipset alike): a blocked
 * IPv4 and IPv6 attacker is dropped while other sources pass, the firewall's
 * own drop counters (`drops`, one per family) count it, and after removal
 * the attacker passes again.
 */
export function packetProof(
  title: string,
  lab: () => Lab,
  make: (host: Netns) => { provider: BlocklistProvider; clock: ManualClock; ctx: ProviderContext },
  drops: (host: Netns) => Promise<number[]>,
): void {
  describe('packets across a veth pair', () => {
    let echo: UdpEcho | undefined;

    beforeAll(async () => {
      echo = await startUdpEcho(lab().host);
    });

    afterAll(async () => {
      await echo?.stop();
    });

    it(title, async () => {
      // Prepare
      const { host, attacker } = lab();
      const { provider, clock, ctx } = make(host);
      const passes = (source: string, destination: string) => udpPasses(attacker, source, destination, echo!.port);
      expect(await passes(ATTACKER_V4, HOST_V4)).toBe(true);
      expect(await passes(ATTACKER_V6, HOST_V6)).toBe(true);

      // Act
      await provider.add([entry(clock, ATTACKER_V4), entry(clock, ATTACKER_V6)], ctx);

      // Assess
      expect(await passes(ATTACKER_V4, HOST_V4)).toBe(false);
      expect(await passes(CLEAN_V4, HOST_V4)).toBe(true);
      expect(await passes(ATTACKER_V6, HOST_V6)).toBe(false);
      expect(await passes(CLEAN_V6, HOST_V6)).toBe(true);
      for (const count of await drops(host)) expect(count).toBeGreaterThanOrEqual(1);

      // Act
      await provider.remove([entry(clock, ATTACKER_V4), entry(clock, ATTACKER_V6)], ctx);

      // Assess
      expect(await passes(ATTACKER_V4, HOST_V4)).toBe(true);
      expect(await passes(ATTACKER_V6, HOST_V6)).toBe(true);
    });
  });
}

