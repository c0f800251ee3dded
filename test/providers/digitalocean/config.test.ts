import { describe, expect, it } from 'vitest';
import { digitalOceanOptionsSchema, digitalOceanSecretsSchema } from '../../../lib/providers/digitalocean/config.ts';
import { allowanceRule, planLockdown, ruleKey, sameRules, toWire, type DoRule } from '../../../lib/providers/digitalocean/model.ts';

const FIREWALL = 'bb4b2611-3d72-467b-8602-280330ecd65c';
const MANAGEMENT = [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10'] }];

function issues(input: unknown): string[] {
  const parsed = digitalOceanOptionsSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('digitalocean options', () => {
  it('applies the defaults and canonicalises the allowance', () => {
    // Prepare / Act
    const options = digitalOceanOptionsSchema.parse({ firewalls: [FIREWALL.toUpperCase()], management: MANAGEMENT });

    // Assess
    expect(options).toEqual({
      firewalls: [FIREWALL],
      management: [{ protocol: 'tcp', ports: '22', sources: ['203.0.113.10/32'] }],
      keep: [],
      pollInterval: 5_000,
      waitFor: 60_000,
      timeout: 30_000,
    });
  });

  it('requires a management allowance and refuses one open to the whole Internet', () => {
    // Prepare / Act
    const missing = issues({ firewalls: [FIREWALL] });
    const open = issues({ firewalls: [FIREWALL], management: [{ protocol: 'tcp', ports: 22, sources: ['0.0.0.0/0'] }] });

    // Assess
    expect(missing).toEqual([expect.stringContaining('management: is required')]);
    expect(open).toEqual([expect.stringContaining('management.0.sources.0: 0.0.0.0/0 allows the whole Internet in')]);
  });

  it('refuses firewall names, duplicates, an empty list and more than 10 firewalls', () => {
    // Prepare
    const many = Array.from({ length: 11 }, (_, i) => `bb4b2611-3d72-467b-8602-${String(i).padStart(12, '0')}`);

    // Act / Assess
    expect(issues({ firewalls: ['web-firewall'], management: MANAGEMENT })).toEqual([expect.stringContaining('firewalls.0: must be a firewall ID such as')]);
    expect(issues({ firewalls: [FIREWALL, FIREWALL], management: MANAGEMENT })).toEqual(['firewalls: lists a firewall twice']);
    expect(issues({ firewalls: [], management: MANAGEMENT })).toEqual([expect.stringContaining('firewalls: list at least one firewall ID')]);
    expect(issues({ firewalls: many, management: MANAGEMENT })).toEqual([expect.stringContaining('at most 10 firewalls')]);
  });

  it('refuses unknown options and out-of-range durations', () => {
    // Prepare / Act
    const problems = issues({ firewalls: [FIREWALL], management: MANAGEMENT, pollInterval: '0s', mode: 'block' });

    // Assess
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining('pollInterval: 0ms is out of range'), expect.stringContaining('Unrecognized key')]));
  });

  it('takes the token as a secret reference only', () => {
    // Prepare / Act
    const good = digitalOceanSecretsSchema.safeParse({ apiToken: { env: 'DIGITALOCEAN_TOKEN' } });
    const literal = digitalOceanSecretsSchema.safeParse({ apiToken: 'dop_v1_abc' });

    // Assess
    expect(good.success).toBe(true);
    expect(literal.success).toBe(false);
  });
});

describe('digitalocean rule model', () => {
  const rule = (ports: string, addresses: string[], protocol: DoRule['protocol'] = 'tcp'): DoRule => ({ protocol, ports, sources: { addresses } });

  it('compares rules by meaning: ports 0/all, ranges, address spelling and order aside', () => {
    // Prepare / Act / Assess
    expect(ruleKey(rule('0', ['0.0.0.0/0']))).toBe(ruleKey(rule('all', ['0.0.0.0/0'])));
    expect(ruleKey(rule('22-22', ['203.0.113.10', '::/0']))).toBe(ruleKey(rule('22', ['::/0', '203.0.113.10/32'])));
    expect(ruleKey(rule('22', ['2001:DB8::/32']))).toBe(ruleKey(rule('22', ['2001:db8::/32'])));
    expect(ruleKey(rule('22', ['0.0.0.0/0']))).not.toBe(ruleKey(rule('22', ['0.0.0.0/0'], 'udp')));
    expect(ruleKey(rule('22', ['0.0.0.0/0']))).not.toBe(ruleKey({ ...rule('22', ['0.0.0.0/0']), action: 'deny' }));
    expect(sameRules([rule('1', ['192.0.2.1']), rule('2', ['192.0.2.1'])], [rule('2', ['192.0.2.1']), rule('1', ['192.0.2.1'])])).toBe(true);
    expect(sameRules([rule('1', ['192.0.2.1'])], [rule('1', ['192.0.2.1']), rule('1', ['192.0.2.1'])])).toBe(false);
  });

  it('plans the lockdown: removes every other allow rule, adds only missing allowances, keeps deny rules', () => {
    // Prepare
    const deny: DoRule = { ...rule('22', ['198.51.100.66']), action: 'deny' };
    const mgmt = allowanceRule({ protocol: 'tcp', ports: '22', sources: ['203.0.113.10/32'] });
    const keep = allowanceRule({ protocol: 'icmp', sources: ['198.51.100.0/24'] });
    const inbound = [rule('22', ['0.0.0.0/0']), rule('22', ['203.0.113.10']), deny];

    // Act
    const plan = planLockdown(inbound, [mgmt, keep, mgmt]);

    // Assess
    expect(plan.remove).toEqual([rule('22', ['0.0.0.0/0'])]);
    expect(plan.add).toEqual([{ protocol: 'icmp', ports: '0', sources: { addresses: ['198.51.100.0/24'] } }]);
    expect(sameRules(plan.target, [rule('22', ['203.0.113.10']), deny, keep])).toBe(true);
  });

  it('writes every-port rules as "all", icmp without ports, and leaves out empty source lists', () => {
    // Prepare / Act / Assess
    expect(toWire({ protocol: 'udp', ports: '0', sources: { addresses: [], tags: ['web'] } })).toEqual({ protocol: 'udp', ports: 'all', sources: { tags: ['web'] } });
    expect(toWire({ protocol: 'icmp', ports: '0', sources: { addresses: ['0.0.0.0/0'] }, action: 'allow' })).toEqual({ protocol: 'icmp', sources: { addresses: ['0.0.0.0/0'] }, action: 'allow' });
    expect(toWire(allowanceRule({ protocol: 'tcp', sources: ['203.0.113.10/32'] }))).toEqual({ protocol: 'tcp', ports: 'all', sources: { addresses: ['203.0.113.10/32'] } });
  });
});
