/**
 * A real CrowdSec Local API for tests: the `crowdsec` binary of the Debian
 * package (install it with `node scripts/engines/crowdsec.mjs`), run as the
 * API only (`-no-cs -no-capi`: no agent, no central API) with a config, a
 * SQLite database and a port of its own on 127.0.0.1. The system's
 * /etc/crowdsec is only read (profiles, simulation), never written.
 *
 * Two machines are created with `cscli machines add … -f <file>` (always
 * `-f`: without it 1.4.x overwrites the system agent's credentials):
 * - the relay's (`machineId`/`password`),
 * - `operator`, whose credentials `cscli` itself uses, so
 *   `cscli decisions add` stands for an operator's own decision (origin
 *   `cscli`, another machine).
 * And one bouncer (`bouncerKey`), to read decisions the way a firewall
 * bouncer does (`GET /v1/decisions`, `X-Api-Key`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './engines.ts';

export interface BouncerDecision {
  id: number;
  origin: string;
  scenario: string;
  scope: string;
  type: string;
  value: string;
  duration: string;
}

export interface RunningLapi {
  /** `http://127.0.0.1:<port>` */
  url: string;
  machineId: string;
  password: string;
  bouncerKey: string;
  /** Runs cscli against this LAPI's config; throws with its output when it fails. */
  cscli(args: string[]): string;
  /** `cscli decisions add -i <ip> -d <duration> -R <reason>`: an operator's decision (origin cscli). */
  addOperatorDecision(ip: string, options?: { duration?: string; reason?: string }): void;
  /** What a bouncer sees: `GET /v1/decisions[?ip=…]` with the bouncer key. */
  bouncerDecisions(ip?: string): Promise<BouncerDecision[]>;
  /** Stops and starts the LAPI on the same port and database: every JWT it issued becomes invalid. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s), then removes its directory. */
  stop(): Promise<void>;
}

const BINARIES = ['crowdsec', 'cscli'] as const;
const SEARCH = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];

function which(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH]) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Whether crowdsec and cscli are installed; when not, why, and how to fix it. */
export function crowdsecAvailability(): { ok: true; crowdsec: string; cscli: string } | { ok: false; reason: string } {
  const found = BINARIES.map((name) => which(name));
  if (found[0] && found[1]) return { ok: true, crowdsec: found[0], cscli: found[1] };
  const missing = BINARIES.filter((_, index) => !found[index]).join(' and ');
  return { ok: false, reason: `${missing} not found: run \`node scripts/engines/crowdsec.mjs\` (as root; installs the Debian package crowdsec)` };
}

