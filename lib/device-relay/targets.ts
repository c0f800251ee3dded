/**
 * What the device relay may reach: exactly the origins (scheme, host, port)
 * of the integrations configured with `via: vpc`, each with the TLS settings
 * from the relay's own bundled config — never from the request.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { IntegrationConfig, RelayConfig } from '../config/schema.ts';
import { deviceTls } from '../providers/device-tls.ts';
import type { TlsOptions } from '../transport/types.ts';

export interface RelayTarget {
  integration: string;
  /** `https://10.0.0.1:443`: scheme, host and explicit port. */
  origin: string;
  tls: TlsOptions;
}

/** `scheme://host:port` with the default port made explicit, or undefined for a non-http(s) URL. */
export function canonicalOrigin(url: URL): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.protocol}//${url.hostname.toLowerCase()}:${port}`;
}

function targetOf(integration: IntegrationConfig, configDir: string, read: (path: string) => string): RelayTarget | undefined {
  if (!('url' in integration.options)) return undefined;
  const origin = canonicalOrigin(new URL(integration.options.url));
  if (!origin) return undefined;
  let tls: TlsOptions = {};
  if (integration.type === 'webhook' && integration.options.caFile) {
    tls.ca = read(resolve(configDir, integration.options.caFile));
  }
  if ('tls' in integration.options) {
    tls = deviceTls(integration.options.tls, { where: `integrations[id=${integration.id}]`, baseDir: configDir, readFile: read });
  }
  return { integration: integration.id, origin, tls };
}

export function vpcTargets(
  config: RelayConfig,
  options: { configDir: string; readFile?: (path: string) => string },
): Map<string, RelayTarget> {
  const read = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const targets = new Map<string, RelayTarget>();
  for (const integration of config.integrations) {
    if (!integration.enabled || integration.via !== 'vpc') continue;
    const target = targetOf(integration, options.configDir, read);
    if (target) targets.set(integration.id, target);
  }
  return targets;
}

