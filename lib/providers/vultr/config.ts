/**
 * Configuration of the `vultr` integration: during an attack the listed
 * Vultr instances are moved onto a lockdown firewall group (one that admits
 * only the operator's management allowance and the `keep` rules) and each
 * is moved back to the group it had before once the attack is over.
 *
 * The lockdown group is either one the operator prepared (`lockdownGroup`,
 * never edited by the relay) or one the relay creates and keeps for the next
 * attack. The customer's own groups and rules are never edited.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `holdDown`, `via`, `type: 'vultr'`).
 */
import { z } from 'zod';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { keepRulesSchema, managementAllowanceSchema } from '../lockdown.ts';

/** The v2 API base. Only tests pass another one (deps.baseUrl), and it must be https. */
export const VULTR_API_BASE = 'https://api.vultr.com/v2';

/** Most instances one integration may switch (each costs two or three requests per look). */
export const VULTR_MAX_INSTANCES = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Firewall group ids are UUIDs in API v2; groups created under v1 kept 8-hex ids. */
const GROUP_ID = /^(?:[0-9a-f]{8}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

const instanceId = z
  .string({ error: 'must be a Vultr instance id (a UUID such as cb676a46-66fd-4dfb-b839-443f2e6c0b60: Products → the instance → the URL, or GET /v2/instances)' })
  .trim()
  .toLowerCase()
  .regex(UUID, 'must be a Vultr instance id (a UUID such as cb676a46-66fd-4dfb-b839-443f2e6c0b60: Products → the instance → the URL, or GET /v2/instances), not its label or IP');

const groupId = z
  .string({ error: 'must be a Vultr firewall group id (Network → Firewall → the group → the URL, or GET /v2/firewalls)' })
  .trim()
  .toLowerCase()
  .regex(GROUP_ID, 'must be a Vultr firewall group id (a UUID: Network → Firewall → the group → the URL, or GET /v2/firewalls), not its description');

/** `integrations[].options` of a `vultr` integration. */
export const vultrOptionsSchema = z
  .object({
    instances: z
      .array(instanceId)
      .min(1, 'list at least one instance id (GET /v2/instances lists them with their id)')
      .max(VULTR_MAX_INSTANCES, `at most ${VULTR_MAX_INSTANCES} instances per integration; split them over several integrations`)
      .refine((ids) => new Set(ids).size === ids.length, 'lists an instance twice')
      .describe('Instances moved onto the lockdown firewall group during an attack, and back to their own group afterwards.'),
    lockdownGroup: groupId
      .optional()
      .describe(
        'A firewall group you prepared for lockdowns. The relay never edits it, but refuses to use it unless it admits every management rule. Absent: the relay creates and keeps its own group with the management and keep rules.',
      ),
    management: managementAllowanceSchema,
    keep: keepRulesSchema,
    timeout: requestTimeoutOption('15s'),
  })
  .strict();
export type VultrOptions = z.output<typeof vultrOptionsSchema>;

/** `integrations[].secrets` of a `vultr` integration. */
export const vultrSecretsSchema = z
  .object({
    apiKey: secretRefSchema.describe(
      'Vultr API key (Account → API, or a sub-user\'s key), sent as Authorization: Bearer. The key\'s IP access control must allow the relay\'s address.',
    ),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface VultrSecrets {
  apiKey: string;
}
