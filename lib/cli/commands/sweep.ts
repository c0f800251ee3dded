/** `relay sweep` and `relay drain`: readable summaries (--json for the raw summary). */
import { join, resolve } from 'node:path';
import { drainIncidents } from '../../engine/drain.ts';
import { buildEngine } from '../../runtime/engine.ts';
import { STATE_DB } from '../../runtime/one-box.ts';
import { SqliteStateStore } from '../../state/sqlite.ts';
import { createDirectTransport } from '../../transport/node-http.ts';
import { commandLogger } from '../cli-logger.ts';
import { AWS_OPTIONS, loadFor, openStores, type CommandInput, type CommandSpec } from '../context.ts';
import { formatSweep, sweepWithProgress } from '../sweep-report.ts';

async function runSweep({ values, io }: CommandInput): Promise<void> {
  const loaded = loadFor(values, io.env);
  const dir = resolve(loaded.config.storage.dir);
  const store = SqliteStateStore.open(join(dir, STATE_DB));
  try {
    const engine = buildEngine({ config: loaded.config, store, transport: createDirectTransport(), logger: commandLogger(io.env, io.err) });
    const summary = await sweepWithProgress(engine, store, io.stderr);
    if (values.json === true) io.out(JSON.stringify(summary, null, 2));
    else for (const line of formatSweep(summary)) io.out(line);
    if (summary.errors.length > 0 || summary.integrations.some((s) => s.failed > 0)) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

async function runDrain({ values, io }: CommandInput): Promise<void> {
  const loaded = loadFor(values, io.env);
  const { store, queue, aws } = await openStores(values, loaded, io.env);
  const json = values.json === true;
  try {
    const { incidents } = await drainIncidents(store, Date.now());
    if (aws) {
      if (json) io.out(JSON.stringify({ incidents, swept: false }, null, 2));
      else {
        io.out(`ended ${incidents.length} active incident(s); their blocks are released`);
        io.out('the stage\'s sweeper (every minute) now withdraws them from the devices; watch: relay status --aws …');
      }
      return;
    }
    const engine = buildEngine({ config: loaded.config, store, transport: createDirectTransport(), logger: commandLogger(io.env, io.err) });
    const summary = await sweepWithProgress(engine, store, io.stderr, { label: 'drain' });
    const left = await store.listBlocks();
    const removed = summary.integrations.reduce((n, s) => n + s.removed, 0);
    if (json) {
      io.out(JSON.stringify({ incidents, sweep: summary, left: left.length }, null, 2));
    } else {
      io.out(`ended ${incidents.length} active incident(s); their blocks are released`);
      for (const line of formatSweep(summary, 'withdrawal').slice(1)) io.out(line);
      io.out(`removed ${removed}; ${left.length} block(s) left${left.length > 0 ? ' (see relay status; the sweeper keeps retrying)' : ''}`);
    }
    if (left.length > 0) process.exitCode = 1;
  } finally {
    await queue.close();
    await store.close();
  }
}

export const sweepCommand: CommandSpec = {
  name: 'sweep',
  summary: 'run the TTL/retry sweeper once and say what it did',
  description:
    'Runs the sweeper once on the local state: removes blocks whose TTL has passed, retries failed adds and removals,\n' +
    'finishes work a crash left due, repairs drift, purges settled records. Prints what was added, removed or failed per\n' +
    'integration, and errors one per line; exit 1 if anything failed. A progress line shows on a terminal above 100 blocks.',
  options: [{ name: 'json', type: 'boolean', description: 'print the sweep summary as JSON instead' }],
  examples: ['relay sweep', 'relay sweep --json'],
  maxPositionals: 0,
  run: runSweep,
};

export const drainCommand: CommandSpec = {
  name: 'drain',
  summary: 'end every active incident now and withdraw all blocks (before removing a deployment)',
  description:
    'Ends every active incident now, releasing all blocks, then withdraws them from the devices (locally: at once, with a\n' +
    'summary per integration; with --aws: the stage\'s sweeper does it within a minute). Exit 1 if blocks are left.',
  options: [{ name: 'json', type: 'boolean', description: 'print the result as JSON instead' }, ...AWS_OPTIONS],
  examples: ['relay drain', 'relay drain --aws --region eu-west-1 --table … --queue-url … --dlq-url …'],
  maxPositionals: 0,
  run: runDrain,
};
