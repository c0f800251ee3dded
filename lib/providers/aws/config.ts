/**
 * Configuration of the AWS integrations:
 *
 * - `aws-shield` (switch): Shield Advanced's layer-7 automatic mitigation
 *   of the configured protections is switched to Block for the length of an
 *   attack and put back as it was (Count, or disabled) afterwards.
 * - `aws-waf-ipset` (blocklist): attacker addresses are added to a WAFv2 IP
 *   set that a Block rule of a web ACL references, and removed afterwards.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `holdDown`, `via`, `type`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { resolveOptionalSecret, resolveRequiredSecret, SecretMissingError } from '../../config/secrets.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { readProfileCredentials, type ProfileSources } from './profile.ts';
import type { AwsCredentials } from './sigv4.ts';

function usesDefaultVariables(secrets: AwsSecretsConfig): boolean {
  const isEnv = (ref: AwsSecretsConfig['accessKeyId'], name: string) => 'env' in ref && ref.env === name;
  return isEnv(secrets.accessKeyId, 'AWS_ACCESS_KEY_ID') && isEnv(secrets.secretAccessKey, 'AWS_SECRET_ACCESS_KEY');
}

/** WAF's limit of addresses and ranges per IP set (docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-ipset-match.html). */
export const WAF_IPSET_MAX_ADDRESSES = 10_000;

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
/** Shield protection ids are 1–36 letters, digits and dashes (botocore `ProtectionId`). */
const PROTECTION_ID = /^[a-zA-Z0-9-]{1,36}$/;
/** Automatic application-layer mitigation exists only for CloudFront distributions and Application Load Balancers. */
const L7_ARN = /^arn:aws[a-z-]*:(?:cloudfront::\d{12}:distribution\/[A-Z0-9]+|elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer\/app\/[^/]+\/[0-9a-f]+)$/;

const protection = z
  .string()
  .refine(
    (value) => (value.startsWith('arn:') ? L7_ARN.test(value) : PROTECTION_ID.test(value)),
    'write the ARN of a CloudFront distribution or an Application Load Balancer (arn:aws:cloudfront::123456789012:distribution/E1A2B3C4D5E6F7 or arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef), or a Shield protection id (Shield → Protected resources); layer-7 automatic mitigation exists only for those two resource types',
  );

const timeout = () => duration({ min: '1s', max: '60s' }).prefault('10s').describe('Longest one AWS request may take.');

/** `integrations[].options` of an `aws-shield` integration. */
export const awsShieldOptionsSchema = z
  .object({
    protections: z
      .array(protection)
      .min(1, 'list at least one protected resource ARN or protection id')
      .max(50, 'at most 50 protections per integration; split them over several integrations')
      .refine((list) => new Set(list).size === list.length, 'lists a protection twice')
      .describe(
        'Shield Advanced protections whose layer-7 automatic mitigation the relay switches to Block during an attack: resource ARNs (CloudFront distribution, Application Load Balancer) or protection ids.',
      ),
    timeout: timeout(),
  })
  .strict();
export type AwsShieldOptions = z.output<typeof awsShieldOptionsSchema>;

