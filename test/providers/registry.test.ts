import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrationSchema, type IntegrationConfig } from '../../lib/config/schema.ts';
import { SecretMissingError } from '../../lib/config/secrets.ts';
import { DryRunBlocklistProvider, DryRunSwitchProvider } from '../../lib/providers/dry-run/provider.ts';
import { createProvider, createProviders } from '../../lib/providers/registry.ts';
import { CaFileError, WebhookProvider } from '../../lib/providers/webhook/provider.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../lib/transport/types.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';

/** A Transport that records requests and answers 204. */
class FakeTransport implements Transport {
  readonly requests: HttpRequest[] = [];
  async request(request: HttpRequest): Promise<HttpResponse> {
    this.requests.push(request);
    return { status: 204, headers: {}, body: new Uint8Array() };
  }
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
let dir: string;
let caFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-registry-'));
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, PEM);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function integration(input: unknown): IntegrationConfig {
  return integrationSchema.parse(input);
}

const webhookInput = (id: string, signingSecret: unknown = { env: 'RELAY_SIGNING_SECRET' }) => ({
  id,
  type: 'webhook',
  options: { url: 'https://receiver.example/hooks/relay', caFile },
  secrets: { signingSecret },
});

function deps(env: NodeJS.ProcessEnv = {}) {
  return { transport: new FakeTransport(), logger: new RecordingLogger(), env };
}

describe('createProvider', () => {
  it('builds a dry-run blocklist by default', () => {
    // Act
    const provider = createProvider(integration({ id: 'dry', type: 'dry-run' }), deps());

    // Assess
    expect(provider).toBeInstanceOf(DryRunBlocklistProvider);
    expect(provider).toMatchObject({ kind: 'blocklist', id: 'dry', type: 'dry-run' });
  });

  it('builds a dry-run switch when options.kind is switch', () => {
    // Act
    const provider = createProvider(integration({ id: 'dry', type: 'dry-run', options: { kind: 'switch' } }), deps());

    // Assess
    expect(provider).toBeInstanceOf(DryRunSwitchProvider);
    expect(provider.kind).toBe('switch');
  });

  it('builds a webhook that signs with the secret from the environment and uses the given transport', async () => {
    // Prepare
    const env = { RELAY_SIGNING_SECRET: 'from-env' };
    const transport = new FakeTransport();

    // Act
    const provider = createProvider(integration(webhookInput('siem')), { ...deps(env), transport });
    const health = await provider.healthCheck({ signal: new AbortController().signal, logger: new RecordingLogger() });

    // Assess
    expect(provider).toBeInstanceOf(WebhookProvider);
    expect(health.ok).toBe(true);
    expect(transport.requests).toHaveLength(1);
    expect(transport.requests[0]?.url).toBe('https://receiver.example/hooks/relay');
    expect(transport.requests[0]?.tls).toEqual({ ca: PEM });
  });

  it('reads a webhook secret linked through SST', () => {
    // Prepare
    const env = { SST_RESOURCE_RelaySigning: JSON.stringify({ value: 'from-sst' }) };

    // Act
    const provider = createProvider(integration(webhookInput('siem', { sst: 'RelaySigning' })), deps(env));

    // Assess
    expect(provider).toBeInstanceOf(WebhookProvider);
  });

  it('fails at startup naming the secret path and the fix when the webhook secret is missing', () => {
    // Act
    const act = () => createProvider(integration(webhookInput('siem')), { ...deps(), configPath: 'integrations[2]' });

    // Assess
    expect(act).toThrow(SecretMissingError);
    expect(act).toThrow('integrations[2].secrets.signingSecret');
    expect(act).toThrow('set the environment variable RELAY_SIGNING_SECRET');
  });

  it('names the integration by id when no config path is given', () => {
    // Act
    const act = () => createProvider(integration(webhookInput('siem')), deps());

    // Assess
    expect(act).toThrow('integrations[id=siem].secrets.signingSecret');
  });

  it('fails at startup when the webhook caFile cannot be read', () => {
    // Prepare
    const input = webhookInput('siem');
    input.options.caFile = join(dir, 'absent.pem');

    // Act
    const act = () => createProvider(integration(input), deps({ RELAY_SIGNING_SECRET: 'x' }));

    // Assess
    expect(act).toThrow(CaFileError);
  });

  it('never logs the secret while building', () => {
    // Prepare
    const logger = new RecordingLogger();

    // Act
    createProvider(integration(webhookInput('siem')), { ...deps({ RELAY_SIGNING_SECRET: 'super-secret-value' }), logger });

    // Assess
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(logger.lines)).not.toContain('super-secret-value');
  });
});

describe('createProviders', () => {
  it('builds the enabled integrations in order and names failures by index', () => {
    // Prepare
    const integrations = [
      integration({ id: 'a', type: 'dry-run' }),
      integration({ id: 'off', type: 'dry-run', enabled: false }),
      integration(webhookInput('siem')),
    ];

    // Act
    const built = createProviders(integrations.slice(0, 2), deps());
    const act = () => createProviders(integrations, deps());

    // Assess
    expect(built.map((provider) => provider.id)).toEqual(['a']);
    expect(act).toThrow('integrations[2].secrets.signingSecret');
  });
});
