/**
 * Google's error answers and what each means for the relay.
 *
 * - Compute Engine (standard Google JSON error):
 *   `{"error":{"code":404,"message":"The resource '…' was not found","errors":[{"message","domain":"global","reason":"notFound"}],"status"?}}`.
 *   Reasons the relay acts on: notFound, alreadyExists, resourceNotReady
 *   (an operation on the resource is still running), forbidden /
 *   insufficientPermissions, rateLimitExceeded / userRateLimitExceeded,
 *   authError.
 * - The OAuth token endpoint (RFC 6749 §5.2): `{"error":"invalid_grant","error_description":"…"}`.
 * - A failed Operation: `{"status":"DONE","error":{"errors":[{"code","message","location"?}]},"httpErrorStatusCode"?,"httpErrorMessage"?}`.
 */
import { z } from 'zod';
import { ProviderError } from '../errors.ts';

const googleErrorSchema = z.looseObject({
  error: z.looseObject({
    code: z.number().int().optional().catch(undefined),
    message: z.string().optional().catch(undefined),
    status: z.string().optional().catch(undefined),
    errors: z
      .array(z.looseObject({ reason: z.string().optional().catch(undefined), message: z.string().optional().catch(undefined), domain: z.string().optional().catch(undefined) }))
      .optional()
      .catch(undefined),
  }),
});

export interface GoogleErrorBody {
  code?: number;
  message: string;
  reason: string;
  status?: string;
}

/** Compute's error object, or undefined when the body is not one. */
export function parseGoogleError(json: unknown): GoogleErrorBody | undefined {
  const parsed = googleErrorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const e = parsed.data.error;
  const first = e.errors?.[0];
  return {
    ...(e.code !== undefined ? { code: e.code } : {}),
    message: sanitize(e.message ?? first?.message ?? ''),
    reason: first?.reason ?? '',
    ...(e.status !== undefined ? { status: e.status } : {}),
  };
}

const oauthErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional().catch(undefined) });

/** The token endpoint's error, or undefined. */
export function parseOAuthError(json: unknown): { error: string; description: string } | undefined {
  const parsed = oauthErrorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return { error: sanitize(parsed.data.error), description: sanitize(parsed.data.error_description ?? '') };
}

/** The token endpoint refused the key: retrying cannot help without the operator. */
export class GcpAuthError extends ProviderError {
  constructor(message: string, status?: number) {
    super(message, { retryable: false, ...(status !== undefined ? { status } : {}) });
    this.name = 'GcpAuthError';
  }
}

/** The service account lacks a permission (403). */
export class GcpPermissionError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false, status: 403 });
    this.name = 'GcpPermissionError';
  }
}

/** An operation on the rule is still running (400 resourceNotReady): look again later. */
export class GcpResourceNotReadyError extends ProviderError {
  constructor(message: string, retryAfterMs: number) {
    super(message, { retryable: true, status: 400, retryAfterMs });
    this.name = 'GcpResourceNotReadyError';
  }
}

/** Google rejected a request (4xx other than the above) or an operation failed. */
export class GcpRequestError extends ProviderError {
  readonly reason: string;
  constructor(message: string, reason: string, status?: number) {
    super(message, { retryable: false, ...(status !== undefined ? { status } : {}) });
    this.name = 'GcpRequestError';
    this.reason = reason;
  }
}

/** A rule the relay owns was changed by someone else: the relay does not write to it. */
export class GcpRuleChangedError extends ProviderError {
  readonly rule: string;
  constructor(message: string, rule: string) {
    super(message, { retryable: false });
    this.name = 'GcpRuleChangedError';
    this.rule = rule;
  }
}

/** What a 403 means, with the fix. */
export function explainForbidden(target: string, error: GoogleErrorBody | undefined): string {
  const said = error?.message ? ` (${error.message})` : '';
  return (
    `${target} answered 403${said}: the service account may not do this. Grant it roles/compute.securityAdmin on the project, ` +
    'or a custom role with compute.firewalls.get, compute.firewalls.create, compute.firewalls.update, compute.firewalls.delete, ' +
    'compute.networks.updatePolicy and compute.globalOperations.get; and check that the Compute Engine API is enabled on the project'
  );
}

/** Device text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
