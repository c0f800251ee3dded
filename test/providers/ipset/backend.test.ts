/** What the ipset backend writes and how it reads `ipset list`, without a kernel. */
import { describe, expect, it } from 'vitest';
import { IpsetBackend, headerFacts, ipsetProblem, parseIpsetList, words } from '../../../lib/providers/ipset/backend.ts';
import { ipsetOptionsSchema } from '../../../lib/providers/ipset/config.ts';
import type { HostCommandRunner } from '../../../lib/providers/host-command.ts';
import type { ProviderContext } from '../../../lib/providers/types.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';

const LISTING = `Name: flowtriq_v4
Type: hash:ip
Revision: 6
Header: family inet hashsize 1024 maxelem 65536 timeout 0 comment bucketsize 12 initval 0x19ee3fba
Size in memory: 703
References: 1
Number of entries: 3
Members:
192.0.2.1 timeout 7199 comment "flowtriq-relay"
192.0.2.51 timeout 0
192.0.2.50 timeout 0 comment "an operator note"
`;

const ctx: ProviderContext = { signal: new AbortController().signal, logger: new RecordingLogger() };

describe('parseIpsetList', () => {
  it('reads the header, the reference count and every member with its timeout and comment', () => {
    // Act
    const listing = parseIpsetList(LISTING);

    // Assess
    expect(listing).toMatchObject({ name: 'flowtriq_v4', type: 'hash:ip', references: 1, entries: 3 });
    expect(listing.members).toEqual([
      { address: '192.0.2.1', timeout: 7199, comment: 'flowtriq-relay' },
      { address: '192.0.2.51', timeout: 0 },
      { address: '192.0.2.50', timeout: 0, comment: 'an operator note' },
    ]);
    expect(headerFacts(listing.header)).toEqual({ family: 'inet', timeouts: true, comments: true, netmask: undefined, forceadd: false });
  });

  it('words keeps quoted text together', () => {
    // Act / Assess
    expect(words('a "b c" d')).toEqual(['a', 'b c', 'd']);
  });

  it('ipsetProblem accepts the documented set and names the fix for others', () => {
    // Prepare
    const listing = parseIpsetList(LISTING);

    // Act / Assess
    expect(ipsetProblem(listing, 4, true)).toBeUndefined();
    expect(ipsetProblem(listing, 6, true)).toMatch(/the ipv6Set must have family inet6 \(ipset create <name> hash:ip family inet6 timeout 0 comment\)/);
    expect(ipsetProblem({ ...listing, header: ['family', 'inet', 'forceadd'] }, 4, false)).toMatch(/forceadd/);
  });
});

describe('IpsetBackend restore batches', () => {
  it('creates without -exist, refreshes its own entries with -exist, deletes with -exist, all marked and timed', async () => {
    // Prepare: a runner that records stdin and lists the documented set
    const inputs: string[] = [];
    const runner: HostCommandRunner = async (command) => {
      if (command.args[0] === 'list') return { code: 0, stdout: LISTING.replace('flowtriq_v4', command.args.at(-1)!).replace('family inet ', command.args.at(-1) === 'flowtriq_v6' ? 'family inet6 ' : 'family inet '), stderr: '' };
      inputs.push(command.stdin ?? '');
      return { code: 0, stdout: '', stderr: '' };
    };
    const backend = new IpsetBackend(ipsetOptionsSchema.parse({}), runner);
    await backend.read(new Set([4, 6] as const), ctx);

    // Act
    await backend.applyAdds(
      [
        { kind: 'create', ip: '192.0.2.9', family: 4, timeoutSeconds: 99_999_999 },
        { kind: 'refresh', ip: '192.0.2.1', family: 4, timeoutSeconds: 3600 },
        { kind: 'create', ip: '2001:db8::1', family: 6 },
      ],
      ctx,
    );
    await backend.applyRemoves([{ ip: '192.0.2.1', family: 4 }], ctx);

    // Assess
    expect(inputs).toEqual([
      'add flowtriq_v4 192.0.2.9 timeout 2147483 comment "flowtriq-relay"\n' +
        'add -exist flowtriq_v4 192.0.2.1 timeout 3600 comment "flowtriq-relay"\n' +
        'add flowtriq_v6 2001:db8::1 timeout 0 comment "flowtriq-relay"\n',
      'del -exist flowtriq_v4 192.0.2.1\n',
    ]);
  });

  it('a restore that stops at line N reports the lines before it as applied', async () => {
    // Prepare
    const runner: HostCommandRunner = async () => ({ code: 1, stdout: '', stderr: "ipset v7.17: Error in line 3: Element cannot be added to the set: it's already added\n" });
    const backend = new IpsetBackend(ipsetOptionsSchema.parse({}), runner);

    // Act
    const outcome = await backend.applyAdds(
      ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((ip) => ({ kind: 'create' as const, ip, family: 4 as const, timeoutSeconds: 60 })),
      ctx,
    );

    // Assess
    expect(outcome).toEqual({
      ok: false,
      applied: 2,
      race: true,
      error: "ipset restore stopped at line 3: Element cannot be added to the set: it's already added",
    });
  });
});
