/**
 * The RouterOS v7 REST calls the adapter makes, over the relay's Transport,
 * with HTTP Basic auth. Every reply is validated with zod (lenient: unknown
 * fields pass through) and every failure becomes a {@link RouterOsError}
 * whose `retryable` tells the reconciler what to do:
 *
 * | answer                                       | failure          | retryable |
 * | -------------------------------------------- | ---------------- | --------- |
 * | 401                                          | `auth`           | no        |
 * | 403                                          | `forbidden`      | no        |
 * | 400 `detail: "Session closed"` (60 s limit)  | `session-closed` | yes       |
 * | 404                                          | `not-found`      | no        |
 * | other 4xx (detail sanitised)                 | `rejected`       | no        |
 * | 5xx                                          | `server`         | yes       |
 * | timeout, refused, reset, device relay down   | `transport`      | yes       |
 * | certificate rejected                         | `tls`            | no        |
 * | unusable request, device relay refused       | `config`         | no        |
 * | a body that is not what RouterOS sends       | `shape`          | no        |
 *
 * Messages name the router's origin and the method + path, never a query
 * string, a body or a header.
 */
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { classifyTransportFailure } from '../../transport/errors.ts';
import type { HttpResponse, TlsOptions, Transport } from '../../transport/types.ts';
import { RouterOsError, sanitizeRouterOsText } from './errors.ts';
import type { AddressFamily } from './script.ts';

/** An address-list entry as RouterOS prints it (every value a string). */
export const routerOsEntrySchema = z.looseObject({
  '.id': z.string().regex(/^\*[0-9A-Fa-f]{1,16}$/, 'must be a RouterOS id such as *1A'),
  /** Absent only when `.proplist` left it out. */
  address: z.string().max(300).optional(),
  list: z.string().optional(),
  comment: z.string().optional(),
  timeout: z.string().optional(),
  disabled: z.string().optional(),
  dynamic: z.string().optional(),
});
export type RouterOsEntry = z.infer<typeof routerOsEntrySchema>;

const entryListSchema = z.array(routerOsEntrySchema);
const executeReplySchema = z.union([z.looseObject({ ret: z.string() }), z.array(z.unknown()).max(0), z.looseObject({})]);
const errorBodySchema = z.looseObject({
  error: z.union([z.number(), z.string()]).optional(),
  message: z.string().optional(),
  detail: z.string().optional(),
});

/** Address-list menus under /rest. */
const LIST_PATH: Record<AddressFamily, string> = {
  4: '/rest/ip/firewall/address-list',
  6: '/rest/ipv6/firewall/address-list',
};
const EXECUTE_PATH = '/rest/execute';
const ENTRY_ID = /^\*[0-9A-Fa-f]{1,16}$/;
/** Large lists are read whole; 10,000 entries with 4 properties are about 1 MB. */
const MAX_LIST_BYTES = 64 * 1024 * 1024;
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

export interface RouterOsClientOptions {
  /** `https://host[:port]`, no path. */
  origin: string;
  username: string;
  password: string;
  transport: Transport;
  tls: TlsOptions;
  /** Deadline of one request. */
  timeoutMs: number;
}

/** Fields of an address-list entry the adapter writes. */
export interface EntryFields {
  list: string;
  address: string;
  timeout?: string;
  comment?: string;
}

/** Thin, validating wrapper around the REST endpoints the adapter uses. */
export class RouterOsClient {
  readonly origin: string;
  readonly #transport: Transport;
  readonly #tls: TlsOptions;
  readonly #timeoutMs: number;
  readonly #authorization: string;

  constructor(options: RouterOsClientOptions) {
    this.origin = options.origin;
    this.#transport = options.transport;
    this.#tls = options.tls;
    this.#timeoutMs = options.timeoutMs;
    this.#authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64')}`;
  }

  /** Runs a script synchronously (`as-string`) and returns what it printed. */
  async execute(script: string, signal: AbortSignal): Promise<string> {
    const reply = await this.#call('POST', EXECUTE_PATH, '', { script, 'as-string': '' }, signal, MAX_REPLY_BYTES);
    const parsed = this.#validate(executeReplySchema, reply, 'POST', EXECUTE_PATH);
    return !Array.isArray(parsed) && typeof parsed.ret === 'string' ? parsed.ret : '';
  }

  /** `GET <menu>?<filters>&.proplist=…`: entries matching every filter (equality). */
  async listEntries(
    family: AddressFamily,
    filters: Record<string, string>,
    proplist: readonly string[],
    signal: AbortSignal,
  ): Promise<RouterOsEntry[]> {
    const query = new URLSearchParams(filters);
    query.set('.proplist', proplist.join(','));
    const path = LIST_PATH[family];
    const reply = await this.#call('GET', path, `?${query.toString()}`, undefined, signal, MAX_LIST_BYTES);
    return this.#validate(entryListSchema, reply, 'GET', path);
  }

  /** `PUT <menu>`: creates one entry and returns it (with its `.id`). */
  async addEntry(family: AddressFamily, fields: EntryFields, signal: AbortSignal): Promise<RouterOsEntry> {
    const path = LIST_PATH[family];
    const reply = await this.#call('PUT', path, '', fields, signal, MAX_REPLY_BYTES);
    return this.#validate(routerOsEntrySchema, reply, 'PUT', path);
  }

