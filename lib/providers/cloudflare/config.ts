/**
 * Configuration of the two Cloudflare integrations:
 *
 * - `cloudflare-magic-transit`: Magic Transit on demand. The listed BYOIP
 *   prefixes are advertised by Cloudflare during an attack (traffic goes
 *   through Cloudflare's scrubbing) and withdrawn afterwards, for the
 *   prefixes the relay advertised only.
 * - `cloudflare-under-attack`: a zone's security level set to "I'm Under
 *   Attack" during an attack and set back to what it was afterwards.
 *
 * Both use one API token (`Authorization: Bearer`). The lead wraps these in
 * the integration schema (`id`, `enabled`, `match`, `ttl`, `holdDown`,
 * `via`, `type`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';

/** The v4 API base. Only tests pass another one (deps.baseUrl), and it must be https. */
export const CLOUDFLARE_API_BASE = 'https://api.cloudflare.com/client/v4';

/** Most prefixes one integration may hold (each costs a request or two per look). */
export const CLOUDFLARE_MAX_PREFIXES = 16;

const ID = /^[0-9a-f]{32}$/;

function cfId(what: string, where: string) {
  return z
    .string({ error: `must be the ${what}: 32 hexadecimal characters (${where})` })
    .trim()
    .toLowerCase()
    .regex(ID, `must be the ${what}: 32 hexadecimal characters (${where})`);
}

const accountId = cfId('Cloudflare account ID', 'dashboard → any page of the account → Account ID in the right-hand column, or the URL dash.cloudflare.com/<account id>');
const prefixId = cfId('IP prefix ID', 'GET /accounts/{account_id}/addressing/prefixes lists each prefix with its id; dashboard → IP Addresses → IP Prefixes');
const bgpPrefixId = cfId('BGP prefix ID', 'GET /accounts/{account_id}/addressing/prefixes/{prefix_id}/bgp/prefixes lists them');
const zoneId = cfId('zone ID', 'dashboard → the domain → Overview → API → Zone ID');

export const MAGIC_TRANSIT_APIS = ['bgp-prefixes', 'bgp-status'] as const;
export type MagicTransitApi = (typeof MAGIC_TRANSIT_APIS)[number];

/** One prefix to advertise during an attack. */
export const magicTransitPrefixSchema = z
  .object({
    prefixId: prefixId.describe('The IP prefix (BYOIP) the BGP prefix belongs to.'),
    bgpPrefixId: bgpPrefixId
      .optional()
      .describe('The BGP prefix to advertise/withdraw (api: bgp-prefixes, required there). Not used with api: bgp-status, which advertises the whole IP prefix.'),
  })
  .strict();
export type MagicTransitPrefix = z.output<typeof magicTransitPrefixSchema>;

/** `integrations[].options` of a `cloudflare-magic-transit` integration. */
export const cloudflareMagicTransitOptionsSchema = z
  .object({
    accountId: accountId.describe('Cloudflare account that owns the prefixes.'),
    api: z
      .enum(MAGIC_TRANSIT_APIS, { error: 'must be bgp-prefixes (the current API) or bgp-status (the deprecated one, for accounts that still use it)' })
      .default('bgp-prefixes')
      .describe(
        'Which Cloudflare endpoint drives the advertisement: bgp-prefixes (PATCH …/prefixes/{prefixId}/bgp/prefixes/{bgpPrefixId} {"on_demand":{"advertised":…}}, preferred) or bgp-status (deprecated PATCH …/prefixes/{prefixId}/bgp/status {"advertised":…}).',
      ),
    prefixes: z
      .array(magicTransitPrefixSchema)
      .min(1, 'list at least one prefix: prefixes: [{ prefixId: <32 hex>, bgpPrefixId: <32 hex> }]')
      .max(CLOUDFLARE_MAX_PREFIXES, `at most ${CLOUDFLARE_MAX_PREFIXES} prefixes per integration; split them over several integrations`)
      .describe('Prefixes advertised during an attack. Only those not advertised already are touched, and only those the relay advertised are withdrawn.'),
    recheckInterval: duration({ min: '5s', max: '5m' })
      .prefault('30s')
      .describe('How long the relay waits before looking again while Cloudflare has not yet applied an advertisement or a withdrawal (advertising takes 2–7 minutes, withdrawing about 15).'),
    confirmTimeout: duration({ min: '1m', max: '1h' })
      .prefault('10m')
      .describe('How long after asking the relay waits for a prefix to show as advertised before it reports a failure.'),
    withdrawTimeout: duration({ min: '5m', max: '2h' })
      .prefault('30m')
      .describe('How long after asking the relay waits for a prefix to show as withdrawn before it reports a failure.'),
    timeout: requestTimeoutOption('15s'),
  })
  .strict()
  .superRefine((options, ctx) => {
    const seen = new Set<string>();
    options.prefixes.forEach((prefix, index) => {
      if (options.api === 'bgp-prefixes' && prefix.bgpPrefixId === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['prefixes', index, 'bgpPrefixId'],
          message: 'is required with api: bgp-prefixes (GET /accounts/{account_id}/addressing/prefixes/{prefix_id}/bgp/prefixes lists them); or set api: bgp-status',
        });
      }
      if (options.api === 'bgp-status' && prefix.bgpPrefixId !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['prefixes', index, 'bgpPrefixId'],
          message: 'is not used with api: bgp-status (it advertises the whole IP prefix); remove it, or set api: bgp-prefixes',
        });
      }
      const key = `${prefix.prefixId}/${options.api === 'bgp-prefixes' ? (prefix.bgpPrefixId ?? '') : ''}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['prefixes', index], message: 'is listed twice' });
      seen.add(key);
    });
  });
export type CloudflareMagicTransitOptions = z.output<typeof cloudflareMagicTransitOptionsSchema>;

/** `integrations[].options` of a `cloudflare-under-attack` integration. */
export const cloudflareUnderAttackOptionsSchema = z
  .object({
    zoneId: zoneId.describe('Zone whose security level is set to "I\'m Under Attack" during an attack.'),
    timeout: requestTimeoutOption('15s'),
  })
  .strict();
export type CloudflareUnderAttackOptions = z.output<typeof cloudflareUnderAttackOptionsSchema>;

/** `integrations[].secrets` of both Cloudflare integrations. */
export const cloudflareSecretsSchema = z
  .object({
    apiToken: secretRefSchema.describe(
      'Cloudflare API token (My Profile → API Tokens → Create Token), sent as Authorization: Bearer. Magic Transit: Account → IP Prefixes: BGP On Demand → Edit. Under Attack: Zone → Zone Settings → Edit.',
    ),
  })
  .strict();

/** The resolved secrets the providers are built with. Never logged. */
export interface CloudflareSecrets {
  apiToken: string;
}
