/**
 * Worker side of the device relay, end to end on loopback: the device-relay
 * Transport → the Lambda Invoke API (a simulator following AWS's published
 * API: SigV4-signed POST /2015-03-31/functions/{name}/invocations, errors as
 * x-amzn-ErrorType, function errors as X-Amz-Function-Error) → the real relay
 * logic → a real HTTPS "device".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaInvoker } from '../../lib/aws/lambda-invoke.ts';
import { createDeviceRelay } from '../../lib/device-relay/relay.ts';
import {
  DeviceRelayRefusedError,
  DeviceRelayUnavailableError,
  ResponseTooLargeError,
  TransportTimeoutError,
} from '../../lib/transport/errors.ts';
import { createDeviceRelayTransport } from '../../lib/transport/device-relay.ts';
import { createDirectTransport } from '../../lib/transport/node-http.ts';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';
import { makeSelfSignedCert } from '../helpers/tls.ts';

let device: LoopbackServer;
let lambda: LoopbackServer;
let mode: 'ok' | 'throttled' | 'crash' | 'missing' = 'ok';
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session' };

beforeAll(async () => {
  const cert = makeSelfSignedCert();
  device = await startLoopbackServer((request, response) => {
    if (request.path === '/slow') return void setTimeout(() => response.end('late'), 1_500);
    if (request.path === '/big') return void response.end('y'.repeat(5_000));
    response.writeHead(201, { 'x-device': 'pf' }).end(`got ${request.method} ${request.body}`);
  }, cert);
  const relay = createDeviceRelay({
    targets: new Map([['fw', { integration: 'fw', origin: `https://127.0.0.1:${device.port}`, tls: { ca: cert.cert } }]]),
    transport: createDirectTransport(),
    logger: new RecordingLogger(),
  });
  lambda = await startLoopbackServer((request, response) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(request.path);
    const signed = /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.test(String(request.headers.authorization));
    if (request.method !== 'POST' || !match || !signed || request.headers['x-amz-security-token'] !== 'session') {
      return void response.writeHead(403, { 'x-amzn-errortype': 'AccessDeniedException' }).end('{"Message":"denied"}');
    }
    if (mode === 'missing' || match[1] !== 'relay-DeviceRelay') {
      return void response.writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal' }).end('{"Message":"Function not found"}');
    }
    if (mode === 'throttled') return void response.writeHead(429, { 'x-amzn-errortype': 'TooManyRequestsException' }).end('{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}');
    if (mode === 'crash') {
      return void response.writeHead(200, { 'x-amz-function-error': 'Unhandled' }).end('{"errorType":"Error","errorMessage":"boom"}');
    }
    relay(JSON.parse(request.body), { remainingMs: 30_000 }).then((answer) => response.writeHead(200).end(JSON.stringify(answer)));
  });
});

afterAll(async () => {
  await Promise.all([device.close(), lambda.close()]);
});

function transport(functionName = 'relay-DeviceRelay') {
  const invoke = createLambdaInvoker({ functionName, region: 'eu-west-1', credentials: CREDENTIALS, endpoint: lambda.origin });
  return createDeviceRelayTransport({ integration: 'fw', invoke });
}

describe('device relay transport', () => {
  it('makes the request through a signed Lambda invocation and returns the device response', async () => {
    // Prepare
    mode = 'ok';
    // Act
    const response = await transport().request({ method: 'PUT', url: `https://127.0.0.1:${device.port}/rest/ip/firewall/address-list`, body: '{"address":"45.0.0.1"}', timeoutMs: 5_000 });
    // Assess
    expect(response.status).toBe(201);
    expect(response.headers['x-device']).toBe('pf');
    expect(Buffer.from(response.body).toString()).toBe('got PUT {"address":"45.0.0.1"}');
  });

  it('raises the same timeout error as the direct transport', async () => {
    mode = 'ok';
    await expect(transport().request({ method: 'GET', url: `https://127.0.0.1:${device.port}/slow`, timeoutMs: 300 })).rejects.toBeInstanceOf(TransportTimeoutError);
  });

  it('raises ResponseTooLargeError past the size bound', async () => {
    mode = 'ok';
    await expect(
      transport().request({ method: 'GET', url: `https://127.0.0.1:${device.port}/big`, timeoutMs: 5_000, maxResponseBytes: 1_000 }),
    ).rejects.toBeInstanceOf(ResponseTooLargeError);
  });

  it('reports a refusal (a target no integration names) as DeviceRelayRefusedError', async () => {
    mode = 'ok';
    await expect(transport().request({ method: 'GET', url: 'https://169.254.169.254/latest/meta-data/', timeoutMs: 1_000 })).rejects.toBeInstanceOf(
      DeviceRelayRefusedError,
    );
  });

  it.each([
    ['throttled', /429 \(TooManyRequestsException\)/],
    ['crash', /the relay function failed \(Unhandled: boom\)/],
    ['missing', /404 \(ResourceNotFoundException\)/],
  ] as const)('reports a %s relay as DeviceRelayUnavailableError', async (scenario, message) => {
    // Prepare
    mode = scenario;
    // Act
    const attempt = transport().request({ method: 'GET', url: `https://127.0.0.1:${device.port}/`, timeoutMs: 1_000 });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(DeviceRelayUnavailableError);
    await expect(attempt).rejects.toThrow(message);
  });
});
