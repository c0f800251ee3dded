/**
 * A one-box relay for an e2e test: a temporary storage directory, a config
 * built from the test's integrations (sweeper timers off: the test sweeps),
 * the test webhook secret, port 0, and a `send` that posts a signed event
 * and waits until the relay has done everything it caused. Registers its
 * own clean-up with the caller's list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import { silentLogger } from '../../lib/log/logger.ts';
import { startOneBox, type OneBox, type OneBoxOptions } from '../../lib/runtime/one-box.ts';
import { TEST_SECRET } from './events.ts';
import { postSignedEvent } from './webhook-client.ts';

export interface TestRelay {
  relay: OneBox;
  dir: string;
  /** Posts a signed event (202 expected) and waits until the relay is idle. */
  send(event: FlowtriqEvent): Promise<void>;
}

export interface TestRelayOptions extends Partial<Pick<OneBoxOptions, 'transport' | 'providers' | 'now' | 'checkpoint'>> {
  integrations: Record<string, unknown>[];
  /** Further top-level config (e.g. `status`). */
  config?: Record<string, unknown>;
  /** Environment for the integrations' secrets (the webhook secret is added). */
  env?: Record<string, string>;
  /** An existing storage directory (a restart of an earlier relay); the caller removes it. */
  dir?: string;
}

export async function startTestRelay(options: TestRelayOptions, cleanups: (() => Promise<void> | void)[]): Promise<TestRelay> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'relay-e2e-'));
  if (options.dir === undefined) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({
    storage: { dir },
    webhook: { secrets: [{ env: 'HOOK_SECRET' }] },
    sweeper: { interval: '1h', driftCheck: '1h' },
    ...options.config,
    integrations: options.integrations,
  });
  const relay = await startOneBox({
    loaded: { config, file: join(dir, 'relay.config.json'), defaultedToDryRun: false },
    logger: silentLogger,
    env: { ...options.env, HOOK_SECRET: TEST_SECRET },
    port: 0,
    sweeper: false,
    ...(options.transport ? { transport: options.transport } : {}),
    ...(options.providers ? { providers: options.providers } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
  });
  cleanups.push(() => relay.stop());
  return {
    relay,
    dir,
    async send(event) {
      expect(await postSignedEvent(relay.webhookUrl, event)).toBe(202);
      await relay.idle();
    },
  };
}
