import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveRequiredSecret } from '../../lib/config/secrets.ts';
import { SstLinksError, withSstLinks } from '../../lib/runtime/sst-links.ts';

/** Encrypts links the way SST packages them: AES-256-GCM, zero nonce, tag appended. */
function sstPackage(links: Record<string, unknown>) {
  const key = randomBytes(32);
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.alloc(12, 0));
  const data = Buffer.concat([cipher.update(JSON.stringify(links)), cipher.final(), cipher.getAuthTag()]);
  const root = mkdtempSync(join(tmpdir(), 'relay-sst-'));
  writeFileSync(join(root, 'resource.enc'), data);
  return { root, key: key.toString('base64') };
}

describe('withSstLinks', () => {
  it('exposes encrypted linked secrets as SST_RESOURCE_<Name> for the secret resolver', () => {
    // Prepare
    const { root, key } = sstPackage({ FlowtriqWebhookSecret: { type: 'sst.sst.Secret', value: 's3cret' } });
    // Act
    const env = withSstLinks({ LAMBDA_TASK_ROOT: root, SST_KEY: key, SST_KEY_FILE: 'resource.enc' });
    // Assess
    expect(resolveRequiredSecret({ sst: 'FlowtriqWebhookSecret', optional: false }, 'webhook.secrets[0]', env)).toBe('s3cret');
  });

  it('reads SST_RESOURCES_JSON too, and leaves an environment without links unchanged', () => {
    const env = { SST_RESOURCES_JSON: JSON.stringify({ ApiToken: { value: 't' } }) };
    expect(withSstLinks(env).SST_RESOURCE_ApiToken).toBe('{"value":"t"}');
    const plain = { A: '1' };
    expect(withSstLinks(plain)).toBe(plain);
  });

  it('fails with a clear error, without key material, when the key is wrong', () => {
    // Prepare
    const { root } = sstPackage({ X: { value: 'v' } });
    const wrongKey = randomBytes(32).toString('base64');
    // Act
    let error: unknown;
    try {
      withSstLinks({ LAMBDA_TASK_ROOT: root, SST_KEY: wrongKey, SST_KEY_FILE: 'resource.enc' });
    } catch (caught) {
      error = caught;
    }
    // Assess
    expect(error).toBeInstanceOf(SstLinksError);
    expect(String((error as Error).message)).not.toContain(wrongKey);
  });
});
