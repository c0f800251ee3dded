/**
 * Configuration of the `gcp-firewall` integration: Google Cloud VPC
 * firewall rules (Compute Engine API v1), in one of two modes chosen by
 * `options.mode`:
 *
 * - `lockdown` (a switch): relay-owned INGRESS rules on one network,
 *   restricted to `targetTags`: an allow rule per management/keep allowance
 *   at `priority` and a deny-all at `priority + 1`, enabled for the length
 *   of an attack and put back afterwards.
 * - `block` (a blocklist): one relay-owned INGRESS deny rule per address
 *   family at `priority` whose sourceRanges are the attackers.
 *
 * The secret is the service account's JSON key (the file the console
 * downloads), validated by `parseServiceAccountKey`; the private key never
 * appears in a log or an error.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `holdDown`, `via`, `type: 'gcp-firewall'`).
 */
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { keepRulesSchema, managementAllowanceSchema } from '../lockdown.ts';
import { ProviderError } from '../errors.ts';

export const GCP_FIREWALL_TYPE = 'gcp-firewall';
/** Compute Engine API v1. Only tests pass another origin (deps.baseUrl). */
export const GCP_COMPUTE_BASE = 'https://compute.googleapis.com/compute/v1';
/** The OAuth 2.0 token endpoint of service-account keys. */
export const GCP_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** The narrowest scope that covers firewall rules. */
export const GCP_COMPUTE_SCOPE = 'https://www.googleapis.com/auth/compute';
/** Google's limit of source ranges per VPC firewall rule (Cloud NGFW quotas page: "5,000 … cannot be increased"). */
export const GCP_MAX_SOURCE_RANGES = 5000;
/** Token endpoints a key file may name (https only, Google's hosts only: the signed assertion goes there). */
const TOKEN_HOSTS = new Set(['oauth2.googleapis.com', 'accounts.google.com', 'www.googleapis.com']);

/** Google's resource names: lower-case letter first, then letters, digits, dashes; no trailing dash. */
const RESOURCE_NAME = /^[a-z](?:[-a-z0-9]*[a-z0-9])?$/;
const PROJECT_ID = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;

const projectSchema = z
  .string()
  .regex(PROJECT_ID, 'must be a project ID such as my-project-123 (6–30 lower-case letters, digits or dashes; console → project picker → ID column), not the project name or number');

const networkSchema = z
  .string()
  .max(63)
  .regex(RESOURCE_NAME, 'must be the VPC network name such as default (VPC network → VPC networks)')
  .prefault('default')
  .describe('VPC network the rules are created on.');

const tagSchema = z
  .string()
  .max(63)
  .regex(RESOURCE_NAME, 'must be a network tag: lower-case letters, digits and dashes, starting with a letter (VM → Edit → Network tags)');

const prefixSchema = z
  .string()
  .max(40, 'at most 40 characters (Google allows 63 per rule name and the relay appends a suffix)')
  .regex(RESOURCE_NAME, 'use lower-case letters, digits and dashes, starting with a letter and not ending with a dash')
  .prefault('flowtriq-relay')
  .describe('Start of the names of the rules the relay creates; give each gcp-firewall integration of one project its own.');

const common = {
  project: projectSchema
    .optional()
    .describe('Project ID that holds the network; the key file\'s project_id when absent.'),
  network: networkSchema,
  ruleNamePrefix: prefixSchema,
  pollInterval: duration({ min: '1s', max: '1m' })
    .prefault('2s')
    .describe('How often the relay reads an operation while Google reports it PENDING or RUNNING.'),
  waitFor: duration({ min: '0s', max: '5m' })
    .prefault('60s')
    .describe('Longest one call waits for an operation to be DONE before reporting "not confirmed yet" and looking again later.'),
  timeout: requestTimeoutOption('30s'),
};

/** `options` with `mode: lockdown`. */
export const gcpLockdownOptionsSchema = z
  .object({
    mode: z.literal('lockdown'),
    ...common,
    targetTags: z
      .array(tagSchema, {
        error: 'is required for lockdown: list the network tags of the VMs to lock down; without them the rules would apply to every VM on the network',
      })
      .min(1, 'list at least one network tag: without targetTags the lockdown would apply to every VM on the network')
      .max(70, 'at most 70 target tags per rule (Google\'s limit)')
      .refine((tags) => new Set(tags).size === tags.length, 'lists a tag twice')
      .describe('Network tags of the VMs locked down. Required: without them the rules would apply to every VM on the network.'),
    priority: z
      .number({ error: 'must be a whole number between 0 and 65533' })
      .int('must be a whole number between 0 and 65533')
      .min(0)
      .max(65533, 'must be at most 65533 (the deny rule takes priority + 1; 65535 is the implied rules\')')
      .prefault(100)
      .describe('Priority of the allow rules; the deny-all rule takes priority + 1. Keep both free and lower (stronger) than every allow rule the lockdown must override.'),
    management: managementAllowanceSchema,
    keep: keepRulesSchema,
  })
  .strict();
