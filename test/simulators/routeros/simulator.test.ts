import { afterEach, describe, expect, it } from 'vitest';
import { TransportConnectionError, TransportTimeoutError } from '../../../lib/transport/errors.ts';
import { createDirectTransport } from '../../../lib/transport/node-http.ts';
import type { HttpResponse, Transport } from '../../../lib/transport/types.ts';
import { RouterOsSimulator, type RouterOsSimulatorOptions } from './server.ts';

const USER = 'relay';
const PASSWORD = 'relay-password';
const V4 = '/rest/ip/firewall/address-list';
const V6 = '/rest/ipv6/firewall/address-list';

let sim: RouterOsSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: RouterOsSimulatorOptions = {}): Promise<RouterOsSimulator> {
  sim = await RouterOsSimulator.start({ username: USER, password: PASSWORD, ...options });
  return sim;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  json: unknown;
  text: string;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  options: { password?: string; transport?: Transport; timeoutMs?: number } = {},
): Promise<Answer> {
  const response: HttpResponse = await (options.transport ?? createDirectTransport()).request({
    method,
    url: `${sim!.origin}${path}`,
    headers: {
      Authorization: `Basic ${Buffer.from(`${USER}:${options.password ?? PASSWORD}`).toString('base64')}`,
      'Content-Type': 'application/json',
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    timeoutMs: options.timeoutMs ?? 5_000,
  });
  const text = Buffer.from(response.body).toString('utf8');
  return { status: response.status, headers: response.headers, text, json: text === '' ? undefined : JSON.parse(text) };
}

function execute(script: string, asString = true): Promise<Answer> {
  return call('POST', '/rest/execute', asString ? { script, 'as-string': '' } : { script });
}

describe('RouterOS simulator: authentication', () => {
  it('answers a wrong password with the documented 401 body and counts the failed login', async () => {
    // Prepare
    await start();

    // Act
    const answer = await call('GET', V4, undefined, { password: 'wrong' });

    // Assess
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual({ error: 401, message: 'Unauthorized' });
    expect(answer.headers['www-authenticate']).toMatch(/^Basic /);
    expect(sim!.device.failedLogins).toBe(1);
    expect(sim!.device.counters.unauthorized).toBe(1);
  });
});

describe('RouterOS simulator: address-list REST', () => {
  it('creates an entry with PUT and prints every value as a string with a *hex .id', async () => {
    // Prepare
    await start();

    // Act
    const created = await call('PUT', V4, { list: 'blk', address: '198.51.100.7', timeout: '1h', comment: 'tag' });
    const listed = await call('GET', `${V4}?list=blk`);

    // Assess
    expect(created.status).toBe(201);
    const entry = created.json as Record<string, unknown>;
    expect(entry['.id']).toMatch(/^\*[0-9A-F]+$/);
    expect(entry).toMatchObject({ list: 'blk', address: '198.51.100.7', timeout: '1h', dynamic: 'true', disabled: 'false', comment: 'tag' });
    for (const value of Object.values(entry)) expect(typeof value).toBe('string');
    expect(listed.json).toEqual([entry]);
  });

  it('refuses a duplicate list + address with "failure: already have such entry"', async () => {
    // Prepare
    await start();
    await call('PUT', V4, { list: 'blk', address: '198.51.100.7' });

    // Act
    const again = await call('PUT', V4, { list: 'blk', address: '198.51.100.7', comment: 'other' });

    // Assess
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ error: 400, message: 'Bad Request', detail: 'failure: already have such entry' });
  });

  it('filters GET by equality and trims properties with .proplist; IPv6 addresses print with /128', async () => {
    // Prepare
    await start();
    await call('PUT', V6, { list: 'blk', address: '2001:DB8:0::7', comment: 'tag' });
    await call('PUT', V6, { list: 'blk', address: '2001:db8::8', comment: 'else' });
    await call('PUT', V6, { list: 'other', address: '2001:db8::9', comment: 'tag' });

    // Act
    const answer = await call('GET', `${V6}?list=blk&comment=tag&.proplist=address,comment`);

    // Assess
    expect(answer.json).toEqual([{ address: '2001:db8::7/128', comment: 'tag' }]);
  });

  it('deletes by .id with an empty 204 and answers a second delete with 404', async () => {
    // Prepare
    await start();
    const id = ((await call('PUT', V4, { list: 'blk', address: '192.0.2.1' })).json as Record<string, string>)['.id']!;

    // Act
    const first = await call('DELETE', `${V4}/${id}`);
    const second = await call('DELETE', `${V4}/${id}`);

    // Assess
    expect(first.status).toBe(204);
    expect(first.text).toBe('');
    expect(second.status).toBe(404);
    expect(second.json).toEqual({ error: 404, message: 'Not Found' });
  });

  it('changes the timeout with PATCH and reads one entry with GET', async () => {
    // Prepare
    await start();
    const id = ((await call('PUT', V4, { list: 'blk', address: '192.0.2.1', timeout: '1m' })).json as Record<string, string>)['.id']!;

    // Act
    await call('PATCH', `${V4}/${id}`, { timeout: '2h' });
    const one = await call('GET', `${V4}/${id}`);

    // Assess
    expect((one.json as Record<string, string>).timeout).toBe('2h');
  });

  it('supports the print, add and remove commands', async () => {
    // Prepare
    await start();
    const a = ((await call('POST', `${V4}/add`, { list: 'blk', address: '192.0.2.1', comment: 'x' })).json as { ret: string }).ret;
    const b = ((await call('POST', `${V4}/add`, { list: 'blk', address: '192.0.2.2', comment: 'y' })).json as { ret: string }).ret;
    await call('POST', `${V4}/add`, { list: 'blk', address: '192.0.2.3', comment: 'z' });

    // Act
    const printed = await call('POST', `${V4}/print`, { '.proplist': ['address'], '.query': ['comment=x', 'comment=y', '#|'] });
    const removed = await call('POST', `${V4}/remove`, { '.id': `${a},${b}` });

    // Assess
    expect(a).toMatch(/^\*[0-9A-F]+$/);
    expect(printed.json).toEqual([{ address: '192.0.2.1' }, { address: '192.0.2.2' }]);
    expect(removed.json).toEqual([]);
    expect(sim!.device.entries(4).map((entry) => entry.address)).toEqual(['192.0.2.3']);
  });
});

