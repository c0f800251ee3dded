/**
 * Builds providers from validated integration config. Secrets are resolved
 * here, at startup, so a missing one stops the relay with the config path
 * (e.g. `integrations[2].secrets.signingSecret`) and the command that fixes
 * it, instead of failing on the first attack.
 *
 * The never-block guard is not applied here (it needs the node's addresses);
 * wrap blocklist providers with `guardBlocklist` (./guard.ts).
 */
import type { SecretRef } from '../config/secret-ref.ts';
import { resolveRequiredSecret } from '../config/secrets.ts';
import type { IntegrationConfig } from '../config/schema.ts';
import type { Logger } from '../log/types.ts';
import type { Transport } from '../transport/types.ts';
import { DryRunBlocklistProvider, DryRunSwitchProvider } from './dry-run/provider.ts';
import type { Provider } from './types.ts';
import { withAuthCooldown } from './auth-cooldown.ts';
import { deviceTls } from './device-tls.ts';
import { resolveAwsCredentials } from './aws/config.ts';
import { createAwsShieldProvider, createAwsWafIpSetProvider } from './aws/provider.ts';
import { createCloudflareMagicTransitProvider, createCloudflareUnderAttackProvider } from './cloudflare/provider.ts';
import { createHetznerRobotProvider } from './hetzner/provider.ts';
import { createOvhProvider } from './ovh/provider.ts';
import { createCrowdsecProvider } from './crowdsec/provider.ts';
import { createGcpFirewallProvider } from './gcp/provider.ts';
import { createAzureNsgProvider } from './azure/provider.ts';
import { createIpsetProvider } from './ipset/provider.ts';
import { createNftablesProvider } from './nftables/provider.ts';
import { ABUSEIPDB_API_BASE } from './abuseipdb/config.ts';
import { createAbuseipdbProvider } from './abuseipdb/provider.ts';
import { createLinodeProvider } from './linode/provider.ts';
import { createDigitalOceanProvider } from './digitalocean/provider.ts';
import { createVultrProvider } from './vultr/provider.ts';
import { PfSenseV1Provider, resolvePfSenseV1Secrets } from './pfsense/v1/provider.ts';
import { PfSenseV2Provider } from './pfsense/v2/provider.ts';
import { RouterOsProvider } from './routeros/provider.ts';
import { WebhookProvider, type WebhookProviderDeps } from './webhook/provider.ts';

/** What providers are built with. */
export interface ProviderDeps {
  transport: Transport;
  logger: Logger;
  /** Where secrets are read from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Config path of the integration for error messages, e.g. `integrations[2]`.
   * Defaults to `integrations[id=<id>]`; createProviders passes the index.
   */
  configPath?: string;
  /** Webhook tuning (tests use short delays). */
  webhook?: Pick<WebhookProviderDeps, 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs' | 'readFile'>;
}

/**
 * Builds the provider for one integration.
 * @throws SecretMissingError / SecretMalformedError when a secret is unavailable.
 * @throws CaFileError when a webhook's caFile cannot be read.
 */
