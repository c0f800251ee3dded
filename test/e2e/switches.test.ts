/**
 * Switch integrations through the one-box relay: signed webhooks over HTTP
 * into the real server, SQLite queue and state, workers, the reconciler and
 * the sweeper, with each provider talking to its simulator (in process,
 * through the relay's Transport). The relay's clock is a manual one, so the
 * hold-down can pass without waiting; the simulators answer at once.
 *
 * For each provider: attack_start → on, with the original state stored
 * first; a second, overlapping incident keeps it on after the first ends;
 * both ended → restored after the hold-down, the account equal to its state
 * before the attack field for field; a resource already on before → never
 * turned off; a change made behind the relay's back → left as it is and
 * reported in status.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { collectStatus } from '../../lib/cli/status.ts';
import { SWITCH_KEY } from '../../lib/model/types.ts';
import { switchRecord } from '../../lib/planner/plan-switch.ts';
import type { Transport } from '../../lib/transport/types.ts';
import type { Checkpoint } from '../../lib/engine/types.ts';
import { ManualClock } from '../helpers/clock.ts';
import { attackEvent, publicIps } from '../helpers/events.ts';
import { startTestRelay } from '../helpers/test-relay.ts';
import { postSignedEvent } from '../helpers/webhook-client.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, HetznerRobotSimulator, rule } from '../simulators/hetzner/robot.ts';
import { AwsSimulator, SIM_ACCOUNT, SIM_CREDENTIALS } from '../simulators/aws/aws.ts';
import { ACCOUNT, CloudflareApiSimulator, DEFAULT_TOKEN, ZONE } from '../simulators/cloudflare/api.ts';
import { DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_CONSUMER_KEY, OvhApiSimulator } from '../simulators/ovh/api.ts';
import { createDigitalOceanUnderTest } from '../simulators/digitalocean/under-test.ts';
import { gcpUnderTest } from '../simulators/gcp/under-test.ts';
import { azureNsgUnderTest } from '../simulators/azure/under-test.ts';
import { linodeUnderTest } from '../simulators/linode/under-test.ts';
import { UNDER_TEST_INSTANCES, vultrUnderTest } from '../simulators/vultr/under-test.ts';

const HOLD_DOWN_MS = 15 * 60_000;

/** A simulated account behind one switch integration. */
interface SwitchUnderTest {
  integration: Record<string, unknown>;
  env: Record<string, string>;
  transport: Transport;
  /** The whole account as the provider's API reports it (compared field for field). */
  account(): unknown;
  isOn(): boolean;
  /** The operator turned it on before any attack. */
  turnOnByHand(): void;
  /** Someone changes what the relay set, during the attack. */
  changeBehindTheRelay(): void;
  /** Lockdowns: a packet from the operator's management source to its port is admitted. */
  managementReachable?(): boolean;
  /**
   * Providers that restore what nobody changed and leave only the changed
   * part alone (a lockdown must not stay on because one rule was edited):
   * the part `changeBehindTheRelay` touched. Without it the whole account
   * must stay exactly as it was after the change.
   */
  changedPart?(): unknown;
}

/** The account without the times the provider stamps on every change (they differ after any round trip). */
function withoutStamps(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, inner: unknown) => (key === 'modified_on' || key === 'advertised_modified_at' || key === 'modified_at' ? undefined : inner));
}