describe('RouterOS simulator: /execute', () => {
  it('returns what the script printed with as-string, and a job id without it', async () => {
    // Prepare
    await start();

    // Act
    const synchronous = await execute(':put "hello"');
    const background = await execute(':put "hello"', false);

    // Assess
    expect(synchronous.json).toEqual({ ret: 'hello\r\n' });
    expect((background.json as { ret: string }).ret).toMatch(/^\*[0-9A-F]+$/);
  });

  it('runs wrapped adds, reports a duplicate through on-error, and removes and sets through find where', async () => {
    // Prepare
    await start();
    const script = [
      ':do {/ip/firewall/address-list/add list="blk" address="192.0.2.1" timeout=1h comment="tag";:put "ok 0"} on-error={:put "err 0"}',
      ':do {/ip/firewall/address-list/add list="blk" address="192.0.2.1" timeout=1h comment="tag";:put "ok 1"} on-error={:put "err 1"}',
      ':do {/ipv6/firewall/address-list/add list="blk" address="2001:db8::1" timeout=1h comment="tag";:put "ok 2"} on-error={:put "err 2"}',
      ':do {/ip/firewall/address-list/add list="blk" address="192.0.2.9" timeout=1h comment="keep";:put "ok 3"} on-error={:put "err 3"}',
      ':do {/ip/firewall/address-list/set [find where list="blk" and address="192.0.2.9" and comment="keep"] timeout=2h;:put "ok 4"} on-error={:put "err 4"}',
      ':do {/ip/firewall/address-list/remove [find where list="blk" and address="192.0.2.1" and comment="tag"];:put "ok 5"} on-error={:put "err 5"}',
      ':put "done 6"',
    ].join('\n');

    // Act
    const answer = await execute(script);

    // Assess
    expect(answer.json).toEqual({ ret: 'ok 0\r\nerr 1\r\nok 2\r\nok 3\r\nok 4\r\nok 5\r\ndone 6\r\n' });
    expect(sim!.device.entries(4).map((entry) => [entry.address, entry.timeout])).toEqual([['192.0.2.9', '2h']]);
    expect(sim!.device.entries(6).map((entry) => entry.address)).toEqual(['2001:db8::1/128']);
  });

  it('aborts the script at a failing command outside :do and answers 400 with the reason', async () => {
    // Prepare
    await start();
    sim!.device.seed(4, { list: 'blk', address: '192.0.2.1' });

    // Act
    const answer = await execute('/ip/firewall/address-list/add list="blk" address="192.0.2.1"\n:put "after"');

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: 400, message: 'Bad Request', detail: 'failure: already have such entry' });
  });

  it.each([
    ['another menu', '/system/reset', /^bad command name reset \(line 2 column 1\)$/],
    ['a variable', ':local x "1.2.3.4"', /^bad command name local/],
    ['variable substitution', '/ip/firewall/address-list/add list=$l address="1.2.3.4"', /^syntax error/],
    ['command substitution in a string', ':put "[/system/reset]"', /^syntax error/],
    ['an escape in a string', ':put "a\\"b"', /^syntax error/],
    ['a newline inside a string', ':put "a\nb"', /^syntax error/],
    ['$( ) in a value', ':put $(x)', /^syntax error/],
    ['a command after a value', ':put "ok" /system/reset', /^expected end of command/],
    ['an unknown argument', '/ip/firewall/address-list/add list="blk" address="1.2.3.4" place-before=0', /^expected end of command/],
    ['find without where', '/ip/firewall/address-list/remove [find list="blk"]', /^syntax error/],
    ['an unclosed block', ':do {:put "x"', /^syntax error/],
  ])('rejects %s before running anything', async (_name, script, detail) => {
    // Prepare
    await start();
    const before = sim!.device.entries(4).length;

    // Act
    const answer = await execute(`/ip/firewall/address-list/add list="blk" address="192.0.2.50"\n${script}`);

    // Assess
    expect(answer.status).toBe(400);
    expect((answer.json as { detail: string }).detail).toMatch(detail);
    expect(sim!.device.rejections).toHaveLength(1);
    expect(sim!.device.entries(4)).toHaveLength(before);
  });

  it('answers "not enough permissions (9)" when the user may not run scripts', async () => {
    // Prepare
    await start();
    sim!.device.forbidExecute = true;

    // Act
    const answer = await execute(':put "x"');

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: 400, message: 'Bad Request', detail: 'not enough permissions (9)' });
  });

  it('closes the session after 60 simulated seconds and keeps what ran before', async () => {
    // Prepare
    await start({ cost: { entryMs: 25_000 } });
    const lines = [1, 2, 3, 4].map((n) => `/ip/firewall/address-list/add list="blk" address="192.0.2.${n}"`);
    const started = sim!.device.now();

    // Act
    const answer = await execute(lines.join('\n'));

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ detail: 'Session closed', error: 400, message: 'Bad Request' });
    expect(sim!.device.entries(4)).toHaveLength(2);
    expect(sim!.device.now() - started).toBe(60_000);
  });
});