export type GcpLockdownOptions = z.output<typeof gcpLockdownOptionsSchema>;

/** `options` with `mode: block`. */
export const gcpBlockOptionsSchema = z
  .object({
    mode: z.literal('block'),
    ...common,
    targetTags: z
      .array(tagSchema)
      .min(1, 'list at least one network tag, or leave targetTags out to block on every VM of the network')
      .max(70, 'at most 70 target tags per rule (Google\'s limit)')
      .refine((tags) => new Set(tags).size === tags.length, 'lists a tag twice')
      .optional()
      .describe('Network tags of the VMs the block applies to; every VM of the network when absent.'),
    priority: z
      .number({ error: 'must be a whole number between 0 and 65534' })
      .int('must be a whole number between 0 and 65534')
      .min(0)
      .max(65534, 'must be at most 65534 (65535 is the implied rules\')')
      .prefault(100)
      .describe('Priority of the deny rule; keep it lower (stronger) than every allow rule the block must override.'),
  })
  .strict();
export type GcpBlockOptions = z.output<typeof gcpBlockOptionsSchema>;

/** `integrations[].options` of a `gcp-firewall` integration. */
export const gcpFirewallOptionsSchema = z.discriminatedUnion('mode', [gcpLockdownOptionsSchema, gcpBlockOptionsSchema], {
  error: (issue) =>
    issue.code === 'invalid_union' ? 'set mode: lockdown (lock the VMs down to the management allowance) or mode: block (deny the attackers\' addresses)' : undefined,
});
export type GcpFirewallOptions = z.output<typeof gcpFirewallOptionsSchema>;

/** `integrations[].secrets` of a `gcp-firewall` integration. */
export const gcpFirewallSecretsSchema = z
  .object({
    serviceAccountKey: secretRefSchema.describe(
      'The service account\'s JSON key file content (IAM → Service accounts → Keys → Add key → JSON). The account needs compute.firewalls.{get,create,update,delete}, compute.networks.updatePolicy and compute.globalOperations.get on the project (e.g. roles/compute.securityAdmin).',
    ),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface GcpFirewallSecrets {
  /** The JSON key file content. */
  serviceAccountKey: string;
}

/** The fields of a key file the relay uses (the others are ignored). */
export interface ServiceAccountKey {
  type: 'service_account';
  projectId: string;
  privateKeyId: string;
  /** PEM; never logged. */
  privateKey: string;
  clientEmail: string;
  tokenUri: string;
}

const keyFileSchema = z.looseObject({
  type: z.literal('service_account', { error: 'must be "service_account" (create a key for a service account, not OAuth client credentials or a user login)' }),
  project_id: z.string().regex(PROJECT_ID, 'must be a project ID').optional(),
  private_key_id: z.string().regex(/^[0-9a-f]{40}$/i, 'must be the 40-hex-digit key id'),
  private_key: z.string().includes('PRIVATE KEY', { error: 'must be the PEM private key of the key file' }),
  client_email: z.email('must be the service account\'s e-mail (…@….iam.gserviceaccount.com)'),
  token_uri: z
    .string()
    .refine((value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'https:' && TOKEN_HOSTS.has(url.hostname);
      } catch {
        return false;
      }
    }, `must be Google's token endpoint (${GCP_TOKEN_URI})`)
    .optional(),
});

/**
 * Parses and checks the key file content. Messages name the field and the
 * fix, never a value (the content is a secret).
 * @throws ProviderError (not retryable) when it is not a usable key.
 */
export function parseServiceAccountKey(content: string, where = 'secrets.serviceAccountKey'): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    // JSON.parse messages quote the input; never pass them on.
    throw new ProviderError(`${where} is not JSON: set it to the whole content of the service account's JSON key file`, { retryable: false });
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ProviderError(`${where}: ${issue.path.join('.') || '(file)'} ${issue.message}; download a new JSON key (IAM → Service accounts → Keys)`, {
      retryable: false,
    });
  }
  try {
    const key = createPrivateKey(parsed.data.private_key);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not rsa');
  } catch {
    throw new ProviderError(`${where}: private_key is not a readable RSA private key; download a new JSON key (IAM → Service accounts → Keys)`, {
      retryable: false,
    });
  }
  return {
    type: 'service_account',
    projectId: parsed.data.project_id ?? '',
    privateKeyId: parsed.data.private_key_id,
    privateKey: parsed.data.private_key,
    clientEmail: parsed.data.client_email,
    tokenUri: parsed.data.token_uri ?? GCP_TOKEN_URI,
  };
}