const SWITCHES: Record<string, () => SwitchUnderTest> = {
  'Cloudflare Magic Transit on demand': () => {
    const sim = new CloudflareApiSimulator({ now: Date.now, advertiseDelayMs: 0, withdrawDelayMs: 0 });
    const prefix = sim.addPrefix('203.0.113.0/24');
    return {
      integration: {
        type: 'cloudflare-magic-transit',
        options: { accountId: ACCOUNT, prefixes: [prefix] },
        secrets: { apiToken: { env: 'CF_TOKEN' } },
      },
      env: { CF_TOKEN: DEFAULT_TOKEN },
      transport: sim.transport,
      account: () => withoutStamps(sim.accountState()),
      isOn: () => sim.onDemand(prefix.prefixId, prefix.bgpPrefixId).advertised === true,
      turnOnByHand: () => sim.setAdvertised(prefix.prefixId, prefix.bgpPrefixId, true),
      changeBehindTheRelay: () => sim.setAdvertised(prefix.prefixId, prefix.bgpPrefixId, false),
    };
  },
  'Cloudflare "I\'m Under Attack"': () => {
    const sim = new CloudflareApiSimulator({ now: Date.now });
    sim.addZone(ZONE, { value: 'medium' });
    return {
      integration: { type: 'cloudflare-under-attack', options: { zoneId: ZONE }, secrets: { apiToken: { env: 'CF_TOKEN' } } },
      env: { CF_TOKEN: DEFAULT_TOKEN },
      transport: sim.transport,
      account: () => withoutStamps(sim.accountState()),
      isOn: () => sim.securityLevel(ZONE).value === 'under_attack',
      turnOnByHand: () => sim.setSecurityLevel(ZONE, 'under_attack'),
      changeBehindTheRelay: () => sim.setSecurityLevel(ZONE, 'high'),
    };
  },
  'Hetzner Robot firewall': () => {
    const sim = new HetznerRobotSimulator({ now: Date.now, applyDelayMs: 0 });
    sim.addServer(1001, { rules: { input: [rule({ name: 'web', protocol: 'tcp', dst_port: '443', action: 'accept' })], output: [rule({ name: 'Allow all', action: 'accept' })] } });
    return {
      integration: {
        type: 'hetzner-robot',
        options: { servers: [1001], inputRules: [{ name: 'admin', srcIp: '203.0.113.0/24', protocol: 'tcp', dstPort: '22', action: 'accept' }] },
        secrets: { username: { env: 'ROBOT_USER' }, password: { env: 'ROBOT_PASSWORD' } },
      },
      env: { ROBOT_USER: DEFAULT_USERNAME, ROBOT_PASSWORD: DEFAULT_PASSWORD },
      transport: sim.transport,
      account: () => sim.read(1001),
      isOn: () => sim.read(1001).status === 'active',
      turnOnByHand: () => sim.changeBehindRelay(1001, (firewall) => void (firewall.status = 'active')),
      changeBehindTheRelay: () => sim.changeBehindRelay(1001, (firewall) => void firewall.rules.input.push(rule({ name: 'game', protocol: 'udp', dst_port: '27015', action: 'accept' }))),
    };
  },
  'OVHcloud permanent mitigation': () => {
    const block = '203.0.113.0/24';
    const ip = '203.0.113.10';
    const sim = new OvhApiSimulator({ now: Date.now, blocks: [block], createDelayMs: 0, removeDelayMs: 0 });
    return {
      integration: {
        type: 'ovh',
        options: { endpoint: 'ovh-eu', ips: [{ ip, ipBlock: block }], pollInterval: '2s' },
        secrets: { applicationKey: { env: 'OVH_AK' }, applicationSecret: { env: 'OVH_AS' }, consumerKey: { env: 'OVH_CK' } },
      },
      env: { OVH_AK: DEFAULT_APP_KEY, OVH_AS: DEFAULT_APP_SECRET, OVH_CK: DEFAULT_CONSUMER_KEY },
      transport: sim.transport,
      account: () => sim.accountState(),
      isOn: () => sim.entry(block, ip)?.permanent === true,
      turnOnByHand: () => sim.operatorEnable(block, ip),
      changeBehindTheRelay: () => sim.setPermanent(block, ip, false),
    };
  },
  'AWS Shield Advanced (L7 automatic response)': () => {
    const alb = `arn:aws:elasticloadbalancing:us-east-1:${SIM_ACCOUNT}:loadbalancer/app/web/0123456789abcdef`;
    const sim = new AwsSimulator({ now: Date.now });
    sim.addProtection({ id: 'p-web', name: 'web', resourceArn: alb, l7: { status: 'ENABLED', action: 'Count' } });
    const l7 = () => sim.shieldState().protections[0]?.ApplicationLayerAutomaticResponseConfiguration;
    return {
      integration: { type: 'aws-shield', options: { protections: [alb] } },
      env: { AWS_ACCESS_KEY_ID: SIM_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: SIM_CREDENTIALS.secretAccessKey },
      transport: sim.transport,
      account: () => sim.shieldState(),
      isOn: () => l7()?.Status === 'ENABLED' && 'Block' in (l7()?.Action ?? {}),
      turnOnByHand: () => sim.setL7(alb, { status: 'ENABLED', action: 'Block' }),
      changeBehindTheRelay: () => sim.setL7(alb, { status: 'DISABLED', action: 'Block' }),
    };
  },
  'DigitalOcean Cloud Firewall lockdown': () => createDigitalOceanUnderTest({ now: Date.now }),
  'Vultr firewall group lockdown': () => {
    const device = vultrUnderTest({ now: Date.now });
    // The instance someone moved to another group; the other one is restored.
    return { ...device, changedPart: () => device.simulator.instance(UNDER_TEST_INSTANCES[0]).firewall_group_id };
  },
  'Linode Cloud Firewall lockdown': () => linodeUnderTest({ now: Date.now }),
  'Google Cloud VPC firewall lockdown': () => {
    const device = gcpUnderTest({ now: Date.now });
    // The allow rule someone widened stays as they left it; the relay's deny rules go.
    return { ...device, changedPart: () => device.simulator.account().filter((rule) => rule.sourceRanges?.includes('198.51.100.0/24')) };
  },
  'Azure network security group lockdown': () => {
    const device = azureNsgUnderTest({ integrationId: 'scrub', now: Date.now });
    // The relay allow rule someone widened stays as they left it; the relay's other rules go.
    type Rule = { name: string; properties: { sourceAddressPrefixes?: string[] } };
    const rules = () => (device.simulator.account() as { properties: { securityRules: Rule[] } }).properties.securityRules;
    return { ...device, changedPart: () => rules().filter((rule) => rule.properties.sourceAddressPrefixes?.includes('198.51.100.200/32')) };
  },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(make: () => SwitchUnderTest) {
  const device = make();
  const clock = new ManualClock(Date.now());
  const parts = await startRelay(device, undefined, clock);
  return { device, clock, ...parts };
}

/** A one-box relay over `dir` (a restart is another call on the same dir and device; a new one when undefined). */
async function startRelay(device: SwitchUnderTest, dir: string | undefined, clock: ManualClock, checkpoint?: (point: Checkpoint) => void) {
  const { relay, dir: used } = await startTestRelay(
    {
      integrations: [{ id: 'scrub', ttl: '1d', holdDown: '15m', ...device.integration }],
      env: device.env,
      transport: device.transport,
      now: clock.now,
      ...(dir ? { dir } : {}),
      ...(checkpoint ? { checkpoint } : {}),
    },
    cleanups,
  );
  const post = async (type: 'attack_start' | 'attack_end', uuid: string) => {
    const event = type === 'attack_start' ? attackEvent({ type, uuid, at: Date.now(), ips: publicIps(1) }) : attackEvent({ type, uuid, at: Date.now() + 1 });
    expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);
  };
  const send = async (type: 'attack_start' | 'attack_end', uuid: string) => {
    await post(type, uuid);
    await relay.idle();
  };
  const record = async () => switchRecord((await relay.store.getBlocks([{ integration: 'scrub', key: SWITCH_KEY }]))[0]?.snapshot);
  return { relay, post, send, record, dir: used };
}

