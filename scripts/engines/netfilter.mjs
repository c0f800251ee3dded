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
import { aptInstall, findBinary, isRoot, log, runWhenInvoked } from './apt.mjs';

export { findBinary };

/** Binary → the Debian package that provides it. */
export const NETFILTER_TOOLS = Object.freeze({
  nft: 'nftables',
  ipset: 'ipset',
  iptables: 'iptables',
  ip6tables: 'iptables',
  ip: 'iproute2',
});

export class NetfilterEnsureError extends Error {}



/** The Debian packages whose binaries are missing, deduplicated, in a stable order. */
export function missingPackages(find = findBinary) {
  const packages = [];
  for (const [binary, pkg] of Object.entries(NETFILTER_TOOLS)) {
    if (!find(binary) && !packages.includes(pkg)) packages.push(pkg);
  }
  return packages;
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
  aptInstall(missing, NetfilterEnsureError);
  const still = missingPackages();
  if (still.length > 0) {
    throw new NetfilterEnsureError(`installed ${missing.join(' ')} but the binaries of ${still.join(', ')} are still not found`);
  }
  log(`installed ${missing.join(', ')}`);
}

runWhenInvoked(import.meta.url, ensureNetfilter, NetfilterEnsureError);
