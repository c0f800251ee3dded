/**
 * The `relay` command as a new user meets it, run as a subprocess
 * (node bin/relay.mjs): one-line errors with the fix and the right exit
 * status, help for every command, send-test against a relay this test
 * starts on port 0, check-config, sweep and drain summaries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { maxSampleIps } from '../../lib/cli/commands/send-test.ts';
import { sampleIps } from '../../lib/cli/sample-event.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';

const RELAY = join(import.meta.dirname, '..', '..', 'bin', 'relay.mjs');
const SECRET = 'a'.repeat(64);
const COMMANDS = ['start', 'send-test', 'status', 'sweep', 'drain', 'test', 'activate', 'withdraw', 'check-config'];

const children: ChildProcess[] = [];
const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const server of servers.splice(0)) await new Promise((done) => server.close(done));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-cli-e2e-'));
  dirs.push(dir);
  return dir;
}

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of ['FLOWTRIQ_WEBHOOK_SECRET', 'RELAY_CONFIG', 'RELAY_LOG_LEVEL', 'RELAY_DEBUG']) if (!(name in extra)) delete env[name];
  return env;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking this process (a relay started here must answer it). */
function relay(cwd: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [RELAY, ...args], { cwd, env, timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/** `relay start --port 0` in `cwd`; resolves with its webhook URL and banner once it listens. */
async function startRelay(cwd: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; webhookUrl: string; banner: () => string }> {
  const child = spawn(process.execPath, [RELAY, 'start', '--port', '0'], { cwd, env });
  children.push(child);
  let stderr = '';
  child.stdout!.resume();
  const webhookUrl = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${stderr}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /webhook URL:\s+(\S+)[\s\S]*send a test/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}:\n${stderr}`));
    });
  });
  return { child, webhookUrl, banner: () => stderr };
}

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, port: (server.address() as { port: number }).port };
}

async function closedPort(): Promise<number> {
  const { server, port } = await listening();
  servers.splice(servers.indexOf(server), 1);
  await new Promise((done) => server.close(done));
  return port;
}

/** One line on stderr, starting "relay: ", and no Node stack. */
function expectOneLineError(run: Run, status: number): string {
  expect(run.status, run.stderr).toBe(status);
  expect(run.stderr).toMatch(/^relay: [^\n]+\n$/);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return run.stderr;
}

describe('relay CLI: usage errors', () => {
  it('refuses an unknown option, an unknown command and bad values in one line with the fix, exit 2', async () => {
    // Prepare
    const cwd = tempDir();
    // Act
    const [option, command, elsewhere, ips, port, wait] = await Promise.all([
      relay(cwd, ['send-test', '--ipz', '5']),
      relay(cwd, ['stauts']),
      relay(cwd, ['send-test', '--json']),
      relay(cwd, ['send-test', '--ips', 'abc']),
      relay(cwd, ['start', '--port', '70000']),
      relay(cwd, ['send-test', '--wait']),
    ]);
    // Assess
    expect(expectOneLineError(option, 2)).toContain('unknown option --ipz for relay send-test; did you mean --ips?');
    expect(expectOneLineError(command, 2)).toContain('unknown command "stauts"; did you mean "relay status"?');
    expect(expectOneLineError(elsewhere, 2)).toContain('--json is an option of relay status, relay history, relay sweep, relay drain, not of relay send-test');
    expect(expectOneLineError(ips, 2)).toMatch(/--ips abc: give a whole number from 1 to \d+/);
    expect(expectOneLineError(port, 2)).toContain('--port 70000: give a whole number from 0 to 65535');
    expect(expectOneLineError(wait, 2)).toContain('--wait needs a value');
  }, 60_000);

  it('explains every command with --help and -h (options, defaults, an example); relay --help lists them all', async () => {
    // Prepare
    const cwd = tempDir();
    // Act
    const [main, ...helps] = await Promise.all([
      relay(cwd, ['--help']),
      ...COMMANDS.map((command, index) => relay(cwd, [command, index % 2 === 0 ? '--help' : '-h'])),
    ]);
    // Assess
    expect(main!.status).toBe(0);
    for (const command of COMMANDS) expect(main!.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    helps.forEach((help, index) => {
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: relay ${COMMANDS[index]}\\b`));
      expect(help.stdout).toContain('Options:');
      expect(help.stdout).toContain('--config <file>');
      expect(help.stdout).toMatch(new RegExp(`Examples?:\\n  relay ${COMMANDS[index]}`));
    });
    const sendTest = helps[COMMANDS.indexOf('send-test')]!.stdout;
    expect(sendTest).toMatch(/--ips <n> .*at most \d+.*\(default: 20\)/);
    expect(sendTest).toMatch(/--wait <seconds> .*\(default: 2\)/);
  }, 60_000);
});

