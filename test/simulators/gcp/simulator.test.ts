import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gcpFirewallOptionsSchema } from '../../../lib/providers/gcp/config.ts';
import { createGcpFirewallProvider } from '../../../lib/providers/gcp/provider.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { COMPUTE_ORIGIN, GcpSimulator, TOKEN_URL, makeServiceAccount } from './compute.ts';
import { GCP_KEY_ENV, gcpUnderTest } from './under-test.ts';

const BASE = `${COMPUTE_ORIGIN}/compute/v1/projects/flowtriq-test/global`;

function assertion(keyFile: string, claims: Record<string, unknown>): string {
  const key = JSON.parse(keyFile) as { private_key: string; private_key_id: string };
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id })}.${part(claims)}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), key.private_key).toString('base64url')}`;
}

function setup(options: { pendingMs?: number; runningMs?: number } = {}) {
  const clock = new ManualClock();
  const account = makeServiceAccount();
  const simulator = new GcpSimulator({ now: clock.now, account, ...options });
  const now = Math.floor(clock.now() / 1000);
  const claims = { iss: account.email, scope: 'https://www.googleapis.com/auth/compute', aud: TOKEN_URL, iat: now, exp: now + 3600 };
  const tokenRequest = (assert: string) =>
    simulator.handle({
      method: 'POST',
      url: TOKEN_URL,
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: assert }).toString(),
      timeoutMs: 1000,
    });
  const body = (response: { body: Uint8Array }) => JSON.parse(Buffer.from(response.body).toString('utf8')) as Record<string, any>;
  const token = body(tokenRequest(assertion(account.keyFile, claims))).access_token as string;
  const call = (method: string, path: string, payload?: unknown, bearer = token) => {
    const response = simulator.handle({
      method,
      url: `${BASE}${path}`,
      headers: { Authorization: `Bearer ${bearer}` },
      timeoutMs: 1000,
      ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
    });
    return { status: response.status, json: body(response), headers: response.headers };
  };
  return { clock, account, simulator, claims, tokenRequest, call, body };
}

const relayRule = (extra: Record<string, unknown> = {}) => ({
  name: 'flowtriq-relay-block-v4',
  network: 'global/networks/default',
  direction: 'INGRESS',
  priority: 100,
  sourceRanges: ['198.51.100.7/32'],
  denied: [{ IPProtocol: 'all' }],
  ...extra,
});

describe('gcp simulator: token endpoint', () => {
  it('issues a token for an assertion signed with the key and verifies the signature', () => {
    // Prepare
    const { tokenRequest, claims, body, simulator } = setup();
    const other = makeServiceAccount({ fresh: true });

    // Act
    const good = tokenRequest(assertion(makeServiceAccount().keyFile, claims));
    const forged = tokenRequest(assertion(other.keyFile, claims));

    // Assess
    expect(good.status).toBe(200);
    expect(body(good)).toMatchObject({ expires_in: 3599, token_type: 'Bearer' });
    expect(forged.status).toBe(400);
    expect(body(forged)).toEqual({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    expect(simulator.counters.invalidAssertions).toBe(1);
  });

  it('rejects an assertion valid for more than an hour or for another audience', () => {
    // Prepare
    const { tokenRequest, claims, account, body } = setup();

    // Act
    const tooLong = tokenRequest(assertion(account.keyFile, { ...claims, exp: claims.iat + 7200 }));
    const audience = tokenRequest(assertion(account.keyFile, { ...claims, aud: 'https://example.com' }));

    // Assess
    expect(body(tooLong).error_description).toContain('short-lived');
    expect(body(audience).error_description).toContain('audience');
  });

  it('answers 401 to an expired token and counts it', () => {
    // Prepare
    const { call, clock, simulator } = setup();
    clock.advance(3_600_000);

    // Act
    const response = call('GET', '/firewalls/anything');

    // Assess
    expect(response.status).toBe(401);
    expect(response.json.error.errors[0].reason).toBe('authError');
    expect(simulator.counters.expiredTokenUses).toBe(1);
  });
});

describe('gcp simulator: firewall rules', () => {
  it('moves operations PENDING → RUNNING → DONE and applies the change at DONE', () => {
    // Prepare
    const { call, clock } = setup({ pendingMs: 1_000, runningMs: 1_000 });

    // Act
    const inserted = call('POST', '/firewalls', relayRule());
    const name = inserted.json.name as string;
    const whilePending = call('GET', '/firewalls/flowtriq-relay-block-v4').status;
    clock.advance(1_000);
    const running = call('GET', `/operations/${name}`).json.status;
    clock.advance(1_000);
    const done = call('GET', `/operations/${name}`).json;

    // Assess
    expect(inserted.json).toMatchObject({ kind: 'compute#operation', operationType: 'insert', status: 'PENDING' });
    expect(whilePending).toBe(404);
    expect(running).toBe('RUNNING');
    expect(done).toMatchObject({ status: 'DONE', progress: 100 });
    expect(call('GET', '/firewalls/flowtriq-relay-block-v4').json).toMatchObject({
      kind: 'compute#firewall',
      network: 'https://www.googleapis.com/compute/v1/projects/flowtriq-test/global/networks/default',
      disabled: false,
    });
  });

  it('refuses a write on a rule with a running operation (resourceNotReady) and counts writes while pending', () => {
    // Prepare
    const { call, simulator } = setup({ pendingMs: 5_000 });
    simulator.addRule(relayRule({ name: 'flowtriq-relay-block-v6', sourceRanges: ['2001:db8::1/128'] }) as never);
    call('POST', '/firewalls', relayRule());

    // Act
    const busy = call('PATCH', '/firewalls/flowtriq-relay-block-v4', { disabled: true });
    call('PATCH', '/firewalls/flowtriq-relay-block-v6', { disabled: true });

    // Assess
    expect(busy.status).toBe(400);
    expect(busy.json.error.errors[0].reason).toBe('resourceNotReady');
    expect(simulator.counters.writesOnBusyRule).toBe(1);
    expect(simulator.counters.writesWhilePending).toBe(2);
  });

  it('defaults an INGRESS rule without sources to 0.0.0.0/0, and flags an enabled rule emptied by PATCH', () => {
    // Prepare
    const { call, simulator } = setup();

    // Act
    call('POST', '/firewalls', relayRule({ sourceRanges: undefined }));
    const defaulted = simulator.rule('flowtriq-relay-block-v4')!.sourceRanges;
    call('PATCH', '/firewalls/flowtriq-relay-block-v4', { sourceRanges: [] });

    // Assess
    expect(defaulted).toEqual(['0.0.0.0/0']);
    expect(simulator.counters.defaultedToAnySource).toBe(1);
    expect(simulator.counters.enabledWithoutSources).toBe(1);
    expect(simulator.admit({ source: '192.0.2.1', protocol: 'tcp', port: 22, tags: [] })).toBe(false);
  });

  it('validates rules: families mixed, too many ranges, allowed and denied together, unknown fields', () => {
    // Prepare
    const { call } = setup();
    const many = Array.from({ length: 5001 }, (_, i) => `10.${Math.floor(i / 256)}.${i % 256}.0/32`);

    // Act
    const mixed = call('POST', '/firewalls', relayRule({ sourceRanges: ['198.51.100.7/32', '2001:db8::/32'] }));
    const tooMany = call('POST', '/firewalls', relayRule({ sourceRanges: many }));
    const both = call('POST', '/firewalls', relayRule({ allowed: [{ IPProtocol: 'tcp' }] }));
    const unknown = call('POST', '/firewalls', relayRule({ colour: 'red' }));

    // Assess
    expect([mixed.status, tooMany.status, both.status, unknown.status]).toEqual([400, 400, 400, 400]);
    expect(mixed.json.error.message).toContain('both IPv4 and IPv6');
    expect(tooMany.json.error.message).toContain('at most 5000');
  });

  it('counts writes on rules that are not the relay\'s and PATCHes that change nothing', () => {
    // Prepare
    const { call, simulator } = setup();
    simulator.addRule({ name: 'allow-web', sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['443'] }] });
    call('POST', '/firewalls', relayRule());

    // Act
    call('PATCH', '/firewalls/allow-web', { disabled: true });
    call('PATCH', '/firewalls/flowtriq-relay-block-v4', { priority: 100 });

    // Assess
    expect(simulator.counters.foreignWrites).toBe(1);
    expect(simulator.counters.unneededWrites).toBe(1);
  });

  it('admits by priority, deny before allow at equal priority, target tags, and the implied deny', () => {
    // Prepare
    const { simulator } = setup();
    simulator.addRule({ name: 'allow-ssh', priority: 1000, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['22'] }] });
    simulator.addRule({ name: 'deny-bad', priority: 1000, sourceRanges: ['198.51.100.0/24'], denied: [{ IPProtocol: 'all' }] });
    simulator.addRule({ name: 'allow-db', priority: 10, sourceRanges: ['198.51.100.5/32'], allowed: [{ IPProtocol: 'tcp', ports: ['5432'] }], targetTags: ['db'] });

    // Act
    const admitted = {
      ssh: simulator.admit({ source: '192.0.2.1', protocol: 'tcp', port: 22, tags: [] }),
      sshFromBad: simulator.admit({ source: '198.51.100.9', protocol: 'tcp', port: 22, tags: [] }),
      dbTagged: simulator.admit({ source: '198.51.100.5', protocol: 'tcp', port: 5432, tags: ['db'] }),
      dbUntagged: simulator.admit({ source: '198.51.100.5', protocol: 'tcp', port: 5432, tags: [] }),
      http: simulator.admit({ source: '192.0.2.1', protocol: 'tcp', port: 80, tags: [] }),
    };

    // Assess
    expect(admitted).toEqual({ ssh: true, sshFromBad: false, dbTagged: true, dbUntagged: false, http: false });
  });
});

describe('gcp under-test factory', () => {
  it('drives a lockdown through the integration it describes, with management reachable throughout', async () => {
    // Prepare
    const clock = new ManualClock();
    const underTest = gcpUnderTest({ now: clock.now });
    const options = gcpFirewallOptionsSchema.parse(underTest.integration.options);
    const logger = new RecordingLogger();
    const provider = createGcpFirewallProvider(
      { id: 'e2e', options, holdDownMs: 0 },
      { transport: underTest.transport, secrets: { serviceAccountKey: underTest.env[GCP_KEY_ENV]! }, now: clock.now, sleep: async (ms) => void clock.advance(ms), logger },
    );
    if (provider.kind !== 'switch') throw new Error('expected a switch');
    const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['i'] };
    const before = underTest.account();

    // Act
    const reachable: boolean[] = [underTest.managementReachable()];
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);
    const on = underTest.isOn();
    reachable.push(underTest.managementReachable());
    const restore = await provider.deactivate(snapshot, activation, ctx);
    reachable.push(underTest.managementReachable());
    const after = underTest.account();
    underTest.turnOnByHand();
    const byHand = await provider.snapshot(ctx);

    // Assess
    expect(on).toBe(true);
    expect(restore.outcome).toBe('restored');
    expect(reachable).toEqual([true, true, true]);
    expect(byHand.alreadyActive).toBe(true);
    expect(after).toEqual(before);
    expect(underTest.isOn()).toBe(true);
    expect(underTest.simulator.violations).toEqual([]);
  });

  it('changeBehindTheRelay makes the restore report changed-by-others', async () => {
    // Prepare
    const clock = new ManualClock();
    const underTest = gcpUnderTest({ now: clock.now });
    const logger = new RecordingLogger();
    const provider = createGcpFirewallProvider(
      { id: 'e2e', options: gcpFirewallOptionsSchema.parse(underTest.integration.options), holdDownMs: 0 },
      { transport: underTest.transport, secrets: { serviceAccountKey: underTest.env[GCP_KEY_ENV]! }, now: clock.now, sleep: async (ms) => void clock.advance(ms), logger },
    );
    if (provider.kind !== 'switch') throw new Error('expected a switch');
    const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['i'] };
    const snapshot = await provider.snapshot(ctx);
    const activation = await provider.activate(snapshot, ctx);

    // Act
    underTest.changeBehindTheRelay();
    const restore = await provider.deactivate(snapshot, activation, ctx);

    // Assess
    expect(restore.outcome).toBe('changed-by-others');
    expect(underTest.isOn()).toBe(false);
    expect(underTest.managementReachable()).toBe(true);
  });
});
