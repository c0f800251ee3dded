#!/usr/bin/env node
/**
 * Makes sure a Chromium browser is installed, for the status-page test that
 * drives a real browser (test/e2e/status-page.test.ts, through
 * playwright-core, which never downloads a browser itself). Idempotent: does
 * nothing when a `chromium` or `chromium-browser` binary is already there.
 *
 * Installing needs root and apt-get against the distribution's archive (the
 * Debian package `chromium`). Without root it only warns (the browser test
 * then skips), unless CI=true, where it fails: CI must run that test.
 *
 * Plain JavaScript without dependencies so that it runs on Node 20 or 24
 * before anything else. Usage: `node scripts/engines/chromium.mjs`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { aptInstall, isRoot, log, runWhenInvoked } from './apt.mjs';

/** The Debian package that provides /usr/bin/chromium. */
export const CHROMIUM_PACKAGE = 'chromium';
/** Binary names tried, in order, on PATH and in the usual directories. */
export const CHROMIUM_BINARIES = ['chromium', 'chromium-browser'];

export class ChromiumEnsureError extends Error {}

/** Absolute path of the first Chromium binary found on PATH (or in /usr/bin, /usr/local/bin, /snap/bin), or undefined. */
export function findChromium() {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/local/bin', '/snap/bin'];
  for (const name of CHROMIUM_BINARIES) {
    for (const dir of dirs) {
      const candidate = resolve(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/** What `chromium --version` prints (e.g. `Chromium 150.0.7871.100 built on Debian …`), or undefined. */
export function chromiumVersion(binary = findChromium()) {
  if (!binary) return undefined;
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
  if (result.error || result.status !== 0) return undefined;
  const line = (result.stdout ?? '').trim().split('\n')[0];
  return line || 'unknown';
}




/** Installs the `chromium` package unless a Chromium binary is present. */
export function ensureChromium() {
  const found = findChromium();
  if (found) {
    log(`chromium found at ${found} (${chromiumVersion(found) ?? 'version unknown'})`);
    return;
  }
  log('chromium not found');
  if (!isRoot()) {
    if (process.env.CI !== 'true') {
      // Outside CI the browser test skips with a message; do not stop the whole run.
      log('not root: not installing chromium; the status-page browser test will be skipped (CI=true makes this an error)');
      return;
    }
    throw new ChromiumEnsureError(
      'Chromium is needed for the status-page browser test and installing it needs root. Install it yourself: ' +
        `\`sudo apt-get install -y --no-install-recommends ${CHROMIUM_PACKAGE}\` (or put a \`chromium\` binary on PATH), and re-run.`,
    );
  }
  aptInstall([CHROMIUM_PACKAGE], ChromiumEnsureError);
  const installed = findChromium();
  if (!installed) throw new ChromiumEnsureError(`installed ${CHROMIUM_PACKAGE} but no \`chromium\` binary is on PATH`);
  log(`chromium installed at ${installed} (${chromiumVersion(installed) ?? 'version unknown'})`);
}

runWhenInvoked(import.meta.url, ensureChromium, ChromiumEnsureError);
