/**
 * The `linode` integration against its simulator, for the one-box switch
 * test (test/e2e/switches.test.ts): one Cloud Firewall, attached to one
 * Linode, open to the web and (too widely) to SSH, with one outbound rule.
 */
import type { Transport } from '../../../lib/transport/types.ts';
import { DEFAULT_TOKEN, LinodeApiSimulator, type LinodeSimulatorOptions, rule } from './api.ts';

export interface LinodeUnderTest {
  integration: { type: 'linode'; options: Record<string, unknown>; secrets: { token: { env: string } } };
  env: Record<string, string>;
  transport: Transport;
  simulator: LinodeApiSimulator;
  /** Every firewall as the API reports it, without what Linode stamps on every write (`updated`, the rules' `version` and `fingerprint`). */
  account(): unknown;
  /** Locked down: only the management allowance gets in. */
  isOn(): boolean;
  /** The operator put the lockdown in place by hand before any attack (own labels): the snapshot says alreadyActive. */
  turnOnByHand(): void;
  /** Someone opens HTTPS to a partner range in Cloud Manager during the attack. */
  changeBehindTheRelay(): void;
  /** A packet from the first management source to its port is admitted. */
  managementReachable(): boolean;
}

export const FIREWALL_ID = 31337;
const MANAGEMENT_SOURCE = '203.0.113.10';
const OUTSIDER = '198.51.100.99';

export function linodeUnderTest(options: { now?: () => number; sim?: Partial<LinodeSimulatorOptions> } = {}): LinodeUnderTest {
  const simulator = new LinodeApiSimulator({ ...options.sim, now: options.now ?? Date.now });
  simulator.addFirewall({
    id: FIREWALL_ID,
    label: 'web-fw',
    entities: [{ id: 4001, type: 'linode', label: 'web-1' }],
    rules: {
      inbound: [
        rule({ action: 'ACCEPT', protocol: 'TCP', ports: '80, 443', addresses: { ipv4: ['0.0.0.0/0'], ipv6: ['::/0'] }, label: 'web', description: 'public web' }),
        rule({ action: 'ACCEPT', protocol: 'TCP', ports: '22', addresses: { ipv4: ['0.0.0.0/0'] }, label: 'ssh' }),
        rule({ action: 'DROP', protocol: 'UDP', addresses: { ipv4: ['192.0.2.0/24'] }, label: 'no-udp-lab' }),
      ],
      inbound_policy: 'ACCEPT',
      outbound: [rule({ action: 'ACCEPT', protocol: 'TCP', ports: '25', addresses: { ipv4: ['198.51.100.25/32'] }, label: 'smtp-relay' })],
      outbound_policy: 'ACCEPT',
    },
  });
  const managementReachable = () => simulator.admit(FIREWALL_ID, { source: MANAGEMENT_SOURCE, protocol: 'TCP', port: 22 });
  return {
    integration: {
      type: 'linode',
      options: {
        firewalls: [FIREWALL_ID],
        management: [{ protocol: 'tcp', ports: 22, sources: [`${MANAGEMENT_SOURCE}/32`], description: 'ops VPN ssh' }],
      },
      secrets: { token: { env: 'LINODE_TOKEN' } },
    },
    env: { LINODE_TOKEN: DEFAULT_TOKEN },
    transport: simulator.transport,
    simulator,
    account: () =>
      JSON.parse(JSON.stringify(simulator.account()), (key, value: unknown) =>
        key === 'updated' || key === 'version' || key === 'fingerprint' ? undefined : value,
      ) as unknown,
    isOn: () =>
      simulator.rules(FIREWALL_ID).inbound_policy === 'DROP' &&
      managementReachable() &&
      !simulator.admit(FIREWALL_ID, { source: OUTSIDER, protocol: 'TCP', port: 443 }),
    turnOnByHand: () =>
      simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
        rules.inbound = [rule({ action: 'ACCEPT', protocol: 'TCP', ports: '22', addresses: { ipv4: [`${MANAGEMENT_SOURCE}/32`] }, label: 'ops-only' })];
        rules.inbound_policy = 'DROP';
      }),
    changeBehindTheRelay: () =>
      simulator.changeBehindRelay(FIREWALL_ID, (rules) => {
        rules.inbound.push(rule({ action: 'ACCEPT', protocol: 'TCP', ports: '443', addresses: { ipv4: ['192.0.2.0/24'] }, label: 'partner-https' }));
      }),
    managementReachable,
  };
}
