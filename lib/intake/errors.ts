import { RelayError } from '../errors.ts';

/**
 * The intake's one error type: it carries the HTTP status and a stable code,
 * and `toResponse` renders it as `{"error": {code, message, issues?}}`.
 */
export class HttpError extends RelayError {
  readonly status: number;
  readonly issues?: { path: string; message: string }[];
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { issues?: { path: string; message: string }[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.status = status;
    if (options.issues) this.issues = options.issues;
    if (options.headers) this.headers = options.headers;
  }

  /** The JSON error body: `{"error": {code, message, issues?}}`. */
  body(): { error: { code: string; message: string; issues?: { path: string; message: string }[] } } {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.body()), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}
