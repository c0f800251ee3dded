/**
 * State and queues: the single DynamoDB table (described once in
 * lib/state/dynamodb-table.ts) and the FIFO job queue with its FIFO
 * dead-letter queue.
 */
import { stateTableSstArgs } from '../lib/state/dynamodb-table.ts';
import type { DeploymentSettings } from './config.ts';

/** SQS's longest retention: a dead letter must outlive the original message's age. */
const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

export function createStorage(settings: DeploymentSettings) {
  // PK/SK, the sparse GSI1 (due blocks by dueAt, incidents by status) and the
  // `gcAt` TTL attribute. SST adds on-demand billing and point-in-time
  // recovery. TTL is garbage collection only: the sweeper queries GSI1.
  const table = new sst.aws.Dynamo('StateTable', stateTableSstArgs);

  const dlq = new sst.aws.Queue('JobsDlq', {
    fifo: true,
    transform: { queue: { messageRetentionSeconds: DLQ_RETENTION_SECONDS } },
  });

  // The relay sends explicit de-duplication ids, so content-based
  // de-duplication stays off. Visibility: 6 × the worker timeout, so a batch
  // still running is never handed to a second worker.
  const queue = new sst.aws.Queue('JobsQueue', {
    fifo: true,
    visibilityTimeout: `${settings.queue.visibilityTimeoutSeconds} seconds`,
    dlq: { queue: dlq.arn, retry: settings.queue.maxReceives },
  });

  return { table, queue, dlq };
}

export type Storage = ReturnType<typeof createStorage>;
