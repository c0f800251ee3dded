/**
 * What the engine scripts share: their log line, the root check, installing
 * Debian packages with apt-get (install; if that fails, `apt-get update` and
 * one more try), finding a binary, and running a script directly.
 *
 * Plain JavaScript without dependencies (runs on Node 20 or 24).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function log(message) {
  process.stdout.write(`[engines] ${message}\n`);
}

export function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Runs a command with the console attached and a non-interactive apt. */
export function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { status: result.status, error: result.error };
}

/** Where a binary is: on PATH or in the given directories; undefined when nowhere. */
export function findBinary(name, extraDirs = ['/usr/sbin', '/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extraDirs]) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * `apt-get install -y --no-install-recommends <packages>`; when it fails,
 * `apt-get update` and one more try. Failures throw `new ErrorClass(message)`.
 */
export function aptInstall(packages, ErrorClass) {
  const install = () => run('apt-get', ['install', '-y', '--no-install-recommends', ...packages]);
  log(`running: apt-get install -y --no-install-recommends ${packages.join(' ')}`);
  let result = install();
  if (result.error || result.status !== 0) {
    log('install failed; running: apt-get update, then trying once more');
    const update = run('apt-get', ['update']);
    if (update.error || update.status !== 0) {
      throw new ErrorClass(`apt-get update failed (${update.error?.message ?? `exit ${update.status}`})`);
    }
    result = install();
  }
  if (result.error || result.status !== 0) {
    throw new ErrorClass(`apt-get install ${packages.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
}

/**
 * Runs `ensure` when the module at `moduleUrl` is the script node was
 * started with; an `ErrorClass` failure prints its message only, anything
 * else its stack, and exits 1.
 */
export function runWhenInvoked(moduleUrl, ensure, ErrorClass) {
  if (!process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  try {
    ensure();
  } catch (error) {
    process.stderr.write(`[engines] ${error instanceof ErrorClass ? error.message : error?.stack ?? error}\n`);
    process.exit(1);
  }
}
