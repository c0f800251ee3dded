/**
 * Configuration of the `azure-nsg` integration: one Azure network security
 * group (NSG), in one of two modes.
 *
 * - `lockdown` (a switch): during an attack the relay adds its own Inbound
 *   rules to the NSG — one Allow rule per management/keep allowance (and
 *   address family) at the first priorities of `priorityBand`, and one Deny
 *   of everything at the band's last priority — and deletes exactly those
 *   rules afterwards. The customer's own rules are never written.
 * - `block` (a blocklist): attacker addresses go into one relay-owned
 *   Inbound Deny rule at the band's first priority (a second one, the next
 *   priority, for IPv6: Azure refuses mixed address families in one rule).
 *
 * Credentials: an Entra ID application (service principal) with a client
 * secret, client-credentials grant. The lead wraps these in the integration
 * schema (`id`, `enabled`, `match`, `ttl`, `holdDown`, `via`, `type:
 * 'azure-nsg'`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { keepRulesSchema, lockdownAllowances, managementAllowanceSchema, splitSources } from '../lockdown.ts';

export const AZURE_NSG_TYPE = 'azure-nsg';
/** Azure Resource Manager (public cloud). */
export const ARM_BASE = 'https://management.azure.com';
/** Microsoft Entra ID token endpoint host (public cloud). */
export const LOGIN_BASE = 'https://login.microsoftonline.com';
export const ARM_SCOPE = 'https://management.azure.com/.default';
export const NETWORK_API_VERSION = '2024-05-01';

/** NSG rule priorities users may set (networkSecurityGroup.json, SecurityRulePropertiesFormat.priority). */
export const AZURE_MIN_PRIORITY = 100;
export const AZURE_MAX_PRIORITY = 4096;
/**
 * Source addresses and ranges per NSG, all rules together (Azure networking
 * limits: "IP addresses and ranges specified for source or destination in a
 * security group", 4,000). Azure documents no separate per-rule limit.
 */
export const AZURE_MAX_SOURCE_PREFIXES_PER_NSG = 4000;
/** Rule names: 1–80 characters (Azure NSG overview). */
export const AZURE_RULE_NAME_MAX = 80;
/** Every rule the relay owns starts with this. */
export const RELAY_RULE_PREFIX = 'flowtriq-relay-';

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function guid(what: string, where: string) {
  return z
    .string({ error: `must be the ${what}, a GUID such as 00000000-0000-0000-0000-000000000000 (${where})` })
    .trim()
    .regex(GUID, `must be the ${what}, a GUID such as 00000000-0000-0000-0000-000000000000 (${where})`)
    .transform((value) => value.toLowerCase());
}

const subscriptionId = guid('subscription ID', 'Azure portal → Subscriptions, or `az account show --query id`');
const clientId = guid('application (client) ID', 'Entra ID → App registrations → your app → Overview');
/** A tenant GUID or a verified domain (contoso.onmicrosoft.com). */
const tenantId = z
  .string({ error: 'must be the directory (tenant) ID (a GUID) or the tenant\'s domain such as contoso.onmicrosoft.com' })
  .trim()
  .refine(
    (value) => GUID.test(value) || /^(?=.{1,253}$)([a-zA-Z0-9-]{1,63}\.)+[a-zA-Z]{2,63}$/.test(value),
    'must be the directory (tenant) ID (a GUID, Entra ID → Overview → Tenant ID) or the tenant\'s domain such as contoso.onmicrosoft.com',
  )
  .transform((value) => value.toLowerCase());

/** Resource group names: 1–90 letters, digits, `_ - . ( )`, not ending in `.` (ARM naming rules). */
const resourceGroup = z
  .string({ error: 'must be the resource group\'s name' })
  .regex(/^[-\w.()]{0,89}[-\w()]$/, 'must be a resource group name: 1–90 letters, digits, _ - . ( ), not ending in "."');

/** NSG names: 1–80 characters, word characters . - _, starting with a word character and ending with one or `_`. */
const nsgName = z
  .string({ error: 'must be the network security group\'s name' })
  .regex(/^\w(?:[\w.-]{0,78}\w)?$/, 'must be a network security group name: 1–80 letters, digits, _ . -, starting and ending with a letter, digit or _');

const priority = z
  .number({ error: `must be a number ${AZURE_MIN_PRIORITY}–${AZURE_MAX_PRIORITY}` })
  .int(`must be a whole number ${AZURE_MIN_PRIORITY}–${AZURE_MAX_PRIORITY}`)
  .min(AZURE_MIN_PRIORITY, `Azure priorities start at ${AZURE_MIN_PRIORITY}`)
  .max(AZURE_MAX_PRIORITY, `Azure priorities end at ${AZURE_MAX_PRIORITY}`);

export const priorityBandSchema = z
  .object({
    from: priority.describe('First (strongest) priority of the band.'),
    to: priority.describe('Last priority of the band.'),
  })
  .strict()
  .refine((band) => band.from <= band.to, { message: 'from must not be above to', path: ['to'] })
  .prefault({ from: 100, to: 199 })
  .describe(
    'Priorities reserved for the relay\'s rules in this NSG (no rule of yours may use one). Lower numbers win; 100–199 by default, so no rule of yours can come before the relay\'s.',
  );
export type PriorityBand = z.output<typeof priorityBandSchema>;

