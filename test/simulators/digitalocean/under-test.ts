/**
 * The `digitalocean` integration over its simulator, for the one-box e2e
 * test (test/e2e/switches.test.ts): one Cloud Firewall attached to a droplet
 * and a tag, open to the web and to SSH from anywhere, with the usual
 * outbound rules.
 *
 * `account()` reports the firewall as a GET with every scope shows it, with
 * the inbound and outbound rules sorted by meaning: DigitalOcean rules are an
 * unordered allow-list (the union of what they allow), `POST …/rules`
 * appends, and the API offers no way to put a rule back at a position, so
 * after a restore the rules are the same but not necessarily in the same
 * order. Nothing else is stripped (status is `succeeded` before and after;
 * `created_at` does not change on writes).
 */
import { DEFAULT_TOKEN, DigitalOceanSimulator, type SimInboundRule, ruleKey, rules } from './api.ts';

export const DIGITALOCEAN_ENV = 'DIGITALOCEAN_TOKEN';

const MANAGEMENT_SOURCE = '203.0.113.10';
const MANAGEMENT = [{ protocol: 'tcp', ports: 22, sources: [`${MANAGEMENT_SOURCE}/32`] }];
const KEEP = [{ protocol: 'tcp', ports: '443', sources: ['198.51.100.0/24', '2001:db8:100::/48'] }];
/** The lockdown set in GET form. */
const LOCKDOWN: SimInboundRule[] = [rules.tcp('22', `${MANAGEMENT_SOURCE}/32`), rules.tcp('443', '198.51.100.0/24', '2001:db8:100::/48')];

export function createDigitalOceanUnderTest(options: { now?: () => number } = {}) {
  const simulator = new DigitalOceanSimulator({ now: options.now ?? Date.now, applyDelayMs: 0 });
  const firewallId = simulator.addFirewall({
    name: 'web-servers',
    droplet_ids: [3164444, 3164445],
    tags: ['frontend'],
    inbound_rules: [
      rules.tcp('22', '0.0.0.0/0', '::/0'),
      rules.tcp('80', '0.0.0.0/0', '::/0'),
      rules.tcp('443', '0.0.0.0/0', '::/0'),
      rules.icmp('0.0.0.0/0', '::/0'),
    ],
    outbound_rules: [
      { protocol: 'tcp', ports: '0', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
      { protocol: 'udp', ports: '0', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
      { protocol: 'icmp', ports: '0', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
    ],
  });
  const lockdownKeys = LOCKDOWN.map(ruleKey).sort();
  const allowKeys = () =>
    simulator
      .firewall(firewallId)
      .inbound_rules.filter((rule) => (rule.action ?? 'allow') === 'allow')
      .map(ruleKey)
      .sort();
  return {
    integration: {
      type: 'digitalocean',
      options: { firewalls: [firewallId], management: MANAGEMENT, keep: KEEP, pollInterval: '1s', waitFor: '0s' },
      secrets: { apiToken: { env: DIGITALOCEAN_ENV } },
    },
    env: { [DIGITALOCEAN_ENV]: DEFAULT_TOKEN } as Record<string, string>,
    transport: simulator.transport,
    simulator,
    account(): unknown {
      const view = simulator.firewall(firewallId);
      const byMeaning = <R extends Parameters<typeof ruleKey>[0]>(list: R[]) => [...list].sort((a, b) => ruleKey(a).localeCompare(ruleKey(b)));
      return { firewalls: [{ ...view, inbound_rules: byMeaning(view.inbound_rules), outbound_rules: byMeaning(view.outbound_rules) }] };
    },
    isOn(): boolean {
      const keys = allowKeys();
      return keys.length === lockdownKeys.length && keys.every((key, index) => key === lockdownKeys[index]);
    },
    turnOnByHand(): void {
      simulator.removeRulesByHand(firewallId, () => true);
      for (const rule of LOCKDOWN) simulator.addRuleByHand(firewallId, rule);
    },
    changeBehindTheRelay(): void {
      simulator.addRuleByHand(firewallId, rules.tcp('8080', '192.0.2.0/24'));
    },
    managementReachable(): boolean {
      return simulator.admit(firewallId, MANAGEMENT_SOURCE, 'tcp', 22);
    },
  };
}
