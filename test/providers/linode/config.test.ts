import { describe, expect, it } from 'vitest';
import { linodeOptionsSchema, linodeSecretsSchema } from '../../../lib/providers/linode/config.ts';
import { bodyOf, canonicalRule, inboundIsLockdown, lockdownBody, lockdownInbound, sameRules } from '../../../lib/providers/linode/model.ts';
import { MANAGEMENT } from './harness.ts';

function issues(input: unknown): string[] {
  const parsed = linodeOptionsSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const ssh = (source: string) => ({ protocol: 'tcp', ports: 22, sources: [source] });

describe('linode options', () => {
  it('applies the defaults', () => {
    // Prepare / Act
    const options = linodeOptionsSchema.parse({ firewalls: [123], management: [ssh('203.0.113.10')] });

    // Assess
    expect(options).toEqual({
      firewalls: [123],
      management: [{ protocol: 'tcp', ports: '22', sources: ['203.0.113.10/32'] }],
      keep: [],
      timeout: 15_000,
    });
  });

  it('requires the management allowance and refuses one open to the whole Internet', () => {
    // Prepare / Act
    const missing = issues({ firewalls: [123] });
    const wholeInternet = issues({ firewalls: [123], management: [ssh('0.0.0.0/0')] });

    // Assess
    expect(missing).toEqual([expect.stringContaining('management: is required')]);
    expect(wholeInternet).toEqual([expect.stringContaining('management.0.sources.0: 0.0.0.0/0 allows the whole Internet in')]);
  });

  it('checks the firewall IDs: at least one, at most 10, positive integers, no duplicates', () => {
    // Prepare / Act
    const none = issues({ firewalls: [], management: [ssh('203.0.113.10')] });
    const tooMany = issues({ firewalls: Array.from({ length: 11 }, (_, i) => i + 1), management: [ssh('203.0.113.10')] });
    const twice = issues({ firewalls: [5, 5], management: [ssh('203.0.113.10')] });
    const text = issues({ firewalls: ['web-fw'], management: [ssh('203.0.113.10')] });

    // Assess
    expect(none).toEqual([expect.stringContaining('firewalls: list at least one Cloud Firewall ID')]);
    expect(tooMany).toEqual([expect.stringContaining('at most 10 firewalls per integration')]);
    expect(twice).toEqual([expect.stringContaining('lists a firewall twice')]);
    expect(text).toEqual([expect.stringContaining('firewalls.0: must be a Cloud Firewall ID')]);
  });

  it('refuses a lockdown that cannot fit Linode\'s 25 rules per firewall', () => {
    // Prepare
    const management = Array.from({ length: 10 }, (_, i) => ssh(`203.0.113.${i + 1}`));
    const keep = (count: number) => Array.from({ length: count }, (_, i) => ({ protocol: 'tcp', ports: 443, sources: [`198.51.100.${i + 1}`] }));

    // Act
    const tooMany = issues({ firewalls: [1], management, keep: keep(16) });
    const fits = issues({ firewalls: [1], management, keep: keep(15) });

    // Assess
    expect(tooMany).toEqual([expect.stringContaining('keep: management and keep make 26 inbound rules, but Linode allows 25 rules per firewall')]);
    expect(fits).toEqual([]);
  });

  it('refuses more than 255 sources in one rule (Linode\'s per-rule limit)', () => {
    // Prepare
    const sources = Array.from({ length: 256 }, (_, i) => `10.0.${Math.floor(i / 250)}.${i % 250}`);

    // Act
    const problems = issues({ firewalls: [1], management: [{ protocol: 'tcp', ports: 22, sources }] });

    // Assess
    expect(problems).toEqual([expect.stringContaining('at most 255 sources per rule')]);
  });

  it('takes the token as a secret reference and nothing else', () => {
    // Prepare / Act
    const ok = linodeSecretsSchema.safeParse({ token: { env: 'LINODE_TOKEN' } });
    const literal = linodeSecretsSchema.safeParse({ token: 'abc' });
    const extra = linodeSecretsSchema.safeParse({ token: { env: 'LINODE_TOKEN' }, apiKey: { env: 'X' } });

    // Assess
    expect(ok.success).toBe(true);
    expect(literal.success).toBe(false);
    expect(extra.success).toBe(false);
  });
});

describe('linode lockdown rule set', () => {
  it('turns each allowance into an ACCEPT rule with IPv4 and IPv6 apart, ports only where given, management first', () => {
    // Prepare
    const options = linodeOptionsSchema.parse({
      firewalls: [1],
      management: [{ protocol: 'tcp', ports: '2222', sources: ['203.0.113.10', '2001:db8::/48'], description: 'bastion' }],
      keep: [{ protocol: 'icmp', sources: ['198.51.100.0/24'] }, { protocol: 'udp', ports: '8000-8100', sources: ['2001:db8:1::/48'] }],
    });

    // Act
    const inbound = lockdownInbound(options);

    // Assess
    expect(inbound).toEqual([
      { action: 'ACCEPT', protocol: 'TCP', ports: '2222', addresses: { ipv4: ['203.0.113.10/32'], ipv6: ['2001:db8::/48'] }, label: 'relay-mgmt-1', description: 'bastion' },
      { action: 'ACCEPT', protocol: 'ICMP', addresses: { ipv4: ['198.51.100.0/24'] }, label: 'relay-keep-1', description: 'Flowtriq Relay lockdown: keep' },
      { action: 'ACCEPT', protocol: 'UDP', ports: '8000-8100', addresses: { ipv6: ['2001:db8:1::/48'] }, label: 'relay-keep-2', description: 'Flowtriq Relay lockdown: keep' },
    ]);
  });

  it('keeps outbound rules and policy exactly, sets inbound policy DROP, and never carries version or fingerprint', () => {
    // Prepare
    const inbound = lockdownInbound(linodeOptionsSchema.parse({ firewalls: [1], management: MANAGEMENT }));
    const original = {
      inbound: [{ action: 'ACCEPT', protocol: 'TCP', ports: '80', addresses: { ipv4: ['0.0.0.0/0'], ipv6: null }, label: 'web', description: null }],
      inbound_policy: 'ACCEPT' as const,
      outbound: [{ ruleset: 9 }],
      outbound_policy: 'DROP' as const,
      version: 4,
      fingerprint: 'abcd1234',
    };

    // Act
    const target = lockdownBody(original, inbound);
    const restore = bodyOf(original);

    // Assess
    expect(target).toEqual({ inbound, inbound_policy: 'DROP', outbound: [{ ruleset: 9 }], outbound_policy: 'DROP' });
    expect(Object.keys(restore)).toEqual(['inbound', 'inbound_policy', 'outbound', 'outbound_policy']);
    expect(restore.inbound).toEqual([{ action: 'ACCEPT', protocol: 'TCP', ports: '80', addresses: { ipv4: ['0.0.0.0/0'] }, label: 'web' }]);
  });

  it('compares rules as Linode spells them: bare addresses, ::0/0, spaces in port lists are no difference; order and labels are', () => {
    // Prepare
    const a = { action: 'ACCEPT', protocol: 'TCP', ports: '22,80', addresses: { ipv4: ['192.0.2.1'], ipv6: ['::0/0'] }, label: 'x1x' };
    const b = { action: 'ACCEPT', protocol: 'TCP', ports: '22, 80', addresses: { ipv4: ['192.0.2.1/32'], ipv6: ['::/0'] }, label: 'x1x' };
    const relabelled = { ...b, label: 'other' };
    const set = (inbound: Record<string, unknown>[]) => ({ inbound, inbound_policy: 'DROP' as const, outbound: [], outbound_policy: 'ACCEPT' as const });

    // Act / Assess
    expect(canonicalRule(a)).toBe(canonicalRule(b));
    expect(sameRules(set([a, relabelled]), set([b, relabelled]))).toBe(true);
    expect(sameRules(set([a, relabelled]), set([relabelled, a]))).toBe(false);
    expect(sameRules(set([a]), set([relabelled]))).toBe(false);
    expect(inboundIsLockdown(set([relabelled]), [a])).toBe(true);
    expect(inboundIsLockdown({ ...set([relabelled]), inbound_policy: 'ACCEPT' }, [a])).toBe(false);
  });
});
