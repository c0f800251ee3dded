/**
 * The two Cloudflare switch providers and the factories the registry calls:
 *
 * - `cloudflare-magic-transit` (magic-transit.ts): Magic Transit on-demand
 *   BGP advertisement of BYOIP prefixes.
 * - `cloudflare-under-attack` (under-attack.ts): a zone's security level set
 *   to "I'm Under Attack".
 */
import {
  CLOUDFLARE_MAGIC_TRANSIT_TYPE,
  CloudflareMagicTransitProvider,
  type CloudflareMagicTransitIntegration,
} from './magic-transit.ts';
import {
  CLOUDFLARE_UNDER_ATTACK_TYPE,
  type CloudflareDeps,
  CloudflareUnderAttackProvider,
  type CloudflareUnderAttackIntegration,
} from './under-attack.ts';

export { CLOUDFLARE_MAGIC_TRANSIT_TYPE, CLOUDFLARE_UNDER_ATTACK_TYPE, CloudflareMagicTransitProvider, CloudflareUnderAttackProvider };
export type { CloudflareDeps, CloudflareMagicTransitIntegration, CloudflareUnderAttackIntegration };

/** The factory the registry calls for `type: cloudflare-magic-transit`. */
export function createCloudflareMagicTransitProvider(integration: CloudflareMagicTransitIntegration, deps: CloudflareDeps): CloudflareMagicTransitProvider {
  return new CloudflareMagicTransitProvider(integration, deps);
}

/** The factory the registry calls for `type: cloudflare-under-attack`. */
export function createCloudflareUnderAttackProvider(integration: CloudflareUnderAttackIntegration, deps: CloudflareDeps): CloudflareUnderAttackProvider {
  return new CloudflareUnderAttackProvider(integration, deps);
}
