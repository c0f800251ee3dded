import { describe, expect, it } from 'vitest';
import { vultrOptionsSchema, vultrSecretsSchema } from '../../../lib/providers/vultr/config.ts';
import { canonicalPort, lockdownRuleSpecs, missingAllowances, ruleKey, type VultrRule } from '../../../lib/providers/vultr/model.ts';
import { INSTANCE_A, INSTANCE_B, KEEP, MANAGEMENT } from './harness.ts';

function issues(input: unknown): string[] {
  const parsed = vultrOptionsSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const base = { instances: [INSTANCE_A], management: MANAGEMENT };

function rule(fields: Partial<VultrRule> & Pick<VultrRule, 'ip_type' | 'protocol' | 'subnet' | 'subnet_size'>): VultrRule {
  return { id: 1, port: '', source: '', notes: '', ...fields };
}

describe('vultr options', () => {
  it('applies the defaults and canonicalises ids and sources', () => {
    // Prepare / Act
    const options = vultrOptionsSchema.parse({ instances: [INSTANCE_A.toUpperCase()], management: [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10'] }] });

    // Assess
    expect(options).toEqual({
      instances: [INSTANCE_A],
      management: [{ protocol: 'tcp', ports: '22', sources: ['203.0.113.10/32'] }],
      keep: [],
      timeout: 15_000,
    });
  });

  it('requires the management allowance and refuses the whole Internet as one', () => {
    // Prepare / Act
    const missing = issues({ instances: [INSTANCE_A] });
    const open = issues({ instances: [INSTANCE_A], management: [{ protocol: 'tcp', ports: 22, sources: ['0.0.0.0/0'] }] });

    // Assess
    expect(missing).toEqual([expect.stringContaining('management: is required')]);
    expect(open).toEqual([expect.stringContaining('management.0.sources.0: 0.0.0.0/0 allows the whole Internet in')]);
  });

  it('refuses instance and group ids that are not Vultr ids, a repeated instance and more than 20', () => {
    // Prepare / Act
    const problems = [
      ...issues({ ...base, instances: ['web-a'] }),
      ...issues({ ...base, instances: [INSTANCE_A, INSTANCE_A] }),
      ...issues({ ...base, instances: Array.from({ length: 21 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`) }),
      ...issues({ ...base, lockdownGroup: 'lockdown' }),
      ...issues({ ...base, instances: [] }),
    ];

    // Assess
    expect(problems).toEqual([
      expect.stringContaining('instances.0: must be a Vultr instance id'),
      expect.stringContaining('instances: lists an instance twice'),
      expect.stringContaining('instances: at most 20 instances'),
      expect.stringContaining('lockdownGroup: must be a Vultr firewall group id'),
      expect.stringContaining('instances: list at least one instance id'),
    ]);
  });

  it('accepts a prepared group (UUID or a v1-era 8-hex id) and refuses unknown options', () => {
    // Prepare / Act
    const uuid = vultrOptionsSchema.parse({ ...base, lockdownGroup: '1A2B0001-0000-4000-8000-000000000001' });
    const short = vultrOptionsSchema.parse({ ...base, lockdownGroup: '2376a196' });

    // Assess
    expect(uuid.lockdownGroup).toBe('1a2b0001-0000-4000-8000-000000000001');
    expect(short.lockdownGroup).toBe('2376a196');
    expect(issues({ ...base, firewall: 'x' })).toEqual([expect.stringContaining('Unrecognized key')]);
  });

  it('takes the API key as a secret reference only', () => {
    // Prepare / Act
    const ok = vultrSecretsSchema.safeParse({ apiKey: { env: 'VULTR_API_KEY' } });
    const literal = vultrSecretsSchema.safeParse({ apiKey: 'ABC' });

    // Assess
    expect(ok.success).toBe(true);
    expect(literal.success).toBe(false);
  });
});

describe('vultr rules', () => {
  it('turns each source of the management and keep rules into one Vultr rule', () => {
    // Prepare
    const options = vultrOptionsSchema.parse({
      instances: [INSTANCE_A, INSTANCE_B],
      management: MANAGEMENT,
      keep: [...KEEP, { protocol: 'udp', ports: '8000-9000', sources: ['198.51.100.7'] }, { protocol: 'icmp', sources: ['192.0.2.0/24'] }, { protocol: 'tcp', sources: ['192.0.2.1'] }],
    });

    // Act
    const specs = lockdownRuleSpecs(options);

    // Assess
    expect(specs).toEqual([
      { ip_type: 'v4', protocol: 'tcp', subnet: '203.0.113.10', subnet_size: 32, port: '22', notes: 'admin ssh' },
      { ip_type: 'v6', protocol: 'tcp', subnet: '2001:db8:100::', subnet_size: 48, port: '22', notes: 'admin ssh' },
      { ip_type: 'v4', protocol: 'tcp', subnet: '198.51.100.0', subnet_size: 24, port: '443', notes: 'flowtriq-relay keep' },
      { ip_type: 'v4', protocol: 'udp', subnet: '198.51.100.7', subnet_size: 32, port: '8000:9000', notes: 'flowtriq-relay keep' },
      { ip_type: 'v4', protocol: 'icmp', subnet: '192.0.2.0', subnet_size: 24, notes: 'flowtriq-relay keep' },
      { ip_type: 'v4', protocol: 'tcp', subnet: '192.0.2.1', subnet_size: 32, port: '1:65535', notes: 'flowtriq-relay keep' },
    ]);
  });

  it('compares rules on what Vultr compares, not on notes or spelling', () => {
    // Prepare
    const a = rule({ ip_type: 'v6', protocol: 'tcp', subnet: '2001:DB8:0::', subnet_size: 32, port: '8000 - 9000', notes: 'x' });
    const b = { ip_type: 'v6' as const, protocol: 'tcp', subnet: '2001:db8::', subnet_size: 32, port: '8000:9000' };

    // Act / Assess
    expect(ruleKey(a)).toBe(ruleKey(b));
    expect(ruleKey(a)).not.toBe(ruleKey({ ...b, port: '8000' }));
    expect(canonicalPort('tcp', '22:22')).toBe('22');
    expect(canonicalPort('icmp', '-1')).toBe('');
  });

  it('tells which management sources a prepared group does not admit', () => {
    // Prepare
    const management = vultrOptionsSchema.parse({
      ...base,
      management: [
        { protocol: 'tcp', ports: '22', sources: ['203.0.113.10', '2001:db8:100::/48'] },
        { protocol: 'tcp', ports: '8000-8100', sources: ['203.0.113.10'] },
        { protocol: 'icmp', sources: ['203.0.113.10'] },
      ],
    }).management;
    const rules = [
      rule({ ip_type: 'v4', protocol: 'tcp', subnet: '203.0.113.0', subnet_size: 24, port: '1:9000' }),
      rule({ ip_type: 'v6', protocol: 'udp', subnet: '2001:db8::', subnet_size: 32, port: '22' }),
      rule({ ip_type: 'v4', protocol: 'icmp', subnet: '0.0.0.0', subnet_size: 0, source: 'cloudflare' }),
    ];

    // Act
    const missing = missingAllowances(rules, management);

    // Assess
    expect(missing).toEqual(['tcp 22 from 2001:db8:100::/48', 'icmp from 203.0.113.10/32']);
  });
});
