/**
 * The relay config as the stacks see it: found, validated with the runtime's
 * own loader (lib/config/load.ts, so a bad file fails `sst deploy` with the
 * same zod message `relay check-config` prints, before any resource exists),
 * and turned into deployment settings.
 *
 * Pure TypeScript without SST globals: the stacks use it, and the infra tests
 * call it directly.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { loadConfig } from '../lib/config/load.ts';
import type { IntegrationConfig, RelayConfig, SecretRef } from '../lib/config/schema.ts';

/** Where every function finds the config file inside its package (env RELAY_CONFIG). */
export const BUNDLED_CONFIG = 'relay.config.yaml';

/** How often EventBridge runs the sweeper. */
export const SWEEP_SCHEDULE = 'rate(1 minute)' as const;

/** AWS's advice for an SQS event source: queue visibility timeout ≥ 6 × function timeout. */
export const VISIBILITY_FACTOR = 6;

/** The webhook only verifies, validates and enqueues. */
export const WEBHOOK_TIMEOUT_SECONDS = 10;
/** The device relay forwards one HTTP exchange; it holds nothing in memory. */
export const DEVICE_RELAY_MEMORY_MB = 256;

/**
 * Logical names of the stacks' top-level components. SST requires top-level
 * component names (secrets included) to be unique, ignoring case.
 */
export const COMPONENT_NAMES = [
  'StateTable',
  'JobsQueue',
  'JobsDlq',
  'Webhook',
  'Worker',
  'Sweeper',
  'SweeperSchedule',
  'DeviceRelay',
  'Alarms',
] as const;

/** Which functions read a secret. */
export type SecretUser = 'webhook' | 'engine';

export interface SecretSpec {
  /** SST secret name, as in `{ sst: Name }`. */
  name: string;
  /** Every reference to it is `optional: true`: the stage deploys without a value. */
  optional: boolean;
  /** Webhook: webhook secrets. Engine (worker + sweeper): API token and integration secrets. */
  users: SecretUser[];
  /** Config paths that reference it, for messages. */
  paths: string[];
}

/** A file to bundle next to the config (an integration's `caFile`). */
export interface BundledFile {
  /** Path relative to the project root (what SST's `copyFiles.from` wants). */
  from: string;
  /** Path inside the function package, relative to the bundled config. */
  to: string;
}

export interface DeploymentSettings {
  webhook: {
    memoryMb: number;
    reservedConcurrency: number;
    timeoutSeconds: number;
    /** The webhook reads these instead of the whole config file (cold start). */
    environment: { RELAY_WEBHOOK_SECRETS: string; RELAY_REPLAY_WINDOW_MS: string };
  };
  worker: { memoryMb: number; timeoutSeconds: number; batchSize: number };
  sweeper: { memoryMb: number; timeoutSeconds: number; schedule: typeof SWEEP_SCHEDULE };
  /** oldestAgeAlarmSeconds: the queue-age alarm's threshold (two visibility timeouts). */
  queue: { visibilityTimeoutSeconds: number; maxReceives: number; oldestAgeAlarmSeconds: number };
  /** Present only when an enabled integration has `via: vpc`. */
  deviceRelay?: { subnetIds: string[]; securityGroupIds: string[]; memoryMb: number; timeoutSeconds: number };
  alarmEmail?: string;
}

export interface DeploymentConfig {
  /** Absolute path of the config file. */
  file: string;
  /** The same path relative to the project root (SST's `copyFiles.from` is relative to sst.config.ts). */
  relativeFile: string;
  config: RelayConfig;
  secrets: SecretSpec[];
  /** CA bundles the worker, sweeper and device relay need next to the config. */
  extraFiles: BundledFile[];
  settings: DeploymentSettings;
  /** What the worker's and the sweeper's role may do in the AWS account for the AWS integrations (none without them). */
  awsGrants: AwsGrant[];
}

/** The config cannot be deployed to AWS as it is. The message says what to change. */
export class DeploymentConfigError extends Error {
  override name = 'DeploymentConfigError';
}

/**
 * Finds and validates the config for `sst deploy`: `RELAY_CONFIG` (relative
 * to the project root) or the first of relay.config.yaml / .yml / .json in the
 * root. No file is an error: a relay on built-in defaults could only dry-run,
 * and its default webhook secret is an environment variable AWS cannot supply.
 * @throws ConfigError (lib/config/errors.ts) with the zod messages when the file is invalid.
 * @throws DeploymentConfigError when the file is valid but not deployable to AWS.
 */
