/**
 * OVHcloud API error answers and what each means for the relay.
 *
 * Bodies come in two shapes: `{"errorCode":"NOT_GRANTED_CALL","httpCode":"403 Forbidden","message":"This call has not been granted"}`
 * and `{"class":"Client::NotFound","message":"…","details":{…}}` (go-ovh
 * `APIError`, python-ovh `raw_call`). Error codes the SDKs tell apart (403):
 * NOT_GRANTED_CALL (the consumer key lacks an access rule), NOT_CREDENTIAL /
 * INVALID_CREDENTIAL (the consumer key is unknown, expired or never
 * validated), INVALID_KEY (the application key is unknown on this
 * endpoint), FORBIDDEN; 400 INVALID_SIGNATURE; 400 QUERY_TIME_OUT ("Query
 * out of time": the timestamp is too far from the server's clock). Every
 * answer carries `X-Ovh-QueryID`, quoted in errors for OVH support.
 */
import { z } from 'zod';

/** One access rule of a consumer key. */
export interface OvhAccessRule {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
}

/**
 * The five access rules the relay's consumer key needs, as entered on the
 * createToken page (one row each).
 */
export const OVH_ACCESS_RULES: readonly OvhAccessRule[] = [
  { method: 'GET', path: '/ip' },
  { method: 'GET', path: '/ip/*' },
  { method: 'GET', path: '/ip/*/mitigation/*' },
  { method: 'POST', path: '/ip/*/mitigation' },
  { method: 'DELETE', path: '/ip/*/mitigation/*' },
];

export function formatRule(rule: OvhAccessRule): string {
  return `${rule.method} ${rule.path}`;
}

export const ALL_RULES_TEXT = OVH_ACCESS_RULES.map(formatRule).join(', ');

const text = z.string().optional().catch(undefined);
const errorSchema = z.looseObject({
  message: text,
  errorCode: text,
  httpCode: text,
  class: text,
});

export interface OvhErrorBody {
  code: string;
  message: string;
}

/** OVH's error object, or undefined when the body is not one. */
export function parseOvhError(json: unknown): OvhErrorBody | undefined {
  const parsed = errorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { message, errorCode, class: className } = parsed.data;
  if (message === undefined && errorCode === undefined && className === undefined) return undefined;
  return { code: sanitize(errorCode ?? className ?? ''), message: sanitize(message ?? '') };
}

export interface OvhErrorContext {
  /** The access rule the failed call needs, e.g. `POST /ip/*\/mitigation`. */
  rule: OvhAccessRule;
  /** The createToken page of the configured endpoint. */
  createTokenPage: string;
  endpoint: string;
}

/** What an OVH error means: the fix, and whether trying again can help. */
export function explainOvhError(status: number, error: OvhErrorBody | undefined, context: OvhErrorContext): { retryable: boolean; explanation: string } {
  const code = error?.code ?? '';
  const message = error?.message ?? '';
  const newKey = `create a consumer key at ${context.createTokenPage} with validity "Unlimited" and these ${OVH_ACCESS_RULES.length} access rules, one row each: ${ALL_RULES_TEXT}; then update secrets.consumerKey`;
  if (code === 'NOT_GRANTED_CALL' || /has not been granted/i.test(message)) {
    return {
      retryable: false,
      explanation: `the consumer key lacks the access rule "${formatRule(context.rule)}"; ${newKey}`,
    };
  }
  if (code === 'INVALID_CREDENTIAL' || code === 'NOT_CREDENTIAL' || /credential (does not exist|is not valid)/i.test(message)) {
    return {
      retryable: false,
      explanation: `OVH does not accept the consumer key (unknown, expired, revoked or never validated at its validationUrl); ${newKey}`,
    };
  }
  if (code === 'INVALID_KEY' || /application key/i.test(message)) {
    return {
      retryable: false,
      explanation: `OVH does not know secrets.applicationKey on ${context.endpoint}: check the key, and that options.endpoint is the region where the OVH account and its keys were created`,
    };
  }
  if (code === 'INVALID_SIGNATURE' || /invalid signature/i.test(message)) {
    return {
      retryable: false,
      explanation: 'OVH rejected the request signature: secrets.applicationSecret does not belong to secrets.applicationKey (copy both again from the createToken result)',
    };
  }
  if (code === 'QUERY_TIME_OUT' || /out of time/i.test(message)) {
    return {
      retryable: true,
      explanation: "the request's timestamp is too far from OVH's clock even after re-reading /auth/time; check the relay host's clock (NTP)",
    };
  }
  if (status === 429) return { retryable: true, explanation: 'OVH is rate-limiting this account; the relay waits and tries again' };
  if (status >= 500) return { retryable: true, explanation: 'OVH failed; the relay tries again' };
  if (status === 403) {
    return { retryable: false, explanation: `OVH refused the call; check that the account owning the consumer key owns this IP block (needs "${formatRule(context.rule)}")` };
  }
  return { retryable: false, explanation: 'unexpected answer from OVH' };
}

/** API text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