describe('relay start', () => {
  it('names a busy port and suggests --port, exit 1, no stack', async () => {
    // Prepare
    const cwd = tempDir();
    const { port } = await listening();
    // Act
    const result = await relay(cwd, ['start', '--port', String(port)], cleanEnv({ FLOWTRIQ_WEBHOOK_SECRET: SECRET }));
    // Assess
    const message = expectOneLineError({ ...result, stderr: result.stderr.split('\n').filter((line) => line.startsWith('relay:')).join('\n') + '\n' }, 1);
    expect(message).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(message).toContain(`--port ${port + 1}`);
    expect(message).toContain('--port 0');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('warns once about a webhook secret shorter than 32 bytes', async () => {
    // Prepare
    const cwd = tempDir();
    // Act
    const running = await startRelay(cwd, cleanEnv({ FLOWTRIQ_WEBHOOK_SECRET: 'x' }));
    // Assess
    const warnings = running.banner().match(/WARNING: .*is 1 byte long; use at least 32 random bytes/g) ?? [];
    expect(warnings).toHaveLength(1);
  }, 30_000);
});

describe('relay send-test', () => {
  it('finds a relay started with --port 0 from the same directory, signs with its secret, and succeeds on two 202s', async () => {
    // Prepare: no config and no variable: the relay makes its own secret.
    const cwd = tempDir();
    const running = await startRelay(cwd, cleanEnv());
    // Act
    const sent = await relay(cwd, ['send-test', '--ips', '3', '--wait', '0.2']);
    // Assess
    expect(sent.status, sent.stderr).toBe(0);
    expect(sent.stdout).toContain(`→ ${running.webhookUrl}`);
    expect(sent.stdout).toMatch(/attack_start: HTTP 202/);
    expect(sent.stdout).toMatch(/attack_end: HTTP 202/);
    expect(sent.stdout).toMatch(/^done: both events accepted/m);
  }, 60_000);

  it('says no relay answers at the URL, and how to start one, exit 1', async () => {
    // Prepare
    const cwd = tempDir();
    const port = await closedPort();
    writeFileSync(join(cwd, 'relay.config.yaml'), `server:\n  port: ${port}\nwebhook:\n  secrets: [{ env: HOOK_SECRET }]\n`);
    // Act
    const result = await relay(cwd, ['send-test'], cleanEnv({ HOOK_SECRET: SECRET }));
    // Assess
    const message = expectOneLineError(result, 1);
    expect(message).toContain(`no relay answers at http://127.0.0.1:${port}/webhooks/flowtriq`);
    expect(message).toContain('relay start');
    expect(message).toContain('--url');
    expect(message).not.toContain('fetch failed');
  }, 30_000);

  it('refuses without a secret, naming the variable, and makes none', async () => {
    // Prepare
    const cwd = tempDir();
    // Act
    const result = await relay(cwd, ['send-test']);
    // Assess
    expect(expectOneLineError(result, 2)).toContain('Set FLOWTRIQ_WEBHOOK_SECRET to the secret the relay uses');
    expect(existsSync(join(cwd, '.relay', 'webhook-secret'))).toBe(false);
  }, 30_000);

  it('reports a refused event with its status and error, exit 1, and no "done"', async () => {
    // Prepare: the relay verifies with one secret, send-test signs with another.
    const cwd = tempDir();
    const running = await startRelay(cwd, cleanEnv({ FLOWTRIQ_WEBHOOK_SECRET: SECRET }));
    // Act
    const result = await relay(cwd, ['send-test', '--wait', '0'], cleanEnv({ FLOWTRIQ_WEBHOOK_SECRET: 'b'.repeat(64) }));
    // Assess
    const message = expectOneLineError(result, 1);
    expect(message).toContain(`attack_start to ${running.webhookUrl}: HTTP 401 signature_mismatch: signature does not match the body`);
    expect(message).toContain('the relay verifies with $FLOWTRIQ_WEBHOOK_SECRET');
    expect(result.stdout).not.toMatch(/attack_end|done/);
  }, 60_000);

  it('refuses an --ips larger than fits the 256 KiB body limit, giving the largest, which the relay accepts', async () => {
    // Prepare
    const cwd = tempDir();
    const max = maxSampleIps();
    await startRelay(cwd, cleanEnv({ FLOWTRIQ_WEBHOOK_SECRET: SECRET }));
    const env = cleanEnv({ FLOWTRIQ_WEBHOOK_SECRET: SECRET });
    // Act
    const tooMany = await relay(cwd, ['send-test', '--ips', '10000'], env);
    const largest = await relay(cwd, ['send-test', '--ips', String(max), '--wait', '0'], env);
    // Assess
    expect(expectOneLineError(tooMany, 2)).toContain(`--ips 10000: give a whole number from 1 to ${max}`);
    expect(largest.status, largest.stderr).toBe(0);
    expect(largest.stdout).toMatch(/attack_start: HTTP 202/);
    expect(largest.stdout).toMatch(/attack_end: HTTP 202/);
  }, 60_000);
});

describe('relay check-config', () => {
  it('lists every problem at once, exit 2', async () => {
    // Prepare: a field error (zod then skips the config-wide checks) plus a duplicate id and a bad never-block entry.
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'relay.config.yaml'),
      'server: { port: 99999 }\nblocking: { neverBlock: ["nope"] }\nintegrations:\n  - { id: a, type: dry-run }\n  - { id: a, type: dry-run }\n',
    );
    // Act
    const result = await relay(cwd, ['check-config'], cleanEnv({ FLOWTRIQ_WEBHOOK_SECRET: SECRET }));
    // Assess
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('server.port');
    expect(result.stderr).toContain('blocking.neverBlock[0]');
    expect(result.stderr).toContain('integrations[1].id: duplicate id "a"');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('calls a file with unset secrets invalid (unless --skip-secrets), and warns about a short webhook secret', async () => {
    // Prepare
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'relay.config.yaml'),
      'webhook:\n  secrets: [{ env: HOOK_SECRET }]\nintegrations:\n  - id: hook\n    type: webhook\n    options: { url: "https://example.com/x" }\n    secrets: { signingSecret: { env: HOOK_SIGNING } }\n',
    );
    // Act
    const unset = await relay(cwd, ['check-config']);
    const skipped = await relay(cwd, ['check-config', '--skip-secrets']);
    const short = await relay(cwd, ['check-config'], cleanEnv({ HOOK_SECRET: 'x', HOOK_SIGNING: 's' }));
    // Assess
    expect(unset.status).toBe(2);
    expect(unset.stderr).toContain('webhook.secrets[0]: the environment variable HOOK_SECRET is not set');
    expect(unset.stderr).toContain('integrations[0].secrets.signingSecret: the environment variable HOOK_SIGNING is not set');
    expect(skipped.status, skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/: valid\n/);
    expect(short.status, short.stderr).toBe(0);
    expect(short.stderr).toMatch(/^warning: webhook\.secrets\[0\] \(\$HOOK_SECRET\) is 1 byte long/m);
  }, 30_000);
});

