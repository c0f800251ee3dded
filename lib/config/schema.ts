/**
 * The relay's configuration file (relay.config.yaml or .json), as one zod
 * schema. The JSON Schema for editors is generated from this same schema
 * (scripts/write-config-schema.ts), and docs/CONFIG.md documents each field.
 */
import { z } from 'zod';
import { SEVERITIES } from '../event/types.ts';
import { duration, formatDuration } from './duration.ts';
import { awsSecretsSchema, awsShieldOptionsSchema, awsWafIpSetOptionsSchema } from '../providers/aws/config.ts';
import { cloudflareMagicTransitOptionsSchema, cloudflareSecretsSchema, cloudflareUnderAttackOptionsSchema } from '../providers/cloudflare/config.ts';
import { hetznerRobotOptionsSchema, hetznerRobotSecretsSchema } from '../providers/hetzner/config.ts';
import { ovhOptionsSchema, ovhSecretsSchema } from '../providers/ovh/config.ts';
import { crowdsecOptionsSchema, crowdsecSecretsSchema } from '../providers/crowdsec/config.ts';
import { gcpFirewallOptionsSchema, gcpFirewallSecretsSchema } from '../providers/gcp/config.ts';
import { linodeOptionsSchema, linodeSecretsSchema } from '../providers/linode/config.ts';
import { digitalOceanOptionsSchema, digitalOceanSecretsSchema } from '../providers/digitalocean/config.ts';
import { vultrOptionsSchema, vultrSecretsSchema } from '../providers/vultr/config.ts';
import { nftablesOptionsSchema } from '../providers/nftables/config.ts';
import { abuseipdbOptionsSchema, abuseipdbSecretsSchema } from '../providers/abuseipdb/config.ts';
import { ipsetOptionsSchema } from '../providers/ipset/config.ts';
import { AZURE_MAX_INTEGRATION_ID, azureNsgOptionsSchema, azureNsgSecretsSchema } from '../providers/azure/config.ts';

export { secretRefSchema, type SecretRef } from './secret-ref.ts';
export { deviceTlsSchema } from './device-tls.ts';
import { deviceTlsSchema } from './device-tls.ts';
import { secretRefSchema } from './secret-ref.ts';

const integrationId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'use 1–63 lower-case letters, digits, "-" or "_", starting with a letter or digit');

export const matchSchema = z
  .object({
    nodes: z
      .array(z.union([z.string().min(1), z.number().int()]))
      .min(1, 'list at least one node name or id, or leave "nodes" out to match every node')
      .optional()
      .describe('Node names or ids this integration acts for; all nodes when absent.'),
    minSeverity: z
      .enum(SEVERITIES, { error: `must be one of ${SEVERITIES.join(', ')}` })
      .optional()
      .describe('Act only on incidents at or above this severity.'),
    families: z
      .array(z.string().min(1))
      .min(1, 'list at least one attack family, or leave "families" out to match every family')
      .optional()
      .describe('Attack families (e.g. udp_flood) this integration acts on; all when absent.'),
  })
  .strict();
export type MatchRules = z.infer<typeof matchSchema>;

const common = {
  id: integrationId.describe('Unique id; appears in logs, state and `relay status`.'),
  enabled: z.boolean().default(true).describe('false keeps the entry but does not build it.'),
  match: matchSchema.prefault({}).describe('Which incidents this integration acts on; all when empty.'),
  via: z
    .enum(['direct', 'vpc'], { error: 'must be "direct" or "vpc"' })
    .default('direct')
    .describe(
      'AWS deployments: "vpc" sends this integration\'s HTTP requests through the device relay Lambda inside your VPC (for firewalls on a private management network). One-box mode always connects directly.',
    ),
  ttl: duration({ min: '1m', max: '30d' })
    .prefault('1h')
    .describe('Longest a block may live, counted from when it was first added; removed even if attack_end never comes.'),
};

