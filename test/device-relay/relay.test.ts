/**
 * The device relay is never an open proxy: it reaches only the origins of
 * `via: vpc` integrations, with their TLS settings, bounded in time and
 * size, and never follows redirects. Real HTTPS servers on 127.0.0.1.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { DEVICE_RELAY_PROTOCOL, type RelayResponse } from '../../lib/device-relay/protocol.ts';
import { createDeviceRelay } from '../../lib/device-relay/relay.ts';
import { vpcTargets } from '../../lib/device-relay/targets.ts';
import { createDirectTransport } from '../../lib/transport/node-http.ts';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.ts';
import { RecordingLogger } from '../helpers/recording-logger.ts';
import { makeSelfSignedCert } from '../helpers/tls.ts';

let device: LoopbackServer;
let other: LoopbackServer;
let relay: ReturnType<typeof createDeviceRelay>;
let logger: RecordingLogger;

beforeAll(async () => {
  const cert = makeSelfSignedCert();
  device = await startLoopbackServer((request, response) => {
    if (request.path === '/redirect') {
      response.writeHead(302, { location: `${other.origin}/steal` }).end();
    } else if (request.path === '/big') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(10_000));
    } else if (request.path === '/slow') {
      setTimeout(() => response.writeHead(200).end('late'), 2_000);
    } else {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: request.body, auth: request.headers.authorization ?? null }));
    }
  }, cert);
  other = await startLoopbackServer((_request, response) => response.writeHead(200).end('should never be reached'), cert);
  const dir = mkdtempSync(join(tmpdir(), 'relay-device-'));
  writeFileSync(join(dir, 'ca.pem'), cert.cert);
  const config = parseConfig({
    aws: { vpc: { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] } },
    integrations: [
      {
        id: 'fw',
        type: 'webhook',
        via: 'vpc',
        options: { url: `${device.origin}/api`, caFile: 'ca.pem' },
        secrets: { signingSecret: { sst: 'FwSecret' } },
      },
      { id: 'direct-hook', type: 'webhook', options: { url: `${other.origin}/x` }, secrets: { signingSecret: { sst: 'Other' } } },
    ],
  });
  logger = new RecordingLogger();
  relay = createDeviceRelay({ targets: vpcTargets(config, { configDir: dir }), transport: createDirectTransport(), logger });
});

afterAll(async () => {
  await Promise.all([device.close(), other.close()]);
});

function invocation(url: string, extra: Record<string, unknown> = {}) {
  return {
    v: DEVICE_RELAY_PROTOCOL,
    integration: 'fw',
    request: { method: 'POST', url, headers: { authorization: 'Basic c2VjcmV0', 'content-type': 'application/json' }, bodyBase64: Buffer.from('{"a":1}').toString('base64'), timeoutMs: 5_000, ...extra },
  };
}

function body(answer: RelayResponse): string {
  if (!answer.ok) throw new Error(`relay refused: ${answer.error.code}`);
  return Buffer.from(answer.response.bodyBase64, 'base64').toString('utf8');
}

describe('device relay', () => {
  it("forwards a request to an integration's own origin, trusting that integration's CA", async () => {
    // Act
    const answer = await relay(invocation(`${device.origin}/api/v1/firewall/alias`));
    // Assess
    expect(answer).toMatchObject({ ok: true, response: { status: 200 } });
    expect(JSON.parse(body(answer))).toEqual({ echo: '{"a":1}', auth: 'Basic c2VjcmV0' });
  });

  it('refuses a host that no via: vpc integration names, without contacting it', async () => {
    // Prepare
    const before = other.requests.length;
    // Act
    const answer = await relay(invocation(`${other.origin}/anything`));
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'forbidden_target' } });
    expect(other.requests.length).toBe(before);
    expect(logger.lines.some((line) => line.attributes.outcome === 'forbidden_target')).toBe(true);
  });

  it('refuses another port on the allowed host', async () => {
    // Act
    const answer = await relay(invocation(`https://127.0.0.1:${other.port}/api`));
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'forbidden_target' } });
  });

  it('refuses an integration that is not configured with via: vpc', async () => {
    // Act
    const answer = await relay({ ...invocation(`${other.origin}/x`), integration: 'direct-hook' });
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'forbidden_target', message: expect.stringMatching(/via: vpc/) } });
  });

  it('refuses URLs with credentials and non-http schemes', async () => {
    // Act
    const withCredentials = await relay(invocation(`https://user:pw@127.0.0.1:${device.port}/api`));
    const file = await relay(invocation('file:///etc/passwd'));
    // Assess
    expect(withCredentials).toMatchObject({ ok: false, error: { code: 'forbidden_target' } });
    expect(file).toMatchObject({ ok: false, error: { code: 'forbidden_target' } });
  });

  it('refuses to follow a redirect to a host no integration names', async () => {
    // Prepare
    const before = other.requests.length;
    // Act
    const answer = await relay(invocation(`${device.origin}/redirect`));
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'redirect_refused' } });
    expect(other.requests.length).toBe(before);
  });

  it('refuses a response over the size bound', async () => {
    // Act
    const answer = await relay(invocation(`${device.origin}/big`, { maxResponseBytes: 1_000 }));
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'response_too_large' } });
  });

  it('bounds the request time by what the Lambda has left', async () => {
    // Act
    const answer = await relay(invocation(`${device.origin}/slow`, { timeoutMs: 30_000 }), { remainingMs: 1_300 });
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'timeout' } });
  });

  it('answers an invocation outside the protocol with invalid_request', async () => {
    // Act
    const answer = await relay({ v: 1, integration: 'fw', request: { method: 'CONNECT', url: 'x', timeoutMs: 1 } });
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
  });

  it('never logs request headers or bodies', async () => {
    // Act
    await relay(invocation(`${device.origin}/api`));
    // Assess
    const text = JSON.stringify(logger.lines);
    expect(text).not.toContain('c2VjcmV0');
    expect(text).not.toContain('"a":1');
  });

  it("does not let the caller weaken TLS: the relay's config decides", async () => {
    // Prepare: a relay whose config has no CA for the self-signed device.
    const strict = createDeviceRelay({
      targets: new Map([['fw', { integration: 'fw', origin: `https://127.0.0.1:${device.port}`, tls: {} }]]),
      transport: createDirectTransport(),
      logger: new RecordingLogger(),
    });
    // Act
    const answer = await strict({ ...invocation(`${device.origin}/api`), request: { ...invocation(`${device.origin}/api`).request } });
    // Assess
    expect(answer).toMatchObject({ ok: false, error: { code: 'tls' } });
  });
});

describe('device relay targets', () => {
  it("applies a device integration's own TLS settings (CA bundle, pin, explicit skip) from the config", () => {
    // Prepare
    const config = parseConfig({
      aws: { vpc: { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] } },
      integrations: [
        {
          id: 'mt',
          type: 'routeros',
          via: 'vpc',
          options: { url: 'https://10.0.0.2', tls: { caFile: 'mt-ca.pem', pinSha256: 'a'.repeat(64) } },
          secrets: { username: { sst: 'MtUser' }, password: { sst: 'MtPassword' } },
        },
        {
          id: 'pf',
          type: 'pfsense',
          via: 'vpc',
          options: { url: 'https://10.0.0.1:8443', apiVersion: 'v2', auth: 'apiKey', tls: { insecureSkipVerify: true } },
          secrets: { apiKey: { sst: 'PfKey' } },
        },
      ],
    });
    // Act
    const targets = vpcTargets(config, { configDir: '/bundle', readFile: (path) => `PEM of ${path}` });
    // Assess
    expect(targets.get('mt')).toEqual({ integration: 'mt', origin: 'https://10.0.0.2:443', tls: { ca: 'PEM of /bundle/mt-ca.pem', pinSha256: 'a'.repeat(64) } });
    expect(targets.get('pf')).toEqual({ integration: 'pf', origin: 'https://10.0.0.1:8443', tls: { insecureSkipVerify: true } });
  });
});
