/**
 * stacks/config.ts: how `sst deploy` finds and checks the relay config and
 * derives the deployment from it (pure; no SST evaluation needed).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/errors.ts';
import { DeploymentConfigError, loadDeploymentConfig, RESOURCELESS_ACTIONS, resolveGrantResource, suggestSecretName } from '../../stacks/config.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'relay-stacks-config-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(path: string, text: string): string {
  const file = join(root, path);
  mkdirSync(resolve(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

const WEBHOOK_SST = 'webhook:\n  secrets: [{ sst: FlowtriqWebhookSecret }]\n';

function integration(fields: string): string {
  return `  - id: ${fields}\n`;
}

describe('finding the config file', () => {
  it('refuses to deploy without a config file, saying how to make one', () => {
    expect(() => loadDeploymentConfig(root, {})).toThrow(DeploymentConfigError);
    expect(() => loadDeploymentConfig(root, {})).toThrow(/no relay config file found in .*create relay\.config\.yaml .*or set RELAY_CONFIG/);
  });

  it('takes the first of relay.config.yaml, .yml, .json in the project root', () => {
    write('relay.config.json', JSON.stringify({ webhook: { secrets: [{ sst: 'FromJson' }] } }));
    write('relay.config.yml', 'webhook:\n  secrets: [{ sst: FromYml }]\n');
    expect(loadDeploymentConfig(root, {}).relativeFile).toBe('relay.config.yml');
    write('relay.config.yaml', WEBHOOK_SST);
    const loaded = loadDeploymentConfig(root, {});
    expect(loaded.relativeFile).toBe('relay.config.yaml');
    expect(loaded.file).toBe(join(root, 'relay.config.yaml'));
  });

  it('takes RELAY_CONFIG relative to the project root, or absolute, and makes the path root-relative for copyFiles', () => {
    write('deploy/prod.yaml', WEBHOOK_SST);
    expect(loadDeploymentConfig(root, { RELAY_CONFIG: 'deploy/prod.yaml' }).relativeFile).toBe('deploy/prod.yaml');
    const outside = mkdtempSync(join(tmpdir(), 'relay-stacks-outside-'));
    try {
      writeFileSync(join(outside, 'relay.json'), JSON.stringify({ webhook: { secrets: [{ sst: 'FlowtriqWebhookSecret' }] } }));
      const loaded = loadDeploymentConfig(root, { RELAY_CONFIG: join(outside, 'relay.json') });
      // SST joins copyFiles.from to the root: the relative path must lead back to the file.
      expect(resolve(root, loaded.relativeFile)).toBe(join(outside, 'relay.json'));
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('passes the loader\'s ConfigError (with the zod messages) through unchanged', () => {
    write('relay.config.yaml', `${WEBHOOK_SST}aws:\n  worker:\n    timeout: 20m\n`);
    expect(() => loadDeploymentConfig(root, {})).toThrow(ConfigError);
    expect(() => loadDeploymentConfig(root, {})).toThrow('aws.worker.timeout: 20m is out of range; use between 10s and 15m');
  });
});

describe('secrets', () => {
  it('refuses every { env } reference, suggesting the SST name', () => {
    write(
      'relay.config.yaml',
      'webhook:\n  secrets: [{ env: FLOWTRIQ_WEBHOOK_SECRET }]\nflowtriq:\n  apiToken: { env: FLOWTRIQ_API_TOKEN, optional: true }\n',
    );
    let message = '';
    try {
      loadDeploymentConfig(root, {});
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('webhook.secrets[0]: { env: FLOWTRIQ_WEBHOOK_SECRET } has no source in AWS; write { sst: FlowtriqWebhookSecret }');
    expect(message).toContain('flowtriq.apiToken: { env: FLOWTRIQ_API_TOKEN } has no source in AWS; write { sst: FlowtriqApiToken }');
    expect(message).toContain('npx sst secret set FlowtriqWebhookSecret <value> --stage <stage>');
  });

  it('suggests PascalCase names that SST accepts', () => {
    expect(suggestSecretName('FLOWTRIQ_WEBHOOK_SECRET')).toBe('FlowtriqWebhookSecret');
    expect(suggestSecretName('relay__token2')).toBe('RelayToken2');
    expect(suggestSecretName('_9LIVES')).toBe('Secret9lives');
  });

  it('creates each name once: optional only if every reference is, read by every function that needs it', () => {
    write(
      'relay.config.yaml',
      [
        'webhook:',
        '  secrets: [{ sst: Shared }, { sst: NextSecret, optional: true }]',
        'flowtriq:',
        '  apiToken: { sst: ApiToken, optional: true }',
        'integrations:',
        integration('a\n    type: webhook\n    options: { url: "https://a.example.com/h" }\n    secrets: { signingSecret: { sst: Shared } }').trimEnd(),
        integration('b\n    type: webhook\n    options: { url: "https://b.example.com/h" }\n    secrets: { signingSecret: { sst: NextSecret } }').trimEnd(),
        '',
      ].join('\n'),
    );
    const { secrets } = loadDeploymentConfig(root, {});
    expect(secrets).toEqual([
      { name: 'Shared', optional: false, users: ['webhook', 'engine'], paths: ['webhook.secrets[0]', 'integrations[0].secrets.signingSecret'] },
      { name: 'NextSecret', optional: false, users: ['webhook', 'engine'], paths: ['webhook.secrets[1]', 'integrations[1].secrets.signingSecret'] },
      { name: 'ApiToken', optional: true, users: ['engine'], paths: ['flowtriq.apiToken'] },
    ]);
  });

  it('ignores disabled integrations: no secret, no env check, no device relay', () => {
    write(
      'relay.config.yaml',
      [
        WEBHOOK_SST.trimEnd(),
        'integrations:',
        integration('off\n    type: webhook\n    enabled: false\n    via: vpc\n    options: { url: "https://10.0.0.1/h" }\n    secrets: { signingSecret: { env: OLD } }').trimEnd(),
        'aws:',
        '  vpc: { subnetIds: [subnet-0123456789abcdef0], securityGroupIds: [sg-0123456789abcdef0] }',
        '',
      ].join('\n'),
    );
    const loaded = loadDeploymentConfig(root, {});
    expect(loaded.secrets.map((s) => s.name)).toEqual(['FlowtriqWebhookSecret']);
    expect(loaded.settings.deviceRelay).toBeUndefined();
  });

  it('refuses names SST would refuse: a relay component name (any case), a lower-case start, a case-only variant', () => {
    write('relay.config.yaml', 'webhook:\n  secrets: [{ sst: lowerFirst }]\n');
    expect(() => loadDeploymentConfig(root, {})).toThrow(/webhook\.secrets\[0\]\.sst: must be an SST secret name \(starting with a capital letter\)/);
    write('relay.config.yaml', 'webhook:\n  secrets: [{ sst: StateTable }]\n');
    expect(() => loadDeploymentConfig(root, {})).toThrow(/"StateTable" is taken by the relay's own "StateTable" component/);
    write('relay.config.yaml', 'webhook:\n  secrets: [{ sst: App }]\n');
    expect(() => loadDeploymentConfig(root, {})).toThrow('"App" is taken');
    write('relay.config.yaml', 'webhook:\n  secrets: [{ sst: TokenA }, { sst: Tokena }]\n');
    expect(() => loadDeploymentConfig(root, {})).toThrow('"Tokena" differs from "TokenA" only in case');
  });
});

describe('settings', () => {
  it('visibility timeout is 6 × the worker timeout in whole seconds', () => {
    write('relay.config.yaml', `${WEBHOOK_SST}aws:\n  worker: { timeout: 10500ms }\n`);
    const { settings } = loadDeploymentConfig(root, {});
    expect(settings.worker.timeoutSeconds).toBe(11);
    expect(settings.queue.visibilityTimeoutSeconds).toBe(66);
    expect(settings.sweeper).toEqual({ memoryMb: 512, timeoutSeconds: 11, schedule: 'rate(1 minute)' });
  });

  it('the largest worker timeout stays within SQS\'s 12-hour visibility limit', () => {
    write('relay.config.yaml', `${WEBHOOK_SST}aws:\n  worker: { timeout: 15m }\n`);
    expect(loadDeploymentConfig(root, {}).settings.queue.visibilityTimeoutSeconds).toBe(5400);
  });

  it('defaults: 2 min worker, batch 10, 5 receives, webhook 10 reserved / 256 MB / 10 s, no e-mail', () => {
    write('relay.config.yaml', WEBHOOK_SST);
    expect(loadDeploymentConfig(root, {}).settings).toEqual({
      webhook: {
        memoryMb: 256,
        reservedConcurrency: 10,
        timeoutSeconds: 10,
        environment: {
          RELAY_WEBHOOK_SECRETS: JSON.stringify([{ sst: 'FlowtriqWebhookSecret', optional: false }]),
          RELAY_REPLAY_WINDOW_MS: '300000',
        },
      },
      worker: { memoryMb: 512, timeoutSeconds: 120, batchSize: 10 },
      sweeper: { memoryMb: 512, timeoutSeconds: 120, schedule: 'rate(1 minute)' },
      queue: { visibilityTimeoutSeconds: 720, maxReceives: 5, oldestAgeAlarmSeconds: 1440 },
    });
  });

  it('a device relay only for an enabled via: vpc integration, in the configured subnets and security groups', () => {
    write(
      'relay.config.yaml',
      [
        WEBHOOK_SST.trimEnd(),
        'integrations:',
        integration('fw\n    type: webhook\n    via: vpc\n    options: { url: "https://10.0.0.1/h" }\n    secrets: { signingSecret: { sst: FwSecret } }').trimEnd(),
        'aws:',
        '  vpc: { subnetIds: [subnet-0123456789abcdef0], securityGroupIds: [sg-0123456789abcdef0, sg-0123456789abcdef1] }',
        '',
      ].join('\n'),
    );
    expect(loadDeploymentConfig(root, {}).settings.deviceRelay).toEqual({
      subnetIds: ['subnet-0123456789abcdef0'],
      securityGroupIds: ['sg-0123456789abcdef0', 'sg-0123456789abcdef1'],
      memoryMb: 256,
      timeoutSeconds: 120,
    });
  });
});

describe('CA bundles', () => {
  function withCaFile(caFile: string): void {
    write(
      'config/relay.config.yaml',
      [
        WEBHOOK_SST.trimEnd(),
        'integrations:',
        integration(`fw\n    type: webhook\n    options: { url: "https://fw.example.com/h", caFile: "${caFile}" }\n    secrets: { signingSecret: { sst: FwSecret } }`).trimEnd(),
        '',
      ].join('\n'),
    );
  }
  const env = { RELAY_CONFIG: 'config/relay.config.yaml' };

  it('bundles a caFile relative to the config at the same path beside the bundled config', () => {
    write('config/certs/ca.pem', 'pem');
    withCaFile('certs/ca.pem');
    expect(loadDeploymentConfig(root, env).extraFiles).toEqual([{ from: 'config/certs/ca.pem', to: 'certs/ca.pem' }]);
  });

  it('refuses an absolute or escaping caFile, and a missing one', () => {
    withCaFile('/etc/ssl/ca.pem');
    expect(() => loadDeploymentConfig(root, env)).toThrow('"/etc/ssl/ca.pem" cannot be bundled into the Lambda package');
    withCaFile('../ca.pem');
    expect(() => loadDeploymentConfig(root, env)).toThrow('"../ca.pem" cannot be bundled');
    withCaFile('certs/missing.pem');
    expect(() => loadDeploymentConfig(root, env)).toThrow(/integrations\[0\]\.options\.caFile: .*missing\.pem does not exist/);
  });
});

describe('AWS integrations', () => {
  it('grants DescribeProtection on each configured protection id, and "*" only for the resourceless Shield calls', () => {
    // Prepare: protections named by id only.
    write(
      'relay.config.yaml',
      `${WEBHOOK_SST}integrations:\n${integration('shield\n    type: aws-shield\n    options: { protections: [a1b2c3d4-5678-90ab-cdef-000000000001, a1b2c3d4-5678-90ab-cdef-000000000002] }')}`,
    );
    // Act
    const { awsGrants } = loadDeploymentConfig(root, {});
    // Assess
    expect(awsGrants).toEqual([
      {
        actions: ['shield:DescribeProtection'],
        resources: ['arn:{partition}:shield::{account}:protection/a1b2c3d4-5678-90ab-cdef-000000000001', 'arn:{partition}:shield::{account}:protection/a1b2c3d4-5678-90ab-cdef-000000000002'],
      },
      { actions: [...RESOURCELESS_ACTIONS], resources: ['*'] },
    ]);
  });

  it('grants nothing for a disabled integration or one given keys of its own, and refuses an { env } key that is not Lambda\'s', () => {
    // Prepare
    write(
      'relay.config.yaml',
      [
        `${WEBHOOK_SST}integrations:`,
        integration('off\n    type: aws-waf-ipset\n    enabled: false\n    options: { region: eu-west-1, name: a, id: a1b2c3d4-5678-90ab-cdef-000000000002 }').trimEnd(),
        integration('keys\n    type: aws-waf-ipset\n    options: { region: eu-west-1, name: b, id: a1b2c3d4-5678-90ab-cdef-000000000003 }\n    secrets: { accessKeyId: { sst: PartnerKeyId }, secretAccessKey: { sst: PartnerSecret } }').trimEnd(),
        '',
      ].join('\n'),
    );
    // Act
    const loaded = loadDeploymentConfig(root, {});
    // Assess
    expect(loaded.awsGrants).toEqual([]);
    expect(loaded.secrets.map((s) => s.name).sort()).toEqual(['FlowtriqWebhookSecret', 'PartnerKeyId', 'PartnerSecret']);

    // Prepare: an operator's own variable has no source in Lambda.
    write(
      'relay.config.yaml',
      `${WEBHOOK_SST}integrations:\n${integration('mine\n    type: aws-waf-ipset\n    options: { region: eu-west-1, name: b, id: a1b2c3d4-5678-90ab-cdef-000000000003 }\n    secrets: { accessKeyId: { env: MY_KEY_ID }, secretAccessKey: { env: AWS_SECRET_ACCESS_KEY } }')}`,
    );
    // Act / Assess
    expect(() => loadDeploymentConfig(root, {})).toThrow(/integrations\[0\]\.secrets\.accessKeyId: \{ env: MY_KEY_ID \} has no source in AWS/);
  });

  it('fills in the stage\'s partition and account', () => {
    expect(resolveGrantResource('arn:{partition}:wafv2:eu-west-1:{account}:regional/ipset/a/b', { partition: 'aws-cn', account: '210987654321' })).toBe(
      'arn:aws-cn:wafv2:eu-west-1:210987654321:regional/ipset/a/b',
    );
  });
});

describe('host firewall integrations', () => {
  it('refuses nftables and ipset: a Lambda function protects no host', () => {
    // Prepare
    write('relay.config.yaml', `${WEBHOOK_SST}integrations:\n${integration('host\n    type: nftables')}${integration('old\n    type: ipset\n    enabled: false')}`);
    // Act / Assess: the enabled one is named, the disabled one is not.
    expect(() => loadDeploymentConfig(root, {})).toThrow(
      /integrations\[0\] \(host\): type nftables changes the firewall of the host the relay runs on, and a Lambda function protects no host; run it on a one-box relay/,
    );
    expect(() => loadDeploymentConfig(root, {})).not.toThrow(/integrations\[1\]/);
  });
});
