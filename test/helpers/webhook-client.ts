/** Sends Flowtriq events to a relay as Flowtriq does: the JSON body, signed with the test secret. */
import { signFlowtriq } from '../../lib/signature/flowtriq.ts';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import { TEST_SECRET } from './events.ts';

/** POSTs the event signed with `secret`; resolves with the status once the answer is read. */
export async function postSignedEvent(url: string, event: FlowtriqEvent, secret: string = TEST_SECRET): Promise<number> {
  const body = JSON.stringify(event);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-flowtriq-signature': signFlowtriq(secret, body) },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Polls `predicate` every `intervalMs` until it holds; resolves with the time
 * it took, or rejects naming `what` once `timeoutMs` has passed.
 */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs: number, intervalMs = 20): Promise<number> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return Date.now() - started;
}
