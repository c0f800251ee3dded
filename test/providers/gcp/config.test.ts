import { describe, expect, it } from 'vitest';
import { gcpFirewallOptionsSchema, gcpFirewallSecretsSchema, parseServiceAccountKey } from '../../../lib/providers/gcp/config.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import { makeServiceAccount } from '../../simulators/gcp/compute.ts';

const management = [{ protocol: 'tcp', ports: 22, sources: ['203.0.113.10/32'] }];

function messages(input: unknown): string[] {
  const result = gcpFirewallOptionsSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('gcp-firewall options', () => {
  it('fills lockdown defaults', () => {
    // Act
    const options = gcpFirewallOptionsSchema.parse({ mode: 'lockdown', targetTags: ['web'], management });

    // Assess
    expect(options).toMatchObject({ mode: 'lockdown', network: 'default', ruleNamePrefix: 'flowtriq-relay', priority: 100, pollInterval: 2_000, waitFor: 60_000, timeout: 30_000, keep: [] });
  });

  it('requires targetTags for lockdown and says why', () => {
    // Act
    const found = messages({ mode: 'lockdown', management });

    // Assess
    expect(found.join('\n')).toContain('targetTags: is required for lockdown');
    expect(found.join('\n')).toContain('every VM on the network');
  });

  it('requires a management allowance that is not the whole Internet', () => {
    // Act
    const missing = messages({ mode: 'lockdown', targetTags: ['web'] });
    const open = messages({ mode: 'lockdown', targetTags: ['web'], management: [{ protocol: 'tcp', ports: 22, sources: ['0.0.0.0/0'] }] });

    // Assess
    expect(missing.join('\n')).toContain('management: is required');
    expect(open.join('\n')).toContain('allows the whole Internet in');
  });

  it('accepts block without targetTags or management and refuses a priority that leaves no room', () => {
    // Act
    const parsed = gcpFirewallOptionsSchema.parse({ mode: 'block' });
    const badPriority = messages({ mode: 'lockdown', targetTags: ['web'], management, priority: 65534 });

    // Assess
    expect(parsed).toMatchObject({ mode: 'block', priority: 100, network: 'default' });
    expect(badPriority.join('\n')).toContain('priority + 1');
  });

  it('asks for a mode, and rejects bad project, tag and prefix values with the fix', () => {
    // Act
    const noMode = messages({ targetTags: ['web'], management });
    const bad = messages({ mode: 'block', project: 'My Project', targetTags: ['Web'], ruleNamePrefix: 'relay-' });

    // Assess
    expect(noMode.join('\n')).toContain('set mode: lockdown');
    expect(bad.join('\n')).toContain('project: must be a project ID');
    expect(bad.join('\n')).toContain('targetTags.0: must be a network tag');
    expect(bad.join('\n')).toContain('ruleNamePrefix: use lower-case letters');
  });

  it('takes the key as a secret reference', () => {
    // Act
    const parsed = gcpFirewallSecretsSchema.parse({ serviceAccountKey: { env: 'GCP_KEY' } });

    // Assess
    expect(parsed.serviceAccountKey).toEqual({ env: 'GCP_KEY', optional: false });
  });
});

describe('gcp-firewall service account key', () => {
  const account = makeServiceAccount();
  const keyFile = JSON.parse(account.keyFile) as Record<string, unknown>;
  const secretPart = String(keyFile.private_key).slice(60, 120);

  function failure(content: string): string {
    try {
      parseServiceAccountKey(content);
    } catch (error) {
      if (error instanceof ProviderError) return error.message;
      throw error;
    }
    throw new Error('expected a failure');
  }

  it('reads a key file', () => {
    // Act
    const key = parseServiceAccountKey(account.keyFile);

    // Assess
    expect(key).toMatchObject({ projectId: 'flowtriq-test', clientEmail: account.email, tokenUri: 'https://oauth2.googleapis.com/token' });
  });

  it('explains a key that is not JSON without repeating it', () => {
    // Act
    const message = failure(`${account.keyFile}x`);

    // Assess
    expect(message).toContain('is not JSON');
    expect(message).not.toContain(secretPart);
  });

  it('names the field that is wrong, never the key', () => {
    // Act
    const wrongType = failure(JSON.stringify({ ...keyFile, type: 'authorized_user' }));
    const wrongUri = failure(JSON.stringify({ ...keyFile, token_uri: 'https://attacker.example/token' }));
    const brokenKey = failure(JSON.stringify({ ...keyFile, private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }));

    // Assess
    expect(wrongType).toContain('type must be "service_account"');
    expect(wrongUri).toContain("token_uri must be Google's token endpoint");
    expect(brokenKey).toContain('private_key is not a readable RSA private key');
    for (const message of [wrongType, wrongUri, brokenKey]) expect(message).not.toContain(secretPart);
  });
});
