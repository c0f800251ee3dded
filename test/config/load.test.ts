import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/errors.ts';
import { CONFIG_FILENAMES, loadConfig, parseConfig, parseConfigText } from '../../lib/config/load.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory holding the given files. */
function workdir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs `act` and returns the ConfigError it throws (fails the test otherwise). */
function configError(act: () => unknown): ConfigError {
  try {
    act();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const WEBHOOK = `
integrations:
  - id: siem
    type: webhook
    options:
      url: https://hooks.example.com/relay
    secrets:
      signingSecret: { env: RELAY_WEBHOOK_SIGNING_SECRET }
`;

describe('loadConfig: finding the file', () => {
  it('reads a YAML file named with --config, relative to the working directory', () => {
    // Prepare
    const cwd = workdir({ 'custom.yaml': 'server:\n  port: 9001\n' });

    // Act
    const loaded = loadConfig({ cwd, path: 'custom.yaml' });

    // Assess
    expect(loaded.file).toBe(join(cwd, 'custom.yaml'));
    expect(loaded.config.server.port).toBe(9001);
  });

  it('reads a JSON file the same way', () => {
    // Prepare
    const cwd = workdir({ 'relay.json': JSON.stringify({ server: { port: 9002 }, retention: '2d' }) });

    // Act
    const loaded = loadConfig({ cwd, path: 'relay.json' });

    // Assess
    expect(loaded.config.server.port).toBe(9002);
    expect(loaded.config.retention).toBe(2 * 86_400_000);
  });

  it('discovers relay.config.yaml, then .yml, then .json in the working directory', () => {
    // Prepare
    const all = workdir({
      'relay.config.yaml': 'server: { port: 1001 }',
      'relay.config.yml': 'server: { port: 1002 }',
      'relay.config.json': '{"server": {"port": 1003}}',
    });
    const ymlAndJson = workdir({
      'relay.config.yml': 'server: { port: 1002 }',
      'relay.config.json': '{"server": {"port": 1003}}',
    });
    const jsonOnly = workdir({ 'relay.config.json': '{"server": {"port": 1003}}' });

    // Act
    const ports = [all, ymlAndJson, jsonOnly].map((cwd) => loadConfig({ cwd }).config.server.port);

    // Assess
    expect(CONFIG_FILENAMES).toEqual(['relay.config.yaml', 'relay.config.yml', 'relay.config.json']);
    expect(ports).toEqual([1001, 1002, 1003]);
  });

  it('prefers the --config file over a discovered one', () => {
    // Prepare
    const cwd = workdir({ 'relay.config.yaml': 'server: { port: 1001 }', 'other.yaml': 'server: { port: 1004 }' });

    // Act
    const loaded = loadConfig({ cwd, path: 'other.yaml' });

    // Assess
    expect(loaded.file).toBe(join(cwd, 'other.yaml'));
    expect(loaded.config.server.port).toBe(1004);
  });

  it('runs on the built-in defaults when no file is found', () => {
    // Prepare
    const cwd = workdir();

    // Act
    const loaded = loadConfig({ cwd });

    // Assess
    expect(loaded.file).toBeUndefined();
    expect(loaded.config.server).toEqual({
      host: '127.0.0.1',
      port: 8787,
      headersTimeout: 10_000,
      requestTimeout: 15_000,
      keepAliveTimeout: 5_000,
      maxConnections: 256,
    });
    expect(loaded.defaultedToDryRun).toBe(true);
  });

  it('fails with a ConfigError naming the file when the --config path does not exist', () => {
    // Prepare
    const cwd = workdir();

    // Act
    const error = configError(() => loadConfig({ cwd, path: 'missing.yaml' }));

    // Assess
    expect(error.file).toBe(join(cwd, 'missing.yaml'));
    expect(error.message).toContain(join(cwd, 'missing.yaml'));
    expect(error.issues).toEqual([{ path: '(file)', message: expect.stringMatching(/does not exist; check the --config path/) }]);
    expect(error.code).toBe('config_invalid');
  });

  it('reports a --config path that is a directory as a ConfigError naming it', () => {
    // Prepare
    const cwd = workdir();
    mkdirSync(join(cwd, 'relay.config.yaml'));

    // Act
    const error = configError(() => loadConfig({ cwd, path: 'relay.config.yaml' }));

    // Assess
    expect(error.file).toBe(join(cwd, 'relay.config.yaml'));
  });
});

describe('loadConfig: syntax', () => {
  it('reports a YAML syntax error by line and column', () => {
    // Prepare
    const cwd = workdir({ 'relay.config.yaml': 'server:\n  port: [1, 2\n' });

    // Act
    const error = configError(() => loadConfig({ cwd }));

    // Assess
    expect(error.file).toBe(join(cwd, 'relay.config.yaml'));
    expect(error.issues[0]?.path).toMatch(/^line \d+, column \d+$/);
  });

  it('rejects a tab used for indentation at the line where it is', () => {
    // Act
    const error = configError(() => parseConfigText('server:\n\tport: 1\n', 'relay.config.yaml'));

    // Assess
    expect(error.issues).toEqual([{ path: 'line 2, column 1', message: expect.stringMatching(/tab/i) }]);
  });

  it.each([
    ['YAML', 'server:\n  port: 1\n  port: 2\n', 'line 3, column 3'],
    ['JSON', '{"server": {"port": 1, "port": 2}}', 'line 1, column 24'],
  ])('rejects a duplicate key in %s instead of keeping the last one', (_kind, text, where) => {
    // Act
    const error = configError(() => parseConfigText(text, 'relay.config'));

    // Assess
    expect(error.issues).toEqual([{ path: where, message: expect.stringMatching(/already set above in the same mapping; keep one/) }]);
  });

  it('treats an empty file as all defaults', () => {
    // Prepare
    const cwd = workdir({ 'relay.config.yaml': '# nothing configured yet\n' });

    // Act
    const loaded = loadConfig({ cwd });

    // Assess
    expect(loaded.file).toBe(join(cwd, 'relay.config.yaml'));
    expect(loaded.config.blocking.minConfidence).toBe(80);
    expect(loaded.defaultedToDryRun).toBe(true);
  });

  it('rejects a file that is a list instead of a mapping', () => {
    // Act
    const error = configError(() => parseConfigText('- server\n', 'relay.config.yaml'));

    // Assess
    expect(error.issues).toEqual([{ path: '(top level)', message: expect.stringMatching(/expected object, received array/) }]);
  });

  it('treats a section left with no value (every line under it commented out) as absent', () => {
    // Act
    const config = parseConfigText('sweeper:\n  # interval: 30s\n', 'relay.config.yaml');

    // Assess
    expect(config.sweeper.interval).toBe(30_000);
  });
});

describe('loadConfig: every error names the path and the fix', () => {
  const hook = (options: string) => `
integrations:
  - id: siem
    type: webhook
    options: ${options}
    secrets:
      signingSecret: { env: RELAY_WEBHOOK_SIGNING_SECRET }
`;

  it.each<[string, string, string, RegExp]>([
    ['a webhook without url', hook('{}'), 'integrations[0].options.url', /absolute https:\/\/ URL/],
    ['an http:// webhook url', hook('{ url: "http://hooks.example.com/relay" }'), 'integrations[0].options.url', /set allowInsecureHttp: true only for loopback/],
    ['an unknown integration type', 'integrations:\n  - { id: fw, type: opnsense }\n', 'integrations[0].type', /unknown integration type; use one of: dry-run, webhook, pfsense, routeros/],
    ['an integration id with capitals', 'integrations:\n  - { id: Edge FW, type: dry-run }\n', 'integrations[0].id', /lower-case letters, digits/],
    ['a duration in words', 'webhook:\n  replayWindow: 5 minutes\n', 'webhook.replayWindow', /"5 minutes" is not a duration; write a number of seconds or e\.g\. "90s"/],
    ['a duration out of range', 'webhook:\n  replayWindow: 2h\n', 'webhook.replayWindow', /2h is out of range; use between 30s and 1h/],
    ['a TTL in seconds below the minimum', 'integrations:\n  - { id: a, type: dry-run, ttl: 30 }\n', 'integrations[0].ttl', /30s is out of range; use between 1m and 30d/],
    ['minConfidence 200', 'blocking:\n  minConfidence: 200\n', 'blocking.minConfidence', /<=100/],
    ['a neverBlock prefix longer than 32 bits', 'blocking:\n  neverBlock: [10.0.0.0/33]\n', 'blocking.neverBlock[0]', /"10\.0\.0\.0\/33" prefix length \/33 is out of range.*write an address or a prefix/],
    ['an unknown severity', 'integrations:\n  - { id: a, type: dry-run, match: { minSeverity: severe } }\n', 'integrations[0].match.minSeverity', /must be one of low, medium, high, critical/],
    ['an empty node list', 'integrations:\n  - { id: a, type: dry-run, match: { nodes: [] } }\n', 'integrations[0].match.nodes', /leave "nodes" out to match every node/],
    ['a secret that is not a variable name', 'webhook:\n  secrets: [{ env: 1SECRET }]\n', 'webhook.secrets[0].env', /environment variable name such as FLOWTRIQ_WEBHOOK_SECRET/],
    ['three webhook secrets', 'webhook:\n  secrets: [{ env: A }, { env: B }, { env: C }]\n', 'webhook.secrets', /at most two secrets \(current and next, for rotation\)/],
    ['no webhook secret', 'webhook:\n  secrets: []\n', 'webhook.secrets', /configure at least one webhook secret/],
    ['a headers timeout longer than the request timeout', 'server:\n  headersTimeout: 30s\n  requestTimeout: 20s\n', 'server.headersTimeout', /30s is longer than server\.requestTimeout \(20s\).*lower headersTimeout or raise requestTimeout/],
    ['a headers timeout longer than the default request timeout', 'server:\n  headersTimeout: 1m\n', 'server.headersTimeout', /1m is longer than server\.requestTimeout \(15s\)/],
    ['a headers timeout out of range', 'server:\n  headersTimeout: 5m\n', 'server.headersTimeout', /5m is out of range; use between 1s and 2m/],
    ['a request timeout below a second', 'server:\n  requestTimeout: 500ms\n', 'server.requestTimeout', /500ms is out of range; use between 1s and 10m/],
    ['a keep-alive timeout of 0 (Node would never close idle connections)', 'server:\n  keepAliveTimeout: 0\n', 'server.keepAliveTimeout', /0ms is out of range; use between 1s and 10m/],
    ['maxConnections 0', 'server:\n  maxConnections: 0\n', 'server.maxConnections', /use between 1 and 65535 connections/],
  ])('on %s', (_case, text, path, fix) => {
    // Act
    const error = configError(() => parseConfigText(text, '/srv/relay/relay.config.yaml'));

    // Assess
    expect(error.issues.map((issue) => issue.path)).toContain(path);
    expect(error.issues.find((issue) => issue.path === path)?.message).toMatch(fix);
    expect(error.message).toMatch(/^\/srv\/relay\/relay\.config\.yaml is invalid:\n {2}- /);
  });

  it('names both integrations when an id is used twice', () => {
    // Act
    const error = configError(() =>
      parseConfigText('integrations:\n  - { id: fw, type: dry-run }\n  - { id: fw, type: dry-run }\n', 'relay.config.yaml'),
    );

    // Assess
    expect(error.issues).toEqual([
      {
        path: 'integrations[1].id',
        message: 'duplicate id "fw" (also used by integrations[0]); give each integration its own id',
      },
    ]);
  });

  it('names an unknown top-level key', () => {
    // Act
    const error = configError(() => parseConfigText('serverr:\n  port: 1\n', 'relay.config.yaml'));

    // Assess
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.message).toContain('"serverr"');
  });

  it('puts an unknown key in the path and says how to fix it', () => {
    // Act
    const error = configError(() => parseConfigText('server:\n  hots: x\n', 'relay.config.yaml'));

    // Assess
    expect(error.issues[0]?.path).toBe('server.hots');
    expect(error.issues[0]?.message).toMatch(/host|remove/);
  });

  it('says which forms a secret reference may take', () => {
    // Act
    const error = configError(() => parseConfigText('webhook:\n  secrets: [FLOWTRIQ_WEBHOOK_SECRET]\n', 'relay.config.yaml'));

    // Assess
    expect(error.issues[0]?.message).toMatch(/env/);
  });

  it('reports every problem of the file at once', () => {
    // Act
    const error = configError(() =>
      parseConfigText('blocking:\n  minConfidence: 200\n  neverBlock: [10.0.0.0/8]\nsweeper:\n  interval: 2h\n', 'relay.config.yaml'),
    );

    // Assess
    expect(error.issues.map((issue) => issue.path)).toEqual(['blocking.minConfidence', 'sweeper.interval']);
  });
});

describe('loadConfig: defaults', () => {
  it('fills every default and turns durations into milliseconds', () => {
    // Act
    const config = parseConfig({ integrations: [{ id: 'dry', type: 'dry-run' }] });

    // Assess
    expect(config).toEqual({
      server: { host: '127.0.0.1', port: 8787, headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 5_000, maxConnections: 256 },
      webhook: { secrets: [{ env: 'FLOWTRIQ_WEBHOOK_SECRET', optional: false }], replayWindow: 300_000 },
      flowtriq: { baseUrl: 'https://flowtriq.com/api/v1', timeout: 5_000 },
      blocking: { minConfidence: 80, acceptUnscored: true, maxIpsPerIncident: 1000, neverBlock: [], protectNodeSubnet: false },
      storage: { dir: '.relay' },
      sweeper: { interval: 30_000, driftCheck: 300_000 },
      retention: 7 * 86_400_000,
      auditRetention: 30 * 86_400_000,
      status: { enabled: true },
      integrations: [{ id: 'dry', type: 'dry-run', enabled: true, match: {}, via: 'direct', ttl: 3_600_000, holdDown: 900_000, options: { kind: 'blocklist' } }],
      aws: { maxReceives: 5, webhook: { memory: 256, reservedConcurrency: 10 }, worker: { batchSize: 10, memory: 512, timeout: 120_000 } },
    });
  });

  it('fills the webhook integration defaults', () => {
    // Prepare
    const cwd = workdir({ 'relay.config.yaml': WEBHOOK });

    // Act
    const [integration] = loadConfig({ cwd }).config.integrations;

    // Assess
    expect(integration).toEqual({
      id: 'siem',
      type: 'webhook',
      enabled: true,
      match: {},
      via: 'direct',
      ttl: 3_600_000,
      options: { url: 'https://hooks.example.com/relay', allowInsecureHttp: false, timeout: 10_000, maxAttempts: 4 },
      secrets: { signingSecret: { env: 'RELAY_WEBHOOK_SIGNING_SECRET', optional: false } },
    });
  });

  it.each([
    [90, 90_000],
    [60.5, 60_500],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['30000ms', 30_000],
    [' 2m ', 120_000],
  ])('reads the duration %j as %i ms', (written, ms) => {
    // Act
    const config = parseConfig({ webhook: { replayWindow: written } });

    // Assess
    expect(config.webhook.replayWindow).toBe(ms);
  });
});

describe('loadConfig: the dry-run default', () => {
  it('adds one dry-run blocklist and flags it when the file configures no integration', () => {
    // Prepare
    const cwd = workdir({ 'relay.config.yaml': 'server:\n  port: 8788\n' });

    // Act
    const loaded = loadConfig({ cwd });

    // Assess
    expect(loaded.defaultedToDryRun).toBe(true);
    expect(loaded.config.integrations).toEqual([
      { id: 'dry-run', type: 'dry-run', enabled: true, match: {}, via: 'direct', ttl: 3_600_000, holdDown: 900_000, options: { kind: 'blocklist' } },
    ]);
  });

  it('keeps the configured integrations and does not flag them', () => {
    // Prepare
    const cwd = workdir({ 'relay.config.yaml': WEBHOOK });

    // Act
    const loaded = loadConfig({ cwd });

    // Assess
    expect(loaded.defaultedToDryRun).toBe(false);
    expect(loaded.config.integrations.map((integration) => integration.id)).toEqual(['siem']);
  });

  it('adds no dry-run default when integrations exist but are all disabled', () => {
    // Prepare
    const cwd = workdir({ 'relay.config.yaml': 'integrations:\n  - { id: off, type: dry-run, enabled: false }\n' });

    // Act
    const loaded = loadConfig({ cwd });

    // Assess
    expect(loaded.defaultedToDryRun).toBe(false);
    expect(loaded.config.integrations).toEqual([expect.objectContaining({ id: 'off', enabled: false })]);
  });
});

describe('loadConfig: device integrations', () => {
  it.each([
    ['pfsense', { apiVersion: 'v2', auth: 'apiKey' }, { apiKey: { env: 'K' } }],
    ['routeros', {}, { username: { env: 'U' }, password: { env: 'P' } }],
  ])('refuses a plain http:// %s URL unless allowInsecureHttp is set', (type, options, secrets) => {
    // Prepare
    const integration = (extra: Record<string, unknown>) => ({ integrations: [{ id: 'dev', type, options: { url: 'http://10.0.0.1', ...options, ...extra }, secrets }] });
    // Act
    const error = configError(() => parseConfig(integration({})));
    const allowed = parseConfig(integration({ allowInsecureHttp: true }));
    // Assess
    expect(error.issues).toEqual([{ path: 'integrations[0].options.url', message: expect.stringMatching(/must be https:\/\/; set allowInsecureHttp/) }]);
    expect(allowed.integrations[0]?.type).toBe(type);
  });
});

describe('loadConfig: AWS deployment settings', () => {
  it('requires aws.vpc when an integration is reached through the VPC relay', () => {
    // Act
    const error = configError(() =>
      parseConfig({
        integrations: [{ id: 'hook', type: 'webhook', via: 'vpc', options: { url: 'https://10.0.0.5/hook' }, secrets: { signingSecret: { env: 'S' } } }],
      }),
    );
    // Assess
    expect(error.issues).toEqual([{ path: 'integrations[0].via', message: expect.stringMatching(/aws\.vpc\.subnetIds/) }]);
  });

  it('refuses via: vpc on an integration that makes no HTTP requests', () => {
    // Act
    const error = configError(() =>
      parseConfig({
        aws: { vpc: { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] } },
        integrations: [{ id: 'dry', type: 'dry-run', via: 'vpc' }],
      }),
    );
    // Assess
    expect(error.issues).toEqual([{ path: 'integrations[0].via', message: expect.stringMatching(/use via: direct/) }]);
  });

  it('names malformed subnet and security group ids', () => {
    // Act
    const error = configError(() => parseConfig({ aws: { vpc: { subnetIds: ['subnet-xyz'], securityGroupIds: ['default'] } } }));
    // Assess
    expect(error.issues.map((issue) => issue.path)).toEqual(['aws.vpc.subnetIds[0]', 'aws.vpc.securityGroupIds[0]']);
  });
});

describe('parseConfig: every problem at once', () => {
  it('adds the config-wide checks zod skips while a field is invalid (duplicate ids, never-block, via: vpc), each once', () => {
    // Prepare: an invalid port makes zod skip the refinements.
    const value = {
      server: { port: 99_999 },
      blocking: { neverBlock: ['not-an-ip'] },
      integrations: [
        { id: 'a', type: 'dry-run' },
        { id: 'a', type: 'dry-run', via: 'vpc' },
      ],
    };
    // Act
    let issues: { path: string; message: string }[] = [];
    try {
      parseConfig(value);
    } catch (error) {
      issues = (error as ConfigError).issues;
    }
    // Assess
    expect([...new Set(issues.map((issue) => issue.path))].sort()).toEqual(['blocking.neverBlock[0]', 'integrations[1].id', 'integrations[1].via', 'server.port']);
    expect(new Set(issues.map((issue) => `${issue.path} ${issue.message}`)).size).toBe(issues.length);
  });
});