export function loadDeploymentConfig(root: string, env: NodeJS.ProcessEnv = process.env): DeploymentConfig {
  const explicit = env.RELAY_CONFIG?.trim();
  const loaded = loadConfig(explicit ? { path: explicit, cwd: root } : { cwd: root });
  if (loaded.file === undefined) {
    throw new DeploymentConfigError(
      `no relay config file found in ${root}: create relay.config.yaml there (examples/relay.config.yaml is a ` +
        'commented starting point) or set RELAY_CONFIG=<path>. An AWS deployment needs at least the webhook ' +
        'secret as { sst: Name }; a relay on the built-in defaults could only dry-run.',
    );
  }
  const file = loaded.file;
  const config = loaded.config;
  rejectHostIntegrations(file, config);
  const references = secretReferences(config);
  rejectEnvironmentReferences(file, references);
  const secrets = secretSpecs(file, references);
  return {
    file,
    relativeFile: relativeToRoot(root, file),
    config,
    secrets,
    extraFiles: caFiles(root, file, config),
    settings: deploymentSettings(config),
    awsGrants: awsIntegrationGrants(config),
  };
}

/** Sizes, timeouts and the device relay's placement, from `config.aws`. */
export function deploymentSettings(config: RelayConfig): DeploymentSettings {
  const aws = config.aws;
  const workerTimeoutSeconds = Math.ceil(aws.worker.timeout / 1000);
  const settings: DeploymentSettings = {
    webhook: {
      memoryMb: aws.webhook.memory,
      reservedConcurrency: aws.webhook.reservedConcurrency,
      timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
      environment: {
        RELAY_WEBHOOK_SECRETS: JSON.stringify(config.webhook.secrets),
        RELAY_REPLAY_WINDOW_MS: String(config.webhook.replayWindow),
      },
    },
    worker: { memoryMb: aws.worker.memory, timeoutSeconds: workerTimeoutSeconds, batchSize: aws.worker.batchSize },
    sweeper: { memoryMb: aws.worker.memory, timeoutSeconds: workerTimeoutSeconds, schedule: SWEEP_SCHEDULE },
    queue: {
      visibilityTimeoutSeconds: VISIBILITY_FACTOR * workerTimeoutSeconds,
      maxReceives: aws.maxReceives,
      oldestAgeAlarmSeconds: 2 * VISIBILITY_FACTOR * workerTimeoutSeconds,
    },
  };
  if (needsDeviceRelay(config)) {
    // The schema refuses via: vpc without aws.vpc; checked again for the type.
    if (!aws.vpc) throw new DeploymentConfigError('an integration has via: vpc but aws.vpc is not configured');
    settings.deviceRelay = {
      subnetIds: [...aws.vpc.subnetIds],
      securityGroupIds: [...aws.vpc.securityGroupIds],
      memoryMb: DEVICE_RELAY_MEMORY_MB,
      // Called synchronously by the worker and the sweeper: never longer than they may run.
      timeoutSeconds: workerTimeoutSeconds,
    };
  }
  if (aws.alarmEmail !== undefined) settings.alarmEmail = aws.alarmEmail;
  return settings;
}

/** True when an enabled integration sends its requests through the device relay (as lib/runtime/aws-engine.ts decides). */
export function needsDeviceRelay(config: RelayConfig): boolean {
  return config.integrations.some((integration) => integration.enabled && integration.via === 'vpc');
}

interface SecretReference {
  path: string;
  ref: SecretRef;
  user: SecretUser;
  /** An AWS integration's credentials from the variables Lambda sets to the function role's own credentials. */
  lambdaProvides?: true;
}

/** Every secret reference the deployed functions resolve. Disabled integrations are never built, so theirs are left out. */
export function secretReferences(config: RelayConfig): SecretReference[] {
  const refs: SecretReference[] = config.webhook.secrets.map((ref, index) => ({
    path: `webhook.secrets[${index}]`,
    ref,
    user: 'webhook' as const,
  }));
  if (config.flowtriq.apiToken) refs.push({ path: 'flowtriq.apiToken', ref: config.flowtriq.apiToken, user: 'engine' });
  config.integrations.forEach((integration, index) => {
    if (!integration.enabled) return;
    for (const [key, ref] of Object.entries(integrationSecrets(integration))) {
      if (ref === undefined) continue;
      const lambdaProvides = isAwsType(integration.type) && 'env' in ref && LAMBDA_CREDENTIAL_VARIABLES.has(ref.env);
      refs.push({ path: `integrations[${index}].secrets.${key}`, ref, user: 'engine', ...(lambdaProvides ? { lambdaProvides: true as const } : {}) });
    }
  });
  return refs;
}

/**
 * The variables the Lambda runtime sets to the function role's temporary
 * credentials. An AWS integration that reads them (the default) acts as the
 * worker's or the sweeper's own role, which the stacks grant exactly the
 * actions it needs (awsIntegrationGrants).
 */
const LAMBDA_CREDENTIAL_VARIABLES = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);

