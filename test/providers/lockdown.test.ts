/**
 * lib/providers/lockdown.ts: the management allowance every cloud-firewall
 * lockdown shares. A lockdown that would lock the operator out, or that lets
 * the whole Internet in, is refused with the fix.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keepRulesSchema, lockdownAllowances, managementAllowanceSchema, splitSources } from '../../lib/providers/lockdown.ts';

const options = z.object({ management: managementAllowanceSchema, keep: keepRulesSchema });

function messages(value: unknown): string[] {
  const result = options.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('management allowance', () => {
  it('canonicalises sources and ports, and keeps management before keep rules', () => {
    // Prepare / Act
    const parsed = options.parse({
      management: [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10', '2001:db8::/48'] }],
      keep: [{ protocol: 'udp', ports: ' 27015-27020 ', sources: ['198.51.100.0/24'] }],
    });
    // Assess
    expect(lockdownAllowances(parsed)).toEqual([
      { protocol: 'tcp', ports: '22', sources: ['203.0.113.10/32', '2001:db8::/48'] },
      { protocol: 'udp', ports: '27015-27020', sources: ['198.51.100.0/24'] },
    ]);
    expect(splitSources(parsed.management[0]!.sources)).toEqual({ ipv4: ['203.0.113.10/32'], ipv6: ['2001:db8::/48'] });
  });

  it('is required: without it the lockdown would lock the operator out too', () => {
    expect(messages({})).toEqual([expect.stringMatching(/^management: is required: list the sources and ports you manage the servers from/)]);
    expect(messages({ management: [] })).toEqual([expect.stringMatching(/^management: list at least one rule .* a lockdown without one would lock you out too/)]);
  });

  it('refuses 0.0.0.0/0 and ::/0, naming the source', () => {
    expect(messages({ management: [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10', '0.0.0.0/0'] }, { protocol: 'tcp', sources: ['::/0'] }] })).toEqual([
      'management.0.sources.1: 0.0.0.0/0 allows the whole Internet in, which is no lockdown: list the addresses you manage from (your office or VPN egress, a bastion host)',
      'management.1.sources.0: ::/0 allows the whole Internet in, which is no lockdown: list the addresses you manage from (your office or VPN egress, a bastion host)',
    ]);
  });

  it('refuses malformed rules with the fix', () => {
    expect(messages({ management: [{ protocol: 'icmp', ports: 22, sources: ['203.0.113.10'] }] })).toEqual(['management.0.ports: icmp has no ports: leave ports out']);
    expect(messages({ management: [{ protocol: 'tcp', ports: '9000-80', sources: ['203.0.113.10'] }] })).toEqual(['management.0.ports: must be a port (1–65535) or a range such as 8000-9000']);
    expect(messages({ management: [{ protocol: 'tcp', sources: ['203.0.113.10/8'] }] })[0]).toMatch(/^management\.0\.sources\.0: must be an address or CIDR such as 198\.51\.100\.0\/24: host bits are set; write 203\.0\.0\.0\/8/);
    expect(messages({ management: [{ protocol: 'sctp', sources: ['203.0.113.10'] }] })).toEqual(['management.0.protocol: must be one of tcp, udp, icmp']);
  });

  it('lets keep rules be broad (the operator keeps a public service open on purpose) and defaults them to none', () => {
    const parsed = options.parse({ management: [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10'] }] });
    expect(parsed.keep).toEqual([]);
    expect(messages({ management: [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10'] }], keep: [{ protocol: 'udp', ports: 27015, sources: ['0.0.0.0/0'] }] })).toEqual([]);
  });
});
