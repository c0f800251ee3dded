/**
 * The webhook intake's logic, runtime-free: raw request in, status and JSON
 * body out. It verifies, validates and enqueues; it never calls a device.
 * Runtime adapters (the Hono app for Lambda, the Node listener for one-box)
 * only read the request and write the response.
 *
 *   202 accepted (or a duplicate, or an unknown event type, ignored)
 *   400 malformed JSON or schema failure (names the field)
 *   401 missing/bad signature, or a start/update outside the replay window
 *   413 body over the limit   415 not JSON
 *   503 the queue cannot take it (the sender should retry)
 * (405 and 404 are routing, answered by the adapters.)
 *
 * Each delivery gets one log line (warn for 4xx, error for 5xx) with the
 * client's address when the adapter knows it; never the body or a secret.
 */
import { encodeJobJson } from '../engine/job.ts';
import { parseEvent } from '../event/schema.ts';
import type { Logger } from '../log/types.ts';
import type { RelayMetrics } from '../metrics/types.ts';
import { deliveryKey, eventDedupId, eventGroupId } from '../planner/event-key.ts';
import { MessageTooLargeError, QueueUnavailableError } from '../queue/errors.ts';
import type { JobQueue } from '../queue/types.ts';
import { verifyFlowtriq } from '../signature/flowtriq.ts';
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
  /** Webhooks are counted here, by outcome, with the intake's latency. */
  metrics?: Pick<RelayMetrics, 'webhook'>;
}

export interface IngestRequest {
  contentType: string | undefined;
  signature: string | undefined;
  body: Uint8Array;
  /** The adapter stopped reading because the body passed the limit. */
  bodyTooLarge?: boolean;
  /** The sender's address as the adapter saw it (socket or Function URL source IP), for the log line only. */
  clientAddress?: string;
}

export interface IngestResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** What a webhook log line says besides status, outcome and latency (never the body or the signature). */
type LogFields = { clientAddress?: string; eventType?: string; incident?: string };

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when a Content-Type names JSON; adapters may check it before reading the body. */
export function isJsonContentType(type: string | undefined): boolean {
  return JSON_TYPE.test(type ?? '');
}

export function createIngest(options: IntakeOptions) {
  const now = options.now ?? Date.now;
  const windowMs = options.replayWindowMs ?? 300_000;
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  if (options.secrets.length === 0 && !options.insecure) {
    throw new Error('the intake needs at least one webhook secret (or explicit insecure development mode)');
  }
  const verifySignatures = !options.insecure || options.secrets.length > 0;
  const insecureNote = options.insecure ? { insecure: 'INSECURE DEVELOPMENT MODE: webhook signatures are NOT verified' } : {};

  const log = (status: number, outcome: string, started: number, fields: LogFields) => {
    const line = { status, outcome, ...fields, latencyMs: now() - started, ...insecureNote };
    options.metrics?.webhook(outcome, line.latencyMs / 1000);
    if (status >= 500) options.logger.error('webhook', line);
    else if (status >= 400 || options.insecure) options.logger.warn('webhook', line);
    else options.logger.info('webhook', line);
  };

  async function handle(request: IngestRequest, fields: LogFields): Promise<IngestResponse & { outcome: string }> {
    if (!isJsonContentType(request.contentType)) {
      throw new HttpError(415, 'unsupported_media_type', 'send the event as Content-Type: application/json');
    }
    if (request.bodyTooLarge || request.body.byteLength > maxBody) throw new HttpError(413, 'payload_too_large', `the body is over ${maxBody} bytes`);
    if (verifySignatures) {
      const verdict = verifyFlowtriq(options.secrets, request.body, request.signature);
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
    let text: string;
    let value: unknown;
    try {
      text = utf8.decode(request.body);
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'malformed_json', 'the body is not valid UTF-8 JSON');
    }
    const parsed = parseEvent(value);
    if (!parsed.ok) {
      const first = parsed.issues[0]!;
      throw new HttpError(400, 'invalid_event', `${first.path}: ${first.message}`, { issues: parsed.issues });
    }
    const event = parsed.event;
    fields.eventType = event.event_type;
    if (event.incident?.uuid !== undefined) fields.incident = event.incident.uuid;
    if (!parsed.known) {
      return { status: 202, body: { accepted: true, ignored: `unknown event type "${event.event_type}"` }, outcome: 'ignored_unknown_type' };
    }
    const eventMs = Date.parse(event.timestamp);
    const skewMs = Math.abs(now() - eventMs);
    if (skewMs > windowMs && event.event_type !== 'attack_end') {
      throw new HttpError(
        401,
        'stale_event',
        `timestamp ${event.timestamp} is outside the ${Math.round(windowMs / 1000)} s replay window; check the clocks if this is a live event`,
      );
    }
    // The same delivery (same body) is enqueued once; any difference makes another event.
    const delivery = deliveryKey(text);
    let duplicate: boolean | undefined;
    try {
      ({ duplicate } = await options.queue.send({
        groupId: eventGroupId(event),
        dedupId: eventDedupId(event, eventMs, delivery),
        body: encodeJobJson(text, now(), delivery),
      }));
    } catch (error) {
      if (error instanceof MessageTooLargeError) throw new HttpError(413, 'payload_too_large', error.message, { cause: error });
      const detail = error instanceof QueueUnavailableError ? error.message : 'the queue refused the event';
      throw new HttpError(503, 'queue_unavailable', `${detail}; retry later`, { headers: { 'retry-after': '5' }, cause: error });
    }
    const outcome = duplicate ? 'duplicate' : skewMs > windowMs ? 'accepted_late_end' : 'accepted';
    return { status: 202, body: { accepted: true, ...(duplicate ? { duplicate: true } : {}) }, outcome };
  }

  /** Handles one webhook delivery; never throws. */
  return async function ingest(request: IngestRequest): Promise<IngestResponse> {
    const started = now();
    // The address goes on every line, accepted or refused, so a refusal can be traced to its sender.
    const fields: LogFields = request.clientAddress === undefined ? {} : { clientAddress: request.clientAddress };
    try {
      const { outcome, ...response } = await handle(request, fields);
      log(response.status, outcome, started, fields);
      return response;
    } catch (error) {
      const http = error instanceof HttpError ? error : new HttpError(500, 'internal_error', 'internal error; nothing was enqueued');
      if (!(error instanceof HttpError)) {
        options.logger.error('intake failed', { error: error instanceof Error ? error.message : String(error), ...fields });
      }
      log(http.status, http.code, started, fields);
      return { status: http.status, body: http.body(), ...(http.headers ? { headers: http.headers } : {}) };
    }
  };
}

export type Ingest = ReturnType<typeof createIngest>;

/** The body limit an adapter should enforce while reading. */
export function maxBodyBytes(options: Pick<IntakeOptions, 'maxBodyBytes'>): number {
  return options.maxBodyBytes ?? MAX_BODY_BYTES;
}
