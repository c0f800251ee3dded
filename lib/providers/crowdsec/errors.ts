/**
 * The LAPI's failure answers and what each means for the relay.
 *
 * Bodies: `{"message": "…"}` (ErrorResponse) from the API handlers and
 * `{"code": 401, "message": "…"}` from the JWT middleware (gin-jwt).
 *
 * Quirks of 1.4.x (Debian bookworm's 1.4.6) the relay must read right:
 * - Validation failures come back as **500**, not 400: "validation failure
 *   list: …", "unable to create alerts: decision duration '1d' …", "'scope'
 *   doesn't exist: invalid filter", "unable to convert 'x' to int". Retrying
 *   cannot help; they are told apart from a real server failure by the text.
 * - A DELETE /v1/decisions filter key the version does not know is refused
 *   ("'<key>' doesn't exist: invalid filter") instead of being ignored: the
 *   relay then removes by decision id ({@link CrowdsecFilterUnsupportedError}).
 * - Login failures are all 401: wrong password, unknown machine ("ent:
 *   machine not found"), a machine not validated, and a User-Agent without
 *   exactly one "/".
 */
import { ProviderError } from '../errors.ts';

/** The machine login was refused (401): wrong machine id/password, unvalidated machine. Not retryable. */
export class CrowdsecLoginError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false, status: 401 });
    this.name = 'CrowdsecLoginError';
  }
}

/** A request with a fresh token was refused (401/403): the machine may not do this. Not retryable. */
export class CrowdsecForbiddenError extends ProviderError {
  constructor(message: string, status: number) {
    super(message, { retryable: false, status });
    this.name = 'CrowdsecForbiddenError';
  }
}

/** The LAPI rejected what the relay sent (400, 422, or a 1.4.x validation 500). Not retryable. */
export class CrowdsecRejectedError extends ProviderError {
  constructor(message: string, status: number) {
    super(message, { retryable: false, status });
    this.name = 'CrowdsecRejectedError';
  }
}

/** DELETE /v1/decisions refused one of the relay's filter keys: this version cannot filter that way. */
export class CrowdsecFilterUnsupportedError extends ProviderError {
  readonly key: string;
  constructor(message: string, key: string, status: number) {
    super(message, { retryable: false, status });
    this.name = 'CrowdsecFilterUnsupportedError';
    this.key = key;
  }
}

/** A 2xx answer that is not what the API documents (a proxy, another service on the port). Not retryable. */
export class CrowdsecResponseError extends ProviderError {
  constructor(message: string, status: number) {
    super(message, { retryable: false, status });
    this.name = 'CrowdsecResponseError';
  }
}

const VALIDATION_500 =
  /validation failure|invalid filter|doesn't exist|is unknown|unable to convert|unable to parse|invalid addr|invalid ip|is required|unknown unit|invalid duration|must be valid|not a boolean|bad limit/i;

/** True when a 500 is 1.4.x's way of saying "bad request" (retrying cannot help). */
export function isValidation500(message: string): boolean {
  return VALIDATION_500.test(message);
}

/** The filter key named by "'<key>' doesn't exist: invalid filter", if that is what the LAPI said. */
export function unsupportedFilterKey(message: string): string | undefined {
  const match = /'([a-z_]+)' doesn't exist/i.exec(message) ?? /filter parameter '([a-z_]+)' is unknown/i.exec(message);
  return match?.[1];
}

/** What a refused login means, with the fix. */
export function explainLoginFailure(message: string, machineId: string): string {
  const lower = message.toLowerCase();
  if (lower.includes('not validated')) {
    return `machine ${machineId} is registered but not validated: run \`cscli machines validate ${machineId}\` on the LAPI host`;
  }
  if (lower.includes('machine not found')) {
    return `the LAPI knows no machine ${machineId}: create it with \`cscli machines add ${machineId} --password '<password>' -f /dev/null\` and put the password in secrets.password (or fix options.machineId)`;
  }
  if (lower.includes('user agent') || lower.includes('user-agent')) {
    return 'the LAPI refused the User-Agent (it must be name/version with exactly one "/"); this is a relay bug, please report it';
  }
  return `the LAPI refused machine ${machineId} with this password: check secrets.password (reset it with \`cscli machines add ${machineId} --password '<password>' --force -f /dev/null\`)`;
}

/** LAPI text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