const common = {
  subscriptionId: subscriptionId.describe('Subscription that holds the NSG.'),
  resourceGroup: resourceGroup.describe('Resource group that holds the NSG.'),
  nsg: nsgName.describe('Name of the network security group.'),
  tenantId: tenantId.describe('Directory (tenant) ID of the Entra ID application.'),
  clientId: clientId.describe('Application (client) ID of the Entra ID application the relay signs in as.'),
  priorityBand: priorityBandSchema,
  pollInterval: duration({ min: '1s', max: '1m' })
    .prefault('5s')
    .describe('How often the relay asks about a long-running Azure operation when Azure gives no Retry-After.'),
  waitFor: duration({ min: '0s', max: '10m' })
    .prefault('2m')
    .describe('Longest one activate/restore/block call waits for Azure to finish its operations before reporting "not confirmed yet" and looking again later.'),
  timeout: requestTimeoutOption('30s'),
};

/** Azure rules one lockdown needs: an Allow per allowance and address family, plus the Deny. */
export function lockdownRuleCount(options: { management: readonly { sources: readonly string[] }[]; keep: readonly { sources: readonly string[] }[] }): number {
  let count = 1;
  for (const rule of [...options.management, ...options.keep]) {
    const { ipv4, ipv6 } = splitSources(rule.sources);
    count += (ipv4.length > 0 ? 1 : 0) + (ipv6.length > 0 ? 1 : 0);
  }
  return count;
}

export const azureNsgLockdownOptionsSchema = z
  .object({
    mode: z.literal('lockdown').describe('lockdown: only the management allowance and keep rules get in during an attack.'),
    ...common,
    management: managementAllowanceSchema,
    keep: keepRulesSchema,
  })
  .strict()
  .superRefine((options, ctx) => {
    const needed = lockdownRuleCount(options);
    const size = options.priorityBand.to - options.priorityBand.from + 1;
    if (needed > size) {
      ctx.addIssue({
        code: 'custom',
        path: ['priorityBand'],
        message: `the lockdown needs ${needed} priorities (one Allow rule per management/keep rule and address family, plus the Deny) but the band ${options.priorityBand.from}–${options.priorityBand.to} has ${size}; widen priorityBand`,
      });
    }
    const sources = lockdownAllowances(options).reduce((sum, rule) => sum + rule.sources.length, 0);
    if (sources > AZURE_MAX_SOURCE_PREFIXES_PER_NSG) {
      ctx.addIssue({ code: 'custom', path: ['management'], message: `lists ${sources} sources; an NSG holds at most ${AZURE_MAX_SOURCE_PREFIXES_PER_NSG}` });
    }
  });
export type AzureNsgLockdownOptions = z.output<typeof azureNsgLockdownOptionsSchema>;

export const azureNsgBlockOptionsSchema = z
  .object({
    mode: z.literal('block').describe('block: attacker addresses go into one relay-owned Deny rule; your rules stay as they are.'),
    ...common,
    maxAddresses: z
      .number({ error: `must be a number 1–${AZURE_MAX_SOURCE_PREFIXES_PER_NSG}` })
      .int()
      .min(1)
      .max(AZURE_MAX_SOURCE_PREFIXES_PER_NSG, `an NSG holds at most ${AZURE_MAX_SOURCE_PREFIXES_PER_NSG} source addresses and ranges (all rules together)`)
      .prefault(1000)
      .describe(
        `Most attacker addresses the relay's block rules hold together (Azure: ${AZURE_MAX_SOURCE_PREFIXES_PER_NSG} source addresses and ranges per NSG, your own rules included). Past it an address is refused with an error.`,
      ),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (options.priorityBand.to - options.priorityBand.from + 1 < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['priorityBand'],
        message: 'block mode needs two priorities (one rule for IPv4 attackers, one for IPv6: Azure refuses mixed address families in one rule); widen priorityBand',
      });
    }
  });
export type AzureNsgBlockOptions = z.output<typeof azureNsgBlockOptionsSchema>;

/** `integrations[].options` of an `azure-nsg` integration. */
export const azureNsgOptionsSchema = z.discriminatedUnion('mode', [azureNsgLockdownOptionsSchema, azureNsgBlockOptionsSchema], {
  error: (issue) =>
    issue.code === 'invalid_union' ? 'mode must be lockdown (only your management allowance gets in) or block (attacker addresses are denied)' : undefined,
});
export type AzureNsgOptions = z.output<typeof azureNsgOptionsSchema>;

/** `integrations[].secrets` of an `azure-nsg` integration. */
export const azureNsgSecretsSchema = z
  .object({
    clientSecret: secretRefSchema.describe(
      'Client secret of the Entra ID application (App registrations → your app → Certificates & secrets → the secret\'s Value, not its ID).',
    ),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface AzureNsgSecrets {
  clientSecret: string;
}

/** Longest integration id whose rule names stay within Azure's 80 characters. */
export const AZURE_MAX_INTEGRATION_ID = AZURE_RULE_NAME_MAX - RELAY_RULE_PREFIX.length - '-deny-all'.length;

/** Names of the relay's rules for an integration. */
export function relayRuleNames(integrationId: string) {
  const base = `${RELAY_RULE_PREFIX}${integrationId}`;
  return {
    allow: (n: number) => `${base}-allow-${n}`,
    deny: `${base}-deny-all`,
    block: `${base}-block`,
    blockV6: `${base}-block-v6`,
    /** Every name the relay may own for this integration starts with this. */
    prefix: `${base}-`,
  };
}
