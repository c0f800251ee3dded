import { describe, expect, it } from 'vitest';
import type { HttpResponse } from '../../../lib/transport/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { ARM, ARM_SCOPE, AZURE_LB_ADDRESS, AzureArmSimulator, CLIENT_ID, CLIENT_SECRET, LOGIN, NSG_NAME, RESOURCE_GROUP, SUBSCRIPTION, TENANT } from './arm.ts';

const NSG_PATH = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Network/networkSecurityGroups/${NSG_NAME}`;
const RULE = 'flowtriq-relay-az-allow-1';

function parse(response: HttpResponse): Record<string, any> {
  return response.body.byteLength === 0 ? {} : JSON.parse(Buffer.from(response.body).toString('utf8'));
}

function setup(options: { operationDelayMs?: number } = {}) {
  const clock = new ManualClock();
  const sim = new AzureArmSimulator({ now: clock.now, ...options });
  const tokenResponse = sim.handle({
    method: 'POST',
    url: `${LOGIN}/${TENANT}/oauth2/v2.0/token`,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scope: ARM_SCOPE }).toString(),
    timeoutMs: 1,
  });
  const token = parse(tokenResponse).access_token as string;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    sim.handle({
      method,
      url: path.startsWith('https://') ? path : `${ARM}${path}?api-version=2024-05-01`,
      headers: { Authorization: `Bearer ${token}`, ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      timeoutMs: 1,
    });
  const allow = (priority: number, sources: string[]) => ({
    properties: { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '22', sourceAddressPrefixes: sources, destinationAddressPrefix: '*', access: 'Allow', priority, direction: 'Inbound' },
  });
  return { clock, sim, call, allow, tokenResponse };
}

describe('azure simulator: sign-in', () => {
  it('issues a bearer token for the right client secret and refuses a wrong one with AADSTS7000215', () => {
    // Prepare
    const { sim, tokenResponse } = setup();

    // Act
    const wrong = sim.handle({
      method: 'POST',
      url: `${LOGIN}/${TENANT}/oauth2/v2.0/token`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: 'nope', scope: ARM_SCOPE }).toString(),
      timeoutMs: 1,
    });

    // Assess
    expect(tokenResponse.status).toBe(200);
    expect(parse(tokenResponse)).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(wrong.status).toBe(401);
    expect(parse(wrong)).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
  });

  it('answers 401 ExpiredAuthenticationToken once the token has expired', () => {
    // Prepare
    const { clock, call } = setup();
    clock.advance(3600_000);

    // Act
    const response = call('GET', NSG_PATH);

    // Assess
    expect(response.status).toBe(401);
    expect(parse(response).error.code).toBe('ExpiredAuthenticationToken');
  });
});

describe('azure simulator: NSG and rules', () => {
  it('reports the default rules and one etag shared by the NSG and its rules', () => {
    // Prepare
    const { call, allow } = setup();
    call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32']));

    // Act
    const nsg = parse(call('GET', NSG_PATH));

    // Assess
    expect(nsg.properties.defaultSecurityRules.map((rule: any) => [rule.name, rule.properties.priority])).toEqual([
      ['AllowVnetInBound', 65000],
      ['AllowAzureLoadBalancerInBound', 65001],
      ['DenyAllInBound', 65500],
      ['AllowVnetOutBound', 65000],
      ['AllowInternetOutBound', 65001],
      ['DenyAllOutBound', 65500],
    ]);
    expect(nsg.properties.securityRules[0].etag).toBe(nsg.etag);
    expect(nsg.properties.securityRules[0].properties).toMatchObject({ provisioningState: 'Succeeded', sourceAddressPrefixes: ['203.0.113.10/32'], sourcePortRanges: [] });
  });

  it('runs a PUT as a long-running operation: Updating, InProgress, then Succeeded', () => {
    // Prepare
    const { clock, call, allow, sim } = setup({ operationDelayMs: 20_000 });

    // Act
    const put = call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32']));
    const statusUrl = put.headers['azure-asyncoperation']!;
    const during = parse(call('GET', statusUrl));
    const admittedDuring = sim.admit({ source: '203.0.113.10', protocol: 'tcp', port: 22 });
    clock.advance(20_000);
    const after = parse(call('GET', statusUrl));

    // Assess
    expect(put.status).toBe(201);
    expect(put.headers['retry-after']).toBe('10');
    expect(parse(put).properties.provisioningState).toBe('Updating');
    expect(during).toEqual({ status: 'InProgress' });
    expect(after).toEqual({ status: 'Succeeded' });
    expect(admittedDuring).toBe(false);
    expect(sim.admit({ source: '203.0.113.10', protocol: 'tcp', port: 22 })).toBe(true);
  });

  it('refuses a second write while an operation runs and counts it', () => {
    // Prepare
    const { call, allow, sim } = setup({ operationDelayMs: 20_000 });
    call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32']));

    // Act
    const second = call('PUT', `${NSG_PATH}/securityRules/flowtriq-relay-az-allow-2`, allow(101, ['203.0.113.11/32']));

    // Assess
    expect(second.status).toBe(429);
    expect(parse(second).error.code).toBe('AnotherOperationInProgress');
    expect(second.headers['retry-after']).toBe('10');
    expect(sim.counters.writesWhileOperationPending).toBe(1);
  });

  it('answers 412 to a stale If-Match and counts writes without If-Match, foreign names and priority clashes', () => {
    // Prepare
    const { call, allow, sim } = setup();
    sim.addRule('office-ssh', allow(150, ['192.0.2.0/24']).properties as never);
    call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32']));
    const etag = sim.etag;
    sim.editRule(RULE, { description: 'edited by someone' });

    // Act
    const stale = call('DELETE', `${NSG_PATH}/securityRules/${RULE}`, undefined, { 'If-Match': etag });
    const blind = call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32']));
    const foreign = call('DELETE', `${NSG_PATH}/securityRules/office-ssh`, undefined, { 'If-Match': sim.etag });
    const clash = call('PUT', `${NSG_PATH}/securityRules/flowtriq-relay-az-allow-2`, allow(100, ['203.0.113.11/32']));

    // Assess
    expect(stale.status).toBe(412);
    expect(parse(stale).error.code).toBe('PreconditionFailed');
    expect(blind.status).toBe(200);
    expect(foreign.status).toBe(200);
    expect(clash.status).toBe(400);
    expect(parse(clash).error.code).toBe('SecurityRuleConflict');
    expect(sim.counters).toMatchObject({ preconditionFailures: 1, writesWithoutIfMatch: 1, foreignWrites: 1, priorityClashes: 1, droppedFields: 1 });
  });

  it('refuses IPv4 and IPv6 prefixes in one rule', () => {
    // Prepare
    const { call, allow } = setup();

    // Act
    const response = call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32', '2001:db8::1/128']));

    // Assess
    expect(response.status).toBe(400);
    expect(parse(response).error.code).toBe('ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies');
  });

  it('deletes as a long-running operation followed by Location (202, then 204), and answers 204 for a missing rule', () => {
    // Prepare
    const { clock, call, allow, sim } = setup({ operationDelayMs: 5_000 });
    call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32']));
    clock.advance(5_000);

    // Act
    const deleted = call('DELETE', `${NSG_PATH}/securityRules/${RULE}`, undefined, { 'If-Match': sim.etag });
    const running = call('GET', deleted.headers['location']!);
    clock.advance(5_000);
    const done = call('GET', deleted.headers['location']!);
    const again = call('DELETE', `${NSG_PATH}/securityRules/${RULE}`);

    // Assess
    expect(deleted.status).toBe(202);
    expect(deleted.headers['azure-asyncoperation']).toContain('/operations/');
    expect(running.status).toBe(202);
    expect(done.status).toBe(204);
    expect(again.status).toBe(204);
    expect(sim.ruleNames()).toEqual([]);
  });

  it('answers 429 with Retry-After when throttled', () => {
    // Prepare
    const { call, sim } = setup();
    sim.throttleNext(1, 17);

    // Act
    const first = call('GET', NSG_PATH);
    const second = call('GET', NSG_PATH);

    // Assess
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('17');
    expect(parse(first).error.code).toBe('SubscriptionRequestsThrottled');
    expect(second.status).toBe(200);
  });

  it('answers 403 AuthorizationFailed naming the missing action', () => {
    // Prepare
    const { call, allow, sim } = setup();
    sim.permissions.delete('Microsoft.Network/networkSecurityGroups/securityRules/write');

    // Act
    const response = call('PUT', `${NSG_PATH}/securityRules/${RULE}`, allow(100, ['203.0.113.10/32']));

    // Assess
    expect(response.status).toBe(403);
    expect(parse(response).error.message).toContain("'Microsoft.Network/networkSecurityGroups/securityRules/write'");
  });
});

describe('azure simulator: admit()', () => {
  it('evaluates rules by priority with the default rules and service tags', () => {
    // Prepare
    const { sim } = setup();
    sim.addRule('web', { protocol: 'Tcp', sourcePortRange: '*', destinationPortRange: '443', sourceAddressPrefix: 'Internet', destinationAddressPrefix: '*', access: 'Allow', priority: 300, direction: 'Inbound' });
    sim.addRule('deny-bad', { protocol: '*', sourcePortRange: '*', destinationPortRange: '*', sourceAddressPrefixes: ['198.51.100.0/24'], destinationAddressPrefix: '*', access: 'Deny', priority: 200, direction: 'Inbound' });

    // Act
    const verdicts = {
      web: sim.admit({ source: '192.0.2.1', protocol: 'tcp', port: 443 }),
      ssh: sim.admit({ source: '192.0.2.1', protocol: 'tcp', port: 22 }),
      denied: sim.admit({ source: '198.51.100.9', protocol: 'tcp', port: 443 }),
      probe: sim.admit({ source: AZURE_LB_ADDRESS, protocol: 'tcp', port: 8080 }),
      vnet: sim.admit({ source: '10.0.1.5', protocol: 'udp', port: 53 }),
    };

    // Assess
    expect(verdicts).toEqual({ web: true, ssh: false, denied: false, probe: true, vnet: true });
  });
});