/** Fields of the integrations that can be switch targets. */
export const switchCommon = {
  holdDown: duration({ min: '0s', max: '1d' })
    .prefault('15m')
    .describe(
      'Switch targets: quiet period after the last incident lets go before the relay restores (anti-flap; a BGP withdrawal takes about 15 minutes to converge). A new incident in that time keeps it on; the TTL still ends it. Ignored by a dry-run blocklist.',
    ),
};

export const dryRunIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('dry-run'),
    options: z
      .object({
        kind: z
          .enum(['blocklist', 'switch'])
          .default('blocklist')
          .describe('Behave as a blocklist (per-IP) or a switch (activation) target.'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .describe('Logs exactly what it would do and changes nothing.');

export const webhookIntegrationSchema = z
  .object({
    ...common,
    type: z.literal('webhook'),
    options: z
      .object({
        url: z
          .url({ protocol: /^https?$/, error: 'must be an absolute https:// URL' })
          .describe('Where block/unblock events are POSTed.'),
        allowInsecureHttp: z
          .boolean()
          .default(false)
          .describe('Permit an http:// URL (loopback testing only).'),
        timeout: duration({ min: '100ms', max: '60s' }).prefault('10s').describe('Longest one delivery attempt may take.'),
        maxAttempts: z.number().int().min(1).max(10).default(4).describe('Attempts per delivery.'),
        caFile: z.string().min(1).optional().describe('PEM CA bundle to trust for this URL.'),
      })
      .strict()
      .refine((o) => o.allowInsecureHttp || o.url.startsWith('https://'), {
        message: 'must be https://; set allowInsecureHttp: true only for loopback testing',
        path: ['url'],
      }),
    secrets: z
      .object({ signingSecret: secretRefSchema.describe('HMAC key for X-Relay-Signature.') })
      .strict(),
  })
  .strict()
  .describe('POSTs signed JSON block/unblock events to any HTTPS URL.');

const deviceUrl = z
  .url({ protocol: /^https?$/, error: 'must be an absolute URL such as https://10.0.0.1' })
  .refine((url) => new URL(url).pathname === '/' && !new URL(url).search, 'give only scheme, host and port, e.g. https://10.0.0.1:8443');

const secretOf = (description: string) => secretRefSchema.describe(description);

/** Plain http to a device sends its credentials in clear text: only on explicit request. */
const insecureHttpOption = z
  .boolean()
  .default(false)
  .describe('Permit an http:// device URL (credentials and commands travel unencrypted). Only for a lab or a local test.');
const httpsUnlessAllowed = (options: { url: string; allowInsecureHttp: boolean }) =>
  options.allowInsecureHttp || options.url.startsWith('https://');
const httpsMessage = {
  message: 'must be https://; set allowInsecureHttp: true only for a lab or a local test',
  path: ['url'],
};

export const pfsenseIntegrationSchema = z
  .object({
    ...common,
    type: z.literal('pfsense'),
    options: z
      .object({
        url: deviceUrl.describe("The firewall's webConfigurator, e.g. https://10.0.0.1."),
        apiVersion: z
          .enum(['v1', 'v2'], { error: 'must be v1 (pfSense-pkg-API, CE 2.7) or v2 (pfSense-pkg-RESTAPI >= 2.1)' })
          .describe('Which REST package is installed: v1 = pfSense-pkg-API, v2 = pfSense-pkg-RESTAPI.'),
        auth: z
          .enum(['basic', 'jwt', 'token', 'apiKey'])
          .default('basic')
          .describe('basic (v1 "local", v2 BasicAuth), jwt (both), token (v1 client-id/client-token), apiKey (v2 X-API-Key).'),
        alias: z
          .string()
          .regex(/^[A-Za-z0-9_]{1,31}$/, 'use 1–31 letters, digits or "_" (pfSense alias names)')
          .default('flowtriq_blocked')
          .describe('Host alias the relay fills; your block rule references it. Created if missing; rules are never touched.'),
        legacyArrayLimit: z
          .boolean()
          .default(false)
          .describe('v2 packages older than 2.5.4 limit an alias to 128 addresses (checked after append): send chunks of 128 and report the rest. Detected automatically too.'),
        verify: z
          .boolean()
          .default(false)
          .describe('v2: after applying, read the live pf table (diagnostics/table) to confirm the change.'),
        allowInsecureHttp: insecureHttpOption,
        timeout: duration({ min: '1s', max: '120s' }).prefault('30s').describe('Longest one request may take.'),
        tls: deviceTlsSchema.prefault({}),
      })
      .strict()
      .refine(httpsUnlessAllowed, httpsMessage)
      .superRefine((options, ctx) => {
        const allowed = options.apiVersion === 'v1' ? ['basic', 'jwt', 'token'] : ['basic', 'jwt', 'apiKey'];
        if (!allowed.includes(options.auth)) {
          ctx.addIssue({ code: 'custom', path: ['auth'], message: `${options.apiVersion} supports ${allowed.join(', ')}` });
        }
      }),
    secrets: z
      .object({
        username: secretOf('basic/jwt: the pfSense user.').optional(),
        password: secretOf('basic/jwt: its password.').optional(),
        clientId: secretOf('v1 token auth: client-id.').optional(),
        clientToken: secretOf('v1 token auth: client-token.').optional(),
        apiKey: secretOf('v2 apiKey auth: the key (X-API-Key).').optional(),
      })
      .strict(),
  })
  .strict()
  .superRefine((integration, ctx) => {
    const need =
      integration.options.auth === 'token' ? ['clientId', 'clientToken'] : integration.options.auth === 'apiKey' ? ['apiKey'] : ['username', 'password'];
    for (const name of need) {
      if (!integration.secrets[name as keyof typeof integration.secrets]) {
        ctx.addIssue({ code: 'custom', path: ['secrets', name], message: `is required for auth: ${integration.options.auth}` });
      }
    }
  })
  .describe('pfSense through the pfrest REST package (v1 or v2): a host alias of attacker IPs.');

export const routerosIntegrationSchema = z
  .object({
    ...common,
    type: z.literal('routeros'),
    options: z
      .object({
        url: deviceUrl.describe('The router\'s REST service (www-ssl), e.g. https://10.0.0.2.'),
        list: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,63}$/, 'use 1–63 letters, digits, ".", "_" or "-"')
          .default('flowtriq_blocked')
          .describe('Address-list the relay fills (IPv4 and IPv6 lists of that name); your drop rule references it.'),
        comment: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'use 1–64 letters, digits, ".", ":", "_" or "-"')
          .default('flowtriq-relay')
          .describe('Marks entries as the relay\'s: only entries with this comment are ever removed.'),
        mode: z
          .enum(['script', 'per-entry'])
          .default('script')
          .describe('script: bulk add/remove with /execute (fast); per-entry: one PUT/DELETE per IP, for users whose policy forbids scripts.'),
        scriptChunk: z
          .number()
          .int()
          .min(1)
          .max(2000)
          .default(500)
          .describe('Most addresses per /execute script; each script is also capped at 63 KiB (about 380 IPv4 adds), whichever is smaller.'),
        concurrency: z.number().int().min(1).max(8).default(2).describe('per-entry mode: requests in flight at once.'),
        timeout: duration({ min: '1s', max: '59s' }).prefault('50s').describe('Longest one request may take (RouterOS kills commands after 60 s).'),
        tls: deviceTlsSchema.prefault({}),
        allowInsecureHttp: insecureHttpOption,
      })
      .strict()
      .refine(httpsUnlessAllowed, httpsMessage),
    secrets: z
      .object({
        username: secretOf('The RouterOS user of the relay.'),
        password: secretOf('Its password.'),
      })
      .strict(),
  })
  .strict()
  .describe('MikroTik RouterOS v7.1+ REST: an address-list of attacker IPs.');

