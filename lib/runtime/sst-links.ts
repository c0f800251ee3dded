/**
 * SST passes linked resources (our secrets) to a deployed function in an
 * encrypted file: `SST_KEY_FILE` (in the package) and `SST_KEY` (base64
 * AES-256-GCM key; zero nonce; 16-byte tag at the end), or as
 * `SST_RESOURCES_JSON`. This exposes each link as `SST_RESOURCE_<Name>` (its
 * JSON), which is what lib/config/secrets.ts reads. Done once per cold start.
 */
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RelayError } from '../errors.ts';

export class SstLinksError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('sst_links', `${message}; redeploy with sst deploy`, options);
  }
}

export function decryptSstLinks(key: string, data: Buffer): Record<string, unknown> {
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key, 'base64'), Buffer.alloc(12, 0));
  decipher.setAuthTag(data.subarray(-16));
  const plain = Buffer.concat([decipher.update(data.subarray(0, -16)), decipher.final()]);
  return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
}

export function withSstLinks(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const links: Record<string, unknown> = {};
  if (env.SST_RESOURCES_JSON) {
    try {
      Object.assign(links, JSON.parse(env.SST_RESOURCES_JSON));
    } catch (error) {
      throw new SstLinksError('SST_RESOURCES_JSON is not JSON', { cause: error });
    }
  }
  if (env.SST_KEY && env.SST_KEY_FILE) {
    const path = resolve(env.LAMBDA_TASK_ROOT ?? process.cwd(), env.SST_KEY_FILE);
    try {
      Object.assign(links, decryptSstLinks(env.SST_KEY, readFileSync(path)));
    } catch (error) {
      // Never include key material or plaintext in the message.
      throw new SstLinksError(`cannot decrypt the linked resources in ${env.SST_KEY_FILE}`, { cause: error });
    }
  }
  if (Object.keys(links).length === 0) return env;
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(links)) out[`SST_RESOURCE_${name}`] ??= JSON.stringify(value);
  return out;
}
