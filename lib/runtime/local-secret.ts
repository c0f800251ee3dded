import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCAL_SECRET_FILE = 'webhook-secret';

/**
 * One-box default only (no config file, no FLOWTRIQ_WEBHOOK_SECRET): a
 * random 256-bit secret kept in `<dir>/webhook-secret` with mode 0600, made
 * on first start. The relay never runs unsigned by default.
 */
export function ensureLocalSecret(dir: string): { secret: string; path: string; created: boolean } {
  const path = join(dir, LOCAL_SECRET_FILE);
  if (existsSync(path)) {
    const secret = readFileSync(path, 'utf8').trim();
    if (secret.length >= 32) return { secret, path, created: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { secret, path, created: true };
}

/** Reads the local secret if it exists (used by `relay send-test`). */
export function readLocalSecret(dir: string): string | undefined {
  const path = join(dir, LOCAL_SECRET_FILE);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;
}
