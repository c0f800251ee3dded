/**
 * The webhook secret as the CLI sees it, without ever making one: send-test
 * signs with the secret `relay start` uses (lib/runtime/one-box.ts
 * webhookSecrets: the configured references, or with no config file the
 * generated `<storage.dir>/webhook-secret`), and check-config and start warn
 * about a short one. Values never leave this module except to sign.
 */
import { join, resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.ts';
import type { SecretRef } from '../config/schema.ts';
import { resolveSecret } from '../config/secrets.ts';
import { LOCAL_SECRET_FILE, readLocalSecret } from '../runtime/local-secret.ts';

/** Shorter than this (in bytes) is guessable enough to warn about. */
export const MIN_WEBHOOK_SECRET_BYTES = 32;

export function describeRef(ref: SecretRef): string {
  return 'env' in ref ? `$${ref.env}` : `SST secret ${ref.sst}`;
}

export type SigningSecret =
  | { ok: true; secret: string; source: string }
  | { ok: false; fix: string };

/** The secret `relay start` would verify with (the first one set), or what to set. */
export function signingSecret(loaded: LoadedConfig, env: NodeJS.ProcessEnv): SigningSecret {
  const refs = loaded.config.webhook.secrets;
  for (const ref of refs) {
    const value = resolveSecret(ref, env);
    if (value !== undefined) return { ok: true, secret: value, source: describeRef(ref) };
  }
  if (loaded.file === undefined) {
    const dir = resolve(loaded.config.storage.dir);
    const file = join(dir, LOCAL_SECRET_FILE);
    const local = readLocalSecret(dir);
    if (local !== undefined) return { ok: true, secret: local, source: `the file ${file}` };
    return {
      ok: false,
      fix:
        `no webhook secret to sign with: FLOWTRIQ_WEBHOOK_SECRET is not set and ${file} does not exist. ` +
        'Set FLOWTRIQ_WEBHOOK_SECRET to the secret the relay uses, or run send-test in the directory where `relay start` runs (it creates that file on first start)',
    };
  }
  const names = refs.map(describeRef).join(' or ');
  const first = refs[0]!;
  const how = 'env' in first ? `set the environment variable ${first.env}` : `make ${describeRef(first)} available (SST_RESOURCE_${first.sst})`;
  return {
    ok: false,
    fix: `no webhook secret to sign with: ${names} (webhook.secrets in ${loaded.file}) is not set; ${how} to the secret the relay uses`,
  };
}

/** One warning per configured webhook secret shorter than MIN_WEBHOOK_SECRET_BYTES (never the value). */
export function shortSecretWarnings(loaded: LoadedConfig, env: NodeJS.ProcessEnv): string[] {
  const warnings: string[] = [];
  loaded.config.webhook.secrets.forEach((ref, index) => {
    let value: string | undefined;
    try {
      value = resolveSecret(ref, env);
    } catch {
      return; // malformed: reported where it is resolved
    }
    if (value === undefined) return;
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes < MIN_WEBHOOK_SECRET_BYTES) {
      warnings.push(
        `webhook.secrets[${index}] (${describeRef(ref)}) is ${bytes} byte${bytes === 1 ? '' : 's'} long; ` +
          `use at least ${MIN_WEBHOOK_SECRET_BYTES} random bytes (e.g. openssl rand -hex 32) and set the same value in Flowtriq`,
      );
    }
  });
  return warnings;
}
