import { describe, expect, it } from 'vitest';
import { hetznerRobotOptionsSchema, hetznerRobotSecretsSchema } from '../../../lib/providers/hetzner/config.ts';
import { encodeFirewallForm, sameSettings, targetConfig, type RobotFirewall } from '../../../lib/providers/hetzner/model.ts';
import { LOCKDOWN_RULES } from './harness.ts';

function issues(input: unknown): string[] {
  const parsed = hetznerRobotOptionsSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const accept = { action: 'accept' };

describe('hetzner-robot options', () => {
  it('applies the defaults', () => {
    // Prepare / Act
    const options = hetznerRobotOptionsSchema.parse({ servers: [1001] });

    // Assess
    expect(options).toEqual({ servers: [1001], pollInterval: 10_000, waitFor: 60_000, rateLimitPause: 600_000, timeout: 30_000 });
  });

  it('refuses more than 10 input rules at config time', () => {
    // Prepare / Act
    const problems = issues({ servers: [1001], inputRules: Array.from({ length: 11 }, () => accept) });

    // Assess
    expect(problems).toEqual([expect.stringContaining('inputRules: Robot accepts at most 10 input rules')]);
    expect(issues({ servers: [1001], inputRules: Array.from({ length: 10 }, () => accept) })).toEqual([]);
  });

  it('refuses ports without tcp/udp, flags without tcp, and mixed IP versions', () => {
    // Prepare / Act
    const problems = issues({
      servers: [1001],
      inputRules: [
        { dstPort: '22', action: 'accept' },
        { protocol: 'udp', tcpFlags: 'ack', action: 'accept' },
        { srcIp: '203.0.113.0/24', dstIp: '2001:db8::/32', action: 'accept' },
        { ipVersion: 'ipv6', srcIp: '203.0.113.0/24', action: 'accept' },
        { protocol: 'tcp', dstPort: '70000', action: 'accept' },
        { srcIp: '203.0.113.5/24', action: 'accept' },
      ],
    });

    // Assess
    expect(problems).toEqual([
      expect.stringContaining('inputRules.0.dstPort: needs protocol: tcp or protocol: udp'),
      expect.stringContaining('inputRules.1.tcpFlags: needs protocol: tcp'),
      expect.stringContaining('inputRules.2.dstIp: srcIp and dstIp must be of the same IP version'),
      expect.stringContaining('inputRules.3.ipVersion: is ipv6'),
      expect.stringContaining('inputRules.4.dstPort: dstPort must be a port'),
      expect.stringContaining('inputRules.5.srcIp: srcIp must be an address or CIDR'),
    ]);
  });

  it('derives ipVersion from the addresses and canonicalises them', () => {
    // Prepare / Act
    const options = hetznerRobotOptionsSchema.parse({ servers: [1001], inputRules: [{ srcIp: '2001:DB8::1', action: 'accept' }] });

    // Assess
    expect(options.inputRules?.[0]).toEqual({ srcIp: '2001:db8::1/128', ipVersion: 'ipv6', action: 'accept' });
    expect(hetznerRobotOptionsSchema.parse({ servers: [1], inputRules: [{ protocol: 'tcp', dstPort: 22, action: 'accept' }] }).inputRules?.[0]?.dstPort).toBe('22');
  });

  it('refuses duplicate, missing or non-numeric servers and unknown fields', () => {
    // Prepare / Act / Assess
    expect(issues({ servers: [1001, 1001] })).toEqual([expect.stringContaining('lists a server twice')]);
    expect(issues({ servers: [] })).toEqual([expect.stringContaining('list at least one server number')]);
    expect(issues({ servers: ['198.51.100.1'] })).toEqual([expect.stringContaining('must be a server number')]);
    expect(issues({ servers: [1001], rules: [] })[0]).toContain('rules');
  });

  it('takes username and password as secret references only', () => {
    // Prepare / Act
    const ok = hetznerRobotSecretsSchema.safeParse({ username: { env: 'ROBOT_USER' }, password: { sst: 'RobotPassword' } });
    const plain = hetznerRobotSecretsSchema.safeParse({ username: '#ws+abc', password: { env: 'ROBOT_PASSWORD' } });

    // Assess
    expect(ok.success).toBe(true);
    expect(plain.success).toBe(false);
  });
});

describe('hetzner-robot form encoding', () => {
  const original: RobotFirewall = {
    server_number: 1001,
    server_ip: '198.51.100.1',
    status: 'disabled',
    filter_ipv6: false,
    whitelist_hos: true,
    port: 'main',
    rules: { input: [], output: [{ name: 'Allow all', ip_version: null, dst_ip: null, src_ip: null, dst_port: null, src_port: null, protocol: null, tcp_flags: null, action: 'accept' }] },
  };

  it('writes the whole configuration with literal brackets and encoded values', () => {
    // Prepare
    const options = hetznerRobotOptionsSchema.parse({ servers: [1001], inputRules: LOCKDOWN_RULES });

    // Act
    const form = encodeFirewallForm(targetConfig(original, options));

    // Assess
    expect(form.split('&').slice(0, 8)).toEqual([
      'status=active',
      'filter_ipv6=false',
      'whitelist_hos=true',
      'rules[input][0][name]=ssh%20admin',
      'rules[input][0][ip_version]=ipv4',
      'rules[input][0][src_ip]=203.0.113.0%2F24',
      'rules[input][0][dst_port]=22',
      'rules[input][0][protocol]=tcp',
    ]);
    expect(form).toContain('rules[input][1][tcp_flags]=ack');
    expect(form).toContain('rules[output][0][name]=Allow%20all&rules[output][0][action]=accept');
  });

  it('compares rules through Robot\'s spelling (host prefix added, empty = null)', () => {
    // Prepare
    const a = { ...original, rules: { input: [{ ...original.rules.output[0]!, src_ip: '192.0.2.1', name: '' }], output: [] } };
    const b = { ...original, rules: { input: [{ ...original.rules.output[0]!, src_ip: '192.0.2.1/32', name: null }], output: [] } };
    const c = { ...original, rules: { input: [{ ...original.rules.output[0]!, src_ip: '192.0.2.2/32', name: null }], output: [] } };

    // Act / Assess
    expect(sameSettings(a, b)).toBe(true);
    expect(sameSettings(b, c)).toBe(false);
  });
});
