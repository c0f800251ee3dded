/**
 * The ipset provider against the real kernel, inside network namespaces
 * this file creates (see test/helpers/netns.ts): nothing runs on the
 * machine's own sets or rules.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostCommandNotFoundError, HostCommandPermissionError, createHostCommandRunner, type HostCommandRunner } from '../../../lib/providers/host-command.ts';
import { IpsetSetMissingError, IpsetSetUnusableError } from '../../../lib/providers/ipset/errors.ts';
import { assertNetnsUsable, deleteNetns, netnsAvailability } from '../../helpers/netns.ts';
import { type Lab, createLab, entry, packetProof } from '../nftables/harness.ts';
import { inputDrops, ipsetProvider, membersOf, resetSets } from './harness.ts';

const availability = netnsAvailability();
const OPERATOR_V6 = 'create flowtriq_v6 hash:ip family inet6 timeout 0 comment';

// Skipped only outside CI, on a machine that cannot make network namespaces
// (not root, or nft/ipset/ip missing): netnsAvailability() prints why. With
// CI=true it never skips: beforeAll's assertNetnsUsable() fails the suite.
describe.skipIf(availability.skip)('ipset provider (real kernel, network namespaces)', () => {
  let lab: Lab | undefined;

  beforeAll(async () => {
    assertNetnsUsable();
    lab = await createLab('ips');
  });

  afterAll(async () => {
    await deleteNetns(lab?.host);
    await deleteNetns(lab?.attacker);
  });

  beforeEach(async () => {
    await resetSets(lab!.host);
  });

  it('adds IPv4 and IPv6 attackers to their sets with the relay comment, and removes them', async () => {
    // Prepare
    const { provider, clock, ctx } = ipsetProvider(lab!.host);
    const entries = [entry(clock, '192.0.2.1'), entry(clock, '2001:DB8::1'), entry(clock, '192.0.2.2')];

    // Act
    const added = await provider.add(entries, ctx);

    // Assess
    expect(added).toEqual([
      { ip: '192.0.2.1', ok: true },
      { ip: '2001:DB8::1', ok: true },
      { ip: '192.0.2.2', ok: true },
    ]);
    const v4 = await membersOf(lab!.host, 'flowtriq_v4');
    const v6 = await membersOf(lab!.host, 'flowtriq_v6');
    expect(v4.map((member) => member.ip)).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(v6.map((member) => member.ip)).toEqual(['2001:db8::1']);
    expect([...v4, ...v6].every((member) => member.comment === 'flowtriq-relay')).toBe(true);

    // Act
    const removed = await provider.remove(entries, ctx);

    // Assess
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(await membersOf(lab!.host, 'flowtriq_v4')).toEqual([]);
    expect(await membersOf(lab!.host, 'flowtriq_v6')).toEqual([]);
  });

  it('gives each entry a kernel timeout equal to what is left of its TTL, cut to the 2147483 s ipset accepts', async () => {
    // Prepare
    const { provider, clock, ctx } = ipsetProvider(lab!.host);

    // Act
    await provider.add([entry(clock, '192.0.2.1', 3600), entry(clock, '192.0.2.2', 30 * 86_400), entry(clock, '2001:db8::7', 900)], ctx);

    // Assess
    const v4 = await membersOf(lab!.host, 'flowtriq_v4');
    expect(v4[0]?.timeout).toBeGreaterThanOrEqual(3598);
    expect(v4[0]?.timeout).toBeLessThanOrEqual(3600);
    expect(v4[1]?.timeout).toBeGreaterThanOrEqual(2_147_481);
    const [v6] = await membersOf(lab!.host, 'flowtriq_v6');
    expect(v6?.timeout).toBeGreaterThanOrEqual(898);
    expect(v6?.timeout).toBeLessThanOrEqual(900);
  });

  it('writes permanent entries (timeout 0) when elementTimeout is none', async () => {
    // Prepare
    const { provider, clock, ctx } = ipsetProvider(lab!.host, { elementTimeout: 'none' });

    // Act
    await provider.add([entry(clock, '192.0.2.1', 3600)], ctx);

    // Assess
    expect(await membersOf(lab!.host, 'flowtriq_v4')).toEqual([{ ip: '192.0.2.1', timeout: 0, comment: 'flowtriq-relay' }]);
  });

  it('removing one address leaves the others in place', async () => {
    // Prepare
    const { provider, clock, ctx } = ipsetProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1', 3600, ['a', 'b']), entry(clock, '192.0.2.2', 3600, ['a'])], ctx);

    // Act
    const removed = await provider.remove([entry(clock, '192.0.2.2', 3600, [])], ctx);

    // Assess
    expect(removed).toEqual([{ ip: '192.0.2.2', ok: true }]);
    expect((await membersOf(lab!.host, 'flowtriq_v4')).map((member) => member.ip)).toEqual(['192.0.2.1']);
  });

  it('never touches an entry the operator added: add reports it foreign, remove leaves it, list marks it not owned', async () => {
    // Prepare
    await lab!.host.exec('ipset', ['restore'], 'add flowtriq_v4 192.0.2.50\nadd flowtriq_v4 192.0.2.51 timeout 7200 comment "operator"\nadd flowtriq_v6 2001:db8::50\n');
    const { provider, clock, ctx } = ipsetProvider(lab!.host);

    // Act
    const added = await provider.add([entry(clock, '192.0.2.50'), entry(clock, '192.0.2.51'), entry(clock, '2001:db8::50'), entry(clock, '192.0.2.1')], ctx);
    const listed = await provider.list!(ctx);
    const removed = await provider.remove([entry(clock, '192.0.2.50'), entry(clock, '192.0.2.51'), entry(clock, '2001:db8::50')], ctx);

    // Assess
    expect(added).toEqual([
      { ip: '192.0.2.50', ok: true, foreign: true },
      { ip: '192.0.2.51', ok: true, foreign: true },
      { ip: '2001:db8::50', ok: true, foreign: true },
      { ip: '192.0.2.1', ok: true },
    ]);
    expect(listed.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '192.0.2.1', owned: true },
      { ip: '192.0.2.50', owned: false },
      { ip: '192.0.2.51', owned: false },
      { ip: '2001:db8::50', owned: false },
    ]);
    expect(removed.every((result) => result.ok)).toBe(true);
    const v4 = await membersOf(lab!.host, 'flowtriq_v4');
    expect(v4.find((member) => member.ip === '192.0.2.50')).toEqual({ ip: '192.0.2.50', timeout: 0 });
    expect(v4.find((member) => member.ip === '192.0.2.51')).toMatchObject({ ip: '192.0.2.51', comment: 'operator' });
    expect(v4.find((member) => member.ip === '192.0.2.51')?.timeout).toBeGreaterThan(7000);
    expect(await membersOf(lab!.host, 'flowtriq_v6')).toEqual([{ ip: '2001:db8::50', timeout: 0 }]);
  });

  it('is idempotent: adding a present entry writes nothing new, removing an absent one succeeds', async () => {
    // Prepare
    const { provider, clock, ctx } = ipsetProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1')], ctx);

    // Act
    const again = await provider.add([entry(clock, '192.0.2.1'), entry(clock, '192.0.2.1')], ctx);
    const absent = await provider.remove([entry(clock, '192.0.2.9')], ctx);

    // Assess
    expect(again).toEqual([
      { ip: '192.0.2.1', ok: true },
      { ip: '192.0.2.1', ok: true },
    ]);
    expect(absent).toEqual([{ ip: '192.0.2.9', ok: true }]);
    expect((await membersOf(lab!.host, 'flowtriq_v4')).map((member) => member.ip)).toEqual(['192.0.2.1']);
  });

  it('extends the timeout of its own entry when the relay wants it for longer', async () => {
    // Prepare
    const { provider, clock, ctx } = ipsetProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1', 120)], ctx);

    // Act
    const result = await provider.add([entry(clock, '192.0.2.1', 7200)], ctx);

    // Assess
    expect(result).toEqual([{ ip: '192.0.2.1', ok: true }]);
    const [member] = await membersOf(lab!.host, 'flowtriq_v4');
    expect(member).toMatchObject({ ip: '192.0.2.1', comment: 'flowtriq-relay' });
    expect(member?.timeout).toBeGreaterThan(7000);
  });

  it('an entry the operator adds between the read and the write stops the restore at its line: earlier lines stand, the rest is retried, the operator entry is untouched', async () => {
    // Prepare: the operator lists 192.0.2.2 just before the relay's first restore
    let slipped = false;
    const racing: HostCommandRunner = async (command) => {
      if (!slipped && command.args[0] === 'restore') {
        slipped = true;
        await lab!.host.exec('ipset', ['add', 'flowtriq_v4', '192.0.2.2']);
      }
      return lab!.host.run(command);
    };
    const { provider, clock, ctx, logger } = ipsetProvider(lab!.host, {}, racing);

    // Act
    const added = await provider.add([entry(clock, '192.0.2.1'), entry(clock, '192.0.2.2'), entry(clock, '192.0.2.3')], ctx);

    // Assess
    expect(added).toEqual([
      { ip: '192.0.2.1', ok: true },
      { ip: '192.0.2.2', ok: true, foreign: true },
      { ip: '192.0.2.3', ok: true },
    ]);
    expect(logger.lines.some((line) => line.message === 'set write failed' && /line 2: .*already added/.test(String(line.attributes.error)))).toBe(true);
    const v4 = await membersOf(lab!.host, 'flowtriq_v4');
    expect(v4.find((member) => member.ip === '192.0.2.2')).toEqual({ ip: '192.0.2.2', timeout: 0 });
    expect(v4.filter((member) => member.comment === 'flowtriq-relay').map((member) => member.ip)).toEqual(['192.0.2.1', '192.0.2.3']);
  });

  it('list reports the relay\'s entries of both sets as owned (drift check)', async () => {
    // Prepare
    const { provider, clock, ctx } = ipsetProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1'), entry(clock, '2001:db8::1')], ctx);

    // Act
    const listed = await provider.list!(ctx);

    // Assess
    expect(listed.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '192.0.2.1', owned: true },
      { ip: '2001:db8::1', owned: true },
    ]);
  });

  describe('a set created without the comment extension (fallback)', () => {
    beforeEach(async () => {
      await resetSets(lab!.host, ['create flowtriq_v4 hash:ip family inet timeout 0', 'create flowtriq_v6 hash:ip family inet6 timeout 0']);
      await lab!.host.exec('ipset', ['add', 'flowtriq_v4', '192.0.2.50']);
    });

    it('adds new entries with a timeout and reports every entry present before as foreign', async () => {
      // Prepare
      const { provider, clock, ctx } = ipsetProvider(lab!.host);

      // Act
      const added = await provider.add([entry(clock, '192.0.2.1'), entry(clock, '192.0.2.50')], ctx);

      // Assess
      expect(added).toEqual([
        { ip: '192.0.2.1', ok: true },
        { ip: '192.0.2.50', ok: true, foreign: true },
      ]);
      const v4 = await membersOf(lab!.host, 'flowtriq_v4');
      expect(v4.find((member) => member.ip === '192.0.2.1')?.timeout).toBeGreaterThan(3500);
      expect(v4.find((member) => member.ip === '192.0.2.50')).toEqual({ ip: '192.0.2.50', timeout: 0 });
    });

    it('list marks no entry as the relay\'s, so drift repair removes nothing', async () => {
      // Prepare
      const { provider, clock, ctx } = ipsetProvider(lab!.host);
      await provider.add([entry(clock, '192.0.2.1')], ctx);

      // Act
      const listed = await provider.list!(ctx);

      // Assess
      expect(listed.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
        { ip: '192.0.2.1', owned: false },
        { ip: '192.0.2.50', owned: false },
      ]);
    });

    it('remove deletes the entry the relay recorded adding but never one without a timeout', async () => {
      // Prepare
      const { provider, clock, ctx } = ipsetProvider(lab!.host);
      await provider.add([entry(clock, '192.0.2.1')], ctx);

      // Act
      const removed = await provider.remove([entry(clock, '192.0.2.1'), entry(clock, '192.0.2.50')], ctx);

      // Assess
      expect(removed.every((result) => result.ok)).toBe(true);
      expect(await membersOf(lab!.host, 'flowtriq_v4')).toEqual([{ ip: '192.0.2.50', timeout: 0 }]);
    });

    it('the health check says ownership cannot be marked', async () => {
      // Prepare
      const { provider, ctx } = ipsetProvider(lab!.host);

      // Act
      const health = await provider.healthCheck(ctx);

      // Assess
      expect(health.ok).toBe(true);
      expect(health.detail).toMatch(/flowtriq_v4 has no comment extension.*recreate it with comment/);
    });
  });

  describe('errors', () => {
    it('a missing set fails the batch with the command that creates it, and the relay creates nothing', async () => {
      // Prepare
      await resetSets(lab!.host, ['create flowtriq_v4 hash:ip family inet timeout 0 comment'], false);
      const { provider, clock, ctx } = ipsetProvider(lab!.host);

      // Act
      const error = await provider.add([entry(clock, '2001:db8::1')], ctx).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(IpsetSetMissingError);
      expect(String(error)).toContain('ipset create flowtriq_v6 hash:ip family inet6 timeout 0 comment');
      const sets = await lab!.host.exec('ipset', ['list', '-n']);
      expect(sets.stdout.trim().split('\n')).toEqual(['flowtriq_v4']);
    });

    it.each([
      ['no timeout support', 'create flowtriq_v4 hash:ip family inet comment', /without timeout support.*elementTimeout: none/],
      ['the wrong family', 'create flowtriq_v4 hash:ip family inet6 timeout 0 comment', /family inet6; the ipv4Set must have family inet/],
      ['the wrong type', 'create flowtriq_v4 hash:net family inet timeout 0 comment', /type hash:net; it must be hash:ip/],
      ['a netmask', 'create flowtriq_v4 hash:ip family inet netmask 24 timeout 0 comment', /netmask 24/],
    ])('a set with %s is refused before anything is written', async (_what, create, message) => {
      // Prepare
      await resetSets(lab!.host, [create, OPERATOR_V6], false);
      const { provider, clock, ctx } = ipsetProvider(lab!.host);

      // Act
      const error = await provider.add([entry(clock, '192.0.2.1')], ctx).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(IpsetSetUnusableError);
      expect(String(error)).toMatch(message);
      expect(await membersOf(lab!.host, 'flowtriq_v4')).toEqual([]);
    });

    it('ipset not installed: says which Debian package to install', async () => {
      // Prepare
      const { provider, clock, ctx } = ipsetProvider(lab!.host, {}, createHostCommandRunner({ directories: ['/nonexistent-ftr'] }));

      // Act
      const error = await provider.add([entry(clock, '192.0.2.1')], ctx).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(HostCommandNotFoundError);
      expect(String(error)).toMatch(/ipset is not installed.*apt-get install ipset/);
    });

    it('without CAP_NET_ADMIN: says the relay needs root or CAP_NET_ADMIN', async () => {
      // Prepare
      const runner = createHostCommandRunner({
        prefix: ['nsenter', `--net=/run/netns/${lab!.host.name}`, 'setpriv', '--inh-caps=-all', '--bounding-set=-net_admin', '--'],
      });
      const { provider, clock, ctx } = ipsetProvider(lab!.host, {}, runner);

      // Act
      const error = await provider.add([entry(clock, '192.0.2.1')], ctx).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(HostCommandPermissionError);
      expect(String(error)).toMatch(/needs root or the CAP_NET_ADMIN capability/);
      expect(await membersOf(lab!.host, 'flowtriq_v4')).toEqual([]);
    });
  });

  describe('healthCheck', () => {
    it('is ok when both sets exist and a rule references each', async () => {
      // Prepare
      const { provider, ctx } = ipsetProvider(lab!.host);

      // Act
      const health = await provider.healthCheck(ctx);

      // Assess
      expect(health).toEqual({ ok: true, detail: 'ipsets flowtriq_v4 (0 entries, 1 rule reference), flowtriq_v6 (0 entries, 1 rule reference)' });
    });

    it('fails when no rule references a set, naming the rule to add', async () => {
      // Prepare
      await lab!.host.exec('ip6tables', ['-F', 'INPUT']);
      const { provider, ctx } = ipsetProvider(lab!.host);

      // Act
      const health = await provider.healthCheck(ctx);

      // Assess
      expect(health.ok).toBe(false);
      expect(health.detail).toBe(
        'no ip6tables rule uses ipset flowtriq_v6, so its addresses are not dropped: add one, e.g. ip6tables -I INPUT -m set --match-set flowtriq_v6 src -j DROP',
      );
    });
  });

  packetProof(
    'the iptables/ip6tables match-set rule drops a blocked IPv4 and IPv6 attacker while other sources pass, and passes them again after removal',
    () => lab!,
    (host) => ipsetProvider(host),
    async (host) => [await inputDrops(host, 'iptables'), await inputDrops(host, 'ip6tables')],
  );
});
