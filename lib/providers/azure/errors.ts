/**
 * Azure's error answers and what each means for the relay.
 *
 * - ARM (`management.azure.com`): `CloudError`
 *   `{"error":{"code":"…","message":"…","details":[…]}}` (network.json
 *   `CloudError`); a failed long-running operation reports the same error
 *   object inside its status body `{"status":"Failed","error":{…}}`.
 * - Entra ID token endpoint: OAuth error JSON `{"error":"invalid_client",
 *   "error_description":"AADSTS7000215: …","error_codes":[7000215],…}`.
 *
 * Messages name the field to fix; Azure's own text is included shortened
 * (it carries resource IDs, never a secret).
 */
import { z } from 'zod';
import { ProviderError } from '../errors.ts';

const cloudErrorSchema = z.looseObject({
  error: z.looseObject({
    code: z.string(),
    message: z.string().optional().catch(undefined),
    details: z.array(z.looseObject({ code: z.string().optional().catch(undefined), message: z.string().optional().catch(undefined) })).optional().catch(undefined),
  }),
});

export interface CloudErrorBody {
  code: string;
  message: string;
}

/** The CloudError object of an ARM answer, or undefined when the body is not one. */
export function parseCloudError(json: unknown): CloudErrorBody | undefined {
  const parsed = cloudErrorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { code, message, details } = parsed.data.error;
  const detail = details?.find((item) => item.message)?.message;
  return { code: sanitize(code), message: sanitize([message, detail].filter(Boolean).join(' — ')) };
}

const tokenErrorSchema = z.looseObject({
  error: z.string(),
  error_description: z.string().optional().catch(undefined),
  error_codes: z.array(z.number()).optional().catch(undefined),
});

export interface TokenErrorBody {
  error: string;
  /** AADSTS numbers, e.g. 7000215. */
  codes: number[];
}

export function parseTokenError(json: unknown): TokenErrorBody | undefined {
  const parsed = tokenErrorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const codes = parsed.data.error_codes ?? [];
  if (codes.length === 0) {
    const match = /AADSTS(\d+)/.exec(parsed.data.error_description ?? '');
    if (match) codes.push(Number(match[1]));
  }
  return { error: sanitize(parsed.data.error), codes };
}

/** What a token endpoint refusal means: the option or secret to fix. */
export function explainTokenError(status: number, body: TokenErrorBody | undefined): string {
  const codes = body?.codes ?? [];
  const said = body ? `${body.error}${codes.length > 0 ? ` (AADSTS${codes.join(', AADSTS')})` : ''}` : `HTTP ${status}`;
  if (codes.includes(7000215)) return `${said}: secrets.clientSecret is not a valid secret of this application; use the secret's Value (shown once when created), not its Secret ID`;
  if (codes.includes(7000222)) return `${said}: secrets.clientSecret has expired; create a new client secret (App registrations → your app → Certificates & secrets) and update the secret`;
  if (codes.includes(700016)) return `${said}: no application with options.clientId in tenant options.tenantId; check both (App registrations → your app → Overview)`;
  if (codes.includes(90002) || codes.includes(900023)) return `${said}: tenant options.tenantId was not found; use the Directory (tenant) ID from Entra ID → Overview`;
  if (codes.includes(7000112)) return `${said}: the application is disabled in this tenant; enable it (Enterprise applications → your app → Properties)`;
  if (body?.error === 'invalid_client') return `${said}: Entra ID rejected options.clientId/secrets.clientSecret; check both`;
  return `${said}: Entra ID refused the client-credentials sign-in; check options.tenantId, options.clientId and secrets.clientSecret`;
}

/** An ARM call that failed with a CloudError (or a bare status). */
export class AzureApiError extends ProviderError {
  /** Azure's error code (CloudError `error.code`), e.g. AuthorizationFailed. */
  readonly azureCode: string;
  constructor(message: string, options: { status: number; code: string; retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(message, { retryable: options.retryable, status: options.status, ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}), cause: options.cause });
    this.name = 'AzureApiError';
    this.azureCode = options.code;
  }
}

