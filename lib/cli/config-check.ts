/**
 * `relay check-config`: every problem of a configuration file at once, and
 * whether `relay start` would find every secret it references.
 *
 * The loader (lib/config/load.ts) reports every problem of the file at once
 * (lib/config/raw-checks.ts adds the config-wide checks zod skips while a
 * field is invalid); this adds the secrets and builds each integration.
 */
import { resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { IntegrationConfig, SecretRef } from '../config/schema.ts';
import { resolveSecret, SecretMalformedError, SecretMissingError } from '../config/secrets.ts';
import { describeError } from '../errors.ts';
import { silentLogger } from '../log/logger.ts';
import { createProvider } from '../providers/registry.ts';
import { LOCAL_SECRET_FILE } from '../runtime/local-secret.ts';
import type { Transport } from '../transport/types.ts';
import { shortSecretWarnings } from './webhook-secret.ts';

type Raw = Record<string, unknown>;
const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

function isSecretRef(value: unknown): value is SecretRef {
  return isObject(value) && (typeof value.env === 'string' || typeof value.sst === 'string');
}

/** Every unset (or malformed) required secret under `value`, with its config path. */
function missingSecrets(value: unknown, where: string, env: NodeJS.ProcessEnv): ConfigIssue[] {
  if (isSecretRef(value)) {
    try {
      if (resolveSecret(value, env) !== undefined || value.optional) return [];
      return [{ path: where, message: new SecretMissingError(where, value).message.slice(where.length + 2) }];
    } catch (error) {
      if (error instanceof SecretMalformedError) return [{ path: where, message: new SecretMalformedError(error.variable).message }];
      throw error;
    }
  }
  if (!isObject(value)) return [];
  return Object.entries(value).flatMap(([key, item]) => missingSecrets(item, `${where}.${key}`, env));
}

/** A transport that refuses: building a provider must not reach the network. */
const offline: Transport = { request: () => Promise.reject(new Error('check-config makes no requests')) };

export interface SecretCheck {
  issues: ConfigIssue[];
  notes: string[];
}

/**
 * What `relay start` resolves: the webhook secrets (with a config file every
 * one not marked optional; without, the variable or the generated file), the
 * Flowtriq API token if referenced, and the secrets of every enabled
 * integration (then the integration is built, as start does, which also
 * reads CA files and AWS profiles).
 */
export function checkSecrets(loaded: LoadedConfig, env: NodeJS.ProcessEnv): SecretCheck {
  const issues: ConfigIssue[] = [];
  const notes: string[] = [];
  const { config } = loaded;
  const webhookRefs = config.webhook.secrets;
  if (loaded.file !== undefined) {
    webhookRefs.forEach((ref, index) => {
      if (!ref.optional) issues.push(...missingSecrets(ref, `webhook.secrets[${index}]`, env));
    });
    const anySet = webhookRefs.some((ref) => {
      try {
        return resolveSecret(ref, env) !== undefined;
      } catch {
        return false;
      }
    });
    if (!anySet && webhookRefs.every((ref) => ref.optional)) {
      issues.push(...missingSecrets({ ...webhookRefs[0]!, optional: false }, 'webhook.secrets[0]', env));
    }
  } else if (webhookRefs.every((ref) => resolveSecret(ref, env) === undefined)) {
    notes.push(`no FLOWTRIQ_WEBHOOK_SECRET: relay start uses ${resolve(config.storage.dir, LOCAL_SECRET_FILE)} (made on first start)`);
  }
  if (config.flowtriq.apiToken) issues.push(...missingSecrets(config.flowtriq.apiToken, 'flowtriq.apiToken', env));
  if (config.status.enabled && config.status.token) issues.push(...missingSecrets(config.status.token, 'status.token', env));
  config.integrations.forEach((integration: IntegrationConfig, index) => {
    if (!integration.enabled) return;
    const path = `integrations[${index}]`;
    // AWS keys may also come from a profile: the provider's own resolution says.
    const missing = integration.type === 'aws-shield' || integration.type === 'aws-waf-ipset' ? [] : missingSecrets((integration as { secrets?: unknown }).secrets, `${path}.secrets`, env);
    if (missing.length > 0) {
      issues.push(...missing);
      return;
    }
    try {
      createProvider(integration, { transport: offline, logger: silentLogger, env, configPath: path });
    } catch (error) {
      const where = error instanceof SecretMissingError ? error.where : path;
      const message = error instanceof Error ? error.message : describeError(error);
      issues.push({ path: where, message: message.startsWith(`${where}: `) ? message.slice(where.length + 2) : message });
    }
  });
  return { issues, notes };
}

export interface ConfigReport {
  file: string | undefined;
  valid: boolean;
  issues: ConfigIssue[];
  warnings: string[];
  notes: string[];
  loaded?: LoadedConfig;
}

/** Loads and checks; never throws for a configuration problem. */
export function checkConfiguration(load: () => LoadedConfig, env: NodeJS.ProcessEnv, options: { secrets: boolean }): ConfigReport {
  let loaded: LoadedConfig;
  try {
    loaded = load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { file: error.file, valid: false, issues: error.issues, warnings: [], notes: ['secrets are checked once these are fixed'] };
  }
  const secrets = options.secrets ? checkSecrets(loaded, env) : { issues: [], notes: ['secrets not checked (--skip-secrets)'] };
  return {
    file: loaded.file,
    valid: secrets.issues.length === 0,
    issues: secrets.issues,
    warnings: shortSecretWarnings(loaded, env),
    notes: secrets.notes,
    loaded,
  };
}