/** The first line of `crowdsec -version` (e.g. `version: v1.4.6-6~deb12u1+b1-debian`). */
export function crowdsecVersion(): string {
  const available = crowdsecAvailability();
  if (!available.ok) return 'absent';
  const result = spawnSync(available.crowdsec, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  const match = /version:\s*(\S+)/.exec(`${result.stdout}${result.stderr}`);
  return match?.[1] ?? 'unknown';
}

export interface StartLapiOptions {
  machineId?: string;
  password?: string;
  /** Give up waiting for /health after this long. */
  readyTimeoutMs?: number;
}

function configYaml(dir: string, port: number): string {
  return [
    'common: {daemonize: false, log_media: stdout, log_level: info, working_dir: .}',
    `config_paths: {config_dir: ${dir}/, data_dir: ${dir}/data/, simulation_path: /etc/crowdsec/simulation.yaml, hub_dir: /var/lib/crowdsec/hub/, index_path: /var/lib/crowdsec/hub/.index.json, notification_dir: /etc/crowdsec/notifications/, plugin_dir: /usr/lib/crowdsec/plugins/}`,
    'crowdsec_service: {acquisition_path: /etc/crowdsec/acquis.yaml}',
    `db_config: {type: sqlite, db_path: ${dir}/data/crowdsec.db, use_wal: true}`,
    'api:',
    `  client: {credentials_path: ${dir}/local_api_credentials.yaml}`,
    `  server: {listen_uri: 127.0.0.1:${port}, profiles_path: /etc/crowdsec/profiles.yaml, console_path: ${dir}/console.yaml, trusted_ips: [127.0.0.1, "::1"]}`,
    'prometheus: {enabled: false}',
    '',
  ].join('\n');
}

class LapiExitedError extends Error {}

/** Starts a LAPI on a free port (a few tries if the port is taken meanwhile) with the machines and bouncer above. */
export async function startCrowdsecLapi(options: StartLapiOptions = {}): Promise<RunningLapi> {
  const available = crowdsecAvailability();
  if (!available.ok) throw new Error(available.reason);
  const machineId = options.machineId ?? 'flowtriq-relay';
  const password = options.password ?? 'relay-Passw0rd-for-tests';
  const bouncerKey = 'testbouncerkey0123456789abcdef';
  const dir = mkdtempSync(join(tmpdir(), 'crowdsec-lapi-'));
  mkdirSync(join(dir, 'data'));
  const config = join(dir, 'config.yaml');

  const cscli = (args: string[]): string => {
    const result = spawnSync(available.cscli, ['-c', config, ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    if (result.error || result.status !== 0) {
      throw new Error(`cscli ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${`${result.stdout}${result.stderr}`.trim().slice(-800)}`);
    }
    return result.stdout;
  };

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let port = 0;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn(available.crowdsec, ['-c', config, '-no-cs', '-no-capi'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let gone = false;
    exited = new Promise<void>((resolveExit) => {
      proc.once('exit', () => {
        gone = true;
        resolveExit();
      });
      proc.once('error', (error) => {
        output += String(error);
        gone = true;
        resolveExit();
      });
    });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
    for (;;) {
      if (gone) throw new LapiExitedError(`crowdsec exited before it was ready: ${output.trim().slice(-800)}`);
      if (await healthy(`http://127.0.0.1:${port}`)) return;
      if (Date.now() > deadline) {
        await stopChild();
        throw new Error(`crowdsec LAPI did not answer /health on 127.0.0.1:${port} in time: ${output.trim().slice(-800)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stopChild = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      writeFileSync(config, configYaml(dir, port));
      if (attempt === 1) {
        cscli(['machines', 'add', 'operator', '--password', 'operator-Passw0rd', '-f', join(dir, 'local_api_credentials.yaml')]);
        cscli(['machines', 'add', machineId, '--password', password, '-f', join(dir, 'relay_credentials.yaml')]);
        cscli(['bouncers', 'add', 'test-bouncer', '-k', bouncerKey, '-o', 'raw']);
      } else {
        // The operator's credentials name the LAPI's URL: follow the new port.
        cscli(['machines', 'add', 'operator', '--password', 'operator-Passw0rd', '--force', '-f', join(dir, 'local_api_credentials.yaml')]);
      }
      try {
        await launch();
        break;
      } catch (error) {
        if (!(error instanceof LapiExitedError) || attempt >= 3) throw error;
      }
    }
  } catch (error) {
    process.removeListener('exit', killOnExit);
    await stopChild();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    machineId,
    password,
    bouncerKey,
    cscli,
    addOperatorDecision(ip, decision = {}) {
      cscli(['decisions', 'add', '-i', ip, '-d', decision.duration ?? '4h', '-R', decision.reason ?? 'operator ban']);
    },
    async bouncerDecisions(ip) {
      const response = await fetch(`${url}/v1/decisions${ip ? `?ip=${encodeURIComponent(ip)}` : ''}`, {
        headers: { 'X-Api-Key': bouncerKey, 'User-Agent': 'test-bouncer/1.0' },
        signal: AbortSignal.timeout(5_000),
      });
      if (response.status !== 200) throw new Error(`GET /v1/decisions answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as BouncerDecision[] | null) ?? [];
    },
    async restart() {
      await stopChild();
      await launch();
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}