export const hetznerRobotIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('hetzner-robot'),
    options: hetznerRobotOptionsSchema,
    secrets: hetznerRobotSecretsSchema,
  })
  .strict()
  .describe('Hetzner Robot: switch the stateless firewall of dedicated servers on for an attack, and back exactly as it was.');

export const cloudflareMagicTransitIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('cloudflare-magic-transit'),
    options: cloudflareMagicTransitOptionsSchema,
    secrets: cloudflareSecretsSchema,
  })
  .strict()
  .describe('Cloudflare Magic Transit on demand: advertise your BYOIP prefixes for an attack, withdraw those the relay advertised afterwards.');

export const cloudflareUnderAttackIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('cloudflare-under-attack'),
    options: cloudflareUnderAttackOptionsSchema,
    secrets: cloudflareSecretsSchema,
  })
  .strict()
  .describe('Cloudflare "I\'m Under Attack": the zone\'s security level for an attack, restored afterwards if nobody changed it.');

export const ovhIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('ovh'),
    options: ovhOptionsSchema,
    secrets: ovhSecretsSchema,
  })
  .strict()
  .describe('OVHcloud: permanent DDoS mitigation of your IPs for an attack, removed afterwards if the relay created it.');

export const awsShieldIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('aws-shield'),
    options: awsShieldOptionsSchema,
    secrets: awsSecretsSchema,
  })
  .strict()
  .describe('AWS Shield Advanced: switch the layer-7 automatic mitigation of protected resources to Block for an attack, and back.');

