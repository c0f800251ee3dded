import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../helpers/clock.ts';
import { ABUSEIPDB_SIM_BASE, AUTH_FAILED, AbuseipdbSimulator, DEFAULT_KEY, isPublicAddress, parseCsv } from './api.ts';

const HEADERS = { Key: DEFAULT_KEY, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' };

function setup(options: { burst?: { max: number; windowMs: number } } = {}) {
  const clock = new ManualClock();
  const sim = new AbuseipdbSimulator({ now: clock.now, ...options });
  const report = (fields: Record<string, string>, headers: Record<string, string> = HEADERS, query = '') =>
    sim.handle({ method: 'POST', url: `${ABUSEIPDB_SIM_BASE}/report${query}`, headers, body: new URLSearchParams(fields).toString(), timeoutMs: 1000 });
  const bulk = (csv: string) => {
    const boundary = 'b0undary';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="csv"; filename="report.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`;
    return sim.handle({
      method: 'POST',
      url: `${ABUSEIPDB_SIM_BASE}/bulk-report`,
      headers: { Key: DEFAULT_KEY, Accept: 'application/json', 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      body,
      timeoutMs: 1000,
    });
  };
  const body = (response: { body: Uint8Array }) => JSON.parse(Buffer.from(response.body).toString('utf8'));
  return { clock, sim, report, bulk, body };
}

describe('AbuseIPDB simulator', () => {
  it('saves a report, answers the data envelope with X-RateLimit headers, and refuses the same address for 15 minutes', () => {
    // Prepare
    const { clock, sim, report, body } = setup();

    // Act
    const first = report({ ip: '45.9.1.1', categories: '4', comment: 'ddos' });
    clock.advance(14 * 60_000);
    const again = report({ ip: '45.9.1.1', categories: '4' });
    clock.advance(60_000);
    const later = report({ ip: '45.9.1.1', categories: '4' });

    // Assess
    expect(first.status).toBe(200);
    expect(body(first)).toEqual({ data: { ipAddress: '45.9.1.1', abuseConfidenceScore: 10 } });
    expect(first.headers['x-ratelimit-limit']).toBe('1000');
    expect(first.headers['x-ratelimit-remaining']).toBe('999');
    expect(again.status).toBe(429);
    expect(body(again).errors[0]).toEqual({
      detail: 'You can only report the same IP address (`45.9.1.1`) once in 15 minutes.',
      status: 429,
      source: { parameter: 'ip' },
    });
    expect(again.headers['retry-after']).toBeUndefined();
    expect(later.status).toBe(200);
    expect(sim.counters.sameIpWithin15Min).toBe(1);
    expect(sim.reportsOf('45.9.1.1')).toHaveLength(2);
  });

  it('does not count a repeat of an address another tool reported with the same key', () => {
    // Prepare
    const { sim, report } = setup();
    sim.reportedElsewhere('45.9.1.2');

    // Act
    const answer = report({ ip: '45.9.1.2', categories: '4' });

    // Assess
    expect(answer.status).toBe(429);
    expect(sim.counters.sameIpWithin15Min).toBe(0);
  });

  it('answers 429 with Retry-After, Remaining 0 and Reset once the daily quota is used, counts requests sent after being told, and resets at midnight UTC', () => {
    // Prepare
    const { clock, sim, report, body } = setup();
    sim.setUsage('report', 999);

    // Act
    const last = report({ ip: '45.9.2.1', categories: '4' });
    const refused = report({ ip: '45.9.2.2', categories: '4' });
    clock.set(Date.parse('2026-01-02T00:00:00Z'));
    const nextDay = report({ ip: '45.9.2.3', categories: '4' });

    // Assess
    expect(last.status).toBe(200);
    expect(last.headers['x-ratelimit-remaining']).toBe('0');
    expect(refused.status).toBe(429);
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    expect(refused.headers['retry-after']).toBe(String(24 * 3600));
    expect(refused.headers['x-ratelimit-reset']).toBe(String(Date.parse('2026-01-02T00:00:00Z') / 1000));
    expect(body(refused).errors[0].detail).toMatch(/Daily rate limit of 1000 requests exceeded/);
    expect(sim.counters.afterQuotaExhausted).toBe(1);
    expect(nextDay.status).toBe(200);
  });

  it('answers a short-term limit with Retry-After while quota remains', () => {
    // Prepare
    const { report } = setup({ burst: { max: 1, windowMs: 60_000 } });
    report({ ip: '45.9.3.1', categories: '4' });

    // Act
    const limited = report({ ip: '45.9.3.2', categories: '4' });

    // Assess
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
    expect(Number(limited.headers['x-ratelimit-remaining'])).toBeGreaterThan(0);
  });

  it('refuses invalid input with 422 JSON:API errors naming the parameter', () => {
    // Prepare
    const { report, body, sim } = setup();

    // Act
    const badIp = report({ ip: '01.2.3.4x', categories: '4' });
    const noCategories = report({ ip: '45.9.4.1' });
    const badCategory = report({ ip: '45.9.4.1', categories: '4,99' });
    const future = report({ ip: '45.9.4.1', categories: '4', timestamp: '2027-01-01T00:00:00+00:00' });
    const privateIp = report({ ip: '10.1.2.3', categories: '4' });
    const reservedV6 = report({ ip: 'fd00::1', categories: '4' });

    // Assess
    expect(badIp.status).toBe(422);
    expect(body(badIp).errors[0].source).toEqual({ parameter: 'ip' });
    expect(body(noCategories).errors[0]).toMatchObject({ detail: 'The categories field is required.', source: { parameter: 'categories' } });
    expect(body(badCategory).errors[0].source).toEqual({ parameter: 'categories' });
    expect(body(future).errors[0].source).toEqual({ parameter: 'timestamp' });
    expect(privateIp.status).toBe(422);
    expect(reservedV6.status).toBe(422);
    expect(sim.counters.privateAddressReports).toBe(2);
    expect(sim.reports).toHaveLength(0);
  });

  it('truncates comments over 1,024 characters and counts comments that contain a watched private string', () => {
    // Prepare
    const { report, sim } = setup();
    sim.watchPrivate('fra-edge-01');

    // Act
    report({ ip: '45.9.5.1', categories: '4', comment: 'x'.repeat(1500) });
    report({ ip: '45.9.5.2', categories: '4', comment: 'seen on FRA-EDGE-01' });

    // Assess
    expect(sim.reportsOf('45.9.5.1')[0]!.comment).toHaveLength(1024);
    expect(sim.counters.commentsTruncated).toBe(1);
    expect(sim.counters.privateInComments).toBe(1);
  });

  it('answers 401 with the documented detail to a missing key and counts a key sent in the query', () => {
    // Prepare
    const { report, body, sim } = setup();

    // Act
    const missing = report({ ip: '45.9.6.1', categories: '4' }, { Accept: 'application/json' });
    const inQuery = report({ ip: '45.9.6.1', categories: '4' }, { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' }, `?key=${DEFAULT_KEY}`);

    // Assess
    expect(missing.status).toBe(401);
    expect(body(missing)).toEqual({ errors: [{ detail: AUTH_FAILED, status: 401 }] });
    expect(inQuery.status).toBe(200);
    expect(sim.counters.keyInQuery).toBe(1);
  });

  it('parses a bulk CSV, saves valid rows and lists the others in invalidReports by row', () => {
    // Prepare
    const { bulk, body, sim } = setup();
    sim.reportedElsewhere('45.9.7.4');
    const csv = [
      'IP,Categories,ReportDate,Comment',
      '45.9.7.1,"4,14",2025-12-31T23:00:00+00:00,"vector: udp, ""big"""',
      '127.0.foo.bar,4,2025-12-31T23:00:00+00:00,x',
      '45.9.7.2,99,2025-12-31T23:00:00+00:00,x',
      '45.9.7.1,4,2025-12-31T23:00:00+00:00,x',
      '45.9.7.4,4,2025-12-31T23:00:00+00:00,x',
      '192.168.1.1,4,2025-12-31T23:00:00+00:00,x',
    ].join('\r\n');

    // Act
    const answer = bulk(csv);

    // Assess
    expect(answer.status).toBe(200);
    expect(body(answer).data.savedReports).toBe(1);
    expect(body(answer).data.invalidReports).toEqual([
      { error: 'Invalid IP', input: '127.0.foo.bar', rowNumber: 3 },
      { error: 'Invalid Category', input: '45.9.7.2', rowNumber: 4 },
      { error: 'Duplicate IP', input: '45.9.7.1', rowNumber: 5 },
      { error: 'Duplicate IP', input: '45.9.7.4', rowNumber: 6 },
      { error: 'Invalid IP', input: '192.168.1.1', rowNumber: 7 },
    ]);
    expect(sim.reportsOf('45.9.7.1')[0]).toMatchObject({ categories: [4, 14], comment: 'vector: udp, "big"', via: 'bulk-report' });
    expect(sim.counters.privateAddressReports).toBe(1);
    expect(sim.usage('bulk-report')).toBe(1);
  });

  it('refuses a bulk upload without the csv field or the header line', () => {
    // Prepare
    const { bulk, sim, body } = setup();

    // Act
    const noHeader = bulk('45.9.8.1,4,2025-12-31T23:00:00+00:00,x');
    const noField = sim.handle({
      method: 'POST',
      url: `${ABUSEIPDB_SIM_BASE}/bulk-report`,
      headers: { Key: DEFAULT_KEY, Accept: 'application/json', 'Content-Type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc\r\n--x--\r\n',
      timeoutMs: 1000,
    });

    // Assess
    expect(noHeader.status).toBe(422);
    expect(body(noField).errors[0].source).toEqual({ parameter: 'csv' });
  });

  it('answers GET /check with the data envelope', () => {
    // Prepare
    const { sim, body } = setup();

    // Act
    const answer = sim.handle({ method: 'GET', url: `${ABUSEIPDB_SIM_BASE}/check?ipAddress=127.0.0.1`, headers: { Key: DEFAULT_KEY, Accept: 'application/json' }, timeoutMs: 1000 });

    // Assess
    expect(answer.status).toBe(200);
    expect(body(answer).data).toMatchObject({ ipAddress: '127.0.0.1', isPublic: false, ipVersion: 4 });
    expect(sim.usage('check')).toBe(1);
  });

  it('tells public addresses from reserved ones and parses quoted CSV', () => {
    // Assess
    expect(isPublicAddress('45.9.1.1')).toBe(true);
    expect(isPublicAddress('2a01:4f8::1')).toBe(true);
    expect(isPublicAddress('100.64.1.1')).toBe(false);
    expect(isPublicAddress('::ffff:45.9.1.1')).toBe(false);
    expect(isPublicAddress('4000::1')).toBe(false);
    expect(parseCsv('a,"b,""c"""\nd,e')).toEqual([['a', 'b,"c"'], ['d', 'e']]);
  });
});