describe('relay sweep and drain', () => {
  async function dueBlocks(cwd: string, count: number) {
    const store = SqliteStateStore.open(join(cwd, '.relay', 'state.db'));
    const now = Date.now();
    await store.putIncident({ uuid: 'inc-1', status: 'active', lastEventAt: now, lastEventType: 'attack_start', firstSeenAt: now, updatedAt: now });
    await store.hold(
      Array.from({ length: count }, (_, index) => ({ integration: 'dry-run', key: sampleIps(count)[index]!, kind: 'ip' as const, incident: 'inc-1', expiresAt: now + 3_600_000 })),
      now - 1,
    );
    await store.close();
  }

  it('sweep prints a readable summary (no JSON among it), and the JSON with --json', async () => {
    // Prepare: three blocks due for adding on the default dry-run integration.
    const cwd = tempDir();
    (await import('node:fs')).mkdirSync(join(cwd, '.relay'));
    await dueBlocks(cwd, 3);
    // Act
    const readable = await relay(cwd, ['sweep']);
    const json = await relay(cwd, ['sweep', '--json']);
    // Assess
    expect(readable.status, readable.stderr).toBe(0);
    expect(readable.stdout).toBe('sweep: added 3, removed 0, failed 0\n  dry-run: added 3, removed 0, failed 0\n');
    expect(readable.stderr).toBe('');
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ integrations: [], errors: [] });
  }, 30_000);

  it('drain prints what it ended and removed per integration', async () => {
    // Prepare
    const cwd = tempDir();
    (await import('node:fs')).mkdirSync(join(cwd, '.relay'));
    await dueBlocks(cwd, 4);
    await relay(cwd, ['sweep']);
    // Act
    const drained = await relay(cwd, ['drain']);
    // Assess
    expect(drained.status, drained.stderr).toBe(0);
    expect(drained.stdout).toBe(
      'ended 1 active incident(s); their blocks are released\n  dry-run: added 0, removed 4, failed 0\nremoved 4; 0 block(s) left\n',
    );
  }, 30_000);
});