export const awsWafIpSetIntegrationSchema = z
  .object({
    ...common,
    type: z.literal('aws-waf-ipset'),
    options: awsWafIpSetOptionsSchema,
    secrets: awsSecretsSchema,
  })
  .strict()
  .describe('AWS WAFv2: attacker addresses in an IP set your web ACL blocks.');

export const digitalOceanIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('digitalocean'),
    options: digitalOceanOptionsSchema,
    secrets: digitalOceanSecretsSchema,
  })
  .strict()
  .describe('DigitalOcean Cloud Firewalls: lock firewalls down to a management allowance during an attack, and put back exactly the inbound rules the relay removed.');

export const vultrIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('vultr'),
    options: vultrOptionsSchema,
    secrets: vultrSecretsSchema,
  })
  .strict()
  .describe("Vultr: move instances to a lockdown firewall group during an attack, and back to the group each was on; the customer's groups and rules are never edited.");

export const linodeIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('linode'),
    options: linodeOptionsSchema,
    secrets: linodeSecretsSchema,
  })
  .strict()
  .describe('Linode Cloud Firewall: lock firewalls down to a management allowance during an attack, and put their rules back exactly as they were.');

export const gcpFirewallIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('gcp-firewall'),
    options: gcpFirewallOptionsSchema,
    secrets: gcpFirewallSecretsSchema,
  })
  .strict()
  .describe(
    'Google Cloud VPC firewall: lock tagged VMs down to a management allowance during an attack (mode: lockdown, a switch), or deny attacker addresses in a relay-owned rule (mode: block, a blocklist).',
  );

export const azureNsgIntegrationSchema = z
  .object({
    ...common,
    ...switchCommon,
    type: z.literal('azure-nsg'),
    options: azureNsgOptionsSchema,
    secrets: azureNsgSecretsSchema,
  })
  .strict()
  .refine((integration) => integration.id.length <= AZURE_MAX_INTEGRATION_ID, {
    path: ['id'],
    message: `use at most ${AZURE_MAX_INTEGRATION_ID} characters for an azure-nsg id: the relay's rule names (flowtriq-relay-<id>-deny-all) must fit Azure's 80`,
  })
  .describe(
    'Azure network security group: lock it down to a management allowance during an attack (mode: lockdown, a switch), or deny attacker addresses in relay-owned rules (mode: block, a blocklist).',
  );

export const nftablesIntegrationSchema = z
  .object({ ...common, type: z.literal('nftables'), options: nftablesOptionsSchema.prefault({}) })
  .strict()
  .describe("nftables on this host (one-box): attacker addresses as elements of two sets your own rule drops from; only the relay's marked elements are ever removed.");

