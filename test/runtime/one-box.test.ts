import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { SecretMissingError } from '../../lib/config/secrets.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { startOneBox, webhookSecrets, type OneBox } from '../../lib/runtime/one-box.ts';
import { fixture, signedRequest, TEST_SECRET } from '../helpers/events.ts';

const dirs: string[] = [];
const relays: OneBox[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function loaded(input: Record<string, unknown>, file: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-onebox-'));
  dirs.push(dir);
  return { config: parseConfig({ storage: { dir }, ...input }), file, defaultedToDryRun: false };
}

describe('webhook secrets (one-box)', () => {
  it('refuses to start when a required secret is unset even though another one is set', () => {
    // Prepare
    const config = loaded({ webhook: { secrets: [{ env: 'CURRENT' }, { env: 'NEXT' }] } }, '/etc/relay.config.yaml');
    // Act / Assess
    expect(() => webhookSecrets(config, { NEXT: 'x'.repeat(32) }, false)).toThrow(SecretMissingError);
    expect(() => webhookSecrets(config, { NEXT: 'x'.repeat(32) }, false)).toThrow(/webhook\.secrets\[0\]/);
  });

  it('accepts an unset optional (rotation) secret', () => {
    // Prepare
    const config = loaded({ webhook: { secrets: [{ env: 'CURRENT' }, { env: 'NEXT', optional: true }] } }, '/etc/relay.config.yaml');
    // Act
    const { secrets } = webhookSecrets(config, { CURRENT: 'c'.repeat(32) }, false);
    // Assess
    expect(secrets).toEqual(['c'.repeat(32)]);
  });

  it('makes a local secret only on the bare default (no config file)', () => {
    // Prepare
    const config = loaded({}, undefined);
    // Act
    const first = webhookSecrets(config, {}, false);
    const second = webhookSecrets(config, {}, false);
    // Assess
    expect(first.secrets[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(second.secrets).toEqual(first.secrets);
    expect(first.source.generatedFile).toBe(join(config.config.storage.dir, 'webhook-secret'));
  });

  it('verifies signatures when --insecure-dev is given but a secret is set', async () => {
    // Prepare
    const config = loaded({ integrations: [{ id: 'dry', type: 'dry-run' }] }, '/etc/relay.config.yaml');
    const relay = await startOneBox({
      loaded: config,
      logger: silentLogger,
      insecure: true,
      env: { FLOWTRIQ_WEBHOOK_SECRET: TEST_SECRET },
      port: 0,
      sweeper: false,
    });
    relays.push(relay);
    const body = JSON.stringify({ ...fixture('attack_start'), timestamp: new Date().toISOString() });
    // Act
    const unsigned = await fetch(relay.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const signed = await fetch(relay.webhookUrl, signedRequest(body));
    // Assess
    expect(relay.insecure).toBe(false);
    expect(unsigned.status).toBe(401);
    expect(signed.status).toBe(202);
  });
});

describe('the one-box server limits', () => {
  it('cuts a client that stalls in its headers after server.headersTimeout, and refuses connections over server.maxConnections', async () => {
    // Prepare
    const { connect } = await import('node:net');
    const { RecordingLogger } = await import('../helpers/recording-logger.ts');
    const logger = new RecordingLogger();
    const config = loaded({ server: { headersTimeout: '1s', requestTimeout: '2s', maxConnections: 2 }, integrations: [{ id: 'dry', type: 'dry-run' }] }, undefined);
    const relay = await startOneBox({ loaded: config, logger, env: {}, port: 0, sweeper: false });
    relays.push(relay);
    const { port } = new URL(relay.url);
    const open = () =>
      new Promise<{ closed: Promise<number>; write: (text: string) => void }>((resolve) => {
        const started = Date.now();
        const socket = connect(Number(port), '127.0.0.1', () => resolve({ closed, write: (text) => socket.write(text) }));
        socket.on('error', () => undefined);
        socket.resume(); // read the 408 (a paused socket never sees the close)
        const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - started)));
      });

    // Act: two slow clients hold the two slots; a third is refused; the slow ones are cut after ~1 s.
    const slow = [await open(), await open()];
    for (const client of slow) client.write('POST /webhooks/flowtriq HTTP/1.1\r\nHost: x\r\n');
    const extra = await open();
    const extraClosedMs = await extra.closed;
    const slowClosedMs = await Promise.all(slow.map((client) => client.closed));

    // Assess
    expect(extraClosedMs).toBeLessThan(500);
    for (const ms of slowClosedMs) {
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(2_500);
    }
    const refusals = logger.lines.filter((line) => /refused/.test(line.message));
    expect(refusals.some((line) => line.attributes.clientAddress === '127.0.0.1')).toBe(true);
  }, 15_000);
});
