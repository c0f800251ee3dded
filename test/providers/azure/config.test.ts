import { describe, expect, it } from 'vitest';
import { azureNsgOptionsSchema, azureNsgSecretsSchema } from '../../../lib/providers/azure/config.ts';
import { createAzureNsgProvider } from '../../../lib/providers/azure/provider.ts';
import { ProviderError } from '../../../lib/providers/errors.ts';
import { AzureArmSimulator } from '../../simulators/azure/arm.ts';
import { BASE_OPTIONS, KEEP, MANAGEMENT } from './harness.ts';

function issues(input: unknown): string[] {
  const parsed = azureNsgOptionsSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('azure-nsg options', () => {
  it('fills the defaults of a lockdown', () => {
    // Prepare
    const input = { ...BASE_OPTIONS, mode: 'lockdown', management: MANAGEMENT };

    // Act
    const parsed = azureNsgOptionsSchema.parse(input);

    // Assess
    expect(parsed).toMatchObject({ mode: 'lockdown', priorityBand: { from: 100, to: 199 }, pollInterval: 5_000, waitFor: 120_000, timeout: 30_000, keep: [] });
    if (parsed.mode !== 'lockdown') throw new Error('mode');
    expect(parsed.management[0]).toMatchObject({ protocol: 'tcp', ports: '22', sources: ['203.0.113.10/32', '2001:db8:a::/48'] });
  });

  it('fills the defaults of block mode', () => {
    // Prepare
    const input = { ...BASE_OPTIONS, mode: 'block' };

    // Act
    const parsed = azureNsgOptionsSchema.parse(input);

    // Assess
    expect(parsed).toMatchObject({ mode: 'block', maxAddresses: 1000, priorityBand: { from: 100, to: 199 } });
  });

  it('asks for the mode', () => {
    // Prepare
    const input = { ...BASE_OPTIONS, management: MANAGEMENT };

    // Act
    const found = issues(input);

    // Assess
    expect(found.join('\n')).toContain('mode must be lockdown');
  });

  it('requires a management allowance in lockdown mode and refuses the whole Internet', () => {
    // Prepare
    const missing = { ...BASE_OPTIONS, mode: 'lockdown' };
    const open = { ...BASE_OPTIONS, mode: 'lockdown', management: [{ protocol: 'tcp', ports: 22, sources: ['0.0.0.0/0'] }] };

    // Act
    const missingIssues = issues(missing);
    const openIssues = issues(open);

    // Assess
    expect(missingIssues.join('\n')).toContain('management: is required');
    expect(openIssues.join('\n')).toContain('0.0.0.0/0 allows the whole Internet in');
  });

  it('keeps the priority band within 100–4096, in order, and wide enough for the rules', () => {
    // Prepare
    const low = { ...BASE_OPTIONS, mode: 'lockdown', management: MANAGEMENT, priorityBand: { from: 99, to: 150 } };
    const reversed = { ...BASE_OPTIONS, mode: 'lockdown', management: MANAGEMENT, priorityBand: { from: 300, to: 200 } };
    const narrow = { ...BASE_OPTIONS, mode: 'lockdown', management: MANAGEMENT, keep: KEEP, priorityBand: { from: 100, to: 102 } };
    const blockNarrow = { ...BASE_OPTIONS, mode: 'block', priorityBand: { from: 100, to: 100 } };

    // Act
    const found = [issues(low), issues(reversed), issues(narrow), issues(blockNarrow)].map((list) => list.join('\n'));

    // Assess
    expect(found[0]).toContain('priorityBand.from: Azure priorities start at 100');
    expect(found[1]).toContain('priorityBand.to: from must not be above to');
    expect(found[2]).toContain('the lockdown needs 4 priorities');
    expect(found[3]).toContain('block mode needs two priorities');
  });

  it('names where to find a malformed ID', () => {
    // Prepare
    const input = { ...BASE_OPTIONS, mode: 'block', subscriptionId: 'my-subscription', clientId: '1234' };

    // Act
    const found = issues(input).join('\n');

    // Assess
    expect(found).toContain('subscriptionId: must be the subscription ID');
    expect(found).toContain('clientId: must be the application (client) ID');
  });

  it('accepts a tenant domain and refuses unknown options', () => {
    // Prepare
    const domain = { ...BASE_OPTIONS, tenantId: 'Contoso.onmicrosoft.com', mode: 'block' };
    const extra = { ...BASE_OPTIONS, mode: 'block', region: 'westeurope' };

    // Act
    const parsed = azureNsgOptionsSchema.parse(domain);
    const found = issues(extra).join('\n');

    // Assess
    expect(parsed.tenantId).toBe('contoso.onmicrosoft.com');
    expect(found).toContain('region');
  });

  it('takes the client secret as a secret reference', () => {
    // Prepare
    const input = { clientSecret: { env: 'AZURE_CLIENT_SECRET' } };

    // Act
    const parsed = azureNsgSecretsSchema.safeParse(input);
    const inline = azureNsgSecretsSchema.safeParse({ clientSecret: 'plain-text' });

    // Assess
    expect(parsed.success).toBe(true);
    expect(inline.success).toBe(false);
  });
});

describe('azure-nsg factory', () => {
  it('refuses an integration id too long for Azure rule names', () => {
    // Prepare
    const simulator = new AzureArmSimulator({ now: Date.now });
    const options = azureNsgOptionsSchema.parse({ ...BASE_OPTIONS, mode: 'block' });

    // Act
    const build = () => createAzureNsgProvider({ id: 'x'.repeat(57), options, holdDownMs: 0 }, { transport: simulator.transport, secrets: { clientSecret: 's' } });

    // Assess
    expect(build).toThrow(ProviderError);
    expect(build).toThrow('at most 56');
  });

  it('builds a switch for lockdown and a blocklist for block', () => {
    // Prepare
    const simulator = new AzureArmSimulator({ now: Date.now });
    const deps = { transport: simulator.transport, secrets: { clientSecret: 's' } };

    // Act
    const lockdown = createAzureNsgProvider({ id: 'a', options: azureNsgOptionsSchema.parse({ ...BASE_OPTIONS, mode: 'lockdown', management: MANAGEMENT }), holdDownMs: 5 }, deps);
    const block = createAzureNsgProvider({ id: 'b', options: azureNsgOptionsSchema.parse({ ...BASE_OPTIONS, mode: 'block' }), holdDownMs: 5 }, deps);

    // Assess
    expect([lockdown.kind, lockdown.type, block.kind, block.type]).toEqual(['switch', 'azure-nsg', 'blocklist', 'azure-nsg']);
  });
});
