/**
 * `relay test|activate|withdraw <id> --aws --sweeper-function F`: invokes the
 * deployed stage's sweeper with a control event (lib/runtime/aws-control.ts),
 * so the provider work runs now, in the stage, with the stage's own
 * credentials and permissions. The operator's credentials (the usual AWS
 * chain: environment, profile, SSO) need only lambda:InvokeFunction on the
 * sweeper.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { createLambdaInvoker } from '../aws/lambda-invoke.ts';
import { RelayError } from '../errors.ts';
import { CONTROL_MARKER, type ControlAnswer, type ControlEvent } from '../runtime/aws-control.ts';

const answerSchema = z.object({ ok: z.boolean(), lines: z.array(z.string()) });

export interface StageTarget {
  region: string;
  sweeperFunction: string;
  /** Tests: a loopback stand-in for the Lambda API. */
  endpoint?: string;
}

/** The operator's credentials from the AWS SDK's default chain (the same the table and queue clients use). */
async function operatorCredentials(region: string): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> {
  const client = new DynamoDBClient({ region });
  try {
    const { accessKeyId, secretAccessKey, sessionToken } = await client.config.credentials();
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  } catch (error) {
    throw new RelayError('usage', `no AWS credentials to invoke the stage with (${error instanceof Error ? error.message : String(error)}); set AWS_PROFILE or export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`);
  } finally {
    client.destroy();
  }
}

export async function invokeStageControl(target: StageTarget, command: ControlEvent['command'], integration: string, force: boolean): Promise<ControlAnswer> {
  const event: ControlEvent = { relay: CONTROL_MARKER, command, integration, ...(force ? { force } : {}) };
  const invoke = createLambdaInvoker({
    functionName: target.sweeperFunction,
    region: target.region,
    credentials: await operatorCredentials(target.region),
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    // activate/withdraw wait up to 30 s for the provider; the sweeper may take its whole timeout.
    timeoutMs: 15 * 60_000,
  });
  let text: string;
  try {
    text = await invoke(JSON.stringify(event));
  } catch (error) {
    throw new RelayError(
      'stage_unreachable',
      `invoking the stage's sweeper ${target.sweeperFunction} failed: ${error instanceof Error ? error.message : String(error)}; ` +
        'check --sweeper-function (the stage output sweeperFunction), --region, and that your credentials may lambda:InvokeFunction it',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const answer = answerSchema.safeParse(parsed);
  if (!answer.success) {
    throw new RelayError('stage_unreachable', `${target.sweeperFunction} did not answer as a relay sweeper does; is it the stage's sweeperFunction output, and is the stage deployed from this version?`);
  }
  return answer.data;
}