describe('RouterOS simulator: dynamic entries', () => {
  it('expires an entry when its timeout passes on the simulated clock', async () => {
    // Prepare
    await start();
    sim!.device.seed(4, { list: 'blk', address: '192.0.2.1', timeout: '10s' });
    sim!.device.seed(4, { list: 'blk', address: '192.0.2.2', timeout: '1m' });

    // Act
    sim!.device.advance(30_000);
    const listed = await call('GET', `${V4}?.proplist=address,timeout`);

    // Assess
    expect(listed.json).toEqual([{ address: '192.0.2.2', timeout: '30s' }]);
  });

  it('drops entries with a timeout on reboot and keeps static ones', async () => {
    // Prepare
    await start();
    sim!.device.seed(4, { list: 'blk', address: '192.0.2.1', timeout: '1d' });
    sim!.device.seed(6, { list: 'blk', address: '2001:db8::1', timeout: '1d' });
    sim!.device.seed(4, { list: 'blk', address: '192.0.2.2' });

    // Act
    const dropped = sim!.device.reboot();

    // Assess
    expect(dropped).toBe(2);
    expect(sim!.device.entries(4).map((entry) => [entry.address, entry.dynamic])).toEqual([['192.0.2.2', 'false']]);
    expect(sim!.device.entries(6)).toEqual([]);
  });
});

