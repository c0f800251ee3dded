/** Worker Lambda: SQS FIFO batches with partial batch failures. All logic is in lib/. */
import { createAwsEngine } from '../lib/runtime/aws-engine.ts';
import { createSqsWorkerHandler } from '../lib/runtime/sqs-worker.ts';

const { engine } = createAwsEngine();
export const handler = createSqsWorkerHandler(engine.worker);
