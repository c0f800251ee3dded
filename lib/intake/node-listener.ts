/**
 * One-box server adapter: POST /webhooks/flowtriq is read straight from
 * Node's request stream and handed to the ingest core (no web Request is
 * built on the hot path); every other request goes to the Hono app. The
 * webhook logic is the same as in Lambda: lib/intake/ingest.ts.
 *
 * The client's socket address goes with every delivery, so the ingest log
 * line of a refused webhook names its sender. Timeouts and the connection cap
 * are the server's, set by lib/intake/server-limits.ts.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { isJsonContentType, WEBHOOK_PATH, type Ingest, type IngestRequest, type IngestResponse } from './ingest.ts';
import { clientAddressOf } from './server-limits.ts';

export function createNodeListener(options: { ingest: Ingest; app: Hono; maxBodyBytes: number }): RequestListener {
  const fallback = getRequestListener(options.app.fetch);
  const { ingest, maxBodyBytes } = options;

  return (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'POST' || pathOf(request.url) !== WEBHOOK_PATH) {
      void fallback(request, response);
      return;
    }
    const contentType = header(request, 'content-type');
    const signature = header(request, 'x-flowtriq-signature');
    const declared = Number(request.headers['content-length'] ?? 0);
    const clientAddress = clientAddressOf(request.socket);
    const from: Pick<IngestRequest, 'clientAddress'> = clientAddress === undefined ? {} : { clientAddress };
    if (!isJsonContentType(contentType) || declared > maxBodyBytes) {
      // Refused without reading the body (415 or 413).
      void ingest({ contentType, signature, body: new Uint8Array(), bodyTooLarge: declared > maxBodyBytes, ...from }).then((result) =>
        refuseAndClose(request, response, result),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.byteLength;
      if (size > maxBodyBytes) {
        tooLarge = true;
        chunks.length = 0;
        void ingest({ contentType, signature, body: new Uint8Array(), bodyTooLarge: true, ...from }).then((result) =>
          refuseAndClose(request, response, result),
        );
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (tooLarge) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      void ingest({ contentType, signature, body, ...from }).then((result) => write(response, result));
    });
    request.on('error', () => response.destroy());
  };
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function write(response: ServerResponse, result: IngestResponse, extra: Record<string, string> = {}) {
  const body = JSON.stringify(result.body);
  // A flat [name, value, ...] list goes to the socket as is (no header object to build).
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
  // (The intake's headers, e.g. retry-after, and the adapter's, e.g. connection, never share a name.)
  for (const name in result.headers) headers.push(name, result.headers[name]!);
  for (const name in extra) headers.push(name, extra[name]!);
  response.writeHead(result.status, headers);
  response.end(body);
}

/** Answers without reading the rest of the body, then closes the connection. */
function refuseAndClose(request: IncomingMessage, response: ServerResponse, result: IngestResponse) {
  write(response, result, { connection: 'close' });
  request.resume();
  setTimeout(() => request.destroy(), 1_000).unref();
}