describe('RouterOS simulator: serving and cost', () => {
  it('serves concurrent requests one at a time', async () => {
    // Prepare
    await start({ cost: { requestMs: 40 }, realDelayFactor: 1 });
    const startedAt = performance.now();

    // Act
    await Promise.all([1, 2, 3].map(() => call('GET', V4)));

    // Assess
    expect(sim!.maxConcurrent).toBe(1);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(115);
  });

  it('charges request, entry and read costs to the virtual clock and counts requests by kind', async () => {
    // Prepare
    await start({ cost: { requestMs: 35, entryMs: 1, readEntryMs: 0.5 } });
    const script = [1, 2, 3]
      .map((n) => `:do {/ip/firewall/address-list/add list="blk" address="192.0.2.${n}" timeout=1h comment="t"} on-error={:put "err"}`)
      .join('\n');

    // Act
    await execute(script);
    await call('PUT', V4, { list: 'blk', address: '192.0.2.4' });
    await call('GET', `${V4}?list=blk`);

    // Assess
    expect(sim!.device.now()).toBeCloseTo(35 + 3 + 35 + 1 + 35 + 4 * 0.5, 6);
    expect(sim!.device.counters).toMatchObject({ execute: 1, put: 1, list: 1 });
    expect(sim!.device.totalRequests).toBe(3);
  });
});

describe('RouterOS simulator: device down', () => {
  it('refuses connections while down and serves again when back up', async () => {
    // Prepare
    await start();
    await sim!.setDown('refused');

    // Act
    const refused = call('GET', V4);
    await expect(refused).rejects.toBeInstanceOf(TransportConnectionError);
    await sim!.setDown(false);
    const back = await call('GET', V4);

    // Assess
    await expect(refused).rejects.toMatchObject({ systemCode: 'ECONNREFUSED' });
    expect(back.status).toBe(200);
  });

  it('answers 503 while unavailable', async () => {
    // Prepare
    await start();
    await sim!.setDown('unavailable');

    // Act
    const answer = await call('GET', V4);

    // Assess
    expect(answer.status).toBe(503);
    expect(answer.json).toEqual({ error: 503, message: 'Service Unavailable' });
  });

  it('accepts and never answers while hanging, so the client times out', async () => {
    // Prepare
    await start();
    await sim!.setDown('hang');

    // Act
    const hung = call('GET', V4, undefined, { timeoutMs: 200 });

    // Assess
    await expect(hung).rejects.toBeInstanceOf(TransportTimeoutError);
  });

  it('behaves the same through the in-process transport', async () => {
    // Prepare
    await start();
    const transport = sim!.transport();
    await sim!.setDown('refused');

    // Act
    const refused = call('GET', V4, undefined, { transport });

    // Assess
    await expect(refused).rejects.toMatchObject({ systemCode: 'ECONNREFUSED' });
  });
});

