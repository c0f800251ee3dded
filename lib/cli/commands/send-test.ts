/**
 * `relay send-test`: signs a sample attack_start with the relay's own
 * secret, posts it to the relay, waits, then posts its attack_end. It
 * succeeds only if both answer 202; any other answer, or no relay at the
 * address, is one line saying what happened and what to do.
 *
 * Address: --url, else --port (on server.host), else the relay started
 * from this storage directory (running.json), else server.host:server.port.
 * Secret: the one `relay start` uses; never made here.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../../config/load.ts';
import { encodeJobJson } from '../../engine/job.ts';
import { MAX_BODY_BYTES as INTAKE_MAX_BYTES, WEBHOOK_PATH } from '../../intake/ingest.ts';
import { MAX_BODY_BYTES as QUEUE_MAX_BYTES } from '../../queue/sqlite.ts';
import { signFlowtriq } from '../../signature/flowtriq.ts';
import { integerOption, portOption, secondsOption, urlOption, type OptionValues } from '../args.ts';
import type { CommandSpec, Io } from '../context.ts';
import { loadFor } from '../context.ts';
import { CliFailure, CliUsageError } from '../errors.ts';
import { readRunning, type RunningRecord } from '../running.ts';
import { sampleEvents } from '../sample-event.ts';
import { signingSecret } from '../webhook-secret.ts';

export const DEFAULT_IPS = 20;
const FETCH_TIMEOUT_MS = 30_000;

/** The most bytes an event may have: the intake's body limit, and the queue's limit on the job that wraps it. */
export function bodyLimit(): number {
  return Math.min(INTAKE_MAX_BYTES, QUEUE_MAX_BYTES);
}

/** Bytes the relay must accept for a sample attack_start of `ips` addresses (the queued job is the larger). */
export function sampleBytes(ips: number): number {
  const now = Date.parse('2025-01-01T00:00:00.000Z');
  const body = JSON.stringify(sampleEvents({ ips, now }).start);
  return Math.max(Buffer.byteLength(body), Buffer.byteLength(encodeJobJson(body, now, 'f'.repeat(64))));
}

/** The largest --ips whose signed sample body the relay accepts (under its 256 KiB limit). */
export function maxSampleIps(limit: number = bodyLimit()): number {
  let low = 1;
  let high = 1;
  while (sampleBytes(high * 2) <= limit) high *= 2;
  high *= 2;
  // Invariant: sampleBytes(low) fits, sampleBytes(high) does not.
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (sampleBytes(middle) <= limit) low = middle;
    else high = middle;
  }
  return low;
}

let cachedMax: number | undefined;
function maxIps(): number {
  cachedMax ??= maxSampleIps();
  return cachedMax;
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Where to post, and why there. */
export function targetUrl(values: OptionValues, loaded: LoadedConfig, running: RunningRecord | undefined): { url: string; from: string } {
  const url = urlOption(values, 'url');
  if (url) return { url, from: '--url' };
  const port = portOption(values);
  if (port !== undefined) return { url: `http://${hostForUrl(loaded.config.server.host)}:${port}${WEBHOOK_PATH}`, from: '--port' };
  if (running) return { url: running.webhookUrl, from: `the relay running from ${resolve(loaded.config.storage.dir)} (pid ${running.pid})` };
  return {
    url: `http://${hostForUrl(loaded.config.server.host)}:${loaded.config.server.port}${WEBHOOK_PATH}`,
    from: `server.host and server.port of ${loaded.file ?? 'the built-in defaults'}`,
  };
}

function unreachable(url: string, error: unknown): CliFailure {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (error as { code?: string }).code;
  const name = (error as { name?: string }).name;
  const fix = 'start one with `relay start` (from this directory, or with the same --config), or give its webhook URL with --url';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new CliFailure('relay_timeout', `the relay at ${url} did not answer within ${FETCH_TIMEOUT_MS / 1000} s; check that it is running (relay status) and not overloaded`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new CliFailure('relay_unreachable', `cannot resolve the host of ${url}; check --url, or server.host in the configuration`);
  }
  if (code === 'ECONNREFUSED') return new CliFailure('relay_unreachable', `no relay answers at ${url} (connection refused): ${fix}`);
  return new CliFailure('relay_unreachable', `no relay answers at ${url} (${code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))}): ${fix}`);
}

/** "code: message" of the relay's JSON error body, or the body's first line. */
function errorOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === 'string') {
      return `${typeof body.error.code === 'string' ? `${body.error.code}: ` : ''}${body.error.message}`;
    }
  } catch {
    // not JSON: fall through
  }
  const line = text.split('\n')[0]?.trim() ?? '';
  return line ? line.slice(0, 300) : '(empty body)';
}

