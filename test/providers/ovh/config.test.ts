import { describe, expect, it } from 'vitest';
import { ovhOptionsSchema, ovhSecretsSchema } from '../../../lib/providers/ovh/config.ts';

function issues(input: unknown): string[] {
  const parsed = ovhOptionsSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('ovh options', () => {
  it('applies the defaults and takes a lone address as its own /32 block', () => {
    // Prepare / Act
    const options = ovhOptionsSchema.parse({ ips: [{ ip: '198.51.100.7' }, { ip: '203.0.113.10', ipBlock: '203.0.113.0/24' }] });

    // Assess
    expect(options).toEqual({
      endpoint: 'ovh-eu',
      ips: [
        { ip: '198.51.100.7', ipBlock: '198.51.100.7/32' },
        { ip: '203.0.113.10', ipBlock: '203.0.113.0/24' },
      ],
      pollInterval: 10_000,
      waitFor: 30_000,
      timeout: 30_000,
    });
  });

  it('refuses an address outside its block, IPv6, a duplicate, an unknown endpoint and unknown fields', () => {
    // Prepare / Act
    const problems = issues({
      endpoint: 'ovh-asia',
      ips: [
        { ip: '203.0.114.1', ipBlock: '203.0.113.0/24' },
        { ip: '2001:db8::1' },
      ],
      color: 'red',
    });

    // Assess
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('endpoint: must be one of ovh-eu, ovh-ca, ovh-us'),
        expect.stringContaining('ips.0.ip: 203.0.114.1 is not inside ipBlock 203.0.113.0/24'),
        expect.stringContaining('ips.1.ip: must be an IPv4 address'),
        expect.stringContaining('color'),
      ]),
    );
  });

  it('refuses the same address twice', () => {
    // Prepare / Act / Assess
    expect(issues({ ips: [{ ip: '198.51.100.7' }, { ip: '198.51.100.7', ipBlock: '198.51.100.0/24' }] })).toEqual([
      expect.stringContaining('ips.1.ip: 198.51.100.7 is listed twice'),
    ]);
  });

  it('refuses a block with host bits set, naming how OVH lists blocks', () => {
    // Prepare / Act / Assess
    expect(issues({ ips: [{ ip: '203.0.113.10', ipBlock: '203.0.113.5/24' }] })).toEqual([expect.stringContaining('ips.0.ipBlock: must be the IPv4 block as OVH lists it')]);
  });

  it('takes the three secrets as references only', () => {
    // Prepare / Act
    const ok = ovhSecretsSchema.safeParse({ applicationKey: { env: 'OVH_AK' }, applicationSecret: { env: 'OVH_AS' }, consumerKey: { sst: 'OvhConsumerKey' } });
    const literal = ovhSecretsSchema.safeParse({ applicationKey: 'abc', applicationSecret: { env: 'OVH_AS' }, consumerKey: { env: 'OVH_CK' } });

    // Assess
    expect(ok.success).toBe(true);
    expect(literal.success).toBe(false);
  });
});
