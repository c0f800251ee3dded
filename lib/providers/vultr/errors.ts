/**
 * Vultr's error answers and what each means for the relay.
 *
 * The API documents that every 4xx answer is JSON with an `error`
 * attribute; the observed body is `{"error":"<message>","status":<int>}`
 * (the exact shape is UNVERIFIED, so both fields are optional here and the
 * message is only ever shown, never matched on).
 */
import { z } from 'zod';

const errorSchema = z.looseObject({
  error: z.string(),
  status: z.number().int().optional().catch(undefined),
});

/** Vultr's error message, or undefined when the body is not an error object. */
export function parseVultrError(json: unknown): string | undefined {
  const parsed = errorSchema.safeParse(json);
  return parsed.success ? sanitize(parsed.data.error) : undefined;
}

/** What the failing call was about, for the explanation. */
export interface VultrCallContext {
  /** e.g. `instance cb676a46-…`, `firewall group 1234abcd-…`. */
  subject: string;
  /** The option that names it, e.g. `options.instances`. */
  option?: string;
}

/** The API key was refused: the fix, without the key. */
export const AUTH_FIX =
  'check secrets.apiKey (Account → API in the Vultr portal; a sub-user needs the "subscriptions" and "firewall" permissions) and that the key\'s Access Control list allows the relay\'s public IP address';

/** What a Vultr error means: the fix, and whether trying again can help. */
export function explainVultrError(status: number, context: VultrCallContext): { retryable: boolean; explanation: string } {
  switch (status) {
    case 400:
      return { retryable: false, explanation: `Vultr refused the request about ${context.subject}` };
    case 401:
      return { retryable: false, explanation: `Vultr rejected the API key: ${AUTH_FIX}` };
    case 403:
      return {
        retryable: false,
        explanation: `the API key may not change ${context.subject}: give the key's user the "subscriptions" (manage servers) and "firewall" permissions (Account → Users), and allow the relay's IP address in the key's Access Control list`,
      };
    case 404:
      return {
        retryable: false,
        explanation: `${context.subject} does not exist in this Vultr account${context.option ? `: check ${context.option}` : ''} (and that the API key belongs to the account that owns it)`,
      };
    case 429:
      return { retryable: true, explanation: 'Vultr\'s rate limit (30 requests per second per source address) was hit; the relay waits and tries again' };
    default:
      break;
  }
  if (status >= 500) return { retryable: true, explanation: 'Vultr failed; the relay tries again' };
  return { retryable: false, explanation: 'unexpected answer from Vultr' };
}

/** API text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/** Named failures of the lockdown itself (not of one HTTP call). */
export const VultrFailure = {
  /** The prepared group would lock the operator out. */
  lockdownGroupIncomplete: (groupId: string, missing: string[]): string =>
    `options.lockdownGroup ${groupId} does not admit the management allowance (${missing.join('; ')}): moving the instances onto it would lock you out. ` +
    'Add accept rules for these to the group in the Vultr portal (Network → Firewall), fix options.management, or leave lockdownGroup out to let the relay create its own group',
  tooManyRules: (groupId: string, wanted: number, max: number): string =>
    `the lockdown needs ${wanted} firewall rules (one per source address of options.management and options.keep) but group ${groupId} holds at most ${max}: merge sources into wider CIDRs`,
  lockdownGroupIsCurrent: (instance: string): string =>
    `instance ${instance}'s own firewall group is the lockdown group: choose another options.lockdownGroup`,
} as const;