describe('RouterOS simulator: IPv6 host form', () => {
  it.each([
    ['prefix128', '2001:db8::7/128'],
    ['bare', '2001:db8::7'],
  ] as const)('prints an IPv6 host as %s and keeps wider prefixes with their length', async (ipv6HostForm, printed) => {
    // Prepare
    await start({ ipv6HostForm });

    // Act
    await call('PUT', V6, { list: 'blk', address: '2001:DB8:0::7' });
    await call('PUT', V6, { list: 'blk', address: '2001:db8:1::/64' });
    const listed = await call('GET', `${V6}?.proplist=address`);

    // Assess
    expect(listed.json).toEqual([{ address: printed }, { address: '2001:db8:1::/64' }]);
  });

  it.each([
    ['prefix128', '2001:db8::7/128', '2001:db8::7'],
    ['bare', '2001:db8::7', '2001:db8::7/128'],
  ] as const)('finds a %s entry only by its printed text, in GET filters and in [find where]', async (ipv6HostForm, printed, other) => {
    // Prepare
    await start({ ipv6HostForm });
    sim!.device.adminAdd(6, { list: 'blk', address: '2001:db8::7', comment: 'tag' });
    const remove = (address: string) =>
      `:do {/ipv6/firewall/address-list/remove [find where list="blk" and address="${address}" and comment="tag"];:put "ok 0"} on-error={:put "err 0"}`;

    // Act
    const byOther = await call('GET', `${V6}?${new URLSearchParams({ address: other }).toString()}`);
    const byUpperCase = await call('GET', `${V6}?${new URLSearchParams({ address: printed.toUpperCase() }).toString()}`);
    const byPrinted = await call('GET', `${V6}?${new URLSearchParams({ address: printed }).toString()}`);
    await execute(remove(other));
    const afterOther = sim!.device.entries(6).length;
    await execute(remove(printed));

    // Assess
    expect(byOther.json).toEqual([]);
    expect(byUpperCase.json).toEqual([]);
    expect(byPrinted.json).toEqual([expect.objectContaining({ address: printed })]);
    expect(afterOther).toBe(1);
    expect(sim!.device.entries(6)).toEqual([]);
  });

  it('refuses the same IPv6 host in the other form as "already have such entry"', async () => {
    // Prepare
    await start({ ipv6HostForm: 'bare' });
    await call('PUT', V6, { list: 'blk', address: '2001:db8::7/128' });

    // Act
    const again = await call('PUT', V6, { list: 'blk', address: '2001:db8::7' });

    // Assess
    expect(again.json).toEqual({ error: 400, message: 'Bad Request', detail: 'failure: already have such entry' });
    expect(sim!.device.duplicateWrites).toBe(1);
  });
});

