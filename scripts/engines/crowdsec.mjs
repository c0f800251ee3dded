#!/usr/bin/env node
/**
 * Makes sure CrowdSec (the Debian package `crowdsec`, whose `crowdsec`
 * binary serves the Local API and whose `cscli` creates machines and
 * bouncers) is installed, for the tests that run a real LAPI
 * (test/helpers/crowdsec-lapi.ts). Idempotent: does nothing when both
 * binaries are already there.
 *
 * Installing needs root and apt-get against the distribution's archive.
 * Without root it only warns (the LAPI tests then skip), unless CI=true,
 * where it fails: CI must run those tests.
 * The package's postinst registers with CrowdSec's central API unless
 * /etc/crowdsec/online_api_credentials.yaml already exists, which fails on
 * a machine without Internet access: a placeholder is written first (only
 * when the file is missing; an existing one is never touched). The tests
 * never use the system configuration: each run has its own config, data
 * directory and port, and runs the API only (`-no-cs -no-capi`).
 *
 * Plain JavaScript without dependencies so that it runs on Node 20 or 24
 * before anything else. Usage: `node scripts/engines/crowdsec.mjs`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { aptInstall, findBinary, isRoot, log, runWhenInvoked } from './apt.mjs';

export { findBinary };

/** The package that provides `crowdsec` and `cscli`. */
export const CROWDSEC_PACKAGE = 'crowdsec';
/** Written before installing so the postinst does not try to reach the central API. */
export const ONLINE_CREDENTIALS = '/etc/crowdsec/online_api_credentials.yaml';

export class CrowdsecEnsureError extends Error {}

function run(command, args, { capture = false, env } = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    ...(env ? { env } : {}),
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}


/** The version `crowdsec -version` reports (e.g. `v1.4.6-debian`), or undefined. */
export function crowdsecVersion(binary = findBinary('crowdsec')) {
  if (!binary) return undefined;
  const result = run(binary, ['-version'], { capture: true });
  if (result.error || result.status !== 0) return undefined;
  const match = /version:\s*(\S+)/i.exec(`${result.stdout}\n${result.stderr}`);
  return match ? match[1] : 'unknown';
}



/** Installs the `crowdsec` package unless `crowdsec` and `cscli` are present. */
export function ensureCrowdsec() {
  if (findBinary('crowdsec') && findBinary('cscli')) {
    log(`crowdsec ${crowdsecVersion() ?? '(version unknown)'} found`);
    return;
  }
  log('crowdsec not found');
  if (!isRoot()) {
    if (process.env.CI !== 'true') {
      // Outside CI the real-LAPI tests skip with a message; do not stop the whole run.
      log('not root: not installing crowdsec; the CrowdSec LAPI tests will be skipped (CI=true makes this an error)');
      return;
    }
    throw new CrowdsecEnsureError(
      'CrowdSec is needed for the CrowdSec LAPI tests and installing it needs root. Install it yourself: ' +
        `\`sudo mkdir -p /etc/crowdsec && sudo test -e ${ONLINE_CREDENTIALS} || echo '# no central API' | sudo tee ${ONLINE_CREDENTIALS}\`, ` +
        `then \`sudo apt-get install -y --no-install-recommends ${CROWDSEC_PACKAGE}\`, and re-run.`,
    );
  }
  mkdirSync('/etc/crowdsec', { recursive: true });
  if (!existsSync(ONLINE_CREDENTIALS)) {
    // Without it the postinst runs `cscli capi register`, which needs the Internet.
    writeFileSync(ONLINE_CREDENTIALS, '# no central API (written by scripts/engines/crowdsec.mjs)\n', { mode: 0o600 });
    log(`wrote ${ONLINE_CREDENTIALS} (placeholder: no central API registration)`);
  }
  aptInstall([CROWDSEC_PACKAGE], CrowdsecEnsureError);
  if (!findBinary('crowdsec') || !findBinary('cscli')) {
    throw new CrowdsecEnsureError(`installed ${CROWDSEC_PACKAGE} but \`crowdsec\` or \`cscli\` is still not on PATH`);
  }
  log(`crowdsec ${crowdsecVersion() ?? '(version unknown)'} installed`);
}

runWhenInvoked(import.meta.url, ensureCrowdsec, CrowdsecEnsureError);