describe.each(Object.entries(SWITCHES))('%s through the one-box relay', (_name, make) => {
  it('switches on for an attack, stays on while another incident holds it, and restores the account exactly after the hold-down', async () => {
    // Prepare
    const { device, relay, clock, send, record } = await setup(make);
    const before = structuredClone(device.account());

    const reachable = [device.managementReachable?.()];

    // Act
    await send('attack_start', 'inc-a');
    const onAfterStart = device.isOn();
    reachable.push(device.managementReachable?.());
    const stored = await record();
    await send('attack_start', 'inc-b');
    await send('attack_end', 'inc-a');
    const onAfterFirstEnd = device.isOn();
    await send('attack_end', 'inc-b');
    const onDuringHoldDown = device.isOn();
    reachable.push(device.managementReachable?.());
    clock.advance(HOLD_DOWN_MS);
    await relay.sweepNow();
    reachable.push(device.managementReachable?.());

    // Assess
    expect([onAfterStart, onAfterFirstEnd, onDuringHoldDown]).toEqual([true, true, true]);
    // Lockdowns: the operator's way in stays open before, during and after.
    if (device.managementReachable) expect(reachable).toEqual([true, true, true, true]);
    expect(stored.snapshot).toMatchObject({ alreadyActive: false });
    expect(stored.activation).toMatchObject({ confirmed: true });
    expect(device.isOn()).toBe(false);
    expect(device.account()).toEqual(before);
  }, 30_000);

  it('a burst of 40 overlapping incidents within a second: on once, and after they all end the account is exactly as before', async () => {
    // Prepare
    const { device, relay, clock, post } = await setup(make);
    const before = structuredClone(device.account());
    const uuids = Array.from({ length: 40 }, (_, n) => `burst-${n}`);

    // Act
    await Promise.all(uuids.map((uuid) => post('attack_start', uuid)));
    await relay.idle();
    const onAfterStarts = device.isOn();
    await Promise.all(uuids.slice(0, 39).map((uuid) => post('attack_end', uuid)));
    await relay.idle();
    const onWhileOneRemains = device.isOn();
    await post('attack_end', uuids[39]!);
    await relay.idle();
    clock.advance(HOLD_DOWN_MS);
    await relay.sweepNow();

    // Assess
    expect([onAfterStarts, onWhileOneRemains]).toEqual([true, true]);
    expect(device.isOn()).toBe(false);
    expect(device.account()).toEqual(before);
  }, 30_000);

  it('a crash right after the provider call, before its outcome is recorded: the restarted relay finishes, never re-snapshots, and restores exactly', async () => {
    // Prepare: the first process dies right after switching the resource on.
    const device = make();
    const clock = new ManualClock(Date.now());
    const before = structuredClone(device.account());
    let crashed = false;
    const dying = await startRelay(device, undefined, clock, (point) => {
      if (point === 'after-provider' && !crashed) {
        crashed = true;
        throw new Error('simulated crash after the provider call');
      }
    });

    // Act
    await dying.send('attack_start', 'inc-1');
    const onWhenItDied = device.isOn();
    await dying.relay.stop();
    const restarted = await startRelay(device, dying.dir, clock);
    const stored = await restarted.record();
    await restarted.send('attack_end', 'inc-1');
    clock.advance(HOLD_DOWN_MS);
    await restarted.relay.sweepNow();

    // Assess
    expect(crashed).toBe(true);
    expect(onWhenItDied).toBe(true);
    expect(stored.snapshot).toMatchObject({ alreadyActive: false });
    expect(device.isOn()).toBe(false);
    expect(device.account()).toEqual(before);
  }, 30_000);

  it('never turns off what was already on before the relay came', async () => {
    // Prepare
    const { device, relay, clock, send } = await setup(make);
    device.turnOnByHand();
    const before = structuredClone(device.account());

    // Act
    await send('attack_start', 'inc-1');
    await send('attack_end', 'inc-1');
    clock.advance(HOLD_DOWN_MS);
    await relay.sweepNow();

    // Assess
    expect(device.isOn()).toBe(true);
    expect(device.account()).toEqual(before);
  }, 30_000);

  it('leaves alone a change made behind its back during the attack, and reports it in status', async () => {
    // Prepare
    const { device, relay, clock, send } = await setup(make);
    await send('attack_start', 'inc-1');
    device.changeBehindTheRelay();
    const changed = structuredClone(device.changedPart?.() ?? device.account());

    // Act
    await send('attack_end', 'inc-1');
    clock.advance(HOLD_DOWN_MS);
    await relay.sweepNow();
    const report = await collectStatus(relay.store, relay.queue, clock.now());

    // Assess
    expect(device.changedPart?.() ?? device.account()).toEqual(changed);
    if (device.changedPart) expect(device.changedPart()).not.toEqual([]);
    expect(report.notices).toEqual([expect.objectContaining({ integration: 'scrub', message: expect.stringContaining('changed by someone else') })]);
  }, 30_000);
});
