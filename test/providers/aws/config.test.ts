import { describe, expect, it } from 'vitest';
import { awsSecretsSchema, awsShieldOptionsSchema, awsWafIpSetOptionsSchema, resolveAwsCredentials } from '../../../lib/providers/aws/config.ts';

describe('aws config', () => {
  it('shield: accepts ALB/CloudFront ARNs and protection ids, refuses other ARNs with the fix', () => {
    // Prepare / Act
    const ok = awsShieldOptionsSchema.safeParse({ protections: ['arn:aws:cloudfront::111122223333:distribution/E1A2B3C4D5E6F7', 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111'] });
    const bad = awsShieldOptionsSchema.safeParse({ protections: ['arn:aws:ec2:us-east-1:111122223333:eip-allocation/eipalloc-1'] });

    // Assess
    expect(ok.success && ok.data.timeout).toBe(10_000);
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/CloudFront distribution or an Application Load Balancer/);
  });

  it('waf: defaults, and CLOUDFRONT scope must be in us-east-1', () => {
    // Prepare / Act
    const ok = awsWafIpSetOptionsSchema.parse({ region: 'eu-west-1', name: 'relay-blocks', id: 'a1b2c3d4-5678-90ab-cdef-000000000001' });
    const bad = awsWafIpSetOptionsSchema.safeParse({ region: 'eu-west-1', scope: 'CLOUDFRONT', name: 'x', id: 'a1b2' });
    const extra = awsWafIpSetOptionsSchema.safeParse({ region: 'eu-west-1', name: 'x', id: 'a1b2', lockToken: 'x' });

    // Assess
    expect(ok).toMatchObject({ scope: 'REGIONAL', ownership: 'shared', maxAddresses: 10_000, writeInterval: 1_000, timeout: 10_000 });
    expect(bad.error?.issues[0]?.message).toMatch(/set region: us-east-1/);
    expect(extra.success).toBe(false);
  });

  it('secrets default to the standard environment variables, the session token optional', () => {
    // Prepare
    const secrets = awsSecretsSchema.parse(undefined);

    // Act
    const withToken = resolveAwsCredentials(secrets, 'integrations[0].secrets', { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' });
    const without = resolveAwsCredentials(secrets, 'integrations[0].secrets', { AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 's' });

    // Assess
    expect(withToken).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 's', sessionToken: 't' });
    expect(without).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 's' });
    expect(() => resolveAwsCredentials(secrets, 'integrations[0].secrets', {})).toThrow(/integrations\[0\]\.secrets\.(secretAccessKey|accessKeyId)/);
  });
});
