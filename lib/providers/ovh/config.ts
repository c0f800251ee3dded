/**
 * Configuration of the `ovh` integration: OVHcloud's permanent DDoS
 * mitigation switched on for the listed IPv4 addresses during an attack
 * (`POST /ip/{ipBlock}/mitigation`) and switched off afterwards, for the
 * addresses the relay switched on only.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `holdDown`, `via`, `type: 'ovh'`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { parseAddress, formatAddress } from '../../ip/address.ts';
import { cidrContains, formatCidr, parseCidr } from '../../ip/cidr.ts';

/** API bases (go-ovh `ovh.go`, node-ovh `endpoints.js`). */
export const OVH_ENDPOINTS = {
  'ovh-eu': 'https://eu.api.ovh.com/1.0',
  'ovh-ca': 'https://ca.api.ovh.com/1.0',
  'ovh-us': 'https://api.us.ovhcloud.com/1.0',
} as const;
export type OvhEndpoint = keyof typeof OVH_ENDPOINTS;
export const OVH_ENDPOINT_NAMES = Object.keys(OVH_ENDPOINTS) as [OvhEndpoint, ...OvhEndpoint[]];

/** Where a consumer key with the access rules below is created, per endpoint. */
export const OVH_CREATE_TOKEN_PAGES: Record<OvhEndpoint, string> = {
  'ovh-eu': 'https://eu.api.ovh.com/createToken/',
  'ovh-ca': 'https://ca.api.ovh.com/createToken/',
  'ovh-us': 'https://api.us.ovhcloud.com/createToken/',
};

/** Most addresses one integration may hold (each costs a few requests per call). */
export const OVH_MAX_TARGETS = 32;

const ipv4 = z.string({ error: 'must be an IPv4 address such as 203.0.113.10' }).transform((value, ctx) => {
  const parsed = parseAddress(value);
  if (!parsed.ok || parsed.address.family !== 4) {
    ctx.addIssue({
      code: 'custom',
      message: `must be an IPv4 address such as 203.0.113.10 (OVH's permanent mitigation takes IPv4 addresses only)${parsed.ok ? '' : `: ${parsed.reason}`}`,
    });
    return z.NEVER;
  }
  return formatAddress(parsed.address);
});

const ipv4Block = z.string({ error: 'must be an IPv4 block such as 203.0.113.0/24' }).transform((value, ctx) => {
  const parsed = parseCidr(value);
  if (!parsed.ok || parsed.cidr.family !== 4) {
    ctx.addIssue({
      code: 'custom',
      message: `must be the IPv4 block as OVH lists it (Bare Metal Cloud → Network → IP, or GET /ip), such as 203.0.113.0/24 or 198.51.100.7/32${parsed.ok ? '' : `: ${parsed.reason}`}`,
    });
    return z.NEVER;
  }
  return formatCidr(parsed.cidr);
});

/** One address to put on permanent mitigation, and the OVH IP block it belongs to. */
export const ovhTargetSchema = z
  .object({
    ip: ipv4.describe('IPv4 address to put on permanent mitigation during an attack.'),
    ipBlock: ipv4Block
      .optional()
      .describe('The OVH IP block holding it, exactly as OVH lists it (GET /ip); absent: the address alone (ip/32), as OVH lists a single failover or main IP.'),
  })
  .strict()
  .transform((target, ctx) => {
    const ipBlock = target.ipBlock ?? `${target.ip}/32`;
    const block = parseCidr(ipBlock);
    const address = parseAddress(target.ip);
    if (block.ok && address.ok && !cidrContains(block.cidr, address.address)) {
      ctx.addIssue({ code: 'custom', path: ['ip'], message: `${target.ip} is not inside ipBlock ${ipBlock}; give the block that contains it (GET /ip lists them)` });
      return z.NEVER;
    }
    return { ip: target.ip, ipBlock };
  });
export type OvhTarget = z.output<typeof ovhTargetSchema>;

/** `integrations[].options` of an `ovh` integration. */
export const ovhOptionsSchema = z
  .object({
    endpoint: z
      .enum(OVH_ENDPOINT_NAMES, { error: `must be one of ${OVH_ENDPOINT_NAMES.join(', ')} (the region where the OVH account was created)` })
      .default('ovh-eu')
      .describe('OVHcloud API region of the account: ovh-eu (eu.api.ovh.com), ovh-ca (ca.api.ovh.com) or ovh-us (api.us.ovhcloud.com).'),
    ips: z
      .array(ovhTargetSchema)
      .min(1, 'list at least one address: ips: [{ ip: 203.0.113.10, ipBlock: 203.0.113.0/24 }]')
      .max(OVH_MAX_TARGETS, `at most ${OVH_MAX_TARGETS} addresses per integration; split them over several integrations`)
      .superRefine((targets, ctx) => {
        const seen = new Set<string>();
        targets.forEach((target, index) => {
          if (seen.has(target.ip)) ctx.addIssue({ code: 'custom', path: [index, 'ip'], message: `${target.ip} is listed twice` });
          seen.add(target.ip);
        });
      })
      .describe('Addresses put on permanent mitigation during an attack, each with the OVH IP block it belongs to.'),
    pollInterval: duration({ min: '2s', max: '1m' })
      .prefault('10s')
      .describe('How often the relay reads a mitigation entry while OVH reports creationPending or removalPending.'),
    waitFor: duration({ min: '0s', max: '5m' })
      .prefault('30s')
      .describe('Longest one activate/restore call waits for a pending entry before reporting "not confirmed yet" and looking again later.'),
    timeout: requestTimeoutOption('30s'),
  })
  .strict();
export type OvhOptions = z.output<typeof ovhOptionsSchema>;

/** `integrations[].secrets` of an `ovh` integration. */
export const ovhSecretsSchema = z
  .object({
    applicationKey: secretRefSchema.describe('OVH application key (AK) from the createToken page.'),
    applicationSecret: secretRefSchema.describe('OVH application secret (AS); signs every request, never sent.'),
    consumerKey: secretRefSchema.describe('OVH consumer key (CK) holding the five access rules the relay needs.'),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface OvhSecrets {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
}
