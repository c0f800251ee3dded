/**
 * Failure modes of the RouterOS REST adapter.
 *
 * RouterOS answers errors as `{"error":<status>,"message":"<reason>","detail":"<RouterOS text>"}`
 * (detail optional). Device text is untrusted: it is sanitised (printable,
 * one line, bounded) before it appears in any message, log line or result.
 */
import { RelayError } from '../../errors.ts';
import { ProviderError } from '../errors.ts';

/**
 * What went wrong with one REST request.
 *
 * - `auth`: 401, bad user/password. Never retried by the adapter (RouterOS counts failed logins).
 * - `forbidden`: 403, the user's group lacks a policy.
 * - `rejected`: another 4xx, usually 400 with RouterOS's `detail`.
 * - `not-found`: 404 (an entry that is already gone, a path the router does not have).
 * - `session-closed`: RouterOS killed a command that ran past its 60 s limit.
 * - `server`: 5xx.
 * - `transport`: timeout, refused, reset, DNS, device relay unavailable.
 * - `tls`: the certificate was rejected.
 * - `config`: the request could not be made as configured (not a usable URL, the device relay refused the target).
 * - `shape`: the body is not what RouterOS REST returns.
 */
export type RouterOsFailure =
  | 'auth'
  | 'forbidden'
  | 'rejected'
  | 'not-found'
  | 'session-closed'
  | 'server'
  | 'transport'
  | 'tls'
  | 'config'
  | 'shape';

/** A RouterOS request failed. A ProviderError, so it can be thrown to the reconciler as is. */
export class RouterOsError extends ProviderError {
  readonly failure: RouterOsFailure;
  /** RouterOS's `detail` (sanitised), when it sent one. */
  readonly detail?: string;
  constructor(
    failure: RouterOsFailure,
    message: string,
    options: { retryable: boolean; status?: number; detail?: string; cause?: unknown },
  ) {
    super(message, options);
    this.failure = failure;
    if (options.detail !== undefined) this.detail = options.detail;
  }
}

/**
 * A value failed the last check before it would have been written into a
 * RouterOS script. The script is not built and nothing is sent. The message
 * names the kind of value, never the value itself.
 */
export class RouterOsUnsafeValueError extends RelayError {
  readonly kind: string;
  constructor(kind: string, rule: string) {
    super('routeros_unsafe_value', `refused to put the ${kind} into a RouterOS script: it must match ${rule}`);
    this.kind = kind;
  }
}

/** The provider was built with values the schema would have refused (list, comment, user name). */
export class RouterOsConfigError extends RelayError {
  constructor(message: string) {
    super('routeros_config_invalid', message);
  }
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** Untrusted device text as one printable line of at most `max` characters. */
export function sanitizeRouterOsText(text: string, max = 200): string {
  const flat = text.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** True for the detail RouterOS gives when an add duplicates list + address. */
export function isAlreadyHaveSuchEntry(detail: string | undefined): boolean {
  return detail !== undefined && /already have such entry/i.test(detail);
}

/**
 * Why `/execute` cannot be used, or undefined when the failure is something else.
 *
 * - `permission`: the user may not run scripts. RouterOS answers a missing
 *   policy with 403, or with a 4xx whose detail reads `not enough permissions (9)`
 *   (the console/API trap text); a router without the command answers
 *   `no such command or directory`. The health check's probe notices when
 *   this is fixed.
 * - `dialect`: RouterOS could not parse the relay's script (`syntax error`,
 *   `expected end of command`, `bad command name`). The probe's one-line
 *   script would still pass, so this lasts until restart.
 */
export function scriptUnavailability(error: RouterOsError): 'permission' | 'dialect' | undefined {
  if (error.failure === 'forbidden') return 'permission';
  if (error.failure !== 'rejected' || error.detail === undefined) return undefined;
  if (/not enough permissions|permission denied|no such command/i.test(error.detail)) return 'permission';
  if (/syntax error|expected end of command|bad command name|expected command name/i.test(error.detail)) return 'dialect';
  return undefined;
}