export const ipsetIntegrationSchema = z
  .object({ ...common, type: z.literal('ipset'), options: ipsetOptionsSchema.prefault({}) })
  .strict()
  .describe("ipset on this host (one-box; for iptables): attacker addresses as entries of two hash:ip sets your iptables/ip6tables rule drops from; only the relay's marked entries are ever removed.");

export const abuseipdbIntegrationSchema = z
  .object({ ...common, type: z.literal('abuseipdb'), options: abuseipdbOptionsSchema.prefault({}), secrets: abuseipdbSecretsSchema })
  .strict()
  .describe('AbuseIPDB: report the top attackers of each incident (category 4, DDoS Attack) when it ends; sends nothing during the attack.');

export const crowdsecIntegrationSchema = z
  .object({
    ...common,
    type: z.literal('crowdsec'),
    options: crowdsecOptionsSchema.prefault({}),
    secrets: crowdsecSecretsSchema,
  })
  .strict()
  .describe("CrowdSec Local API: attacker addresses as ban decisions of a machine; only the relay's own decisions are ever removed.");

export type PfSenseIntegrationConfig = z.infer<typeof pfsenseIntegrationSchema>;
export type RouterOsIntegrationConfig = z.infer<typeof routerosIntegrationSchema>;

export const INTEGRATION_TYPES = [
  'dry-run',
  'webhook',
  'pfsense',
  'routeros',
  'cloudflare-magic-transit',
  'cloudflare-under-attack',
  'hetzner-robot',
  'ovh',
  'aws-shield',
  'aws-waf-ipset',
  'digitalocean',
  'vultr',
  'linode',
  'gcp-firewall',
  'azure-nsg',
  'crowdsec',
  'nftables',
  'ipset',
  'abuseipdb',
] as const;

export const integrationSchema = z.discriminatedUnion(
  'type',
  [
    dryRunIntegrationSchema,
    webhookIntegrationSchema,
    pfsenseIntegrationSchema,
    routerosIntegrationSchema,
    cloudflareMagicTransitIntegrationSchema,
    cloudflareUnderAttackIntegrationSchema,
    hetznerRobotIntegrationSchema,
    ovhIntegrationSchema,
    awsShieldIntegrationSchema,
    awsWafIpSetIntegrationSchema,
    digitalOceanIntegrationSchema,
    vultrIntegrationSchema,
    linodeIntegrationSchema,
    gcpFirewallIntegrationSchema,
    azureNsgIntegrationSchema,
    crowdsecIntegrationSchema,
    nftablesIntegrationSchema,
    ipsetIntegrationSchema,
    abuseipdbIntegrationSchema,
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union' ? `unknown integration type; use one of: ${INTEGRATION_TYPES.join(', ')}` : undefined,
  },
);
export type IntegrationConfig = z.infer<typeof integrationSchema>;

/** Integration types that are always switch targets. */
const SWITCH_TYPES: ReadonlySet<string> = new Set([
  'cloudflare-magic-transit',
  'cloudflare-under-attack',
  'hetzner-robot',
  'ovh',
  'aws-shield',
  'linode',
  'digitalocean',
  'vultr',
]);

/**
 * Switch or blocklist, as the config says (where no provider is built, e.g.
 * against a deployed stage): most types are one or the other; dry-run by
 * `options.kind`, and the cloud firewalls with both modes by `options.mode`.
 */
export function integrationKind(integration: IntegrationConfig): 'switch' | 'blocklist' {
  if (integration.type === 'dry-run') return integration.options.kind === 'switch' ? 'switch' : 'blocklist';
  const mode = (integration.options as { mode?: unknown }).mode;
  if (mode === 'lockdown') return 'switch';
  if (mode === 'block') return 'blocklist';
  return SWITCH_TYPES.has(integration.type) ? 'switch' : 'blocklist';
}