/** 412: the If-Match etag no longer matches (someone wrote to the NSG since the relay read it). The caller re-reads. */
export class AzurePreconditionFailedError extends AzureApiError {
  constructor(message: string) {
    super(message, { status: 412, code: 'PreconditionFailed', retryable: true });
    this.name = 'AzurePreconditionFailedError';
  }
}

/** A long-running operation ended Failed or Canceled. */
export class AzureOperationFailedError extends ProviderError {
  readonly azureCode: string;
  constructor(message: string, code: string) {
    super(message, { retryable: false });
    this.name = 'AzureOperationFailedError';
    this.azureCode = code;
  }
}

/** A priority of the relay's band is used by a rule that is not the relay's. */
export class AzurePriorityTakenError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
    this.name = 'AzurePriorityTakenError';
  }
}

/** The Entra ID sign-in failed (wrong tenant, client ID or secret). */
export class AzureAuthError extends ProviderError {
  constructor(message: string, status: number, retryable = false) {
    super(message, { retryable, status });
    this.name = 'AzureAuthError';
  }
}

export interface ArmErrorContext {
  subscriptionId: string;
  resourceGroup: string;
  nsg: string;
}

/** What an ARM error means: the fix, and whether trying again can help. */
export function explainArmError(status: number, error: CloudErrorBody | undefined, where: ArmErrorContext): { retryable: boolean; explanation: string } {
  const code = error?.code ?? '';
  switch (code) {
    case 'AuthorizationFailed':
    case 'LinkedAuthorizationFailed':
      return {
        retryable: false,
        explanation:
          `the application may not do this on NSG ${where.nsg} (${error!.message}); assign it a role with Microsoft.Network/networkSecurityGroups/read and ` +
          'Microsoft.Network/networkSecurityGroups/securityRules/read, /write and /delete on the NSG\'s resource group (see the README\'s azure-nsg section), then wait a few minutes for the assignment to apply',
      };
    case 'SubscriptionNotFound':
    case 'InvalidSubscriptionId':
      return { retryable: false, explanation: `subscription ${where.subscriptionId} was not found or the application cannot see it; check options.subscriptionId` };
    case 'ResourceGroupNotFound':
      return { retryable: false, explanation: `resource group ${where.resourceGroup} was not found; check options.resourceGroup (and options.subscriptionId)` };
    case 'ResourceNotFound':
      return { retryable: false, explanation: `NSG ${where.nsg} was not found in resource group ${where.resourceGroup}; check options.nsg and options.resourceGroup` };
    case 'SecurityRuleConflict':
      return {
        retryable: false,
        explanation: `Azure refused the rule: its priority is taken by another Inbound rule (${error!.message}); choose a free options.priorityBand`,
      };
    case 'ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies':
      return { retryable: false, explanation: `Azure refused mixed IPv4 and IPv6 prefixes in one rule (${error!.message})` };
    case 'AnotherOperationInProgress':
    case 'RetryableError':
      return { retryable: true, explanation: `Azure is still applying another change to NSG ${where.nsg}; the relay waits and tries again` };
    case 'PreconditionFailed':
      return { retryable: true, explanation: 'the NSG changed since the relay read it (etag mismatch); the relay reads it again' };
    default:
      break;
  }
  if (status === 429) return { retryable: true, explanation: 'Azure Resource Manager throttled the request; the relay waits as asked (Retry-After)' };
  if (status >= 500) return { retryable: true, explanation: 'Azure failed; the relay tries again' };
  if (status === 403) return { retryable: false, explanation: `Azure refused access to NSG ${where.nsg}${error ? ` (${error.message})` : ''}; check the application's role assignment` };
  if (status === 404) return { retryable: false, explanation: `not found${error ? ` (${error.message})` : ''}; check options.subscriptionId, options.resourceGroup and options.nsg` };
  if (status === 400) return { retryable: false, explanation: `Azure rejected the request${error ? ` (${error.message})` : ''}` };
  return { retryable: false, explanation: `unexpected answer from Azure${error ? ` (${error.message})` : ''}` };
}

/** Provider text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
