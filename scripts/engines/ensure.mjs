#!/usr/bin/env node
/**
 * Makes sure the local engines the test suite needs are installed.
 * Idempotent: does nothing when everything is already in place.
 *
 * - Java 17+ (for DynamoDB Local): installed with apt-get when missing or too
 *   old (needs root).
 * - DynamoDB Local: the official emulator, taken from the `emulator/` folder
 *   of the npm package `amplify-dynamodb-simulator` (`npm pack`, then only
 *   that folder is extracted) into `.engines/dynamodb-local/`.
 * - CrowdSec (its Local API, for the real-LAPI tests): the Debian package,
 *   installed without registering with the central API (./crowdsec.mjs).
 * - nft, ipset, iptables and ip (the host-firewall tests in network
 *   namespaces): Debian packages (./netfilter.mjs).
 * - Chromium (the status page's browser test): the Debian package
 *   `chromium` (./chromium.mjs); driven by playwright-core, never downloaded.
 *
 * Plain JavaScript without dependencies so that it runs on Node 20 or 24
 * before anything else. Usage: `node scripts/engines/ensure.mjs`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CrowdsecEnsureError, ensureCrowdsec } from './crowdsec.mjs';
import { ensureNetfilter, NetfilterEnsureError } from './netfilter.mjs';
import { ChromiumEnsureError, ensureChromium } from './chromium.mjs';

/** Repository root (two levels above this file). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where DynamoDB Local lives once installed. */
export const DYNAMODB_LOCAL_DIR = join(ROOT, '.engines', 'dynamodb-local');
/** The jar whose presence means DynamoDB Local is installed. */
export const DYNAMODB_LOCAL_JAR = join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal.jar');

const SIMULATOR_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
const MIN_JAVA = 17;
const JAVA_PACKAGE = 'openjdk-17-jre-headless';

function log(message) {
  process.stdout.write(`[engines] ${message}\n`);
}

class EnsureError extends Error {}

/**
 * Runs a command, inheriting stdio unless `capture` is set.
 * @returns {{ status: number | null, stdout: string, stderr: string, error?: Error }}
 */
function run(command, args, { capture = false, cwd = ROOT } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

/**
 * The major version of `java` on PATH, or undefined when there is none.
 * Understands both `1.8.0_x` and `17.0.15` styles.
 */
export function javaMajorVersion() {
  const result = run('java', ['-version'], { capture: true });
  if (result.error || result.status !== 0) return undefined;
  return parseJavaMajor(`${result.stderr}\n${result.stdout}`);
}

/** Parses the major version out of `java -version` output. */
export function parseJavaMajor(output) {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output) ?? /openjdk (\d+)(?:\.(\d+))?/i.exec(output);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] ? Number(match[2]) : first;
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function ensureJava() {
  const major = javaMajorVersion();
  if (major !== undefined && major >= MIN_JAVA) {
    log(`java ${major} found`);
    return;
  }
  log(major === undefined ? 'java not found' : `java ${major} is older than ${MIN_JAVA}`);
  if (!isRoot()) {
    throw new EnsureError(
      `Java ${MIN_JAVA}+ is needed for DynamoDB Local and installing it needs root. ` +
        `Install it yourself (e.g. \`sudo apt-get install -y --no-install-recommends ${JAVA_PACKAGE}\`) and re-run.`,
    );
  }
  log('running: apt-get update');
  const update = run('apt-get', ['update']);
  if (update.error || update.status !== 0) throw new EnsureError(`apt-get update failed (${update.error?.message ?? `exit ${update.status}`})`);
  log(`running: apt-get install -y --no-install-recommends ${JAVA_PACKAGE}`);
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', JAVA_PACKAGE], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (install.error || install.status !== 0) {
    throw new EnsureError(`apt-get install ${JAVA_PACKAGE} failed (${install.error?.message ?? `exit ${install.status}`})`);
  }
  const after = javaMajorVersion();
  if (after === undefined || after < MIN_JAVA) {
    throw new EnsureError(`installed ${JAVA_PACKAGE} but \`java -version\` still reports ${after ?? 'nothing'}; check PATH / update-alternatives`);
  }
  log(`java ${after} installed`);
}

function ensureDynamoDbLocal() {
  if (existsSync(DYNAMODB_LOCAL_JAR)) {
    log(`DynamoDB Local found in ${DYNAMODB_LOCAL_DIR}`);
    return;
  }
  const enginesDir = dirname(DYNAMODB_LOCAL_DIR);
  mkdirSync(enginesDir, { recursive: true });
  // Work inside .engines/ so the final move is a same-filesystem rename.
  const work = mkdtempSync(join(enginesDir, '.download-'));
  try {
    log(`downloading ${SIMULATOR_PACKAGE} with npm pack (about 57 MB)`);
    const pack = run('npm', ['pack', SIMULATOR_PACKAGE, '--pack-destination', work, '--silent'], { capture: true });
    if (pack.error || pack.status !== 0) {
      throw new EnsureError(`npm pack ${SIMULATOR_PACKAGE} failed (${pack.error?.message ?? `exit ${pack.status}`}): ${pack.stderr.trim()}`);
    }
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new EnsureError(`npm pack ${SIMULATOR_PACKAGE} produced no tarball`);
    log('extracting package/emulator');
    const tar = run('tar', ['xzf', tarball, 'package/emulator'], { capture: true, cwd: work });
    if (tar.error || tar.status !== 0) {
      throw new EnsureError(`tar failed to extract package/emulator (${tar.error?.message ?? `exit ${tar.status}`}): ${tar.stderr.trim()}`);
    }
    const emulator = join(work, 'package', 'emulator');
    if (!existsSync(join(emulator, 'DynamoDBLocal.jar'))) {
      throw new EnsureError(`${SIMULATOR_PACKAGE} has no emulator/DynamoDBLocal.jar`);
    }
    if (existsSync(DYNAMODB_LOCAL_JAR)) {
      log('DynamoDB Local was installed meanwhile by another run');
      return;
    }
    rmSync(DYNAMODB_LOCAL_DIR, { recursive: true, force: true }); // a partial earlier attempt
    renameSync(emulator, DYNAMODB_LOCAL_DIR);
    log(`DynamoDB Local installed in ${DYNAMODB_LOCAL_DIR}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Ensures Java, DynamoDB Local, CrowdSec, the netfilter tools and Chromium; throws an *EnsureError with a readable message. */
export function ensureEngines() {
  ensureJava();
  ensureDynamoDbLocal();
  ensureCrowdsec();
  ensureNetfilter();
  ensureChromium();
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    ensureEngines();
  } catch (error) {
    const readable = error instanceof EnsureError || error instanceof CrowdsecEnsureError || error instanceof NetfilterEnsureError || error instanceof ChromiumEnsureError;
    process.stderr.write(`[engines] ${readable ? error.message : error?.stack ?? error}\n`);
    process.exit(1);
  }
}
