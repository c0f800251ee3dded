/**
 * Configuration of the `digitalocean` integration: a lockdown of one or more
 * DigitalOcean Cloud Firewalls for the length of an attack, undone exactly
 * afterwards.
 *
 * Cloud Firewalls are allow-lists (everything no rule allows is dropped), so
 * the lockdown removes the inbound rules that let anything else in and adds
 * the operator's management allowance and keep rules; outbound rules,
 * attached droplets and tags are never touched.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `holdDown`, `via`, `type: 'digitalocean'`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { keepRulesSchema, managementAllowanceSchema } from '../lockdown.ts';

export const DIGITALOCEAN_TYPE = 'digitalocean';
/** The API's only origin; tests pass another through deps.baseUrl. */
export const DIGITALOCEAN_API_BASE = 'https://api.digitalocean.com';
/** "Each firewall can have up to 50 total incoming and outgoing rules" (docs.digitalocean.com/products/networking/firewalls/details/limits/). */
export const DIGITALOCEAN_MAX_RULES = 50;
/** Most firewalls one integration may hold (each costs a few requests per look). */
export const DIGITALOCEAN_MAX_FIREWALLS = 10;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FIREWALL_ID_HELP =
  'must be a firewall ID such as bb4b2611-3d72-467b-8602-280330ecd65c (control panel → Networking → Firewalls → the firewall: the ID in the page URL; or `doctl compute firewall list`), not its name';

const firewallIdSchema = z.string({ error: FIREWALL_ID_HELP }).trim().toLowerCase().regex(UUID, FIREWALL_ID_HELP);

/** `integrations[].options` of a `digitalocean` integration. */
export const digitalOceanOptionsSchema = z
  .object({
    firewalls: z
      .array(firewallIdSchema)
      .min(1, 'list at least one firewall ID: firewalls: [bb4b2611-3d72-467b-8602-280330ecd65c]')
      .max(DIGITALOCEAN_MAX_FIREWALLS, `at most ${DIGITALOCEAN_MAX_FIREWALLS} firewalls per integration; split them over several integrations`)
      .refine((ids) => new Set(ids).size === ids.length, 'lists a firewall twice')
      .describe('IDs of the Cloud Firewalls locked down during an attack.'),
    management: managementAllowanceSchema,
    keep: keepRulesSchema,
    pollInterval: duration({ min: '1s', max: '1m' })
      .prefault('5s')
      .describe('How often the relay reads a firewall while DigitalOcean is still applying a change (status waiting, pending_changes not empty), and how soon it looks again when a change is not confirmed yet.'),
    waitFor: duration({ min: '0s', max: '5m' })
      .prefault('60s')
      .describe('Longest one wait for DigitalOcean to finish applying a change before the relay reports "not confirmed yet" and looks again later.'),
    timeout: requestTimeoutOption('30s'),
  })
  .strict();
export type DigitalOceanOptions = z.output<typeof digitalOceanOptionsSchema>;

/** `integrations[].secrets` of a `digitalocean` integration. */
export const digitalOceanSecretsSchema = z
  .object({
    apiToken: secretRefSchema.describe(
      'DigitalOcean personal access token (control panel → API → Tokens → Generate New Token → Custom Scopes: firewall read and update), sent as Authorization: Bearer.',
    ),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface DigitalOceanSecrets {
  apiToken: string;
}
