import { describe, expect, it } from 'vitest';
import { cloudflareMagicTransitOptionsSchema, cloudflareSecretsSchema, cloudflareUnderAttackOptionsSchema } from '../../../lib/providers/cloudflare/config.ts';

const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
const P = 'a'.repeat(32);
const B = 'b'.repeat(32);

function issues(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): string[] {
  return (result.error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('cloudflare config schemas', () => {
  it('fills the defaults of a Magic Transit integration', () => {
    // Prepare
    const input = { accountId: ACCOUNT.toUpperCase(), prefixes: [{ prefixId: P, bgpPrefixId: B }] };

    // Act
    const parsed = cloudflareMagicTransitOptionsSchema.parse(input);

    // Assess
    expect(parsed).toEqual({ accountId: ACCOUNT, api: 'bgp-prefixes', prefixes: [{ prefixId: P, bgpPrefixId: B }], recheckInterval: 30_000, confirmTimeout: 600_000, withdrawTimeout: 1_800_000, timeout: 15_000 });
  });

  it('requires bgpPrefixId with api bgp-prefixes and refuses it with bgp-status', () => {
    // Prepare / Act
    const missing = cloudflareMagicTransitOptionsSchema.safeParse({ accountId: ACCOUNT, prefixes: [{ prefixId: P }] });
    const extra = cloudflareMagicTransitOptionsSchema.safeParse({ accountId: ACCOUNT, api: 'bgp-status', prefixes: [{ prefixId: P, bgpPrefixId: B }] });
    const legacy = cloudflareMagicTransitOptionsSchema.safeParse({ accountId: ACCOUNT, api: 'bgp-status', prefixes: [{ prefixId: P }] });

    // Assess
    expect(issues(missing)).toEqual([expect.stringMatching(/^prefixes\.0\.bgpPrefixId: is required with api: bgp-prefixes/)]);
    expect(issues(extra)).toEqual([expect.stringMatching(/^prefixes\.0\.bgpPrefixId: is not used with api: bgp-status/)]);
    expect(legacy.success).toBe(true);
  });

  it('explains malformed ids, duplicates, unknown keys and out-of-range durations', () => {
    // Prepare / Act
    const badId = cloudflareMagicTransitOptionsSchema.safeParse({ accountId: 'my-account', prefixes: [{ prefixId: P, bgpPrefixId: B }] });
    const twice = cloudflareMagicTransitOptionsSchema.safeParse({ accountId: ACCOUNT, prefixes: [{ prefixId: P, bgpPrefixId: B }, { prefixId: P, bgpPrefixId: B }] });
    const unknown = cloudflareUnderAttackOptionsSchema.safeParse({ zoneId: P, zone: 'example.com' });
    const tooShort = cloudflareMagicTransitOptionsSchema.safeParse({ accountId: ACCOUNT, prefixes: [{ prefixId: P, bgpPrefixId: B }], confirmTimeout: '10s' });
    const badApi = cloudflareMagicTransitOptionsSchema.safeParse({ accountId: ACCOUNT, api: 'statuses', prefixes: [{ prefixId: P, bgpPrefixId: B }] });

    // Assess
    expect(issues(badId)[0]).toMatch(/^accountId: must be the Cloudflare account ID: 32 hexadecimal characters/);
    expect(issues(twice)).toEqual(['prefixes.1: is listed twice']);
    expect(unknown.success).toBe(false);
    expect(issues(tooShort)[0]).toMatch(/^confirmTimeout: 10s is out of range; use between 1m and 1h/);
    expect(issues(badApi)[0]).toMatch(/^api: must be bgp-prefixes .* or bgp-status/);
  });

  it('accepts the Under Attack options and an env secret ref, strictly', () => {
    // Prepare / Act
    const options = cloudflareUnderAttackOptionsSchema.parse({ zoneId: P });
    const secrets = cloudflareSecretsSchema.parse({ apiToken: { env: 'CLOUDFLARE_API_TOKEN' } });
    const extraSecret = cloudflareSecretsSchema.safeParse({ apiToken: { env: 'CLOUDFLARE_API_TOKEN' }, apiKey: { env: 'CF_KEY' } });

    // Assess
    expect(options).toEqual({ zoneId: P, timeout: 15_000 });
    expect(secrets.apiToken).toMatchObject({ env: 'CLOUDFLARE_API_TOKEN' });
    expect(extraSecret.success).toBe(false);
  });
});
