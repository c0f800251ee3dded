/**
 * AWS Signature Version 4 for the relay's own HTTP path: requests are signed
 * with aws4fetch's `AwsV4Signer` (no fetch, no retries of its own) and then
 * sent through the relay's Transport, so TLS stays verified, the device
 * relay/proxy settings apply and every response goes through one place.
 *
 * Why the signer and not `AwsClient`: `AwsClient.fetch` calls the global
 * fetch and retries by itself; the relay needs its Transport and its own
 * retry budget (withRetries).
 *
 * `allHeaders: true`: aws4fetch leaves `content-type` unsigned by default;
 * AWS's own SDKs sign it for JSON 1.1, and the published ListUsers example
 * signs it too. Only the headers passed here are signed (host, content-type,
 * x-amz-date, x-amz-target, and x-amz-security-token for temporary
 * credentials), so nothing a proxy may add can break the signature.
 */
import { AwsV4Signer } from 'aws4fetch';

/** Resolved AWS credentials. Never logged, never part of an error. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (a role: Lambda, SSO, assume-role) carry one. */
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  url: string;
  /** Headers to send and sign (names in any case). */
  headers: Record<string, string>;
  body: string;
  service: string;
  region: string;
  /** Epoch ms of the signature (X-Amz-Date). */
  now: number;
}

/** `YYYYMMDD'T'HHMMSS'Z'` */
export function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/** Signs a request; returns the headers to send (the given ones plus X-Amz-Date, the token and Authorization). */
export async function signRequest(input: SignInput, credentials: AwsCredentials, cache?: Map<string, ArrayBuffer>): Promise<Record<string, string>> {
  const signer = new AwsV4Signer({
    method: input.method,
    url: input.url,
    headers: input.headers,
    body: input.body,
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    service: input.service,
    region: input.region,
    datetime: amzDate(input.now),
    allHeaders: true,
    ...(cache ? { cache } : {}),
  });
  const signed = await signer.sign();
  const headers: Record<string, string> = {};
  signed.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}
