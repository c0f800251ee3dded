import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidRequestError,
  ResponseTooLargeError,
  TlsVerificationError,
  TransportConnectionError,
  TransportTimeoutError,
} from '../../lib/transport/errors.ts';
import { createDirectTransport, parsePinSha256 } from '../../lib/transport/node-http.ts';
import type { HttpRequest } from '../../lib/transport/types.ts';
import { type LoopbackHandler, type LoopbackServer, startLoopbackServer, unusedPort } from '../helpers/loopback-server.ts';
import { makeSelfSignedCert, type SelfSignedCert } from '../helpers/tls.ts';

const transport = createDirectTransport();
const okHandler: LoopbackHandler = (_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain', 'X-Mixed-Case': 'yes' });
  response.end('hello');
};

let cert: SelfSignedCert;
let otherCert: SelfSignedCert;
let wrongHostCert: SelfSignedCert;
const servers: LoopbackServer[] = [];

async function serve(handler: LoopbackHandler, tls?: { key: string; cert: string }): Promise<LoopbackServer> {
  const server = await startLoopbackServer(handler, tls);
  servers.push(server);
  return server;
}

function get(url: string, extra: Partial<HttpRequest> = {}): HttpRequest {
  return { method: 'GET', url, timeoutMs: 5_000, ...extra };
}