export function createProvider(integration: IntegrationConfig, deps: ProviderDeps): Provider {
  const path = deps.configPath ?? `integrations[id=${integration.id}]`;
  const logger = deps.logger.child({ integration: integration.id, type: integration.type });
  const env = deps.env ?? process.env;
  /** A required secret of this integration, its config path in the error when missing. */
  const required = <K extends string>(secrets: Record<K, SecretRef>, name: K) => resolveRequiredSecret(secrets[name], `${path}.secrets.${name}`, env);
  switch (integration.type) {
    case 'dry-run': {
      const provider =
        integration.options.kind === 'switch'
          ? new DryRunSwitchProvider({ id: integration.id, holdDownMs: integration.holdDown })
          : new DryRunBlocklistProvider({ id: integration.id });
      logger.info('provider ready', { kind: provider.kind, detail: 'dry-run: changes nothing' });
      return provider;
    }
    case 'webhook': {
      const signingSecret = required(integration.secrets, 'signingSecret');
      const provider = new WebhookProvider(integration, {
        ...deps.webhook,
        transport: deps.transport,
        signingSecret,
        configPath: path,
      });
      if (integration.options.url.startsWith('http://')) {
        logger.warn('webhook uses plain http (allowInsecureHttp); events are signed but not encrypted', {
          origin: new URL(integration.options.url).origin,
        });
      }
      logger.info('provider ready', { kind: provider.kind, origin: new URL(integration.options.url).origin });
      return provider;
    }
    case 'pfsense': {
      const tls = deviceTls(integration.options.tls, { where: `${path}.options` });
      if (integration.options.apiVersion === 'v2') {
        const secret = (name: 'username' | 'password' | 'apiKey') => {
          const ref = integration.secrets[name];
          return ref ? { [name]: resolveRequiredSecret(ref, `${path}.secrets.${name}`, env) } : {};
        };
        const provider = new PfSenseV2Provider(integration, {
          transport: deps.transport,
          tls,
          secrets: { ...secret('username'), ...secret('password'), ...secret('apiKey') },
          configPath: path,
        });
        return ready(logger, provider, integration.options.url);
      }
      const provider = new PfSenseV1Provider(integration, {
        transport: deps.transport,
        tls,
        secrets: resolvePfSenseV1Secrets(integration, path, env),
        configPath: path,
      });
      return ready(logger, withAuthCooldown(provider), integration.options.url);
    }
    case 'routeros': {
      const provider = new RouterOsProvider(
        integration,
        {
          username: required(integration.secrets, 'username'),
          password: required(integration.secrets, 'password'),
        },
        deps.transport,
        deviceTls(integration.options.tls, { where: `${path}.options` }),
      );
      return ready(logger, withAuthCooldown(provider), integration.options.url);
    }
    case 'hetzner-robot': {
      const provider = createHetznerRobotProvider(
        asSwitch(integration),
        {
          transport: deps.transport,
          secrets: {
            username: required(integration.secrets, 'username'),
            password: required(integration.secrets, 'password'),
          },
          logger,
        },
      );
      logger.info('provider ready', { kind: provider.kind, servers: integration.options.servers.length });
      return provider;
    }
    case 'cloudflare-magic-transit':
    case 'cloudflare-under-attack': {
      // No auth cooldown: Cloudflare does not lock a token out after refusals.
      const cloudflareDeps = {
        transport: deps.transport,
        secrets: { apiToken: required(integration.secrets, 'apiToken') },
        logger,
      };
      const provider =
        integration.type === 'cloudflare-magic-transit'
          ? createCloudflareMagicTransitProvider(asSwitch(integration), cloudflareDeps)
          : createCloudflareUnderAttackProvider(asSwitch(integration), cloudflareDeps);
      logger.info('provider ready', { kind: provider.kind });
      return provider;
    }
    case 'ovh': {
      const provider = createOvhProvider(
        asSwitch(integration),
        {
          transport: deps.transport,
          secrets: { applicationKey: required(integration.secrets, 'applicationKey'), applicationSecret: required(integration.secrets, 'applicationSecret'), consumerKey: required(integration.secrets, 'consumerKey') },
          logger,
        },
      );
      logger.info('provider ready', { kind: provider.kind, endpoint: integration.options.endpoint, ips: integration.options.ips.length });
      return provider;
    }
    case 'aws-shield':
    case 'aws-waf-ipset': {
      // No auth cooldown: AWS does not lock out a caller after failed signatures.
      const awsDeps = { transport: deps.transport, secrets: resolveAwsCredentials(integration.secrets, `${path}.secrets`, env), logger };
      const provider =
        integration.type === 'aws-shield'
          ? createAwsShieldProvider(asSwitch(integration), awsDeps)
          : createAwsWafIpSetProvider({ id: integration.id, options: integration.options }, awsDeps);
      logger.info('provider ready', { kind: provider.kind });
      return provider;
    }
    case 'digitalocean': {
      // No auth cooldown: DigitalOcean documents no lockout after refused tokens.
      const provider = createDigitalOceanProvider(
        asSwitch(integration),
        { transport: deps.transport, secrets: { apiToken: required(integration.secrets, 'apiToken') }, logger },
      );
      logger.info('provider ready', { kind: provider.kind, firewalls: integration.options.firewalls.length });
      return provider;
    }
    case 'vultr': {
      // No auth cooldown: Vultr documents no lockout after refused keys.
      const provider = createVultrProvider(
        asSwitch(integration),
        { transport: deps.transport, secrets: { apiKey: required(integration.secrets, 'apiKey') }, logger },
      );
      logger.info('provider ready', { kind: provider.kind, instances: integration.options.instances.length });
      return provider;
    }
    case 'linode': {
      // No auth cooldown: Linode documents no lockout after refused tokens.
      const provider = createLinodeProvider(
        asSwitch(integration),
        { transport: deps.transport, secrets: { token: required(integration.secrets, 'token') }, logger },
      );
      logger.info('provider ready', { kind: provider.kind, firewalls: integration.options.firewalls.length });
      return provider;
    }
    case 'gcp-firewall': {
      // No auth cooldown: Google does not lock a key out after refused tokens; the provider renews its token once on a 401.
      const secretPath = `${path}.secrets.serviceAccountKey`;
      const provider = createGcpFirewallProvider(
        asSwitch(integration),
        { transport: deps.transport, secrets: { serviceAccountKey: required(integration.secrets, 'serviceAccountKey') }, secretPath, logger },
      );
      logger.info('provider ready', { kind: provider.kind, mode: integration.options.mode });
      return provider;
    }
    case 'azure-nsg': {
      // No auth cooldown: Entra ID does not lock an application out after refused sign-ins; the client signs in again once after a 401.
      const provider = createAzureNsgProvider(
        asSwitch(integration),
        { transport: deps.transport, secrets: { clientSecret: required(integration.secrets, 'clientSecret') }, logger },
      );
      logger.info('provider ready', { kind: provider.kind, mode: integration.options.mode });
      return provider;
    }
    case 'nftables':
    case 'ipset': {
      // The host the relay runs on: no login, no secret. A missing tool or CAP_NET_ADMIN is reported by the health check.
      const provider =
        integration.type === 'nftables'
          ? createNftablesProvider({ id: integration.id, options: integration.options })
          : createIpsetProvider({ id: integration.id, options: integration.options });
      logger.info('provider ready', { kind: provider.kind, detail: `${integration.type} on this host` });
      return provider;
    }
    case 'abuseipdb': {
      // No auth cooldown: AbuseIPDB documents no lockout after refused keys; the provider stops on a 401/403 with the fix.
      const provider = createAbuseipdbProvider(
        { id: integration.id, options: integration.options },
        { transport: deps.transport, secrets: { apiKey: required(integration.secrets, 'apiKey') }, logger },
      );
      return ready(logger, provider, ABUSEIPDB_API_BASE);
    }
    case 'crowdsec': {
      const provider = createCrowdsecProvider(
        { id: integration.id, options: integration.options },
        {
          transport: deps.transport,
          secrets: { password: required(integration.secrets, 'password') },
          tls: deviceTls(integration.options.tls, { where: `${path}.options` }),
          logger,
        },
      );
      if (integration.options.url.startsWith('http://') && !isLoopbackUrl(integration.options.url)) {
        logger.warn('crowdsec uses plain http to another host (allowInsecureHttp); the machine password travels unencrypted', { origin: new URL(integration.options.url).origin });
      }
      return ready(logger, provider, integration.options.url);
    }
    default:
      return unknownType(integration);
  }
}

/** What a switch provider's factory takes from its integration. */
function asSwitch<O>(integration: { id: string; options: O; holdDown: number }): { id: string; options: O; holdDownMs: number } {
  return { id: integration.id, options: integration.options, holdDownMs: integration.holdDown };
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

function ready(logger: Logger, provider: Provider, url: string): Provider {
  logger.info('provider ready', { kind: provider.kind, origin: new URL(url).origin });
  return provider;
}

/**
 * Builds providers for the enabled integrations, in config order, with
 * error messages naming `integrations[<index>]`.
 */
export function createProviders(integrations: IntegrationConfig[], deps: Omit<ProviderDeps, 'configPath'>): Provider[] {
  const providers: Provider[] = [];
  integrations.forEach((integration, index) => {
    if (!integration.enabled) return;
    providers.push(createProvider(integration, { ...deps, configPath: `integrations[${index}]` }));
  });
  return providers;
}

function unknownType(integration: never): never {
  // The schema admits only the types above; this is reached only if it grows without this switch.
  throw new Error(`no provider for integration type "${(integration as { type?: unknown }).type}"`);
}