/** `integrations[].options` of an `aws-waf-ipset` integration. */
export const awsWafIpSetOptionsSchema = z
  .object({
    region: z
      .string()
      .regex(REGION, 'must be an AWS region such as eu-west-1 (us-east-1 for scope CLOUDFRONT)')
      .describe('Region of the IP set (where the web ACL lives); us-east-1 for scope CLOUDFRONT.'),
    scope: z
      .enum(['REGIONAL', 'CLOUDFRONT'], { error: 'must be REGIONAL (ALB, API Gateway, AppSync, Cognito, App Runner, Verified Access) or CLOUDFRONT' })
      .prefault('REGIONAL')
      .describe('REGIONAL for a web ACL of a regional resource, CLOUDFRONT for a CloudFront web ACL.'),
    name: z
      .string()
      .regex(/^[\w-]{1,128}$/, 'must be the IP set name (1–128 letters, digits, _ or -) as WAF shows it')
      .describe('Name of the IP set (WAF → IP sets).'),
    id: z
      .string()
      .regex(/^[0-9a-f-]{1,36}$/, 'must be the IP set id (the UUID in its ARN, e.g. a1b2c3d4-5678-90ab-cdef-EXAMPLE11111 in lower case)')
      .describe('Id of the IP set (the last part of its ARN).'),
    ownership: z
      .enum(['shared', 'dedicated'], { error: 'must be shared or dedicated' })
      .prefault('shared')
      .describe(
        'shared: the set also holds addresses the relay did not add; an address already present is reported foreign and never removed. dedicated: only the relay writes to this set; every address in it is treated as the relay\'s (drift repair removes addresses no incident holds).',
      ),
    maxAddresses: z
      .number()
      .int()
      .min(1)
      .max(WAF_IPSET_MAX_ADDRESSES, `WAF allows at most ${WAF_IPSET_MAX_ADDRESSES} addresses per IP set`)
      .prefault(WAF_IPSET_MAX_ADDRESSES)
      .describe('Largest number of entries the relay lets the IP set reach (leave room for the operator\'s own entries if you like); additions past it are refused per address.'),
    writeInterval: duration({ min: '1s', max: '1m' })
      .prefault('1s')
      .describe('Least time between two UpdateIPSet calls for the same account and region (WAF allows 1 write per second).'),
    timeout: timeout(),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (options.scope === 'CLOUDFRONT' && options.region !== 'us-east-1') {
      ctx.addIssue({ code: 'custom', path: ['region'], message: 'scope CLOUDFRONT IP sets live in us-east-1: set region: us-east-1' });
    }
  });
export type AwsWafIpSetOptions = z.output<typeof awsWafIpSetOptionsSchema>;

/**
 * `integrations[].secrets` of both AWS integrations: by default the standard
 * environment variables, which the AWS deployment's Lambda runtime sets to
 * the worker role's temporary credentials.
 */
export const awsSecretsSchema = z
  .object({
    accessKeyId: secretRefSchema.prefault({ env: 'AWS_ACCESS_KEY_ID' }).describe('Access key id; default: the AWS_ACCESS_KEY_ID environment variable.'),
    secretAccessKey: secretRefSchema
      .prefault({ env: 'AWS_SECRET_ACCESS_KEY' })
      .describe('Secret access key; default: the AWS_SECRET_ACCESS_KEY environment variable.'),
    sessionToken: secretRefSchema
      .prefault({ env: 'AWS_SESSION_TOKEN', optional: true })
      .describe('Session token of temporary credentials (roles, SSO); default: AWS_SESSION_TOKEN when set.'),
  })
  .strict()
  .prefault({});
export type AwsSecretsConfig = z.output<typeof awsSecretsSchema>;

/**
 * Resolves the credentials at startup (a missing one stops the relay with
 * the config path). `where` is e.g. `integrations[3].secrets`.
 *
 * With the default references and no `AWS_ACCESS_KEY_ID` in the
 * environment, the static keys of the AWS profile (`AWS_PROFILE`, or
 * `default`) in the shared credentials or config file are used (./profile.ts).
 * In Lambda the variables are always set, so no file is ever read there.
 */
export function resolveAwsCredentials(
  secrets: AwsSecretsConfig,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
  profileFiles: Omit<ProfileSources, 'env'> = {},
): AwsCredentials {
  if (usesDefaultVariables(secrets) && !env.AWS_ACCESS_KEY_ID?.trim()) {
    const found = readProfileCredentials({ env, ...profileFiles });
    if (found !== undefined) return found.credentials;
    throw new SecretMissingError(
      `${where}.accessKeyId`,
      secrets.accessKeyId,
      'keep static keys in an AWS profile (aws configure; AWS_PROFILE selects one other than default)',
    );
  }
  const sessionToken = resolveOptionalSecret(secrets.sessionToken, `${where}.sessionToken`, env);
  return {
    accessKeyId: resolveRequiredSecret(secrets.accessKeyId, `${where}.accessKeyId`, env),
    secretAccessKey: resolveRequiredSecret(secrets.secretAccessKey, `${where}.secretAccessKey`, env),
    ...(sessionToken ? { sessionToken } : {}),
  };
}