describe('RouterOS simulator: flags for what a careful client must not do', () => {
  it('counts an add of an address already in the list, over PUT, the add command and in a script', async () => {
    // Prepare
    await start();
    sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.1', comment: 'admin' });

    // Act
    await call('PUT', V4, { list: 'blk', address: '192.0.2.1' });
    await call('POST', `${V4}/add`, { list: 'blk', address: '192.0.2.1', comment: 'x' });
    await execute(':do {/ip/firewall/address-list/add list="blk" address="192.0.2.1" timeout=1h comment="flowtriq-relay";:put "ok 0"} on-error={:put "err 0"}');

    // Assess
    expect(sim!.device.duplicateWrites).toBe(3);
    expect(sim!.device.duplicateLog.map((entry) => entry.reason)).toEqual(['already-in-list', 'already-in-list', 'already-in-list']);
  });

  it('counts a write byte-identical to one served within the window, but not reads, health probes or other writes', async () => {
    // Prepare
    await start();
    const script = ':do {/ip/firewall/address-list/remove [find where list="blk" and address="192.0.2.1" and comment="t"];:put "ok 0"} on-error={:put "err 0"}';

    // Act
    await execute(script);
    await execute(script);
    await execute(':put "relay-health-ok"');
    await execute(':put "relay-health-ok"');
    await call('GET', V4);
    await call('GET', V4);
    await execute(script.replace('192.0.2.1', '192.0.2.2'));

    // Assess
    expect(sim!.device.duplicateWrites).toBe(1);
    expect(sim!.device.duplicateLog).toEqual([{ reason: 'repeated', detail: expect.stringMatching(/^POST \/rest\/execute identical to one served/) }]);
  });

  it('does not count the same write once the window has passed', async () => {
    // Prepare
    await start({ duplicateWindowMs: 20 });
    const script = ':do {/ip/firewall/address-list/remove [find where list="blk" and address="192.0.2.1" and comment="t"];:put "ok 0"} on-error={:put "err 0"}';
    await execute(script);

    // Act
    await new Promise((resolve) => setTimeout(resolve, 40));
    await execute(script);

    // Assess
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it('counts a write that arrives while an identical one is still in flight, once', async () => {
    // Prepare
    await start({ cost: { requestMs: 50 }, realDelayFactor: 1 });
    const script = ':do {/ip/firewall/address-list/add list="blk" address="192.0.2.1" timeout=1h comment="t";:put "ok 0"} on-error={:put "err 0"}';

    // Act
    const answers = await Promise.all([execute(script), execute(script)]);

    // Assess
    expect(answers.map((answer) => (answer.json as { ret: string }).ret)).toEqual(['ok 0\r\n', 'err 0\r\n']);
    expect(sim!.device.duplicateLog.map((entry) => entry.reason)).toEqual(['in-flight', 'already-in-list']);
    expect(sim!.device.duplicateWrites).toBe(2);
  });

  it('counts every removal or change of an entry without the relay\'s comment, by any route', async () => {
    // Prepare
    await start();
    const a = sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.1', comment: 'admin' });
    const b = sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.2' });
    sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.3', comment: 'admin' });
    sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.4', comment: 'flowtriq-relay' });
    const id = (entry: { id: number }) => `*${entry.id.toString(16).toUpperCase()}`;

    // Act
    await call('PATCH', `${V4}/${id(a)}`, { timeout: '1h' });
    await call('DELETE', `${V4}/${id(b)}`);
    await execute(':do {/ip/firewall/address-list/remove [find where list="blk" and address="192.0.2.3"];:put "ok 0"} on-error={:put "err 0"}');
    await execute(':do {/ip/firewall/address-list/remove [find where list="blk" and address="192.0.2.4" and comment="flowtriq-relay"];:put "ok 0"} on-error={:put "err 0"}');

    // Assess
    expect(sim!.device.foreignTouched).toBe(3);
    expect(sim!.device.foreignLog).toEqual([
      { action: 'set', family: 4, address: '192.0.2.1', comment: 'admin' },
      { action: 'remove', family: 4, address: '192.0.2.2' },
      { action: 'remove', family: 4, address: '192.0.2.3', comment: 'admin' },
    ]);
  });

  it('never flags the operator\'s own changes, timeouts or reboots', async () => {
    // Prepare
    await start();
    sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.1', comment: 'admin', timeout: '10s' });
    sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.2', comment: 'admin' });
    sim!.device.adminAdd(6, { list: 'blk', address: '2001:db8::3', timeout: '1h' });

    // Act
    sim!.device.advance(11_000);
    const removed = sim!.device.adminRemove(4, '192.0.2.2', 'blk');
    sim!.device.reboot();
    let refused = false;
    try {
      sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.9' });
      sim!.device.adminAdd(4, { list: 'blk', address: '192.0.2.9' });
    } catch {
      refused = true;
    }

    // Assess
    expect(removed).toBe(1);
    expect(refused).toBe(true);
    expect(sim!.device.entries(4).map((entry) => entry.address)).toEqual(['192.0.2.9']);
    expect(sim!.device.entries(6)).toEqual([]);
    expect(sim!.device.foreignTouched).toBe(0);
    expect(sim!.device.duplicateWrites).toBe(0);
  });

  it('removes as the operator by any spelling of the address, only on the given list', async () => {
    // Prepare
    await start();
    sim!.device.adminAdd(6, { list: 'blk', address: '2001:db8::5' });
    sim!.device.adminAdd(6, { list: 'keep', address: '2001:db8::5' });

    // Act
    const removed = sim!.device.adminRemove(6, '2001:DB8:0:0:0:0:0:5', 'blk');

    // Assess
    expect(removed).toBe(1);
    expect(sim!.device.entries(6).map((entry) => entry.list)).toEqual(['keep']);
  });
});

describe('RouterOS simulator: fixed port for a one-box relay', () => {
  it('listens on the port it is given, on 127.0.0.1', async () => {
    // Prepare
    const probe = await start();
    const port = Number(new URL(probe.origin).port);
    await probe.close();

    // Act
    sim = await RouterOsSimulator.start({ username: USER, password: PASSWORD, port });
    const answer = await call('GET', V4);

    // Assess
    expect(sim.origin).toBe(`http://127.0.0.1:${port}`);
    expect(answer.status).toBe(200);
  });
});
