/**
 * Vitest global setup: starts DynamoDB Local and fauxqs once per run (in
 * parallel), hands their endpoints to tests through `inject('dynamodbEndpoint')`
 * / `inject('sqsEndpoint')`, and stops them in teardown.
 *
 * Needs Java 17+ and DynamoDB Local under `.engines/`; when they are missing
 * the run fails with a message saying to run `node scripts/engines/ensure.mjs`.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal, startFauxqs, type RunningEngine } from '../helpers/engines.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of DynamoDB Local. */
    dynamodbEndpoint: string;
    /** `http://127.0.0.1:<port>` of fauxqs (SQS). */
    sqsEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const results = await Promise.allSettled([startDynamoDbLocal(), startFauxqs()]);
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = async (engines: RunningEngine[]) => {
    await Promise.allSettled(engines.map((engine) => engine.stop()));
  };
  const [dynamodb, sqs] = results;
  if (dynamodb?.status !== 'fulfilled' || sqs?.status !== 'fulfilled') {
    await stopAll(started);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    throw failure?.reason instanceof Error ? failure.reason : new Error(String(failure?.reason));
  }
  project.provide('dynamodbEndpoint', dynamodb.value.endpoint);
  project.provide('sqsEndpoint', sqs.value.endpoint);
  return () => stopAll(started);
}
