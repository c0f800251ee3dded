/**
 * Linode API v4 error answers and what each means for the relay.
 *
 * Body: `{"errors":[{"reason":"…","field":"inbound[0].addresses"}]}`
 * (`field` only for invalid input; linodego errors.go, the OpenAPI
 * description's `ErrorObject`). Statuses the relay tells apart:
 * - 401 "Invalid Token": the token is wrong, expired or revoked.
 * - 403 "Unauthorized": the token lacks the scope (`X-Accepted-OAuth-Scopes`
 *   names the one the call needs) or the user lacks the grant on the firewall.
 * - 404 "Not found": a firewall ID in the configuration is wrong (or belongs
 *   to another account).
 * - 400: invalid rules (limits, labels, ports, addresses).
 * - 429: the token's rate limit is spent; `Retry-After` says when to try again.
 * - 5xx: Linode failed; tried again.
 */
import { z } from 'zod';

export interface LinodeApiError {
  reason: string;
  field: string | undefined;
}

const errorsSchema = z.looseObject({
  errors: z.array(
    z.looseObject({
      reason: z.string().optional().catch(undefined),
      field: z.string().nullish().catch(undefined),
    }),
  ),
});

/** `errors[]` of an error body (anything else gives []), bounded and on one line. */
export function parseLinodeErrors(json: unknown): LinodeApiError[] {
  const parsed = errorsSchema.safeParse(json);
  if (!parsed.success) return [];
  return parsed.data.errors.slice(0, 5).map((error) => ({
    reason: sanitize(error.reason ?? ''),
    field: error.field ? sanitize(error.field) : undefined,
  }));
}

/** `"Invalid Token"; inbound[0].ports: "…"` for messages. */
export function describeLinodeErrors(errors: LinodeApiError[]): string {
  return errors.map((error) => `${error.field ? `${error.field}: ` : ''}"${error.reason}"`).join('; ');
}

export interface LinodeErrorContext {
  firewallId: number | undefined;
  /** The scope Linode said the call needs (`X-Accepted-OAuth-Scopes`). */
  acceptedScopes: string | undefined;
}

/** What a Linode error means: the fix, and whether trying again can help. */
export function explainLinodeError(status: number, errors: LinodeApiError[], context: LinodeErrorContext): { retryable: boolean; explanation: string } {
  const firewall = context.firewallId === undefined ? 'the firewall' : `firewall ${context.firewallId}`;
  if (status === 401) {
    return {
      retryable: false,
      explanation:
        'Linode rejected secrets.token (invalid, expired or revoked): create a personal access token with Firewalls: Read/Write (scope firewall:read_write) in Cloud Manager → profile → API Tokens',
    };
  }
  if (status === 403) {
    const scope = context.acceptedScopes ? context.acceptedScopes.replace(/[^\w:, -]/g, '').slice(0, 80) : 'firewall:read_write';
    return {
      retryable: false,
      explanation:
        `the token may not do this on ${firewall}: it needs the scope ${scope} (Firewalls: Read/Write), and a restricted user needs read_write grant on the firewall; ` +
        'create a token with Firewalls: Read/Write in Cloud Manager → profile → API Tokens',
    };
  }
  if (status === 404) {
    return {
      retryable: false,
      explanation: `${firewall} does not exist in this account: check options.firewalls (GET /v4/networking/firewalls lists the IDs) and that the token belongs to the account that owns it`,
    };
  }
  if (status === 400) {
    return {
      retryable: false,
      explanation: `Linode refused the rules for ${firewall}; check options.management and options.keep against Linode's limits (25 rules per firewall with its outbound rules, 255 addresses per rule)`,
    };
  }
  if (status === 429) return { retryable: true, explanation: "the token's request limit is used up; the relay waits as Linode asked and tries again" };
  if (status === 408 || status >= 500) return { retryable: true, explanation: 'Linode failed to answer; the relay tries again' };
  return { retryable: false, explanation: 'unexpected answer from Linode' };
}

/** API text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
