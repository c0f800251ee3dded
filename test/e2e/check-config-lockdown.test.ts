/** `relay check-config` on lockdown configs that would lock the operator out, or let everyone in. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const RELAY = join(import.meta.dirname, '..', '..', 'bin', 'relay.mjs');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function checkConfig(integration: string) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-lockdown-check-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'relay.config.yaml'), `webhook: { secrets: [{ env: HOOK }] }\nintegrations:\n${integration}`);
  return spawnSync(process.execPath, [RELAY, 'check-config', '--skip-secrets'], { cwd: dir, encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOOK: 'x'.repeat(40) } });
}

describe('relay check-config on cloud firewall lockdowns', () => {
  it.each([
    ['digitalocean', '    options: { firewalls: ["bb4b2611-3d72-467b-8602-280330ecd65c"] }\n    secrets: { apiToken: { env: DO_TOKEN } }\n'],
    ['linode', '    options: { firewalls: [31337] }\n    secrets: { token: { env: LINODE_TOKEN } }\n'],
  ])('refuses a %s lockdown with no management allowance, saying how to add one', (type, rest) => {
    // Act
    const result = checkConfig(`  - id: lock\n    type: ${type}\n${rest}`);
    // Assess
    expect(result.status).toBe(2);
    expect(result.stderr + result.stdout).toMatch(/integrations\[0\]\.options\.management: is required: list the sources and ports you manage the servers from/);
  });

  it('refuses 0.0.0.0/0 and ::/0 as the management allowance, naming each and the fix', () => {
    // Act
    const result = checkConfig(
      '  - id: lock\n    type: linode\n    options:\n      firewalls: [31337]\n      management: [{ protocol: tcp, ports: 22, sources: ["0.0.0.0/0", "::/0"] }]\n    secrets: { token: { env: LINODE_TOKEN } }\n',
    );
    // Assess
    const output = result.stderr + result.stdout;
    expect(result.status).toBe(2);
    expect(output).toMatch(/integrations\[0\]\.options\.management\[0\]\.sources\[0\]: 0\.0\.0\.0\/0 allows the whole Internet in, which is no lockdown: list the addresses you manage from/);
    expect(output).toMatch(/integrations\[0\]\.options\.management\[0\]\.sources\[1\]: ::\/0 allows the whole Internet in/);
  });
});
