/**
 * The nftables provider against the real kernel, inside network namespaces
 * this file creates (see test/helpers/netns.ts): nothing runs on the
 * machine's own ruleset.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostCommandNotFoundError, HostCommandPermissionError, createHostCommandRunner, type HostCommandRunner } from '../../../lib/providers/host-command.ts';
import { NftablesSetMissingError, NftablesSetUnusableError } from '../../../lib/providers/nftables/errors.ts';
import { assertNetnsUsable, deleteNetns, netnsAvailability } from '../../helpers/netns.ts';
import {
  type Lab,
  createLab,
  dropCounter,
  elementsOf,
  entry,
  nftProvider,
  packetProof,
  resetRuleset,
} from './harness.ts';

const availability = netnsAvailability();

// Skipped only outside CI, on a machine that cannot make network namespaces
// (not root, or nft/ipset/ip missing): netnsAvailability() prints why. With
// CI=true it never skips: beforeAll's assertNetnsUsable() fails the suite.
describe.skipIf(availability.skip)('nftables provider (real kernel, network namespaces)', () => {
  let lab: Lab | undefined;

  beforeAll(async () => {
    assertNetnsUsable();
    lab = await createLab('nft');
  });

  afterAll(async () => {
    await deleteNetns(lab?.host);
    await deleteNetns(lab?.attacker);
  });

  beforeEach(async () => {
    await resetRuleset(lab!.host);
  });

  it('adds IPv4 and IPv6 attackers to their sets with the relay comment, and removes them', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host);
    const entries = [entry(clock, '192.0.2.1'), entry(clock, '2001:DB8::1'), entry(clock, '192.0.2.2')];

    // Act
    const added = await provider.add(entries, ctx);

    // Assess
    expect(added).toEqual([
      { ip: '192.0.2.1', ok: true },
      { ip: '2001:DB8::1', ok: true },
      { ip: '192.0.2.2', ok: true },
    ]);
    const v4 = await elementsOf(lab!.host, 'flowtriq_v4');
    const v6 = await elementsOf(lab!.host, 'flowtriq_v6');
    expect(v4.map((element) => element.ip).sort()).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(v6.map((element) => element.ip)).toEqual(['2001:db8::1']);
    expect([...v4, ...v6].every((element) => element.comment === 'flowtriq-relay')).toBe(true);

    // Act
    const removed = await provider.remove(entries, ctx);

    // Assess
    expect(removed.every((result) => result.ok)).toBe(true);
    expect(await elementsOf(lab!.host, 'flowtriq_v4')).toEqual([]);
    expect(await elementsOf(lab!.host, 'flowtriq_v6')).toEqual([]);
  });

  it('gives each element a kernel timeout equal to what is left of its TTL', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host);

    // Act
    await provider.add([entry(clock, '192.0.2.1', 3600), entry(clock, '2001:db8::7', 900)], ctx);

    // Assess
    const [v4] = await elementsOf(lab!.host, 'flowtriq_v4');
    const [v6] = await elementsOf(lab!.host, 'flowtriq_v6');
    expect(v4?.timeout).toBe(3600);
    expect(v4?.expires).toBeGreaterThan(3590);
    expect(v6?.timeout).toBe(900);
  });

  it('writes elements without a timeout when elementTimeout is none', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host, { elementTimeout: 'none' });

    // Act
    await provider.add([entry(clock, '192.0.2.1', 3600)], ctx);

    // Assess
    expect(await elementsOf(lab!.host, 'flowtriq_v4')).toEqual([{ ip: '192.0.2.1', comment: 'flowtriq-relay' }]);
  });

  it('removing one address leaves the others, including one shared by several incidents, in place', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1', 3600, ['a', 'b']), entry(clock, '192.0.2.2', 3600, ['a'])], ctx);

    // Act: incident a ends for 192.0.2.2 only (the engine still holds 192.0.2.1 for b)
    const removed = await provider.remove([entry(clock, '192.0.2.2', 3600, [])], ctx);

    // Assess
    expect(removed).toEqual([{ ip: '192.0.2.2', ok: true }]);
    expect((await elementsOf(lab!.host, 'flowtriq_v4')).map((element) => element.ip)).toEqual(['192.0.2.1']);
  });

  it('never touches an element the operator added: add reports it foreign, remove leaves it, list marks it not owned', async () => {
    // Prepare: the operator lists one address without a comment and one with their own
    await lab!.host.nft(
      'add element inet flowtriq flowtriq_v4 { 192.0.2.50, 192.0.2.51 timeout 2h comment "operator" }\nadd element inet flowtriq flowtriq_v6 { 2001:db8::50 }\n',
    );
    const { provider, clock, ctx } = nftProvider(lab!.host);

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
    const v4 = await elementsOf(lab!.host, 'flowtriq_v4');
    expect(v4.find((element) => element.ip === '192.0.2.50')).toEqual({ ip: '192.0.2.50' });
    expect(v4.find((element) => element.ip === '192.0.2.51')).toMatchObject({ ip: '192.0.2.51', timeout: 7200, comment: 'operator' });
    expect(await elementsOf(lab!.host, 'flowtriq_v6')).toEqual([{ ip: '2001:db8::50' }]);
  });

  it('is idempotent: adding a present element writes nothing new, removing an absent one succeeds', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host);
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
    expect((await elementsOf(lab!.host, 'flowtriq_v4')).map((element) => element.ip)).toEqual(['192.0.2.1']);
  });

  it('extends the timeout of its own element when the relay wants it for longer', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1', 120)], ctx);

    // Act
    const result = await provider.add([entry(clock, '192.0.2.1', 7200)], ctx);

    // Assess
    expect(result).toEqual([{ ip: '192.0.2.1', ok: true }]);
    expect(await elementsOf(lab!.host, 'flowtriq_v4')).toMatchObject([{ ip: '192.0.2.1', timeout: 7200, comment: 'flowtriq-relay' }]);
  });

  it('an element the operator adds between the read and the write fails the transaction whole; the re-read reports it foreign and adds the rest', async () => {
    // Prepare: a runner that slips an operator element in just before the relay's first write
    let slipped = false;
    const racing: HostCommandRunner = async (command) => {
      if (!slipped && command.args.includes('-f')) {
        slipped = true;
        await lab!.host.nft('add element inet flowtriq flowtriq_v4 { 192.0.2.2 }\n');
      }
      return lab!.host.run(command);
    };
    const { provider, clock, ctx, logger } = nftProvider(lab!.host, {}, racing);

    // Act
    const added = await provider.add([entry(clock, '192.0.2.1'), entry(clock, '192.0.2.2'), entry(clock, '2001:db8::1')], ctx);

    // Assess
    expect(added).toEqual([
      { ip: '192.0.2.1', ok: true },
      { ip: '192.0.2.2', ok: true, foreign: true },
      { ip: '2001:db8::1', ok: true },
    ]);
    expect(logger.lines.some((line) => line.message === 'set write failed' && String(line.attributes.error).includes('File exists'))).toBe(true);
    const v4 = await elementsOf(lab!.host, 'flowtriq_v4');
    expect(v4.find((element) => element.ip === '192.0.2.2')).toEqual({ ip: '192.0.2.2' });
    expect(v4.find((element) => element.ip === '192.0.2.1')?.comment).toBe('flowtriq-relay');
  });

  it('an element that expires between the read and the delete does not fail the removal of the others', async () => {
    // Prepare: the relay's element for 192.0.2.2 disappears (as at its timeout) just before the first delete
    const { provider, clock, ctx } = nftProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1'), entry(clock, '192.0.2.2')], ctx);
    let expired = false;
    const racing: HostCommandRunner = async (command) => {
      if (!expired && command.args.includes('-f')) {
        expired = true;
        await lab!.host.nft('delete element inet flowtriq flowtriq_v4 { 192.0.2.2 }\n');
      }
      return lab!.host.run(command);
    };
    const racingProvider = nftProvider(lab!.host, {}, racing);

    // Act
    const removed = await racingProvider.provider.remove([entry(clock, '192.0.2.1'), entry(clock, '192.0.2.2')], racingProvider.ctx);

    // Assess
    expect(removed).toEqual([
      { ip: '192.0.2.1', ok: true },
      { ip: '192.0.2.2', ok: true },
    ]);
    expect(await elementsOf(lab!.host, 'flowtriq_v4')).toEqual([]);
  });

  it('list reports the relay\'s elements of both sets as owned (drift check)', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host);
    await provider.add([entry(clock, '192.0.2.1'), entry(clock, '2001:db8::1')], ctx);

    // Act
    const listed = await provider.list!(ctx);

    // Assess
    expect(listed.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ip: '192.0.2.1', owned: true },
      { ip: '2001:db8::1', owned: true },
    ]);
  });

  it('uses the configured table, family, set names and comment', async () => {
    // Prepare
    await resetRuleset(
      lab!.host,
      'table ip guard { set bad4 { type ipv4_addr; flags timeout; }; set bad6 { type ipv6_addr; flags timeout; }; }\n',
    );
    const { provider, clock, ctx } = nftProvider(lab!.host, { family: 'ip', table: 'guard', ipv4Set: 'bad4', ipv6Set: 'bad6', comment: 'relay-7' });

    // Act
    await provider.add([entry(clock, '192.0.2.1'), entry(clock, '2001:db8::1')], ctx);

    // Assess
    expect(await elementsOf(lab!.host, 'bad4', 'guard', 'ip')).toMatchObject([{ ip: '192.0.2.1', comment: 'relay-7' }]);
    expect(await elementsOf(lab!.host, 'bad6', 'guard', 'ip')).toMatchObject([{ ip: '2001:db8::1', comment: 'relay-7' }]);
  });

  it('rejects an entry that is not an IP address without writing anything for it', async () => {
    // Prepare
    const { provider, clock, ctx } = nftProvider(lab!.host);

    // Act
    const added = await provider.add([entry(clock, 'example.com'), entry(clock, '192.0.2.1')], ctx);

    // Assess
    expect(added[0]).toMatchObject({ ip: 'example.com', ok: false });
    expect(added[1]).toEqual({ ip: '192.0.2.1', ok: true });
    expect((await elementsOf(lab!.host, 'flowtriq_v4')).map((element) => element.ip)).toEqual(['192.0.2.1']);
  });

  describe('errors', () => {
    it('a missing set fails the batch with the command that creates it, and the relay creates nothing', async () => {
      // Prepare
      await resetRuleset(lab!.host, 'table inet flowtriq { set flowtriq_v4 { type ipv4_addr; flags timeout; }; }\n');
      const { provider, clock, ctx } = nftProvider(lab!.host);

      // Act
      const attempt = provider.add([entry(clock, '2001:db8::1')], ctx);

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(NftablesSetMissingError);
      await expect(attempt).rejects.toThrow(/nft add set inet flowtriq flowtriq_v6 '\{ type ipv6_addr; flags timeout; \}'/);
      const ruleset = await lab!.host.exec('nft', ['list', 'ruleset']);
      expect(ruleset.stdout).not.toContain('flowtriq_v6');
    });

    it('a missing table fails with the same clear error', async () => {
      // Prepare
      await resetRuleset(lab!.host, '');
      const { provider, clock, ctx } = nftProvider(lab!.host);

      // Act
      const attempt = provider.add([entry(clock, '192.0.2.1')], ctx);

      // Assess
      await expect(attempt).rejects.toThrow(/does not exist.*nft add table inet flowtriq/);
    });

    it('a set without the timeout flag is refused before anything is written', async () => {
      // Prepare
      await resetRuleset(lab!.host, 'table inet flowtriq { set flowtriq_v4 { type ipv4_addr; }; set flowtriq_v6 { type ipv6_addr; flags timeout; }; }\n');
      const { provider, clock, ctx } = nftProvider(lab!.host);

      // Act
      const attempt = provider.add([entry(clock, '192.0.2.1')], ctx);

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(NftablesSetUnusableError);
      await expect(attempt).rejects.toThrow(/no timeout flag.*elementTimeout: none/);
      expect(await elementsOf(lab!.host, 'flowtriq_v4')).toEqual([]);
    });

    it('an interval set or a set of the wrong type is refused', async () => {
      // Prepare
      await resetRuleset(
        lab!.host,
        'table inet flowtriq { set flowtriq_v4 { type ipv4_addr; flags interval,timeout; }; set flowtriq_v6 { type ipv4_addr; flags timeout; }; }\n',
      );
      const { provider, clock, ctx } = nftProvider(lab!.host);

      // Act
      const v4 = await provider.add([entry(clock, '192.0.2.1')], ctx).catch((error: unknown) => error);
      const v6 = await provider.add([entry(clock, '2001:db8::1')], ctx).catch((error: unknown) => error);

      // Assess
      expect(v4).toBeInstanceOf(NftablesSetUnusableError);
      expect(String(v4)).toMatch(/flags interval/);
      expect(String(v6)).toMatch(/type "ipv4_addr"; it must be a set of type ipv6_addr/);
    });

    it('nft not installed: says which Debian package to install', async () => {
      // Prepare: a runner that finds no tools at all
      const { provider, clock, ctx } = nftProvider(lab!.host, {}, createHostCommandRunner({ directories: ['/nonexistent-ftr'] }));

      // Act
      const attempt = provider.add([entry(clock, '192.0.2.1')], ctx);

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(HostCommandNotFoundError);
      await expect(attempt).rejects.toThrow(/nft is not installed.*apt-get install nftables/);
    });

    it('without CAP_NET_ADMIN: says the relay needs root or CAP_NET_ADMIN', async () => {
      // Prepare: nft runs in the namespace as root but with CAP_NET_ADMIN dropped
      const runner = createHostCommandRunner({
        prefix: ['nsenter', `--net=/run/netns/${lab!.host.name}`, 'setpriv', '--inh-caps=-all', '--bounding-set=-net_admin', '--'],
      });
      const { provider, clock, ctx } = nftProvider(lab!.host, {}, runner);

      // Act
      const attempt = provider.add([entry(clock, '192.0.2.1')], ctx);

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(HostCommandPermissionError);
      await expect(attempt).rejects.toThrow(/needs root or the CAP_NET_ADMIN capability/);
      expect(await elementsOf(lab!.host, 'flowtriq_v4')).toEqual([]);
    });
  });

  describe('healthCheck', () => {
    it('is ok when both sets exist and a rule uses each', async () => {
      // Prepare
      const { provider, ctx } = nftProvider(lab!.host);

      // Act
      const health = await provider.healthCheck(ctx);

      // Assess
      expect(health).toEqual({ ok: true, detail: expect.stringContaining('flowtriq_v4 (used by 1 rule in input)') });
    });

    it('fails when no rule uses a set, naming the rule to add', async () => {
      // Prepare
      await resetRuleset(lab!.host, 'table inet flowtriq { set flowtriq_v4 { type ipv4_addr; flags timeout; }; set flowtriq_v6 { type ipv6_addr; flags timeout; }; chain input { type filter hook input priority 0; ip saddr @flowtriq_v4 drop; }; }\n');
      const { provider, ctx } = nftProvider(lab!.host);

      // Act
      const health = await provider.healthCheck(ctx);

      // Assess
      expect(health.ok).toBe(false);
      expect(health.detail).toContain('ip6 saddr @flowtriq_v6 drop');
      expect(health.detail).not.toContain('@flowtriq_v4 drop');
    });

    it('fails when the table is missing', async () => {
      // Prepare
      await resetRuleset(lab!.host, '');
      const { provider, ctx } = nftProvider(lab!.host);

      // Act
      const health = await provider.healthCheck(ctx);

      // Assess
      expect(health.ok).toBe(false);
      expect(health.detail).toMatch(/does not exist/);
    });
  });

  packetProof(
    'drops packets from a blocked IPv4 and IPv6 attacker while other sources pass, and passes them again after removal',
    () => lab!,
    (host) => nftProvider(host),
    async (host) => [await dropCounter(host, 'flowtriq_v4'), await dropCounter(host, 'flowtriq_v6')],
  );
});
