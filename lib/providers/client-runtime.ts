/**
 * What every provider over a cloud API hands its client besides the API's
 * own settings: the transport, the per-request timeout, and the clock (the
 * real one unless a test injects its own).
 */
import { sleep as defaultSleep } from '../util/sleep.ts';
import type { ApiClientOptions } from './http-json.ts';
import type { CloudProviderDeps } from './types.ts';

export function clientRuntime(deps: Pick<CloudProviderDeps<unknown>, 'transport' | 'now' | 'sleep' | 'random'>, timeoutMs: number): ApiClientOptions {
  return {
    transport: deps.transport,
    timeoutMs,
    now: deps.now ?? Date.now,
    sleep: deps.sleep ?? defaultSleep,
    ...(deps.random ? { random: deps.random } : {}),
  };
}
