/** The relay configs the stacks are evaluated with (infra tests). */
import type { Scenario } from './harness/evaluate.ts';

/** Everything on: rotation secret, API token, a direct and a VPC integration (with a CA bundle), a disabled one, custom sizes, alarm e-mail. */
export const FULL_CONFIG = `# relay config for the full infra scenario
webhook:
  secrets:
    - sst: FlowtriqWebhookSecret
    - sst: FlowtriqWebhookSecretNext
      optional: true
flowtriq:
  apiToken:
    sst: FlowtriqApiToken
integrations:
  - id: siem
    type: webhook
    options:
      url: https://hooks.example.com/relay
    secrets:
      signingSecret: { sst: SiemSigningSecret }
  - id: edge-fw
    type: webhook
    via: vpc
    options:
      url: https://10.20.0.5:8443/relay
      caFile: certs/firewall-ca.pem
    secrets:
      signingSecret: { sst: FirewallSigningSecret }
  - id: retired
    type: webhook
    enabled: false
    via: vpc
    options:
      url: https://old.example.com/hook
    secrets:
      signingSecret: { env: OLD_SIGNING_SECRET }
  - id: log
    type: dry-run
aws:
  webhook:
    reservedConcurrency: 7
    memory: 192
  worker:
    timeout: 90s
    memory: 768
    batchSize: 5
  maxReceives: 4
  alarmEmail: noc@example.com
  vpc:
    subnetIds: [subnet-0a1b2c3d4e5f60718, subnet-0a1b2c3d4e5f60719]
    securityGroupIds: [sg-0a1b2c3d4e5f60718]
`;

export const FULL_CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

/** The values `sst secret set` would provide (the optional rotation secret left unset). */
export const FULL_SECRETS = {
  FlowtriqWebhookSecret: 'whsec-current',
  FlowtriqApiToken: 'api-token-value',
  SiemSigningSecret: 'siem-signing-value',
  FirewallSigningSecret: 'firewall-signing-value',
};

/** Defaults everywhere; JSON; no VPC integration, no alarm e-mail. */
export const MINIMAL_CONFIG = `${JSON.stringify(
  {
    webhook: { secrets: [{ sst: 'FlowtriqWebhookSecret' }] },
    integrations: [
      {
        id: 'siem',
        type: 'webhook',
        options: { url: 'https://hooks.example.com/relay' },
        secrets: { signingSecret: { sst: 'SiemSigningSecret' } },
      },
    ],
  },
  null,
  2,
)}\n`;

const MINIMAL_SECRETS = { FlowtriqWebhookSecret: 'whsec-current', SiemSigningSecret: 'siem-signing-value' };

export const SCENARIOS = {
  full: {
    id: 'full',
    config: { name: 'relay.config.yaml', text: FULL_CONFIG },
    files: { 'certs/firewall-ca.pem': FULL_CA },
    secrets: FULL_SECRETS,
  },
  minimal: {
    id: 'minimal',
    config: { name: 'relay.config.json', text: MINIMAL_CONFIG },
    secrets: MINIMAL_SECRETS,
  },
  /** Fails the schema: a plain-http URL. */
  httpUrl: {
    id: 'http-url',
    config: {
      name: 'relay.config.yaml',
      text: 'webhook:\n  secrets: [{ sst: FlowtriqWebhookSecret }]\nintegrations:\n  - id: siem\n    type: webhook\n    options: { url: "http://hooks.example.com/relay" }\n    secrets: { signingSecret: { sst: SiemSigningSecret } }\n',
    },
    secrets: MINIMAL_SECRETS,
  },
  /** Fails the schema's cross-field check: via: vpc without aws.vpc. */
  vpcWithoutNetwork: {
    id: 'vpc-without-network',
    config: {
      name: 'relay.config.yaml',
      text: 'webhook:\n  secrets: [{ sst: FlowtriqWebhookSecret }]\nintegrations:\n  - id: fw\n    type: webhook\n    via: vpc\n    options: { url: "https://10.0.0.5/relay" }\n    secrets: { signingSecret: { sst: FirewallSigningSecret } }\n',
    },
    secrets: { FlowtriqWebhookSecret: 'x', FirewallSigningSecret: 'y' },
  },
  /** Valid for one-box mode, not for AWS: secrets from environment variables. */
  envSecrets: {
    id: 'env-secrets',
    config: {
      name: 'relay.config.yaml',
      text: 'webhook:\n  secrets: [{ env: FLOWTRIQ_WEBHOOK_SECRET }]\nintegrations:\n  - id: siem\n    type: webhook\n    options: { url: "https://hooks.example.com/relay" }\n    secrets: { signingSecret: { env: RELAY_WEBHOOK_SIGNING_SECRET } }\n',
    },
  },
  /**
   * The AWS integrations: Shield by a resource ARN and by a protection id, a
   * regional and a CloudFront WAF IP set acting as the function role (Lambda's
   * own credential variables, the default), and one with keys of another
   * account from SST secrets (which needs nothing from the stage's roles).
   */
  awsIntegrations: {
    id: 'aws-integrations',
    config: {
      name: 'relay.config.yaml',
      text: `webhook:
  secrets: [{ sst: FlowtriqWebhookSecret }]
integrations:
  - id: shield
    type: aws-shield
    options:
      protections:
        - arn:aws:cloudfront::111122223333:distribution/E1A2B3C4D5E6F7
        - a1b2c3d4-5678-90ab-cdef-000000000001
  - id: waf-eu
    type: aws-waf-ipset
    options: { region: eu-west-1, name: relay-blocks, id: a1b2c3d4-5678-90ab-cdef-000000000002 }
  - id: waf-cf
    type: aws-waf-ipset
    options: { region: us-east-1, scope: CLOUDFRONT, name: relay-edge, id: a1b2c3d4-5678-90ab-cdef-000000000003 }
  - id: waf-other-account
    type: aws-waf-ipset
    options: { region: eu-central-1, name: partner, id: a1b2c3d4-5678-90ab-cdef-000000000004 }
    secrets:
      accessKeyId: { sst: PartnerAccessKeyId }
      secretAccessKey: { sst: PartnerSecretAccessKey }
`,
    },
    secrets: { FlowtriqWebhookSecret: 'whsec-current', PartnerAccessKeyId: 'AKIDPARTNER', PartnerSecretAccessKey: 'partner-secret' },
  },
  /** RELAY_CONFIG names a file that does not exist. */
  missingFile: {
    id: 'missing-file',
    env: { RELAY_CONFIG: '/nonexistent/relay.config.yaml' },
  },
  /** A required secret that was never `sst secret set`. */
  unsetSecret: {
    id: 'unset-secret',
    config: { name: 'relay.config.json', text: MINIMAL_CONFIG },
    secrets: { FlowtriqWebhookSecret: 'whsec-current' },
  },
  /** A secret named like one of the relay's own components. */
  nameClash: {
    id: 'name-clash',
    config: { name: 'relay.config.yaml', text: 'webhook:\n  secrets: [{ sst: Worker }]\n' },
    secrets: { Worker: 'x' },
  },
} satisfies Record<string, Scenario>;