const awsSchema = z
  .object({
    webhook: z
      .object({
        reservedConcurrency: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(10)
          .describe('Cost cap: most webhook Lambdas running at once (the URL is public; the HMAC is the gate).'),
        memory: z.number().int().min(128).max(10240).default(256).describe('Webhook function memory in MB.'),
      })
      .strict()
      .prefault({}),
    worker: z
      .object({
        timeout: duration({ min: '10s', max: '15m' }).prefault('2m').describe('Worker function timeout; the queue visibility timeout is 6× this.'),
        memory: z.number().int().min(128).max(10240).default(512).describe('Worker function memory in MB.'),
        batchSize: z.number().int().min(1).max(10).default(10).describe('SQS FIFO messages per worker invocation (at most 10).'),
      })
      .strict()
      .prefault({}),
    maxReceives: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe('Deliveries of one event before it moves to the dead-letter queue.'),
    alarmEmail: z.email({ error: 'must be an e-mail address' }).optional().describe('Subscribe this address to the alarm topic.'),
    vpc: z
      .object({
        subnetIds: z
          .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id such as subnet-0123456789abcdef0'))
          .min(1, 'list at least one private subnet that routes to the firewalls'),
        securityGroupIds: z
          .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id such as sg-0123456789abcdef0'))
          .min(1, "list the security group whose egress allows exactly the firewalls' management IPs and ports"),
      })
      .strict()
      .optional()
      .describe('Where the device relay Lambda runs: existing private subnets and security groups in your VPC.'),
  })
  .strict()
  .describe('AWS deployment settings (sst deploy); ignored by one-box mode.');

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1').describe('Interface the one-box server binds.'),
        port: z.number().int().min(0).max(65535).default(8787).describe('TCP port; 0 = any free port.'),
        headersTimeout: duration({ min: '1s', max: '2m' })
          .prefault('10s')
          .describe('Longest a client may take to send the request line and headers; then 408 and the connection is closed.'),
        requestTimeout: duration({ min: '1s', max: '10m' })
          .prefault('15s')
          .describe(
            'Longest a client may take to send the whole request, body included (a slowly trickled body is cut); then 408 and the connection is closed. At least headersTimeout.',
          ),
        keepAliveTimeout: duration({ min: '1s', max: '10m' })
          .prefault('5s')
          .describe('How long an idle keep-alive connection stays open after a response.'),
        maxConnections: z
          .number()
          .int('must be a whole number of connections, e.g. 256')
          .min(1, 'use between 1 and 65535 connections (the default is 256)')
          .max(65_535, 'use between 1 and 65535 connections (the default is 256)')
          .default(256)
          .describe('Most connections open at once; a connection beyond it is closed as soon as it is accepted.'),
      })
      .strict()
      .superRefine((server, ctx) => {
        if (server.headersTimeout > server.requestTimeout) {
          ctx.addIssue({
            code: 'custom',
            path: ['headersTimeout'],
            message: `${formatDuration(server.headersTimeout)} is longer than server.requestTimeout (${formatDuration(server.requestTimeout)}), which covers the headers too; lower headersTimeout or raise requestTimeout`,
          });
        }
      })
      .prefault({}),
    webhook: z
      .object({
        secrets: z
          .array(secretRefSchema)
          .min(1, 'configure at least one webhook secret')
          .max(2, 'at most two secrets (current and next, for rotation)')
          .default([{ env: 'FLOWTRIQ_WEBHOOK_SECRET', optional: false }])
          .describe('Flowtriq webhook secret(s); two during rotation. Every secret not marked optional must be set.'),
        replayWindow: duration({ min: '30s', max: '1h' })
          .prefault('5m')
          .describe(
            "Refuse attack_start, attack_update and test events whose signed timestamp is further than this from the relay's clock; a late attack_end is still accepted.",
          ),
      })
      .strict()
      .prefault({}),
    flowtriq: z
      .object({
        apiToken: secretRefSchema.optional().describe('Deploy token used to fetch source IPs of incidents.'),
        baseUrl: z.url({ protocol: /^https?$/ }).default('https://flowtriq.com/api/v1').describe('Root of the Flowtriq REST API.'),
        timeout: duration({ min: '100ms', max: '60s' }).prefault('5s').describe('Longest one API request may take.'),
      })
      .strict()
      .prefault({}),
    blocking: z
      .object({
        minConfidence: z
          .number()
          .min(0)
          .max(100)
          .default(80)
          .describe('Minimum per-source confidence (0–100) to block a scored source.'),
        acceptUnscored: z
          .boolean()
          .default(true)
          .describe('Block sources that carry no confidence score (flow-based detection).'),
        maxIpsPerIncident: z.number().int().min(1).max(100_000).default(1000).describe('Most addresses one incident may block.'),
        neverBlock: z.array(z.string().min(1)).default([]).describe('Extra CIDRs or addresses never to block.'),
        protectNodeSubnet: z
          .boolean()
          .default(false)
          .describe("Also never block the node's /24 (IPv4) or /64 (IPv6)."),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        dir: z
          .string()
          .min(1)
          .default('.relay')
          .describe('One-box mode: directory for the SQLite state and queue databases.'),
      })
      .strict()
      .prefault({}),
    sweeper: z
      .object({
        interval: duration({ min: '1s', max: '1h' }).prefault('30s').describe('How often the one-box sweeper runs.'),
        driftCheck: duration({ min: '1m', max: '1d' })
          .prefault('5m')
          .describe(
            'How often each device that can list its entries is compared with state: vanished blocks are re-asserted, managed entries nobody holds are removed.',
          ),
      })
      .strict()
      .prefault({}),
    status: z
      .object({
        enabled: z.boolean().default(true).describe('One-box: serve the status page (GET /status, /status.json) and the Prometheus metrics (GET /metrics).'),
        token: secretRefSchema
          .optional()
          .describe('Token for /status, /status.json and /metrics (Authorization: Bearer, or /status?token= once in a browser). Unset: only clients on this machine are answered.'),
      })
      .strict()
      .prefault({}),
    retention: duration({ min: '1h', max: '365d' }).prefault('7d').describe('How long settled records are kept.'),
    auditRetention: duration({ min: '1d', max: '365d' })
      .prefault('30d')
      .describe('How long the audit trail (relay history, the status page) keeps what the relay did.'),
    integrations: z.array(integrationSchema).default([]).describe('Targets the relay acts on.'),
    aws: awsSchema.prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    config.integrations.forEach((integration, index) => {
      if (integration.via === 'vpc' && !config.aws.vpc) {
        ctx.addIssue({
          code: 'custom',
          path: ['integrations', index, 'via'],
          message: 'is "vpc" but aws.vpc is not configured; add aws.vpc.subnetIds and aws.vpc.securityGroupIds, or use via: direct',
        });
      }
      if (integration.via === 'vpc' && !('url' in integration.options)) {
        ctx.addIssue({
          code: 'custom',
          path: ['integrations', index, 'via'],
          message:
            integration.type === 'dry-run'
              ? `is "vpc" but a ${integration.type} integration makes no HTTP requests; use via: direct`
              : integration.type === 'nftables' || integration.type === 'ipset'
                ? `is "vpc" but a ${integration.type} integration changes the firewall of the host the relay runs on (one-box only); use via: direct`
                : `is "vpc" but a ${integration.type} integration calls a public cloud API, which the device relay does not forward to; use via: direct`,
        });
      }
    });
    const seen = new Map<string, number>();
    config.integrations.forEach((integration, index) => {
      const first = seen.get(integration.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['integrations', index, 'id'],
          message: `duplicate id "${integration.id}" (also used by integrations[${first}]); give each integration its own id`,
        });
      } else {
        seen.set(integration.id, index);
      }
    });
  });

export type RelayConfig = z.infer<typeof configSchema>;
export type RelayConfigInput = z.input<typeof configSchema>;
