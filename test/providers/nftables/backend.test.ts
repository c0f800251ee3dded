/** What the nft backend writes and how it reads nft's JSON, without a kernel. */
import { describe, expect, it } from 'vitest';
import { NftablesBackend, parseListing, setElements, setProblem } from '../../../lib/providers/nftables/backend.ts';
import { nftablesOptionsSchema } from '../../../lib/providers/nftables/config.ts';
import { NftablesOutputError, NftablesSetUnusableError } from '../../../lib/providers/nftables/errors.ts';

const backend = (options: Record<string, unknown> = {}) =>
  new NftablesBackend(nftablesOptionsSchema.parse(options), async () => ({ code: 0, stdout: '', stderr: '' }));

describe('NftablesBackend scripts', () => {
  it('writes one transaction: deletes of refreshed elements first, then one create per set with timeout and comment', () => {
    // Act
    const script = backend().addBatch([
      { kind: 'create', ip: '192.0.2.1', family: 4, timeoutSeconds: 3600 },
      { kind: 'refresh', ip: '192.0.2.2', family: 4, timeoutSeconds: 7200 },
      { kind: 'create', ip: '2001:db8::1', family: 6 },
    ]);

    // Assess
    expect(script).toBe(
      'delete element inet flowtriq flowtriq_v4 { 192.0.2.2 }\n' +
        'create element inet flowtriq flowtriq_v4 { 192.0.2.1 timeout 3600s comment "flowtriq-relay", 192.0.2.2 timeout 7200s comment "flowtriq-relay" }\n' +
        'create element inet flowtriq flowtriq_v6 { 2001:db8::1 comment "flowtriq-relay" }\n',
    );
  });

  it('removes by set', () => {
    // Act
    const script = backend({ family: 'ip', table: 'guard' }).removeBatch([
      { ip: '192.0.2.1', family: 4 },
      { ip: '2001:db8::1', family: 6 },
    ]);

    // Assess
    expect(script).toBe('delete element ip guard flowtriq_v4 { 192.0.2.1 }\ndelete element ip guard flowtriq_v6 { 2001:db8::1 }\n');
  });

  it('refuses to write anything that is not a canonical address or a checked name', () => {
    // Prepare
    const unchecked = new NftablesBackend(
      { ...nftablesOptionsSchema.parse({}), comment: 'x" }\nflush ruleset\n' },
      async () => ({ code: 0, stdout: '', stderr: '' }),
    );

    // Act / Assess
    expect(() => backend().addBatch([{ kind: 'create', ip: '192.0.2.1 }; flush ruleset', family: 4 }])).toThrow(NftablesSetUnusableError);
    expect(() => backend().addBatch([{ kind: 'create', ip: '2001:DB8::1', family: 6 }])).toThrow(/not a canonical address/);
    expect(() => unchecked.addBatch([{ kind: 'create', ip: '192.0.2.1', family: 4 }])).toThrow(/cannot be written into an nft script/);
  });
});

describe('reading nft -j output', () => {
  const listing = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      {
        set: {
          family: 'inet',
          name: 'flowtriq_v6',
          table: 'flowtriq',
          type: 'ipv6_addr',
          flags: ['timeout'],
          elem: [
            '2001:db8::50',
            { elem: { val: '2001:DB8:0::1', timeout: 3600, expires: 3000, comment: 'flowtriq-relay' } },
            { elem: { val: '2001:db8::2', timeout: 60, expires: 59, comment: 'someone-else' } },
            { elem: { val: '192.0.2.1' } },
          ],
        },
      },
    ],
  });

  it('reports single addresses in canonical form with ownership and time left', () => {
    // Act
    const [set] = parseListing(listing).sets;
    const elements = setElements(set!, 6, 'flowtriq-relay');

    // Assess
    expect(elements).toEqual([
      { ip: '2001:db8::50', family: 6, owned: false },
      { ip: '2001:db8::1', family: 6, owned: true, expiresIn: 3000 },
      { ip: '2001:db8::2', family: 6, owned: false, expiresIn: 59 },
    ]);
  });

  it('says what is wrong with an unusable set', () => {
    // Prepare
    const [set] = parseListing(listing).sets;

    // Act / Assess
    expect(setProblem(set!, 6, true, 'set X')).toBeUndefined();
    expect(setProblem({ ...set!, flags: [] }, 6, true, 'set X')).toMatch(/no timeout flag/);
    expect(setProblem({ ...set!, flags: [] }, 6, false, 'set X')).toBeUndefined();
    expect(setProblem({ ...set!, flags: ['constant', 'timeout'] }, 6, true, 'set X')).toMatch(/constant/);
    expect(setProblem(set!, 4, true, 'set X')).toMatch(/must be a set of type ipv4_addr/);
  });

  it('refuses output that is not nft JSON', () => {
    // Act / Assess
    expect(() => parseListing('table inet flowtriq {')).toThrow(NftablesOutputError);
    expect(() => parseListing('{"other":[]}')).toThrow(/without the "nftables" array/);
  });
});
