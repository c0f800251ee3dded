#!/usr/bin/env node
// The whole test suite: `npm test` (and `.ci/run`).
// 1. Installs what the engine-backed tests need if it is missing (Java 17,
//    DynamoDB Local) — scripts/engines/ensure.mjs.
// 2. Produces SST's platform offline and type-checks the project and the stacks.
// 3. Runs vitest. As root, inside a private network namespace with only a
//    loopback interface, so no test can reach anything but 127.0.0.1.
// 4. Prints a closing "tests: N passed, N failed" line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`npm test needs Node >= 22 (running ${process.version}); run it through npm so node_modules/.bin/node (Node 24) is used.`);
  process.exit(1);
}

function run(label, command, args, options = {}) {
  console.log(`\n== ${label}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

if (run('engines', node, ['scripts/engines/ensure.mjs']) !== 0) process.exit(1);
// SST's component library, produced offline (the infra tests evaluate the stacks with it).
if (run('sst platform (offline)', node, ['scripts/sst-platform.mjs']) !== 0) process.exit(1);
const tsc = join(root, 'node_modules/typescript/bin/tsc');
if (run('typecheck', node, [tsc, '-p', 'tsconfig.json']) !== 0) process.exit(1);
if (run('typecheck infra (sst.config.ts, stacks/)', node, [tsc, '-p', 'tsconfig.infra.json']) !== 0) process.exit(1);

const report = join(mkdtempSync(join(tmpdir(), 'relay-test-')), 'vitest.json');
const vitest = [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];

function canIsolateNetwork() {
  if (process.getuid?.() !== 0 || process.env.RELAY_TEST_NO_NETNS === '1') return false;
  const probe = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
  return probe.status === 0;
}

let status;
if (canIsolateNetwork()) {
  status = run('vitest (private network namespace: loopback only)', 'unshare', [
    '--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', node, ...vitest,
  ]);
} else {
  status = run('vitest', node, vitest);
}

try {
  const results = JSON.parse(readFileSync(report, 'utf8'));
  const failed = results.numFailedTests ?? 0;
  const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
  console.log(`\ntests: ${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
} catch {
  console.log('\ntests: no report was written (vitest did not finish)');
  status ||= 1;
} finally {
  rmSync(dirname(report), { recursive: true, force: true });
}
process.exit(status);
