/**
 * The webhook intake: one Hono app on web-standard Request/Response, served
 * by Node locally and by Lambda in AWS. It verifies, validates and enqueues;
 * it never calls a device.
 *
 * POST /webhooks/flowtriq
 *   202 accepted (or a duplicate, or an unknown event type, ignored)
 *   400 malformed JSON or schema failure (names the field)
 *   401 missing/bad signature, or a start/update outside the replay window
 *   405 wrong method   413 body over the limit   415 not JSON
 *   503 the queue cannot take it (the sender should retry)
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { parseEvent } from '../event/schema.ts';
import type { Logger } from '../log/types.ts';
import { encodeJob } from '../engine/job.ts';
import { eventDedupId, eventGroupId } from '../planner/event-key.ts';
import { MessageTooLargeError, QueueUnavailableError } from '../queue/errors.ts';
import type { JobQueue } from '../queue/types.ts';
import { FLOWTRIQ_SIGNATURE_HEADER, verifyFlowtriq } from '../signature/flowtriq.ts';
import { HttpError } from './errors.ts';

export const WEBHOOK_PATH = '/webhooks/flowtriq';
export const MAX_BODY_BYTES = 256 * 1024;

export interface IntakeOptions {
  /** One or two secrets (rotation). Empty only with `insecure`. */
  secrets: readonly string[];
  /** Explicit development mode: signatures are not checked, and every request log says so. */
  insecure?: boolean;
  queue: Pick<JobQueue, 'send'>;
  logger: Logger;
  now?: () => number;
  /** Start/update events further than this from now are refused (default 5 min). */
  replayWindowMs?: number;
  maxBodyBytes?: number;
}

type IntakeEnv = { Variables: { outcome: string; eventType: string; incident: string | undefined } };

export function createIntakeApp(options: IntakeOptions): Hono<IntakeEnv> {
  const now = options.now ?? Date.now;
  const windowMs = options.replayWindowMs ?? 300_000;
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  if (options.secrets.length === 0 && !options.insecure) {
    throw new Error('the intake needs at least one webhook secret (or explicit insecure development mode)');
  }
  const app = new Hono<IntakeEnv>();

  app.onError((error, c) => {
    const http =
      error instanceof HttpError
        ? error
        : new HttpError(500, 'internal_error', 'internal error; nothing was enqueued');
    if (http.status >= 500 && !(error instanceof HttpError)) {
      options.logger.error('intake failed', { error: error.message });
    }
    c.set('outcome', http.code);
    return http.toResponse();
  });

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.post(
    WEBHOOK_PATH,
    async (c, next) => {
      const started = now();
      await next();
      const line = {
        status: c.res.status,
        outcome: c.get('outcome') ?? 'accepted',
        eventType: c.get('eventType'),
        incident: c.get('incident'),
        latencyMs: now() - started,
        ...(options.insecure ? { insecure: 'INSECURE DEVELOPMENT MODE: webhook signatures are NOT verified' } : {}),
      };
      if (c.res.status >= 500) options.logger.error('webhook', line);
      else if (c.res.status >= 400 || options.insecure) options.logger.warn('webhook', line);
      else options.logger.info('webhook', line);
    },
    async (c, next) => {
      const type = c.req.header('content-type') ?? '';
      if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
        throw new HttpError(415, 'unsupported_media_type', 'send the event as Content-Type: application/json');
      }
      await next();
    },
    bodyLimit({
      maxSize: maxBody,
      onError: () => {
        throw new HttpError(413, 'payload_too_large', `the body is over ${maxBody} bytes`);
      },
    }),
    async (c) => {
      const raw = new Uint8Array(await c.req.arrayBuffer());
      if (raw.byteLength > maxBody) throw new HttpError(413, 'payload_too_large', `the body is over ${maxBody} bytes`);
      if (!options.insecure || options.secrets.length > 0) {
        const verdict = verifyFlowtriq(options.secrets, raw, c.req.header(FLOWTRIQ_SIGNATURE_HEADER));
        if (verdict !== 'valid') {
          const message =
            verdict === 'missing'
              ? 'missing X-Flowtriq-Signature header'
              : verdict === 'malformed'
                ? 'X-Flowtriq-Signature must be "sha256=" followed by 64 hex characters'
                : 'signature does not match the body';
          throw new HttpError(401, `signature_${verdict}`, message);
        }
      }

      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
      } catch {
        throw new HttpError(400, 'malformed_json', 'the body is not valid UTF-8 JSON');
      }
      const parsed = parseEvent(value);
      if (!parsed.ok) {
        const first = parsed.issues[0]!;
        throw new HttpError(400, 'invalid_event', `${first.path}: ${first.message}`, { issues: parsed.issues });
      }
      const event = parsed.event;
      c.set('eventType', event.event_type);
      c.set('incident', event.incident?.uuid);
      if (!parsed.known) {
        c.set('outcome', 'ignored_unknown_type');
        return c.json({ accepted: true, ignored: `unknown event type "${event.event_type}"` }, 202);
      }

      const skewMs = Math.abs(now() - Date.parse(event.timestamp));
      if (skewMs > windowMs && event.event_type !== 'attack_end') {
        throw new HttpError(
          401,
          'stale_event',
          `timestamp ${event.timestamp} is outside the ${Math.round(windowMs / 1000)} s replay window; check the clocks if this is a live event`,
        );
      }
      if (skewMs > windowMs) c.set('outcome', 'accepted_late_end');

      let duplicate: boolean | undefined;
      try {
        ({ duplicate } = await options.queue.send({
          groupId: eventGroupId(event),
          dedupId: eventDedupId(event),
          body: encodeJob(event, now()),
        }));
      } catch (error) {
        if (error instanceof MessageTooLargeError) {
          throw new HttpError(413, 'payload_too_large', error.message, { cause: error });
        }
        const detail = error instanceof QueueUnavailableError ? error.message : 'the queue refused the event';
        throw new HttpError(503, 'queue_unavailable', `${detail}; retry later`, {
          headers: { 'retry-after': '5' },
          cause: error,
        });
      }
      if (duplicate) c.set('outcome', 'duplicate');
      return c.json({ accepted: true, ...(duplicate ? { duplicate: true } : {}) }, 202);
    },
  );

  app.all(WEBHOOK_PATH, () => {
    throw new HttpError(405, 'method_not_allowed', 'use POST', { headers: { allow: 'POST' } });
  });
  app.notFound(() => new HttpError(404, 'not_found', `the webhook is at POST ${WEBHOOK_PATH}`).toResponse());
  return app;
}
