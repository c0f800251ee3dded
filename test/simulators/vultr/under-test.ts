/**
 * A Vultr account behind a `vultr` integration, for the one-box switch
 * test (test/e2e/switches.test.ts).
 *
 * Two instances: A in the customer's "web" group (web and SSH open to
 * everyone), B in no group; a "maintenance" group of the customer's, used
 * by `changeBehindTheRelay`.
 *
 * - `prepared` (default): the operator prepared a lockdown group that
 *   admits SSH from the office; the relay only moves instances, so the
 *   whole account after the attack equals the account before, field for
 *   field, groups and rules included.
 * - `relay-group`: no lockdownGroup; the relay creates its own group at the
 *   first attack and keeps it for the next one, by design. `account()` then
 *   leaves out groups created through the API (the relay's); everything
 *   else is compared. `turnOnByHand` needs that group, so in this mode it
 *   only works after a first attack.
 */
import type { Transport } from '../../../lib/transport/types.ts';
import { DEFAULT_API_KEY, VultrSimulator } from './api.ts';

export const UNDER_TEST_INSTANCES = ['cb676a46-66fd-4dfb-b839-443f2e6c0b60', '3f1c9a52-7d2e-4b8a-9c41-0e5d6f7a8b9c'] as const;
const OFFICE = '203.0.113.10';

export interface VultrUnderTest {
  integration: { type: 'vultr'; options: Record<string, unknown>; secrets: { apiKey: { env: string } } };
  env: Record<string, string>;
  transport: Transport;
  account(): unknown;
  isOn(): boolean;
  turnOnByHand(): void;
  changeBehindTheRelay(): void;
  managementReachable(): boolean;
  /** The simulator itself, for extra assertions (flags must stay zero). */
  simulator: VultrSimulator;
}

export function vultrUnderTest(options: { now?: () => number; mode?: 'prepared' | 'relay-group' } = {}): VultrUnderTest {
  const mode = options.mode ?? 'prepared';
  const sim = new VultrSimulator({ now: options.now ?? Date.now });
  const web = sim.addGroup('web', [
    { ip_type: 'v4', protocol: 'tcp', port: '80', subnet: '0.0.0.0', subnet_size: 0, notes: 'http' },
    { ip_type: 'v4', protocol: 'tcp', port: '443', subnet: '0.0.0.0', subnet_size: 0, notes: 'https' },
    { ip_type: 'v4', protocol: 'tcp', port: '22', subnet: '0.0.0.0', subnet_size: 0, notes: 'ssh' },
  ]);
  const maintenance = sim.addGroup('maintenance', [{ ip_type: 'v4', protocol: 'tcp', port: '22', subnet: '0.0.0.0', subnet_size: 0 }]);
  const prepared =
    mode === 'prepared' ? sim.addGroup('lockdown', [{ ip_type: 'v4', protocol: 'tcp', port: '22', subnet: '203.0.113.0', subnet_size: 24, notes: 'office ssh' }]) : undefined;
  const [a, b] = UNDER_TEST_INSTANCES;
  sim.addInstance(a, { label: 'web-a', firewall_group_id: web });
  sim.addInstance(b, { label: 'web-b' });

  /** The lockdown group: the prepared one, or the relay's own (created through the API). */
  const lockdown = (): string | undefined => prepared ?? sim.groups().find((group) => group.relayOwned)?.id;

  return {
    integration: {
      type: 'vultr',
      options: {
        instances: [...UNDER_TEST_INSTANCES],
        ...(prepared ? { lockdownGroup: prepared } : {}),
        management: [{ protocol: 'tcp', ports: 22, sources: [`${OFFICE}/32`] }],
      },
      secrets: { apiKey: { env: 'VULTR_API_KEY' } },
    },
    env: { VULTR_API_KEY: DEFAULT_API_KEY },
    transport: sim.transport,
    account: () => sim.accountState({ withoutRelayGroups: mode === 'relay-group' }),
    isOn: () => {
      const group = lockdown();
      return group !== undefined && UNDER_TEST_INSTANCES.every((id) => sim.instance(id).firewall_group_id === group);
    },
    turnOnByHand: () => {
      const group = lockdown();
      if (group === undefined) throw new Error('relay-group mode: the relay\'s group exists only after a first attack');
      for (const id of UNDER_TEST_INSTANCES) sim.moveInstance(id, group);
    },
    changeBehindTheRelay: () => sim.moveInstance(a, maintenance),
    managementReachable: () => sim.admit(a, { source: OFFICE, protocol: 'tcp', port: 22 }),
    simulator: sim,
  };
}
