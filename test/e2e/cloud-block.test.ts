/**
 * The block mode of the Google Cloud and Azure firewalls through the
 * one-box relay: attacker addresses go into the relay's own deny rule at
 * attack_start, an address two incidents share stays until the last one
 * ends, and at attack_end the account is back as it was for everything but
 * the relay's own (disabled or deleted) rule; the customer's rules are
 * never written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../../lib/transport/types.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { startTestRelay } from '../helpers/test-relay.ts';
import { blocklistPromise } from '../helpers/blocklist-promise.ts';
import { AzureArmSimulator, CLIENT_ID, CLIENT_SECRET, NSG_NAME, RESOURCE_GROUP, SUBSCRIPTION, TENANT } from '../simulators/azure/arm.ts';
import { GcpSimulator, makeServiceAccount } from '../simulators/gcp/compute.ts';
import { addOperatorRules } from '../providers/azure/harness.ts';

interface BlockUnderTest {
  integration: Record<string, unknown>;
  env: Record<string, string>;
  transport: Transport;
  /** The addresses the relay's deny rule(s) enforce now (enabled rules only). */
  denied(): string[];
  /** Everything but the relay's own rules, as the API reports it. */
  customerRules(): unknown;
  /** What a careful client never does, counted by the simulator (all zero). */
  misbehaviour(): Record<string, number>;
}

const CLOUDS: Record<string, () => BlockUnderTest> = {
  'Google Cloud VPC firewall (block)': () => {
    const account = makeServiceAccount({ project: 'flowtriq-e2e' });
    const sim = new GcpSimulator({ now: Date.now, account, relayPrefix: 'flowtriq-relay' });
    sim.addRule({ name: 'allow-web', priority: 1000, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['443'] }], targetTags: ['web'] });
    const relayRules = () => sim.account().filter((rule) => rule.name.startsWith('flowtriq-relay'));
    return {
      integration: { type: 'gcp-firewall', options: { mode: 'block', project: 'flowtriq-e2e', pollInterval: '1s', waitFor: '10s' }, secrets: { serviceAccountKey: { env: 'GCP_KEY' } } },
      env: { GCP_KEY: account.keyFile },
      transport: sim.transport,
      denied: () => relayRules().filter((rule) => rule.disabled !== true).flatMap((rule) => rule.sourceRanges ?? []).map((range) => range.replace(/\/(32|128)$/, '')).sort(),
      customerRules: () => sim.account().filter((rule) => !rule.name.startsWith('flowtriq-relay')),
      misbehaviour: () => ({ foreignWrites: sim.counters.foreignWrites, writesWhilePending: sim.counters.writesWhilePending, enabledWithoutSources: sim.counters.enabledWithoutSources }),
    };
  },
  'Azure network security group (block)': () => {
    const sim = new AzureArmSimulator({ now: Date.now, operationDelayMs: 0 });
    addOperatorRules(sim);
    type Rule = { name: string; properties: { access: string; sourceAddressPrefixes?: string[] } };
    const rules = () => (sim.account() as { properties: { securityRules: Rule[] } }).properties.securityRules;
    const relayRules = () => rules().filter((rule) => rule.name.startsWith('flowtriq-relay-'));
    return {
      integration: {
        type: 'azure-nsg',
        options: { mode: 'block', subscriptionId: SUBSCRIPTION, resourceGroup: RESOURCE_GROUP, nsg: NSG_NAME, tenantId: TENANT, clientId: CLIENT_ID },
        secrets: { clientSecret: { env: 'AZURE_SECRET' } },
      },
      env: { AZURE_SECRET: CLIENT_SECRET },
      transport: sim.transport,
      denied: () => relayRules().flatMap((rule) => rule.properties.sourceAddressPrefixes ?? []).map((range) => range.replace(/\/(32|128)$/, '')).sort(),
      customerRules: () => rules().filter((rule) => !rule.name.startsWith('flowtriq-relay-')),
      misbehaviour: () => ({
        foreignWrites: sim.counters.foreignWrites,
        writesWithoutIfMatch: sim.counters.writesWithoutIfMatch,
        writesWhileOperationPending: sim.counters.writesWhileOperationPending,
        priorityClashes: sim.counters.priorityClashes,
        droppedFields: sim.counters.droppedFields,
        unneededWrites: sim.counters.unneededWrites,
      }),
    };
  },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(Object.entries(CLOUDS))('%s through the one-box relay', (_name, make) => {
  it('denies the attackers while held, keeps a shared address until the last incident ends, and leaves the customer\'s rules as they were', async () => {
    // Prepare
    const cloud = make();
    const { send } = await startTestRelay({ integrations: [{ id: 'cloud', ttl: '1h', ...cloud.integration }], env: cloud.env, transport: cloud.transport }, cleanups);
    const before = structuredClone(cloud.customerRules());
    const [a, shared, c] = publicIps(3, 79) as [string, string, string];

    // Act
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-a', at: Date.now(), ips: [a, shared] }));
    await send(attackEvent({ type: 'attack_start', uuid: 'inc-b', at: Date.now(), ips: [shared, c] }));
    const during = cloud.denied();
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-a', at: Date.now() + 1 }));
    const afterFirstEnd = cloud.denied();
    await send(attackEvent({ type: 'attack_end', uuid: 'inc-b', at: Date.now() + 2 }));

    // Assess
    expect(during).toEqual([a, shared, c].sort());
    expect(afterFirstEnd).toEqual([shared, c].sort());
    expect(cloud.denied()).toEqual([]);
    expect(cloud.customerRules()).toEqual(before);
    expect(Object.values(cloud.misbehaviour()).every((count) => count === 0), JSON.stringify(cloud.misbehaviour())).toBe(true);
  }, 30_000);

  blocklistPromise(() => {
    const cloud = make();
    return { ...cloud, enforced: cloud.denied, others: cloud.customerRules };
  }, cleanups);
});
