/**
 * Configuration of the `linode` integration: Linode (Akamai) Cloud
 * Firewalls locked down for the length of an attack — inbound only from the
 * operator's management allowance and `keep` rules, everything else dropped
 * — and put back exactly as they were afterwards.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `holdDown`, `via`, `type: 'linode'`).
 */
import { z } from 'zod';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { keepRulesSchema, managementAllowanceSchema } from '../lockdown.ts';

/** API v4 base. Only tests pass another one (deps.baseUrl), and it must be https. */
export const LINODE_API_BASE = 'https://api.linode.com/v4';
/** Linode refuses more than 25 rules per firewall, inbound and outbound together. */
export const LINODE_MAX_RULES = 25;
/** …and more than 255 addresses (IPv4 and IPv6 together) in one rule. */
export const LINODE_MAX_ADDRESSES_PER_RULE = 255;
/** Firewalls one integration may hold (each costs two reads per look). */
export const LINODE_MAX_FIREWALLS = 10;

/** `integrations[].options` of a `linode` integration. */
export const linodeOptionsSchema = z
  .object({
    firewalls: z
      .array(z.number({ error: 'must be a Cloud Firewall ID such as 12345' }).int().positive('must be a Cloud Firewall ID such as 12345'), {
        error: 'list the Cloud Firewall IDs to lock down, e.g. firewalls: [12345] (Cloud Manager → Firewalls, the number in the firewall\'s URL)',
      })
      .min(1, 'list at least one Cloud Firewall ID (Cloud Manager → Firewalls, the number in the firewall\'s URL; or GET /v4/networking/firewalls)')
      .max(LINODE_MAX_FIREWALLS, `at most ${LINODE_MAX_FIREWALLS} firewalls per integration; split them over several integrations`)
      .refine((ids) => new Set(ids).size === ids.length, 'lists a firewall twice')
      .describe('IDs of the Cloud Firewalls whose inbound rules are locked down during an attack.'),
    management: managementAllowanceSchema,
    keep: keepRulesSchema,
    timeout: requestTimeoutOption('15s'),
  })
  .strict()
  .superRefine((options, ctx) => {
    const rules = options.management.length + options.keep.length;
    if (rules > LINODE_MAX_RULES) {
      ctx.addIssue({
        code: 'custom',
        path: ['keep'],
        message: `management and keep make ${rules} inbound rules, but Linode allows ${LINODE_MAX_RULES} rules per firewall (inbound and outbound together); merge sources or ports into fewer rules`,
      });
    }
  });
export type LinodeOptions = z.output<typeof linodeOptionsSchema>;

/** `integrations[].secrets` of a `linode` integration. */
export const linodeSecretsSchema = z
  .object({
    token: secretRefSchema.describe(
      'Linode personal access token (Cloud Manager → profile → API Tokens → Create a Personal Access Token) with Firewalls: Read/Write and nothing else; sent as Authorization: Bearer.',
    ),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface LinodeSecrets {
  token: string;
}
