import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfiguration } from '../../lib/cli/config-check.ts';
import { rawIssues } from '../../lib/config/raw-checks.ts';
import { loadConfig } from '../../lib/config/load.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-check-'));
  dirs.push(dir);
  const file = join(dir, 'relay.config.yaml');
  writeFileSync(file, text);
  return file;
}
const check = (file: string, env: NodeJS.ProcessEnv, secrets = true) => checkConfiguration(() => loadConfig({ path: file }), env, { secrets });

const SECRETS_YAML = `webhook:
  secrets: [{ env: HOOK_SECRET }]
flowtriq:
  apiToken: { env: FT_TOKEN }
status:
  token: { env: STATUS_TOKEN }
integrations:
  - id: hook
    type: webhook
    options: { url: "https://example.com/x" }
    secrets: { signingSecret: { env: HOOK_SIGNING } }
  - id: rt
    type: routeros
    options: { url: "https://10.0.0.2" }
    secrets: { username: { env: RT_USER }, password: { env: RT_PASS } }
  - id: off
    type: routeros
    enabled: false
    options: { url: "https://10.0.0.2" }
    secrets: { username: { env: OFF_USER }, password: { env: OFF_PASS } }
`;

describe('check-config: every problem at once', () => {
  it('adds the checks the loader skips while another field is invalid (duplicate ids, never-block, via: vpc)', () => {
    // Prepare: a schema error (port) that makes zod skip the config-wide checks.
    const file = configFile(`server: { port: 99999 }
blocking: { neverBlock: ["not-an-ip"] }
integrations:
  - { id: a, type: dry-run }
  - { id: a, type: dry-run, via: vpc }
`);
    // Act
    const report = check(file, {});
    // Assess
    expect(report.valid).toBe(false);
    expect(report.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining(['server.port', 'blocking.neverBlock[0]', 'integrations[1].id', 'integrations[1].via']),
    );
    expect(report.issues.filter((issue) => issue.path === 'integrations[1].id')).toHaveLength(1);
  });

  it('finds nothing extra in a raw document the loader accepts', () => {
    // Act / Assess
    expect(rawIssues({ integrations: [{ id: 'a' }, { id: 'b' }], blocking: { neverBlock: ['10.0.0.0/8'] } })).toEqual([]);
  });
});

describe('check-config: secrets', () => {
  it('lists every unset secret of the webhook, the Flowtriq token and enabled integrations, and skips disabled ones', () => {
    // Prepare
    const file = configFile(SECRETS_YAML);
    // Act
    const report = check(file, { RT_USER: 'u' });
    // Assess
    expect(report.valid).toBe(false);
    expect(report.issues.map((issue) => issue.path)).toEqual([
      'webhook.secrets[0]',
      'flowtriq.apiToken',
      'status.token',
      'integrations[0].secrets.signingSecret',
      'integrations[1].secrets.password',
    ]);
    expect(report.issues[0]!.message).toBe('the environment variable HOOK_SECRET is not set or empty; set the environment variable HOOK_SECRET');
  });

  it('is valid when they are set, or with --skip-secrets; warns about a short webhook secret either way', () => {
    // Prepare
    const file = configFile(SECRETS_YAML);
    const all = { HOOK_SECRET: 'x', FT_TOKEN: 't', STATUS_TOKEN: 'st', HOOK_SIGNING: 's', RT_USER: 'u', RT_PASS: 'p' };
    // Act
    const withSecrets = check(file, all);
    const skipped = check(file, { HOOK_SECRET: 'x' }, false);
    // Assess
    expect(withSecrets).toMatchObject({ valid: true, issues: [] });
    expect(skipped).toMatchObject({ valid: true, issues: [], notes: ['secrets not checked (--skip-secrets)'] });
    for (const report of [withSecrets, skipped]) {
      expect(report.warnings).toEqual([expect.stringMatching(/^webhook\.secrets\[0\] \(\$HOOK_SECRET\) is 1 byte long/)]);
    }
  });

  it('reports an integration that cannot be built for another reason (an unreadable CA file)', () => {
    // Prepare
    const file = configFile(`webhook:
  secrets: [{ env: HOOK_SECRET }]
integrations:
  - id: hook
    type: webhook
    options: { url: "https://example.com/x", caFile: /nonexistent/ca.pem }
    secrets: { signingSecret: { env: HOOK_SIGNING } }
`);
    // Act
    const report = check(file, { HOOK_SECRET: 'h'.repeat(32), HOOK_SIGNING: 's' });
    // Assess
    expect(report.valid).toBe(false);
    expect(report.issues).toHaveLength(1);
    expect(report.issues[0]!.message).toMatch(/ca\.pem/);
  });
});
