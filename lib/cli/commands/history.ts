/** `relay history`. */
import { parseDuration } from '../../config/duration.ts';
import { CliUsageError } from '../errors.ts';
import { formatHistory } from '../history.ts';
import { AWS_OPTIONS, loadFor, openStores, type CommandInput, type CommandSpec } from '../context.ts';

async function run({ values, io }: CommandInput): Promise<void> {
  const sinceText = (values.since as string | undefined) ?? '24h';
  const sinceMs = parseDuration(sinceText);
  if (sinceMs === undefined || sinceMs <= 0) throw new CliUsageError(`--since ${sinceText}: write a duration such as 30m, 6h or 7d`);
  const limitText = (values.limit as string | undefined) ?? '100';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliUsageError(`--limit ${limitText}: write a whole number from 1 to 1000`);
  const loaded = loadFor(values, io.env);
  const { store, queue } = await openStores(values, loaded, io.env);
  try {
    const incident = values.incident as string | undefined;
    const integration = values.integration as string | undefined;
    const entries = await store.listAudit({
      since: Date.now() - sinceMs,
      limit,
      ...(incident !== undefined ? { incident } : {}),
      ...(integration !== undefined ? { integration } : {}),
    });
    io.out(values.json === true ? JSON.stringify(entries, null, 2) : formatHistory(entries));
  } finally {
    await queue.close();
    await store.close();
  }
}

export const historyCommand: CommandSpec = {
  name: 'history',
  summary: 'what the relay did: blocks added and removed, switches, drift repairs, manual actions',
  description:
    'Shows the audit trail, newest first: block adds and removals, switches turned on and restored, drift repairs, releases, never-block refusals and manual actions, with integration, incident, count and outcome. Counts only, never addresses. Kept for auditRetention (30 days by default).',
  options: [
    { name: 'since', type: 'string', value: '<duration>', description: 'how far back to look', default: '24h' },
    { name: 'incident', type: 'string', value: '<uuid>', description: 'only what concerns this incident' },
    { name: 'integration', type: 'string', value: '<id>', description: 'only what concerns this integration' },
    { name: 'limit', type: 'string', value: '<n>', description: 'most entries shown (1–1000)', default: '100' },
    { name: 'json', type: 'boolean', description: 'machine-readable output' },
    ...AWS_OPTIONS,
  ],
  examples: ['relay history', 'relay history --since 1h', 'relay history --incident d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70', 'relay history --aws --region eu-west-1 --table …'],
  maxPositionals: 0,
  run,
};