  /** `PATCH <menu>/<id>`: changes fields of one entry. */
  async updateEntry(family: AddressFamily, id: string, fields: Partial<EntryFields>, signal: AbortSignal): Promise<void> {
    const path = `${LIST_PATH[family]}/${checkedId(id)}`;
    await this.#call('PATCH', path, '', fields, signal, MAX_REPLY_BYTES);
  }

  /** `DELETE <menu>/<id>`: `absent` when RouterOS answers 404 (already gone). */
  async deleteEntry(family: AddressFamily, id: string, signal: AbortSignal): Promise<'deleted' | 'absent'> {
    const path = `${LIST_PATH[family]}/${checkedId(id)}`;
    try {
      await this.#call('DELETE', path, '', undefined, signal, MAX_REPLY_BYTES);
      return 'deleted';
    } catch (error) {
      if (error instanceof RouterOsError && error.failure === 'not-found') return 'absent';
      throw error;
    }
  }

  /** Sends one request; resolves to the parsed JSON body of a 2xx (undefined when empty). */
  async #call(
    method: string,
    path: string,
    query: string,
    body: unknown,
    signal: AbortSignal,
    maxResponseBytes: number,
  ): Promise<unknown> {
    const what = `${method} ${path}`;
    const headers: Record<string, string> = { Authorization: this.#authorization, Accept: 'application/json' };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    let response: HttpResponse;
    try {
      response = await this.#transport.request({
        method,
        url: `${this.origin}${path}${query}`,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        timeoutMs: this.#timeoutMs,
        maxResponseBytes,
        tls: this.#tls,
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw this.#transportFailure(what, error);
    }
    const text = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString('utf8');
    if (response.status >= 200 && response.status < 300) {
      if (text.trim() === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw this.#shapeFailure(what, 'the body is not JSON');
      }
    }
    throw this.#statusFailure(what, response.status, text);
  }

  #validate<T>(schema: z.ZodType<T>, value: unknown, method: string, path: string): T {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.map(String).join('.')}` : '';
    throw this.#shapeFailure(`${method} ${path}`, `${sanitizeRouterOsText(issue?.message ?? 'invalid', 120)}${where}`);
  }

  #shapeFailure(what: string, reason: string): RouterOsError {
    return new RouterOsError(
      'shape',
      `RouterOS ${this.origin} answered ${what} with an unexpected body (${reason}); is this the RouterOS v7.1+ REST service?`,
      { retryable: false },
    );
  }

  #statusFailure(what: string, status: number, text: string): RouterOsError {
    let detail: string | undefined;
    let reason: string | undefined;
    try {
      const parsed = errorBodySchema.safeParse(JSON.parse(text));
      if (parsed.success) {
        if (parsed.data.detail !== undefined) detail = sanitizeRouterOsText(parsed.data.detail);
        if (parsed.data.message !== undefined) reason = sanitizeRouterOsText(parsed.data.message, 60);
      }
    } catch {
      // Not JSON (a proxy's page, an empty body): the status alone says enough.
    }
    const label = `${status} ${reason ?? STATUS_CODES[status] ?? ''}`.trim();
    const answered = `RouterOS ${this.origin} answered ${what} with ${label}${detail ? `: ${detail}` : ''}`;
    const options = { status, ...(detail === undefined ? {} : { detail }) };
    if (status === 401) {
      return new RouterOsError(
        'auth',
        `RouterOS ${this.origin} rejected the credentials (${label}): check the user/password; RouterOS counts failed logins`,
        { ...options, retryable: false },
      );
    }
    if (status === 403) {
      return new RouterOsError(
        'forbidden',
        `${answered}; the user's group lacks a policy the relay needs (read, write, rest-api on 7.21+)`,
        { ...options, retryable: false },
      );
    }
    if (detail !== undefined && /^session closed$/i.test(detail)) {
      return new RouterOsError('session-closed', `${answered} (RouterOS stops commands after 60 s)`, { ...options, retryable: true });
    }
    if (status === 404) return new RouterOsError('not-found', answered, { ...options, retryable: false });
    if (status >= 500) return new RouterOsError('server', answered, { ...options, retryable: true });
    if (status === 408 || status === 429) return new RouterOsError('server', answered, { ...options, retryable: true });
    return new RouterOsError('rejected', answered, { ...options, retryable: false });
  }

  #transportFailure(what: string, error: unknown): RouterOsError {
    const { kind, retryable, description } = classifyTransportFailure(error);
    const message = `RouterOS ${this.origin}: ${what} failed: ${sanitizeRouterOsText(description, 300)}`;
    const routerOsKind = kind === 'request' ? 'config' : kind === 'too_large' ? 'shape' : kind === 'tls' ? 'tls' : 'transport';
    return new RouterOsError(routerOsKind, message, { retryable, cause: error });
  }
}

function checkedId(id: string): string {
  if (!ENTRY_ID.test(id)) throw new RouterOsError('shape', `refusing to use "${sanitizeRouterOsText(id, 20)}" as a RouterOS id`, { retryable: false });
  return id;
}
