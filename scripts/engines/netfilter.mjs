#!/usr/bin/env node
/**
 * Makes sure the host firewall tools the `nftables` and `ipset` integration
 * tests need are installed: `nft` (Debian package `nftables`), `ipset`
 * (`ipset`), `iptables`/`ip6tables` (`iptables`, for the ipset drop-rule
 * proof) and `ip` (`iproute2`, for network namespaces and veth pairs).
 * Idempotent: does nothing when every binary is already there.
 *
 * Installing needs root and apt-get against the distribution's archive (as
 * non-root it only warns, unless CI=true: the tests skip without root). The
 * packages only install the tools: no service is started and no rule of the
 * machine is changed (the tests work inside network namespaces of their own).
 *
 * Plain JavaScript without dependencies so that it runs on Node 20 or 24
 * before anything else. Usage: `node scripts/engines/netfilter.mjs`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Binary → the Debian package that provides it. */
export const NETFILTER_TOOLS = Object.freeze({
  nft: 'nftables',
  ipset: 'ipset',
  iptables: 'iptables',
  ip6tables: 'iptables',
  ip: 'iproute2',
});

function log(message) {
  process.stdout.write(`[engines] ${message}\n`);
}

export class NetfilterEnsureError extends Error {}

function run(command, args, { capture = false } = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

/** Absolute path of `name` on PATH (or in the sbin folders, often missing from a non-login PATH), or undefined. */
export function findBinary(name) {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const candidate = resolve(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The Debian packages whose binaries are missing, deduplicated, in a stable order. */
export function missingPackages(find = findBinary) {
  const packages = [];
  for (const [binary, pkg] of Object.entries(NETFILTER_TOOLS)) {
    if (!find(binary) && !packages.includes(pkg)) packages.push(pkg);
  }
  return packages;
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function aptInstall(packages) {
  return run('apt-get', ['install', '-y', '--no-install-recommends', ...packages]);
}

/** Installs whatever of nftables, ipset, iptables and iproute2 is missing. */
export function ensureNetfilter() {
  const missing = missingPackages();
  if (missing.length === 0) {
    log('nft, ipset, iptables, ip6tables and ip found');
    return;
  }
  log(`missing: ${missing.join(', ')}`);
  if (!isRoot()) {
    const message =
      `the host firewall tests need ${missing.join(', ')} and installing them needs root. ` +
      `Install them yourself (\`sudo apt-get install -y --no-install-recommends ${missing.join(' ')}\`) and re-run.`;
    // Outside CI those tests skip when not run as root anyway; in CI they must run.
    if (process.env.CI !== 'true' && process.env.CI !== '1') {
      log(`warning: ${message}`);
      return;
    }
    throw new NetfilterEnsureError(message);
  }
  log(`running: apt-get install -y --no-install-recommends ${missing.join(' ')}`);
  let install = aptInstall(missing);
  if (install.error || install.status !== 0) {
    log('install failed; running: apt-get update, then trying once more');
    const update = run('apt-get', ['update']);
    if (update.error || update.status !== 0) {
      throw new NetfilterEnsureError(`apt-get update failed (${update.error?.message ?? `exit ${update.status}`})`);
    }
    install = aptInstall(missing);
  }
  if (install.error || install.status !== 0) {
    throw new NetfilterEnsureError(`apt-get install ${missing.join(' ')} failed (${install.error?.message ?? `exit ${install.status}`})`);
  }
  const still = missingPackages();
  if (still.length > 0) {
    throw new NetfilterEnsureError(`installed ${missing.join(' ')} but the binaries of ${still.join(', ')} are still not found`);
  }
  log(`installed ${missing.join(', ')}`);
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    ensureNetfilter();
  } catch (error) {
    process.stderr.write(`[engines] ${error instanceof NetfilterEnsureError ? error.message : error?.stack ?? error}\n`);
    process.exit(1);
  }
}