beforeAll(() => {
  cert = makeSelfSignedCert();
  otherCert = makeSelfSignedCert();
  wrongHostCert = makeSelfSignedCert({ commonName: 'device.example', subjectAltNames: ['DNS:device.example'] });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('direct transport over plain HTTP', () => {
  it('sends method, headers and body and returns status, lower-cased headers and body', async () => {
    // Prepare
    const server = await serve(okHandler);

    // Act
    const response = await transport.request({
      method: 'post',
      url: `${server.origin}/path?q=1`,
      headers: { 'X-Custom': 'value' },
      body: '{"a":1}',
      timeoutMs: 5_000,
    });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers['x-mixed-case']).toBe('yes');
    expect(Buffer.from(response.body).toString()).toBe('hello');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: 'POST', path: '/path?q=1', body: '{"a":1}' });
    expect(server.requests[0]?.headers['x-custom']).toBe('value');
    expect(server.requests[0]?.headers['content-length']).toBe('7');
  });

  it('sends a Uint8Array body byte for byte', async () => {
    // Prepare
    const server = await serve(okHandler);
    const bytes = new Uint8Array([0, 1, 2, 104, 105]).subarray(3);

    // Act
    await transport.request({ method: 'PUT', url: server.origin, body: bytes, timeoutMs: 5_000 });

    // Assess
    expect(server.requests[0]?.body).toBe('hi');
  });

  it('returns a redirect as is and does not follow it', async () => {
    // Prepare
    const target = await serve(okHandler);
    const server = await serve((_request, response) => {
      response.writeHead(302, { Location: `${target.origin}/elsewhere` });
      response.end();
    });

    // Act
    const response = await transport.request(get(`${server.origin}/start`));

    // Assess
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(`${target.origin}/elsewhere`);
    expect(target.requests).toHaveLength(0);
  });

  it('fails with TransportConnectionError when the connection is refused, without leaking body, auth or path', async () => {
    // Prepare
    const port = await unusedPort();

    // Act
    const failure = await transport
      .request({
        method: 'POST',
        url: `http://127.0.0.1:${port}/hooks/secret-path-token`,
        headers: { Authorization: 'Bearer tok-very-secret' },
        body: 'body-with-secret',
        timeoutMs: 5_000,
      })
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TransportConnectionError);
    const error = failure as TransportConnectionError;
    expect(error.systemCode).toBe('ECONNREFUSED');
    expect(error.message).toContain(`POST http://127.0.0.1:${port}`);
    expect(error.message).not.toMatch(/tok-very-secret|body-with-secret|secret-path-token/);
  });

  it('fails with TransportConnectionError when the server resets the connection mid-response', async () => {
    // Prepare
    const server = await serve((_request, response, raw) => {
      response.writeHead(200, { 'Content-Length': '100' });
      response.write('partial');
      setTimeout(() => raw.socket.destroy(), 20);
    });

    // Act
    const failure = await transport.request(get(server.origin)).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TransportConnectionError);
  });

  it('fails with TransportTimeoutError when no response arrives within the deadline', async () => {
    // Prepare
    const server = await serve(() => {
      // never answers
    });
    const started = Date.now();

    // Act
    const failure = await transport.request(get(server.origin, { timeoutMs: 200 })).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TransportTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('counts the body against the deadline: headers then a stalled body time out', async () => {
    // Prepare
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'Content-Length': '1000' });
      response.write('a few bytes');
    });

    // Act
    const failure = await transport.request(get(server.origin, { timeoutMs: 300 })).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TransportTimeoutError);
    expect((failure as TransportTimeoutError).timeoutMs).toBe(300);
  });

  it('rejects a response whose declared length exceeds maxResponseBytes', async () => {
    // Prepare
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'Content-Length': String(64 * 1024) });
      response.end(Buffer.alloc(64 * 1024, 1));
    });

    // Act
    const failure = await transport
      .request(get(server.origin, { maxResponseBytes: 1024 }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(ResponseTooLargeError);
    expect((failure as ResponseTooLargeError).limit).toBe(1024);
  });

  it('aborts a chunked response as soon as it streams past maxResponseBytes', async () => {
    // Prepare
    let chunksWritten = 0;
    const server = await serve((_request, response) => {
      response.writeHead(200); // no Content-Length: chunked
      const timer = setInterval(() => {
        if (response.destroyed || chunksWritten >= 200) {
          clearInterval(timer);
          response.end();
          return;
        }
        chunksWritten += 1;
        response.write(Buffer.alloc(512, 1));
      }, 2);
    });

    // Act
    const failure = await transport
      .request(get(server.origin, { maxResponseBytes: 2048 }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(ResponseTooLargeError);
    expect(chunksWritten).toBeLessThan(200);
  });

  it('accepts a body exactly at maxResponseBytes', async () => {
    // Prepare
    const server = await serve((_request, response) => response.end(Buffer.alloc(1024, 7)));

    // Act
    const response = await transport.request(get(server.origin, { maxResponseBytes: 1024 }));

    // Assess
    expect(response.body.byteLength).toBe(1024);
  });

  it('rejects with the signal reason when the caller aborts mid-request', async () => {
    // Prepare
    const server = await serve(() => {
      // never answers
    });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 50);

    // Act
    const failure = await transport
      .request(get(server.origin, { signal: controller.signal, timeoutMs: 10_000 }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBe(reason);
  });

  it('does not connect at all when the signal is already aborted', async () => {
    // Prepare
    const server = await serve(okHandler);
    const controller = new AbortController();
    controller.abort();

    // Act
    const failure = await transport
      .request(get(server.origin, { signal: controller.signal }))
      .catch((error: unknown) => error);

    // Assess
    expect((failure as Error).name).toBe('AbortError');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a CA bundle or pin on a plain http:// URL', async () => {
    // Prepare
    const server = await serve(okHandler);

    // Act
    const failure = await transport
      .request(get(server.origin, { tls: { pinSha256: cert.sha256Hex } }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(InvalidRequestError);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a URL that is not http(s)', async () => {
    // Act
    const failure = await transport.request(get('ftp://127.0.0.1/x')).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(InvalidRequestError);
  });
});

describe('direct transport over HTTPS', () => {
  it('rejects a self-signed certificate against the system trust store', async () => {
    // Prepare
    const server = await serve(okHandler, cert);

    // Act
    const failure = await transport.request(get(server.origin)).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect((failure as TlsVerificationError).reason).toMatch(/SELF_SIGNED|UNABLE_TO/);
    expect(server.requests).toHaveLength(0);
  });

  it('succeeds when the CA bundle trusts the certificate', async () => {
    // Prepare
    const server = await serve(okHandler, cert);

    // Act
    const response = await transport.request(get(server.origin, { tls: { ca: cert.cert } }));

    // Assess
    expect(response.status).toBe(200);
    expect(Buffer.from(response.body).toString()).toBe('hello');
  });

  it('rejects a certificate the given CA bundle does not trust, even one the bundle replaces', async () => {
    // Prepare
    const server = await serve(okHandler, cert);

    // Act
    const failure = await transport
      .request(get(server.origin, { tls: { ca: otherCert.cert } }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect(server.requests).toHaveLength(0);
  });

  it('rejects a trusted certificate that does not name the host', async () => {
    // Prepare
    const server = await serve(okHandler, wrongHostCert);

    // Act
    const failure = await transport
      .request(get(server.origin, { tls: { ca: wrongHostCert.cert } }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect((failure as TlsVerificationError).reason).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(server.requests).toHaveLength(0);
  });

  it.each([
    ['lower-case hex', (c: SelfSignedCert) => c.sha256Hex],
    ['colon-separated upper-case hex', (c: SelfSignedCert) => c.sha256Hex.toUpperCase().match(/../g)!.join(':')],
    ['base64', (c: SelfSignedCert) => c.sha256Base64],
  ])('succeeds with a CA bundle and a matching pin written as %s', async (_form, pinOf) => {
    // Prepare
    const server = await serve(okHandler, cert);

    // Act
    const response = await transport.request(get(server.origin, { tls: { ca: cert.cert, pinSha256: pinOf(cert) } }));

    // Assess
    expect(response.status).toBe(200);
  });

  it('rejects a CA-trusted certificate whose pin does not match, before sending the request', async () => {
    // Prepare
    const server = await serve(okHandler, cert);

    // Act
    const failure = await transport
      .request(get(server.origin, { tls: { ca: cert.cert, pinSha256: otherCert.sha256Hex } }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect((failure as TlsVerificationError).reason).toBe('PIN_MISMATCH');
    expect(server.requests).toHaveLength(0);
  });

  it('with only a pin, trusts exactly the pinned certificate regardless of issuer and names', async () => {
    // Prepare
    const server = await serve(okHandler, wrongHostCert);

    // Act
    const response = await transport.request(get(server.origin, { tls: { pinSha256: wrongHostCert.sha256Base64 } }));

    // Assess
    expect(response.status).toBe(200);
    expect(server.requests).toHaveLength(1);
  });

  it('with only a pin, rejects any other certificate before sending the request', async () => {
    // Prepare
    const server = await serve(okHandler, cert);

    // Act
    const failure = await transport
      .request({
        method: 'POST',
        url: server.origin,
        body: 'must-not-arrive',
        timeoutMs: 5_000,
        tls: { pinSha256: otherCert.sha256Hex },
      })
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect((failure as TlsVerificationError).reason).toBe('PIN_MISMATCH');
    expect(server.requests).toHaveLength(0);
  });

  it('skips verification only when insecureSkipVerify is set', async () => {
    // Prepare
    const server = await serve(okHandler, wrongHostCert);

    // Act
    const response = await transport.request(get(server.origin, { tls: { insecureSkipVerify: true } }));

    // Assess
    expect(response.status).toBe(200);
  });

  it('still enforces a pin when insecureSkipVerify is also set', async () => {
    // Prepare
    const server = await serve(okHandler, cert);

    // Act
    const failure = await transport
      .request(get(server.origin, { tls: { insecureSkipVerify: true, pinSha256: otherCert.sha256Hex } }))
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect(server.requests).toHaveLength(0);
  });

  it('times out a TLS server that never completes the handshake', async () => {
    // Prepare: a plain TCP server that accepts and stays silent
    const net = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as import('node:net').AddressInfo).port;

    try {
      // Act
      const failure = await transport
        .request(get(`https://127.0.0.1:${port}/`, { timeoutMs: 200, tls: { ca: cert.cert } }))
        .catch((error: unknown) => error);

      // Assess
      expect(failure).toBeInstanceOf(TransportTimeoutError);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('parsePinSha256', () => {
  it('rejects text that is neither 64 hex digits nor 32 bytes of base64', () => {
    // Act
    const attempts = ['', 'abc', 'zz'.repeat(32), Buffer.alloc(16).toString('base64')];

    // Assess
    for (const pin of attempts) expect(() => parsePinSha256(pin)).toThrow(InvalidRequestError);
  });

  it('reads hex and base64 forms of the same digest to the same bytes', () => {
    // Prepare
    const digest = Buffer.alloc(32, 0xab);

    // Act
    const fromHex = parsePinSha256(digest.toString('hex'));
    const fromBase64 = parsePinSha256(digest.toString('base64'));
    const fromBase64Url = parsePinSha256(digest.toString('base64url'));

    // Assess
    expect(fromHex.equals(digest)).toBe(true);
    expect(fromBase64.equals(digest)).toBe(true);
    expect(fromBase64Url.equals(digest)).toBe(true);
  });
});
