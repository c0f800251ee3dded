/**
 * The intake as a Hono app on web-standard Request/Response: served by
 * Lambda (hono/aws-lambda) and, for everything but the hot webhook route,
 * by Node in one-box mode (lib/intake/node-listener.ts). The webhook logic
 * itself is lib/intake/ingest.ts.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HttpError } from './errors.ts';
import { createIngest, isJsonContentType, MAX_BODY_BYTES, WEBHOOK_PATH, type IntakeOptions } from './ingest.ts';

export { MAX_BODY_BYTES, WEBHOOK_PATH, type IntakeOptions } from './ingest.ts';

export function createIntakeApp(options: IntakeOptions): Hono {
  const ingest = createIngest(options);
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const app = new Hono();

  app.onError((error) => {
    const http = error instanceof HttpError ? error : new HttpError(500, 'internal_error', 'internal error; nothing was enqueued');
    if (!(error instanceof HttpError)) options.logger.error('intake failed', { error: error.message });
    return http.toResponse();
  });

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.post(
    WEBHOOK_PATH,
    bodyLimit({
      maxSize: maxBody,
      onError: () => {
        throw new HttpError(413, 'payload_too_large', `the body is over ${maxBody} bytes`);
      },
    }),
    async (c) => {
      const contentType = c.req.header('content-type');
      // A non-JSON body is refused before it is read.
      const body = isJsonContentType(contentType) ? new Uint8Array(await c.req.arrayBuffer()) : new Uint8Array();
      const clientAddress = functionUrlSourceIp(c.env);
      const response = await ingest({
        contentType,
        signature: c.req.header('x-flowtriq-signature'),
        body,
        ...(clientAddress === undefined ? {} : { clientAddress }),
      });
      return c.json(response.body as object, response.status as 202, response.headers);
    },
  );

  app.all(WEBHOOK_PATH, () => {
    throw new HttpError(405, 'method_not_allowed', 'use POST', { headers: { allow: 'POST' } });
  });
  app.notFound(() => new HttpError(404, 'not_found', `the webhook is at POST ${WEBHOOK_PATH}`).toResponse());
  return app;
}

/**
 * The caller's address in Lambda: hono/aws-lambda passes the Function URL
 * event's requestContext as the env. X-Forwarded-For is not read: anyone can
 * send it. Undefined anywhere else.
 */
function functionUrlSourceIp(env: unknown): string | undefined {
  const ip = (env as { requestContext?: { http?: { sourceIp?: unknown } } } | undefined)?.requestContext?.http?.sourceIp;
  return typeof ip === 'string' && ip !== '' ? ip : undefined;
}
