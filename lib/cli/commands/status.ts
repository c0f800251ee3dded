/** `relay status`. */
import { collectStatus, formatStatus } from '../status.ts';
import { AWS_OPTIONS, loadFor, openStores, type CommandInput, type CommandSpec } from '../context.ts';

async function run({ values, io }: CommandInput): Promise<void> {
  const loaded = loadFor(values, io.env);
  const { store, queue } = await openStores(values, loaded, io.env);
  try {
    const now = Date.now();
    const report = await collectStatus(store, queue, now);
    io.out(values.json === true ? JSON.stringify(report, null, 2) : formatStatus(report, now));
  } finally {
    await queue.close();
    await store.close();
  }
}

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'active incidents, blocks per integration with expiry, failures',
  description: 'Shows the active incidents, the blocks of each integration with their state and expiry, failures, notices and the queue.',
  options: [{ name: 'json', type: 'boolean', description: 'machine-readable output' }, ...AWS_OPTIONS],
  examples: ['relay status', 'relay status --json', 'relay status --aws --region eu-west-1 --table … --queue-url … --dlq-url …'],
  maxPositionals: 0,
  run,
};
