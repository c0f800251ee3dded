/**
 * The gcp-firewall lockdown as the one-box e2e test (test/e2e/switches.test.ts)
 * drives it: the integration as written in relay.config (without id), the
 * secret's environment, the simulator's Transport, and views of the
 * simulated project.
 *
 * The project holds the operator's own rules (web open to everyone, SSH from
 * anywhere at the default network's priority); the relay's rules carry the
 * prefix `flowtriq-relay-e2e`.
 */
import { gcpLockdownOptionsSchema } from '../../../lib/providers/gcp/config.ts';
import { planLockdown } from '../../../lib/providers/gcp/model.ts';
import type { Transport } from '../../../lib/transport/types.ts';
import { GcpSimulator, type SimFirewall, makeServiceAccount } from './compute.ts';

export const GCP_KEY_ENV = 'GCP_SERVICE_ACCOUNT_KEY';
const PREFIX = 'flowtriq-relay-e2e';
const TAGS = ['web'];
const MANAGEMENT_SOURCE = '203.0.113.10';

export interface GcpUnderTest {
  integration: { type: 'gcp-firewall'; options: Record<string, unknown>; secrets: { serviceAccountKey: { env: string } } };
  env: Record<string, string>;
  transport: Transport;
  simulator: GcpSimulator;
  account(): SimFirewall[];
  isOn(): boolean;
  turnOnByHand(): void;
  changeBehindTheRelay(): void;
  managementReachable(): boolean;
}

export function gcpUnderTest(options: { now?: () => number; pendingMs?: number; runningMs?: number } = {}): GcpUnderTest {
  const account = makeServiceAccount({ project: 'flowtriq-e2e' });
  const simulator = new GcpSimulator({
    now: options.now ?? Date.now,
    account,
    relayPrefix: PREFIX,
    pendingMs: options.pendingMs ?? 0,
    runningMs: options.runningMs ?? 0,
  });
  simulator.addRule({ name: 'allow-web', priority: 1000, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['80', '443'] }], targetTags: TAGS });
  simulator.addRule({ name: 'default-allow-ssh', priority: 65534, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['22'] }] });
  const rawOptions = {
    mode: 'lockdown',
    project: 'flowtriq-e2e',
    network: 'default',
    targetTags: TAGS,
    ruleNamePrefix: PREFIX,
    pollInterval: '1s',
    waitFor: '10s',
    management: [{ protocol: 'tcp', ports: 22, sources: [`${MANAGEMENT_SOURCE}/32`], description: 'ssh from the office' }],
    keep: [],
  };
  const plan = planLockdown(gcpLockdownOptionsSchema.parse(rawOptions), 'flowtriq-e2e');
  return {
    integration: { type: 'gcp-firewall', options: rawOptions, secrets: { serviceAccountKey: { env: GCP_KEY_ENV } } },
    env: { [GCP_KEY_ENV]: account.keyFile },
    transport: simulator.transport,
    simulator,
    account: () => simulator.account(),
    isOn: () => plan.every((rule) => simulator.rule(rule.name)?.disabled === false),
    turnOnByHand: () => {
      // The operator enabled the lockdown before the attack (gcloud, or an earlier run): every rule present, enabled, unchanged.
      for (const rule of plan) {
        const { disabled: _disabled, ...insert } = rule.insert;
        if (simulator.rule(rule.name) === undefined) simulator.addRule({ ...insert, disabled: false });
        else simulator.changeBehindRelay(rule.name, (stored) => void (stored.disabled = false));
      }
    },
    changeBehindTheRelay: () => {
      // Someone widens the management allow rule during the attack.
      const allow = plan.find((rule) => rule.role === 'allow')!;
      simulator.changeBehindRelay(allow.name, (stored) => void stored.sourceRanges?.push('198.51.100.0/24'));
    },
    managementReachable: () => simulator.admit({ source: MANAGEMENT_SOURCE, protocol: 'tcp', port: 22, tags: TAGS }),
  };
}
