/**
 * HTTP exchanges with the Robot webservice (`https://robot-ws.your-server.de`)
 * through the relay's Transport.
 *
 * - HTTP Basic with the webservice user (`#ws+…`): the header is built here;
 *   credentials never go into a URL (`#` would start a fragment), a log or
 *   an error.
 * - GET is retried (withRetries) on 5xx and transport failures. POST is sent
 *   once per call: after an unclear outcome the provider reads the firewall
 *   again on its next call instead of repeating a whole-config replace
 *   blindly.
 * - 401 → the client stops (Robot blocks a source IP for 10 minutes after 3
 *   failed logins): a non-retryable ProviderError naming the fix, and every
 *   call for `authCooldownMs` fails the same way without a request.
 * - 403 RATE_LIMIT_EXCEEDED → a retryable ProviderError with a long
 *   `retryAfterMs`; nothing is sent until it has passed.
 * - Every 2xx body is validated (zod); anything else is an error naming
 *   what was wrong.
 */
import type { HttpResponse } from '../../transport/types.ts';
import { parseRetryAfter } from '../../util/retry-after.ts';
import { RetryableCall, retryDetails, retryOptions, withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import { type ApiOp, type ApiClientOptions, RELAY_USER_AGENT, parseJsonBody, sendRequest, timeLeft } from '../http-json.ts';
import { explainRobotError, parseRobotError } from './errors.ts';
import { type RobotFirewall, parseFirewall } from './model.ts';

export const ROBOT_USER_AGENT = RELAY_USER_AGENT;
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** The state of one provider operation. */
export type RobotOp = ApiOp;

export interface HetznerRobotClientOptions extends ApiClientOptions {
  integrationId: string;
  baseUrl: string;
  username: string;
  password: string;
  rateLimitPauseMs: number;
  authCooldownMs: number;
}

export class HetznerRobotClient {
  readonly #o: HetznerRobotClientOptions;
  readonly #authorization: string;
  #stopped: { message: string; until: number } | undefined;
  #rateLimitedUntil = 0;

  constructor(options: HetznerRobotClientOptions) {
    this.#o = options;
    this.#authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64')}`;
  }

  get label(): string {
    return `hetzner-robot ${this.#o.integrationId}`;
  }

  /** `GET /firewall/{server}`, retried on 5xx and transport failures within the operation's budget. */
  async getFirewall(op: RobotOp, server: number): Promise<RobotFirewall> {
    const path = `/firewall/${server}`;
    return withRetries(() => this.#exchange(op, 'GET', path, server, undefined), retryOptions(op, this.#o, this.label));
  }

  /** `POST /firewall/{server}` with a whole configuration (form body). Sent once. */
  async postFirewall(op: RobotOp, server: number, form: string): Promise<RobotFirewall> {
    const path = `/firewall/${server}`;
    try {
      return await this.#exchange(op, 'POST', path, server, form);
    } catch (error) {
      if (!(error instanceof RetryableCall)) throw error;
      throw new ProviderError(`${this.label}: POST ${path}: ${error.message}; the relay reads the firewall again before any further change`, { retryable: true, ...retryDetails(error) });
    }
  }

  async #exchange(op: RobotOp, method: 'GET' | 'POST', path: string, server: number, form: string | undefined): Promise<RobotFirewall> {
    this.#throwIfHeld();
    op.signal.throwIfAborted();
    const target = `${method} ${path}`;
    const remaining = timeLeft(op, this.#o.now(), this.label, target);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: this.#authorization,
      'User-Agent': ROBOT_USER_AGENT,
    };
    if (form !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const url = `${this.#o.baseUrl}${path}`;
    const response = await sendRequest(op, this.#o, { method, url, headers, body: form, maxResponseBytes: MAX_RESPONSE_BYTES, remaining, label: this.label, target });
    op.logger.debug('hetzner-robot request', { integration: this.#o.integrationId, method, path, status: response.status });
    return this.#interpret(method, path, server, response);
  }

  #interpret(method: string, path: string, server: number, response: HttpResponse): RobotFirewall {
    const { status } = response;
    const target = `${method} ${path}`;
    const json = parseJsonBody(response.body);
    if (status >= 200 && status < 300) {
      const parsed = json === undefined ? { ok: false as const, problem: 'the body is not JSON' } : parseFirewall(json);
      if (!parsed.ok) {
        throw new ProviderError(
          `${this.label}: ${target} answered ${status} but not with Robot's firewall object (${parsed.problem}); ` +
            'the relay must reach https://robot-ws.your-server.de directly (no proxy or captive portal rewriting answers)',
          { retryable: false, status },
        );
      }
      if (parsed.firewall.server_number !== server) {
        throw new ProviderError(`${this.label}: ${target} answered for server ${parsed.firewall.server_number}, not ${server}`, {
          retryable: false,
          status,
        });
      }
      return parsed.firewall;
    }
    const error = json === undefined ? undefined : parseRobotError(json);
    const said = error ? ` ${error.code}${error.message ? ` (${error.message})` : ''}` : '';
    if (status === 401) this.#stop(target, said);
    if (status === 403 && error?.code === 'RATE_LIMIT_EXCEEDED') {
      const pause = parseRetryAfter(response.headers['retry-after'], this.#o.now()) ?? this.#o.rateLimitPauseMs;
      this.#rateLimitedUntil = this.#o.now() + pause;
      const limit = error.maxRequest !== undefined && error.intervalSeconds !== undefined
        ? ` (${error.maxRequest} requests per ${Math.round(error.intervalSeconds / 60)} min)`
        : '';
      throw new ProviderError(
        `${this.label}: ${target} answered 403 RATE_LIMIT_EXCEEDED${limit}: Robot's request limit is used up (other tools using the same account count too); ` +
          `the relay sends nothing for ${Math.ceil(pause / 60_000)} min and then tries again`,
        { retryable: true, status, retryAfterMs: pause },
      );
    }
    const { retryable, explanation } = explainRobotError(status, error, server);
    const message = `${target} answered ${status}${said}: ${explanation}`;
    if (retryable) {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], this.#o.now());
      if (error?.code === 'FIREWALL_IN_PROCESS') {
        // Not worth repeating blindly: the provider re-reads and decides.
        throw new ProviderError(`${this.label}: ${message}`, { retryable: true, status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
      }
      throw new RetryableCall(message, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    throw new ProviderError(`${this.label}: ${message}`, { retryable: false, status });
  }

  #stop(target: string, said: string): never {
    const minutes = Math.round(this.#o.authCooldownMs / 60_000);
    const looksLikeWs = this.#o.username.startsWith('#ws+');
    const message =
      `${this.label}: ${target} answered 401${said}: Robot rejected secrets.username/secrets.password. ` +
      'Use a webservice user (Robot → Settings → "Web service and app settings"; the name looks like #ws+XXXXXXX), ' +
      `not the Robot login and not a Hetzner Cloud API token${looksLikeWs ? '' : ' (the configured username does not start with #ws+)'}. ` +
      `Robot blocks the source IP for 10 minutes after 3 failed logins, so the relay sends nothing for ${minutes} min (or until it restarts).`;
    this.#stopped = { message, until: this.#o.now() + this.#o.authCooldownMs };
    throw new ProviderError(message, { retryable: false, status: 401 });
  }

  #throwIfHeld(): void {
    const now = this.#o.now();
    if (this.#stopped !== undefined) {
      if (now < this.#stopped.until) throw new ProviderError(this.#stopped.message, { retryable: false, status: 401 });
      this.#stopped = undefined;
    }
    if (now < this.#rateLimitedUntil) {
      const retryAfterMs = this.#rateLimitedUntil - now;
      throw new ProviderError(
        `${this.label}: Robot's request limit was used up (403 RATE_LIMIT_EXCEEDED); nothing is sent for ${Math.ceil(retryAfterMs / 60_000)} more min`,
        { retryable: true, status: 403, retryAfterMs },
      );
    }
  }
}
