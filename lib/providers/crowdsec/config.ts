/**
 * Configuration of the `crowdsec` integration: attacker addresses pushed to
 * a CrowdSec Local API (LAPI) as `ban` decisions, which every bouncer of
 * that LAPI then enforces, and expired again when the relay lets go.
 *
 * The relay logs in as a CrowdSec *machine* (`cscli machines add`): only
 * machines may push alerts and delete decisions. Its decisions carry the
 * origin {@link CROWDSEC_ORIGIN} and the scenario
 * `flowtriq-relay/<integration id>` ({@link crowdsecScenario}); only
 * decisions with both are ever deleted.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `via`, `type: 'crowdsec'`).
 */
import { z } from 'zod';
import { deviceTlsSchema } from '../../config/device-tls.ts';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';

/** Where a LAPI listens by default (crowdsec's config.yaml `api.server.listen_uri`). */
export const CROWDSEC_DEFAULT_URL = 'http://127.0.0.1:8080';
/** `origin` of every decision the relay creates. */
export const CROWDSEC_ORIGIN = 'flowtriq-relay';
/** The relay's scenario for one integration: its mark on alerts and decisions. */
export const crowdsecScenario = (integrationId: string): string => `${CROWDSEC_ORIGIN}/${integrationId}`;

const LOOPBACK_HOSTS = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** True when the URL's host is this machine (plain http does not leave it). */
export function isLoopbackUrl(url: string): boolean {
  try {
    return LOOPBACK_HOSTS.test(new URL(url).hostname);
  } catch {
    return false;
  }
}

export type CrowdsecTlsOptions = z.output<typeof deviceTlsSchema>;

/** `integrations[].options` of a `crowdsec` integration. */
export const crowdsecOptionsSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an absolute URL such as http://127.0.0.1:8080 or https://lapi.example.net:8080' })
      .refine((url) => new URL(url).pathname === '/' && !new URL(url).search, 'give only scheme, host and port, e.g. http://127.0.0.1:8080 (the relay adds /v1/…)')
      .default(CROWDSEC_DEFAULT_URL)
      .describe('The Local API (crowdsec config.yaml api.server.listen_uri). Plain http only to this machine (127.0.0.1, ::1, localhost) unless allowInsecureHttp.'),
    machineId: z
      .string({ error: 'must be the machine name given to `cscli machines add`' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'use the machine name given to `cscli machines add` (1–128 letters, digits, ".", "_", "@" or "-")')
      .default('flowtriq-relay')
      .describe('The CrowdSec machine the relay logs in as (cscli machines add <machineId> --password … -f /dev/null).'),
    allowInsecureHttp: z
      .boolean()
      .default(false)
      .describe('Permit an http:// URL to another host (the machine password and the decisions travel unencrypted). Only for a lab.'),
    tls: deviceTlsSchema.prefault({}).describe('https only: how the LAPI certificate is verified (on by default).'),
    timeout: requestTimeoutOption('10s'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(8)
      .default(4)
      .describe('Removal: DELETE requests in flight at once (one per address).'),
  })
  .strict()
  .superRefine((options, ctx) => {
    const https = options.url.startsWith('https://');
    if (!https && !options.allowInsecureHttp && !isLoopbackUrl(options.url)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message:
          'plain http is accepted only to this machine (127.0.0.1, ::1, localhost): enable TLS on the LAPI (api.server.tls in config.yaml) and use https://, or set allowInsecureHttp: true for a lab',
      });
    }
    if (!https && (options.tls.caFile !== undefined || options.tls.pinSha256 !== undefined || options.tls.insecureSkipVerify)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'applies to https:// URLs only; remove it or use https://' });
    }
  });
export type CrowdsecOptions = z.output<typeof crowdsecOptionsSchema>;

/** `integrations[].secrets` of a `crowdsec` integration. */
export const crowdsecSecretsSchema = z
  .object({
    password: secretRefSchema.describe('The machine password given to `cscli machines add <machineId> --password …`.'),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface CrowdsecSecrets {
  password: string;
}
