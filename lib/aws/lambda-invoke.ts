/**
 * Synchronous Lambda invocation over the Lambda Invoke REST API, signed with
 * SigV4 by aws4fetch (a few KB, instead of the Lambda SDK client in every
 * worker bundle). Credentials come from the Lambda environment.
 */
import { AwsClient } from 'aws4fetch';
import { DeviceRelayUnavailableError } from '../transport/errors.ts';

export interface LambdaInvokerOptions {
  functionName: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Overrides https://lambda.<region>.amazonaws.com (tests point it at a loopback simulator). */
  endpoint?: string;
  timeoutMs?: number;
}

export type Invoke = (payload: string) => Promise<string>;

/** Reads the standard Lambda environment (AWS_REGION, AWS_ACCESS_KEY_ID, ...). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): LambdaInvokerOptions['credentials'] {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new DeviceRelayUnavailableError('no AWS credentials in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)');
  }
  return { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}

export function createLambdaInvoker(options: LambdaInvokerOptions): Invoke {
  const client = new AwsClient({ ...options.credentials, region: options.region, service: 'lambda', retries: 2 });
  const base = options.endpoint ?? `https://lambda.${options.region}.amazonaws.com`;
  const url = `${base}/2015-03-31/functions/${encodeURIComponent(options.functionName)}/invocations`;
  return async (payload) => {
    let response: Response;
    try {
      response = await client.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body: payload,
        signal: AbortSignal.timeout(options.timeoutMs ?? 90_000),
      });
    } catch (error) {
      throw new DeviceRelayUnavailableError(`invoking ${options.functionName} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const text = await response.text();
    if (response.status !== 200) {
      const type = response.headers.get('x-amzn-errortype')?.split(':')[0] ?? `HTTP ${response.status}`;
      throw new DeviceRelayUnavailableError(`Lambda answered ${response.status} (${type}) for ${options.functionName}`, { status: response.status });
    }
    const functionError = response.headers.get('x-amz-function-error');
    if (functionError) {
      let message = functionError;
      try {
        message = `${functionError}: ${(JSON.parse(text) as { errorMessage?: string }).errorMessage ?? ''}`;
      } catch {
        // keep the header value
      }
      throw new DeviceRelayUnavailableError(`the relay function failed (${message})`);
    }
    return text;
  };
}