function isAwsType(type: string): boolean {
  return type === 'aws-shield' || type === 'aws-waf-ipset';
}

function integrationSecrets(integration: IntegrationConfig): Record<string, SecretRef | undefined> {
  return 'secrets' in integration ? (integration.secrets as Record<string, SecretRef | undefined>) : {};
}

/** Integrations that act on the host the relay runs on: a Lambda function has none to protect. */
const HOST_TYPES = new Set(['nftables', 'ipset']);

function rejectHostIntegrations(file: string, config: RelayConfig): void {
  const lines = config.integrations.flatMap((integration, index) =>
    integration.enabled && HOST_TYPES.has(integration.type)
      ? [`  - integrations[${index}] (${integration.id}): type ${integration.type} changes the firewall of the host the relay runs on, and a Lambda function protects no host; run it on a one-box relay on the protected host, or set enabled: false here`]
      : [],
  );
  if (lines.length > 0) throw new DeploymentConfigError(`${file} cannot be deployed to AWS:\n${lines.join('\n')}`);
}

function rejectEnvironmentReferences(file: string, refs: SecretReference[]): void {
  const lines = refs.flatMap(({ path, ref, lambdaProvides }) =>
    'env' in ref && !lambdaProvides
      ? [`  - ${path}: { env: ${ref.env} } has no source in AWS; write { sst: ${suggestSecretName(ref.env)} } and run: npx sst secret set ${suggestSecretName(ref.env)} <value> --stage <stage>`]
      : [],
  );
  if (lines.length > 0) {
    throw new DeploymentConfigError(
      `${file} cannot be deployed to AWS: a Lambda function has no environment of yours to read secrets from; use SST secrets ({ sst: Name }):\n${lines.join('\n')}`,
    );
  }
}

/** One IAM statement for the engine's roles; `{partition}` and `{account}` in a resource are the stage's own. */
export interface AwsGrant {
  actions: string[];
  resources: string[];
}

/**
 * Actions AWS authorises on no narrower resource than "*" (the Service
 * Authorization Reference lists no resource type for them): the subscription
 * state, and Shield's layer-7 automatic response calls, which name the
 * protected resource (a CloudFront distribution or a load balancer), not a
 * Shield resource. The infra tests allow "*" for exactly these.
 */
export const RESOURCELESS_ACTIONS = [
  'shield:GetSubscriptionState',
  'shield:EnableApplicationLayerAutomaticResponse',
  'shield:UpdateApplicationLayerAutomaticResponse',
  'shield:DisableApplicationLayerAutomaticResponse',
] as const;

/** What lib/providers/aws/shield.ts calls. */
const SHIELD_PROTECTION_ACTIONS = ['shield:DescribeProtection'];
/** What lib/providers/aws/waf-ipset.ts calls. */
const WAF_IPSET_ACTIONS = ['wafv2:GetIPSet', 'wafv2:UpdateIPSet'];

/**
 * The AWS actions the engine's roles need for the enabled AWS integrations
 * that act as the role (credentials from Lambda's own variables, the
 * default). One that is given other credentials ({ sst: Name }) acts as
 * whoever those belong to and needs nothing from the stage's roles.
 * Statements with the same actions are merged; resources are sorted.
 */
export function awsIntegrationGrants(config: RelayConfig): AwsGrant[] {
  const byActions = new Map<string, Set<string>>();
  const grant = (actions: readonly string[], resources: string[]) => {
    const key = actions.join(' ');
    const set = byActions.get(key) ?? new Set<string>();
    for (const resource of resources) set.add(resource);
    byActions.set(key, set);
  };
  for (const integration of config.integrations) {
    if (!integration.enabled || !actsAsFunctionRole(integration)) continue;
    if (integration.type === 'aws-shield') {
      const ids = integration.options.protections.filter((protection) => !protection.startsWith('arn:'));
      // A protection named by its resource's ARN has an id only Shield knows until the first DescribeProtection.
      const anyByArn = ids.length < integration.options.protections.length;
      grant(SHIELD_PROTECTION_ACTIONS, anyByArn ? ['arn:{partition}:shield::{account}:protection/*'] : ids.map((id) => `arn:{partition}:shield::{account}:protection/${id}`));
      grant(RESOURCELESS_ACTIONS, ['*']);
    } else if (integration.type === 'aws-waf-ipset') {
      const { region, scope, name, id } = integration.options;
      grant(WAF_IPSET_ACTIONS, [`arn:{partition}:wafv2:${region}:{account}:${scope === 'CLOUDFRONT' ? 'global' : 'regional'}/ipset/${name}/${id}`]);
    }
  }
  const grants = [...byActions].map(([actions, resources]) => ({ actions: actions.split(' '), resources: [...resources].sort() }));
  // A wildcard resource makes any narrower one for the same actions redundant.
  return grants.map((g) => (g.resources.includes('*') ? { ...g, resources: ['*'] } : g));
}

