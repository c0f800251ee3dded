/**
 * The AWS worker's batch logic: an SQS FIFO batch from the Lambda event
 * source mapping, processed with Powertools' FIFO partial-batch processor.
 * A failed message fails the rest of its message group in this batch (so
 * the incident's events stay in order) while other groups carry on; the
 * response lists the failures message by message (ReportBatchItemFailures).
 * Poison messages (which can never succeed) are logged and dropped.
 */
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describeError } from '../errors.ts';
import { PoisonJobError } from '../engine/errors.ts';
import { processJob, type WorkerDeps } from '../engine/worker.ts';

export type SqsWorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function createSqsWorkerHandler(deps: WorkerDeps): SqsWorkerHandler {
  const recordHandler = async (record: SQSRecord) => {
    try {
      return await processJob(record.body, deps);
    } catch (error) {
      if (error instanceof PoisonJobError) {
        deps.logger.error('dropping a job that can never succeed', { messageId: record.messageId, error: error.message });
        return { outcome: 'dropped' };
      }
      deps.logger.warn('job failed; SQS will redeliver it', {
        messageId: record.messageId,
        group: record.attributes.MessageGroupId,
        receiveCount: record.attributes.ApproximateReceiveCount,
        error: describeError(error),
      });
      throw error;
    }
  };
  return async (event, context) => {
    // A fresh processor per invocation: it keeps per-batch state.
    const processor = new SqsFifoPartialProcessorAsync();
    return processPartialResponse(event, recordHandler, processor, {
      context,
      skipGroupOnError: true,
      throwOnFullBatchFailure: false,
    });
  };
}