async function run({ values, io }: { values: OptionValues; io: Io }): Promise<void> {
  const loaded = loadFor(values, io.env);
  const limit = maxIps();
  const ips = integerOption(values, 'ips', { min: 1, max: limit, fallback: DEFAULT_IPS, hint: `a larger sample does not fit the relay's ${bodyLimit() / 1024} KiB body limit` });
  const waitSeconds = secondsOption(values, 'wait', { max: 3600, fallback: 2 });
  const running = readRunning(loaded.config.storage.dir);
  const { url, from } = targetUrl(values, loaded, running);

  const live = loaded.config.integrations.filter((integration) => integration.enabled && integration.type !== 'dry-run');
  if (live.length > 0 && values.yes !== true) {
    throw new CliUsageError(
      `send-test would push sample IPs to real integrations (${live.map((i) => i.id).join(', ')}) and remove them moments later; re-run with --yes to confirm`,
    );
  }
  const secret = signingSecret(loaded, io.env);
  // A relay in insecure development mode (and no secret) takes unsigned events.
  if (!secret.ok && !(running?.insecure && values.url === undefined && values.port === undefined)) throw new CliUsageError(secret.fix);

  const events = sampleEvents({ ips, now: Date.now() });
  const post = async (label: string, body: string) => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(secret.ok ? { 'x-flowtriq-signature': signFlowtriq(secret.secret, body) } : {}) },
        body,
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch (error) {
      throw unreachable(url, error);
    }
    const text = await response.text();
    if (response.status === 202) {
      io.out(`${label}: HTTP 202 ${text}`);
      return;
    }
    let hint = '';
    if (response.status === 401 && /signature/.test(text)) {
      hint = `; send-test signed with ${secret.ok ? secret.source : 'no secret'}${running ? `, the relay verifies with ${running.secretSource}` : ''}: run send-test with the same FLOWTRIQ_WEBHOOK_SECRET (or --config) as the relay`;
    } else if (response.status === 413) {
      hint = '; lower --ips';
    } else if (response.status === 404) {
      hint = `; is this a relay's webhook URL (it ends in ${WEBHOOK_PATH})?`;
    }
    const after = label === 'attack_end' ? ' (the sample blocks stay until their TTL; remove them now with relay drain)' : '';
    throw new CliFailure('event_refused', `${label} to ${url}: HTTP ${response.status} ${errorOf(text)}${hint}${after}`);
  };

  io.out(`incident ${events.start.incident!.uuid}: ${ips} sample source IPs → ${url}  (address from ${from})`);
  if (ips > loaded.config.blocking.maxIpsPerIncident) {
    io.err(`note: the relay blocks at most blocking.maxIpsPerIncident (${loaded.config.blocking.maxIpsPerIncident}) addresses of one incident`);
  }
  await post('attack_start', JSON.stringify(events.start));
  if (values.keep === true) {
    io.out('--keep: no attack_end sent; the blocks stay until their TTL, relay drain, or an attack_end');
    return;
  }
  await delay(waitSeconds * 1000);
  await post('attack_end', JSON.stringify(events.end(Date.now())));
  io.out('done: both events accepted (HTTP 202); see the relay log, and `relay status`');
}

export const sendTestCommand: CommandSpec = {
  name: 'send-test',
  summary: 'sign and post a sample attack_start, then its attack_end, to a running relay',
  description:
    'Signs a sample attack_start with the secret the relay uses (webhook.secrets; with no config file, <storage.dir>/webhook-secret),\n' +
    'posts it, waits, then posts its attack_end. Succeeds only if the relay accepts both (HTTP 202).\n' +
    'Address: --url, else --port on server.host, else the relay started from this directory, else server.host:server.port.\n' +
    'With real (non-dry-run) integrations configured it asks for --yes: the sample IPs really are pushed, and removed moments later.',
  options: [
    { name: 'url', type: 'string', value: '<url>', description: 'the relay\'s webhook URL', default: 'the running relay\'s, else http://<server.host>:<server.port>/webhooks/flowtriq' },
    { name: 'port', type: 'string', value: '<n>', description: 'the port of a relay started with --port (on server.host)' },
    {
      name: 'ips',
      type: 'string',
      value: '<n>',
      // Computed only when help is shown.
      get description() {
        return `number of sample source IPs (at most ${maxIps()}: larger samples exceed the relay's ${bodyLimit() / 1024} KiB body limit)`;
      },
      default: String(DEFAULT_IPS),
    },
    { name: 'wait', type: 'string', value: '<seconds>', description: 'pause between attack_start and attack_end', default: '2' },
    { name: 'keep', type: 'boolean', description: 'send only the attack_start (then try relay drain, or watch the TTL)' },
    { name: 'yes', type: 'boolean', description: 'confirm pushing sample IPs to real (non-dry-run) integrations' },
  ],
  examples: ['relay send-test', 'relay send-test --ips 100 --wait 10', 'relay send-test --url http://10.0.0.5:8787/webhooks/flowtriq --yes'],
  maxPositionals: 0,
  run,
};

