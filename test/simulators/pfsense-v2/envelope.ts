/**
 * The pfrest v2 response envelope (`Core/Response.inc`):
 *
 * ```json
 * {"code":200,"status":"ok","response_id":"SUCCESS","message":"","data":{...}}
 * ```
 *
 * Errors use the same shape with `data: []`; the HTTP status equals `code`.
 * The package replaces `"` and `'` in messages by backticks, and a 503
 * carries a `Retry-After` header.
 */

/** What the simulator answers; `reset` and `hang` model a device that is down or blocking us. */
export type SimOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'reset' }
  | { kind: 'hang' };

/** `status` words the package uses per HTTP code (`Responses/*.inc`). */
const STATUS_WORDS: Record<number, string> = {
  200: 'ok',
  400: 'bad request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  415: 'unsupported media type',
  422: 'unprocessable content',
  424: 'failed dependency',
  500: 'server error',
  503: 'service unavailable',
};

/** A pfrest error raised inside the simulator's handlers; turned into an envelope by {@link errorOutcome}. */
export class SimApiError extends Error {
  readonly status: number;
  readonly responseId: string;
  readonly retryAfterSeconds?: number;
  constructor(status: number, responseId: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.status = status;
    this.responseId = responseId;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The package's message sanitising: quotes become backticks. */
export function packageMessage(message: string): string {
  return message.replace(/["']/g, '`');
}

/** A JSON envelope outcome. */
export function envelope(
  status: number,
  responseId: string,
  message: string,
  data: unknown,
  headers: Record<string, string> = {},
): SimOutcome {
  const body = JSON.stringify({
    code: status,
    status: STATUS_WORDS[status] ?? 'error',
    response_id: responseId,
    message: packageMessage(message),
    data,
  });
  return { kind: 'response', status, headers: { 'content-type': 'application/json', ...headers }, body };
}

/** `200 SUCCESS` with data. */
export function success(data: unknown): SimOutcome {
  return envelope(200, 'SUCCESS', '', data);
}

/** The envelope of a {@link SimApiError}, with `Retry-After` for 503s that carry one. */
export function errorOutcome(error: SimApiError): SimOutcome {
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  return envelope(error.status, error.responseId, error.message, [], headers);
}
