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
    expect(() => resolveAwsCredentials(secrets, 'integrations[0].secrets', {}, { readFile: () => undefined })).toThrow(/integrations\[0\]\.secrets\.(secretAccessKey|accessKeyId)/);
  });
});

describe('AWS profile (one-box hosts that keep keys in ~/.aws)', () => {
  const secrets = awsSecretsSchema.parse(undefined);
  const files = (contents: Record<string, string>) => ({ home: '/home/op', readFile: (path: string) => contents[path] });

  it('without AWS_ACCESS_KEY_ID, reads the static keys of AWS_PROFILE (or default) from the credentials file, then the config file', () => {
    // Prepare
    const credentials = '# keys\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s-default\n\n[ops]\naws_access_key_id=AKIAOPS\naws_secret_access_key=s-ops\naws_session_token = tok\n';
    const config = '[profile edge]\nregion = eu-west-1\naws_access_key_id = AKIAEDGE\naws_secret_access_key = s-edge\n';
    const sources = files({ '/home/op/.aws/credentials': credentials, '/home/op/.aws/config': config });

    // Act / Assess
    expect(resolveAwsCredentials(secrets, 'integrations[0].secrets', {}, sources)).toEqual({ accessKeyId: 'AKIADEFAULT', secretAccessKey: 's-default' });
    expect(resolveAwsCredentials(secrets, 'integrations[0].secrets', { AWS_PROFILE: 'ops' }, sources)).toEqual({ accessKeyId: 'AKIAOPS', secretAccessKey: 's-ops', sessionToken: 'tok' });
    expect(resolveAwsCredentials(secrets, 'integrations[0].secrets', { AWS_PROFILE: 'edge' }, sources)).toEqual({ accessKeyId: 'AKIAEDGE', secretAccessKey: 's-edge' });
    // The environment wins when it has keys; the files are not read then.
    expect(resolveAwsCredentials(secrets, 'x', { AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 's-env' }, files({}))).toEqual({ accessKeyId: 'AKIAENV', secretAccessKey: 's-env' });
  });

  it('honours AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE', () => {
    const sources = files({ '/etc/relay/aws-keys': '[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s-file\n' });
    expect(resolveAwsCredentials(secrets, 'x', { AWS_SHARED_CREDENTIALS_FILE: '/etc/relay/aws-keys', AWS_CONFIG_FILE: '/nonexistent' }, sources)).toEqual({ accessKeyId: 'AKIAFILE', secretAccessKey: 's-file' });
  });

  it('refuses a role, SSO or credential-process profile with the command that exports its credentials, never showing a value', () => {
    const sources = files({ '/home/op/.aws/config': '[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\n' });
    expect(() => resolveAwsCredentials(secrets, 'x', { AWS_PROFILE: 'sso' }, sources)).toThrow(
      'AWS profile "sso" in /home/op/.aws/config gets its credentials through sso_session, which the relay does not follow; export them first: eval "$(aws configure export-credentials --profile sso --format env)"',
    );
    const half = files({ '/home/op/.aws/credentials': '[default]\naws_access_key_id = AKIAHALF\n' });
    expect(() => resolveAwsCredentials(secrets, 'x', {}, half)).toThrow('AWS profile "default" in /home/op/.aws/credentials has no aws_secret_access_key; run: aws configure --profile default');
  });

  it('with neither variables nor a profile, names the variable and both ways to provide it', () => {
    expect(() => resolveAwsCredentials(secrets, 'integrations[2].secrets', {}, files({}))).toThrow(
      'integrations[2].secrets.accessKeyId: the environment variable AWS_ACCESS_KEY_ID is not set or empty; set the environment variable AWS_ACCESS_KEY_ID, or keep static keys in an AWS profile (aws configure; AWS_PROFILE selects one other than default)',
    );
  });

  it('reads no profile when the integration names its own references', () => {
    const own = awsSecretsSchema.parse({ accessKeyId: { env: 'EDGE_KEY_ID' }, secretAccessKey: { env: 'EDGE_SECRET' } });
    const sources = files({ '/home/op/.aws/credentials': '[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s\n' });
    expect(() => resolveAwsCredentials(own, 'x', {}, sources)).toThrow(/x\.accessKeyId: the environment variable EDGE_KEY_ID is not set/);
  });
});
