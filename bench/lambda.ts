/**
 * Lambda side of `npm run bench`: each handler's bundle (esbuild, minified,
 * bundled as deployed) and its cold module-init time in fresh Node
 * processes, beside a minimal handler that only sends one message with the
 * AWS SDK v3 SQS client, measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');

export interface LambdaRow {
  name: string;
  bundleBytes: number;
  initMedianMs: number;
  initP90Ms: number;
}

const HANDLERS = [
  { name: 'baseline (SDK SQS send)', entry: 'bench/lambda/baseline-sqs.ts' },
  { name: 'webhook', entry: 'functions/webhook.ts' },
  { name: 'worker', entry: 'functions/worker.ts' },
  { name: 'sweeper', entry: 'functions/sweeper.ts' },
  { name: 'device-relay', entry: 'functions/device-relay.ts' },
];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

export async function benchLambda(options: { runs?: number } = {}): Promise<LambdaRow[]> {
  const runs = options.runs ?? 15;
  const dir = mkdtempSync(join(tmpdir(), 'relay-lambda-bench-'));
  try {
    // What the handlers read at init, as the stacks set it up.
    writeFileSync(
      join(dir, 'relay.config.yaml'),
      'webhook:\n  secrets: [{ sst: FlowtriqWebhookSecret }]\nintegrations:\n  - id: dry\n    type: dry-run\n',
    );
    const env = {
      PATH: process.env.PATH ?? '',
      LAMBDA_TASK_ROOT: dir,
      RELAY_CONFIG: 'relay.config.yaml',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDBENCH',
      AWS_SECRET_ACCESS_KEY: 'bench-secret-key',
      RELAY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/000000000000/JobsQueue.fifo',
      RELAY_STATE_TABLE: 'StateTable',
      RELAY_WEBHOOK_SECRETS: JSON.stringify([{ sst: 'FlowtriqWebhookSecret' }]),
      RELAY_REPLAY_WINDOW_MS: '300000',
      SST_RESOURCE_FlowtriqWebhookSecret: JSON.stringify({ value: 'bench-secret' }),
      RELAY_LOG_LEVEL: 'ERROR',
    };
    const rows: LambdaRow[] = [];
    for (const handler of HANDLERS) {
      const outfile = join(dir, `${handler.name.replace(/\W+/g, '-')}.mjs`);
      await build({
        entryPoints: [join(ROOT, handler.entry)],
        bundle: true,
        minify: true,
        platform: 'node',
        target: 'node22',
        format: 'esm',
        outfile,
        logLevel: 'error',
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      });
      const script = `const t = performance.now(); await import(${JSON.stringify(`file://${outfile}`)}); process.stdout.write(String(performance.now() - t));`;
      const samples: number[] = [];
      for (let run = 0; run < runs; run += 1) {
        const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 30_000 });
        if (child.status !== 0) throw new Error(`${handler.name}: init failed: ${child.stderr.slice(0, 500)}`);
        samples.push(Number(child.stdout));
      }
      rows.push({ name: handler.name, bundleBytes: statSync(outfile).size, initMedianMs: percentile(samples, 0.5), initP90Ms: percentile(samples, 0.9) });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatLambda(rows: LambdaRow[]): string {
  const baseline = rows[0]!;
  const lines = [
    `Lambda handlers (esbuild bundle, minified; cold module init in a fresh Node ${process.version} process, median of repeated runs)`,
    `${'handler'.padEnd(26)} ${'bundle'.padStart(10)} ${'init p50'.padStart(10)} ${'init p90'.padStart(10)} ${'init / baseline'.padStart(16)}`,
  ];
  for (const row of rows) {
    lines.push(
      `${row.name.padEnd(26)} ${`${(row.bundleBytes / 1024).toFixed(0)} KiB`.padStart(10)} ${`${row.initMedianMs.toFixed(1)} ms`.padStart(10)} ${`${row.initP90Ms.toFixed(1)} ms`.padStart(10)} ${(row.initMedianMs / baseline.initMedianMs).toFixed(2).padStart(16)}`,
    );
  }
  const webhook = rows.find((row) => row.name === 'webhook')!;
  const ratio = webhook.initMedianMs / baseline.initMedianMs;
  lines.push(`target: webhook init ≤ 0.5× the SDK baseline: ${ratio.toFixed(2)}× ${ratio <= 0.5 ? 'MET' : 'NOT MET'}`);
  return lines.join('\n');
}

if (import.meta.main) {
  console.log(formatLambda(await benchLambda()));
}
