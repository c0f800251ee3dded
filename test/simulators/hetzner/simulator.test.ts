import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../helpers/clock.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, HetznerRobotSimulator, ROBOT_ORIGIN } from './robot.ts';

const auth = `Basic ${Buffer.from(`${DEFAULT_USERNAME}:${DEFAULT_PASSWORD}`).toString('base64')}`;
const FORM = { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' };

function setup(options: { applyDelayMs?: number; maxRequests?: number } = {}) {
  const clock = new ManualClock();
  const sim = new HetznerRobotSimulator({ now: clock.now, ...options });
  sim.addServer(1001);
  const post = (body: string, headers: Record<string, string> = FORM) =>
    sim.handle({ method: 'POST', url: `${ROBOT_ORIGIN}/firewall/1001`, headers, body, timeoutMs: 1000 });
  const get = () => sim.handle({ method: 'GET', url: `${ROBOT_ORIGIN}/firewall/1001`, headers: { Authorization: auth }, timeoutMs: 1000 });
  const body = (response: { body: Uint8Array }) => JSON.parse(Buffer.from(response.body).toString('utf8'));
  return { clock, sim, post, get, body };
}

const BASE = 'status=active&filter_ipv6=false&whitelist_hos=true';

describe('Hetzner Robot simulator', () => {
  it('replaces the whole configuration, reports "in process" for applyDelayMs, then the new status', () => {
    // Prepare
    const { clock, sim, post, get, body } = setup({ applyDelayMs: 30_000 });

    // Act
    const posted = post(`${BASE}&rules[input][0][ip_version]=ipv4&rules[input][0][src_ip]=192.0.2.1&rules[input][0][action]=accept`);
    const during = body(get());
    clock.advance(30_000);
    const after = body(get());

    // Assess
    expect(posted.status).toBe(200);
    expect(during.firewall.status).toBe('in process');
    expect(after.firewall.status).toBe('active');
    expect(after.firewall.rules.input[0]).toMatchObject({ src_ip: '192.0.2.1/32', dst_port: null, action: 'accept' });
    expect(after.firewall.rules.output).toEqual([]);
    expect(sim.read(1001)).toEqual(after.firewall);
  });

  it('answers 409 FIREWALL_IN_PROCESS to a post while in process, and counts it', () => {
    // Prepare
    const { post, sim, body } = setup();
    post(BASE);

    // Act
    const second = post(BASE);

    // Assess
    expect(second.status).toBe(409);
    expect(body(second).error.code).toBe('FIREWALL_IN_PROCESS');
    expect(sim.counters.postsWhileInProcess).toBe(1);
  });

  it('rejects percent-encoded brackets, unknown fields, gaps and missing scalars as INVALID_INPUT', () => {
    // Prepare
    const { post, sim, body } = setup();

    // Act
    const encoded = body(post(`${BASE}&rules%5Binput%5D%5B0%5D%5Baction%5D=accept`));
    const unknown = body(post(`${BASE}&rules[input][0][comment]=x&rules[input][0][action]=accept`));
    const gap = body(post(`${BASE}&rules[input][1][action]=accept`));
    const missing = body(post('status=active'));

    // Assess
    expect(encoded.error).toMatchObject({ status: 400, code: 'INVALID_INPUT', invalid: ['rules%5Binput%5D%5B0%5D%5Baction%5D'] });
    expect(unknown.error.invalid).toEqual(['rules[input][0][comment]']);
    expect(gap.error.invalid).toEqual(['rules[input][1]']);
    expect(missing.error.missing).toEqual(['filter_ipv6', 'whitelist_hos']);
    expect(sim.counters.malformedForms).toBe(4);
    expect(sim.posts).toHaveLength(0);
  });

  it('refuses more than 10 input rules with 409 FIREWALL_RULE_LIMIT_EXCEEDED', () => {
    // Prepare
    const { post, body } = setup();
    const rules = Array.from({ length: 11 }, (_, i) => `rules[input][${i}][action]=accept`).join('&');

    // Act
    const response = post(`${BASE}&${rules}`);

    // Assess
    expect(response.status).toBe(409);
    expect(body(response).error.code).toBe('FIREWALL_RULE_LIMIT_EXCEEDED');
  });

  it('counts a post that changes nothing', () => {
    // Prepare
    const { post, sim, clock } = setup();
    post(BASE);
    clock.advance(60_000);

    // Act
    post(BASE);

    // Assess
    expect(sim.counters.unneededPosts).toBe(1);
  });

  it('answers the 501st request of the hour with 403 RATE_LIMIT_EXCEEDED', () => {
    // Prepare
    const { get, sim, body, clock } = setup({ maxRequests: 3 });
    get();
    get();
    get();

    // Act
    const limited = get();
    clock.advance(3_600_001);
    const later = get();

    // Assess
    expect(limited.status).toBe(403);
    expect(body(limited).error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', max_request: 3, interval: 3600 });
    expect(later.status).toBe(200);
    expect(sim.counters.requestsWhileRateLimited).toBe(1);
  });

  it('answers 401 to wrong credentials', () => {
    // Prepare
    const { post, body, sim } = setup();

    // Act
    const response = post(BASE, { ...FORM, Authorization: 'Basic d3Jvbmc6d3Jvbmc=' });

    // Assess
    expect(response.status).toBe(401);
    expect(body(response).error.code).toBe('UNAUTHORIZED');
    expect(sim.counters.authFailures).toBe(1);
  });
});
