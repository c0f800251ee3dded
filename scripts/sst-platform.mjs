#!/usr/bin/env node
// Produces .sst/platform — SST's component library, its npm dependencies
// (@pulumi/pulumi, @pulumi/aws, …) and the types sst.config.ts references —
// without the internet access `sst` normally wants: `sst install` with
// SST_SKIP_DEPENDENCY_CHECK=1 skips downloading the Pulumi CLI and Bun, and
// SST_NO_BUN=1 installs the platform's packages with npm (the only download).
//
// Idempotent: when .sst/platform already matches the installed `sst` and the
// current sst.config.ts, it only says so (milliseconds). `--force` reinstalls.
// Needed by `tsc -p tsconfig.infra.json` and by test/infra (run it before
// vitest, outside the test network namespace).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const platform = join(root, '.sst', 'platform');
const stampFile = join(platform, '.relay-stamp.json');
const stage = 'infra-test';
const log = (message) => console.log(`sst-platform: ${message}`);

// `sst` exports no ./package.json; find it through the package's main entry.
const require = createRequire(join(root, 'package.json'));
const sstPackage = packageJsonOf(require.resolve('sst'));
const sstVersion = JSON.parse(readFileSync(sstPackage, 'utf8')).version;
const config = join(root, 'sst.config.ts');
if (!existsSync(config)) {
  console.error(`sst-platform: ${relative(process.cwd(), config) || config} is missing`);
  process.exit(1);
}
// sst.config.ts's app() names the providers (and their versions) `sst install` sets up.
const configHash = createHash('sha256').update(readFileSync(config)).digest('hex');
const wanted = { sst: sstVersion, config: configHash };

function packageJsonOf(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, 'utf8')).name === 'sst') return candidate;
  }
  throw new Error('cannot find the sst package; run npm ci');
}

const required = [
  'version',
  'config.d.ts',
  'src/components/index.ts',
  'src/shim/run.js',
  'src/auto/run.ts',
  'node_modules/@pulumi/pulumi/package.json',
  'node_modules/@pulumi/aws/package.json',
];

function current() {
  try {
    if (!required.every((file) => existsSync(join(platform, file)))) return false;
    if (readFileSync(join(platform, 'version'), 'utf8').trim() !== sstVersion) return false;
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    return stamp.sst === wanted.sst && stamp.config === wanted.config;
  } catch {
    return false;
  }
}

if (!process.argv.includes('--force') && current()) {
  log(`.sst/platform is up to date (sst ${sstVersion})`);
  process.exit(0);
}

const cold = !existsSync(join(platform, 'node_modules', '@pulumi', 'pulumi'));
log(
  `running \`sst install --stage ${stage}\` with sst ${sstVersion}, offline ` +
    '(SST_SKIP_DEPENDENCY_CHECK=1: no Pulumi or Bun download; SST_NO_BUN=1: npm installs the platform packages)' +
    (cold ? '; first run: about 300 MB of npm packages, 30–60 s' : ''),
);
const started = Date.now();
const result = spawnSync(process.execPath, [join(dirname(sstPackage), 'bin', 'sst.mjs'), 'install', '--stage', stage], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    SST_SKIP_DEPENDENCY_CHECK: '1',
    SST_NO_BUN: '1',
    SST_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
  },
});
if (result.error) throw result.error;
if (result.status !== 0) {
  console.error(`sst-platform: sst install failed (exit ${result.status})`);
  process.exit(result.status ?? 1);
}
const missing = required.filter((file) => !existsSync(join(platform, file)));
if (missing.length > 0) {
  console.error(`sst-platform: sst install finished but .sst/platform lacks ${missing.join(', ')}`);
  process.exit(1);
}
writeFileSync(stampFile, `${JSON.stringify(wanted, null, 2)}\n`);
log(`.sst/platform ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