function actsAsFunctionRole(integration: IntegrationConfig): boolean {
  if (!isAwsType(integration.type)) return false;
  const ref = integrationSecrets(integration).accessKeyId;
  return ref !== undefined && 'env' in ref && LAMBDA_CREDENTIAL_VARIABLES.has(ref.env);
}

/** Fills in `{partition}` and `{account}`. */
export function resolveGrantResource(resource: string, ids: { partition: string; account: string }): string {
  return resource.replaceAll('{partition}', ids.partition).replaceAll('{account}', ids.account);
}

/** FLOWTRIQ_WEBHOOK_SECRET → FlowtriqWebhookSecret. */
export function suggestSecretName(envName: string): string {
  const name = envName
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
    .join('');
  return /^[A-Z]/.test(name) ? name : `Secret${name}`;
}

function secretSpecs(file: string, refs: SecretReference[]): SecretSpec[] {
  const specs = new Map<string, SecretSpec>();
  const problems: string[] = [];
  const reserved = new Map<string, string>([...COMPONENT_NAMES, 'App'].map((name) => [name.toLowerCase(), name]));
  const byLowerName = new Map<string, string>();
  for (const { path, ref, user } of refs) {
    if (!('sst' in ref)) continue;
    const name = ref.sst;
    const clash = reserved.get(name.toLowerCase());
    if (clash !== undefined) {
      problems.push(`  - ${path}: the SST secret name "${name}" is taken by the relay's own "${clash}" component (SST names must be unique, ignoring case); choose another name`);
      continue;
    }
    if (!/^[A-Z]/.test(name)) {
      problems.push(`  - ${path}: SST secret names start with a capital letter; write { sst: ${name.charAt(0).toUpperCase()}${name.slice(1)} }`);
      continue;
    }
    const sameLower = byLowerName.get(name.toLowerCase());
    if (sameLower !== undefined && sameLower !== name) {
      problems.push(`  - ${path}: "${name}" differs from "${sameLower}" only in case; SST needs names unique ignoring case`);
      continue;
    }
    byLowerName.set(name.toLowerCase(), name);
    const spec = specs.get(name) ?? { name, optional: true, users: [], paths: [] };
    spec.optional &&= ref.optional;
    if (!spec.users.includes(user)) spec.users.push(user);
    spec.paths.push(path);
    specs.set(name, spec);
  }
  if (problems.length > 0) throw new DeploymentConfigError(`${file} cannot be deployed to AWS:\n${problems.join('\n')}`);
  return [...specs.values()];
}

/** An integration's CA bundle: `options.caFile` (webhook) or `options.tls.caFile` (devices). */
function caFileOf(integration: IntegrationConfig): { path: string; where: string } | undefined {
  const options = integration.options as { caFile?: unknown; tls?: { caFile?: unknown } };
  if (typeof options.caFile === 'string') return { path: options.caFile, where: 'options.caFile' };
  if (typeof options.tls?.caFile === 'string') return { path: options.tls.caFile, where: 'options.tls.caFile' };
  return undefined;
}

/**
 * CA bundles of enabled integrations. In Lambda the config sits at the
 * package root, so a path relative to the config file is copied to that same
 * relative path; an absolute path cannot be carried over.
 */
function caFiles(root: string, file: string, config: RelayConfig): BundledFile[] {
  const configDir = dirname(file);
  const files = new Map<string, BundledFile>();
  const problems: string[] = [];
  config.integrations.forEach((integration, index) => {
    const caFile = integration.enabled ? caFileOf(integration) : undefined;
    if (!caFile) return;
    const where = `integrations[${index}].${caFile.where}`;
    const to = normalize(caFile.path);
    if (isAbsolute(caFile.path) || to === '..' || to.startsWith(`..${sep}`)) {
      problems.push(`  - ${where}: "${caFile.path}" cannot be bundled into the Lambda package; put the file beside the config and give a path relative to it (e.g. certs/ca.pem)`);
      return;
    }
    const source = resolve(configDir, caFile.path);
    if (!existsSync(source)) {
      problems.push(`  - ${where}: ${source} does not exist`);
      return;
    }
    files.set(to, { from: relativeToRoot(root, source), to: to.split(sep).join('/') });
  });
  if (problems.length > 0) throw new DeploymentConfigError(`${file} cannot be deployed to AWS:\n${problems.join('\n')}`);
  return [...files.values()];
}

/** SST joins `copyFiles.from` to the project root, so an absolute path must become relative. */
function relativeToRoot(root: string, file: string): string {
  return relative(root, file).split(sep).join('/');
}
