/**
 * Manual switch controls run inside a deployed stage: `relay test|activate|
 * withdraw <id> --aws` invokes the stage's sweeper function with a control
 * event, and the sweeper runs the same code as the one-box CLI
 * (lib/cli/switch-controls.ts) with the stage's own credentials and
 * permissions. The operator's machine needs only lambda:InvokeFunction on
 * the sweeper, never the integration's secrets.
 *
 * The event is validated strictly: anything else that reaches the sweeper is
 * a scheduled sweep or an error, never a guess.
 */
import { z } from 'zod';
import { activateSwitch, testIntegration, withdrawSwitch, type SwitchControlResult } from '../cli/switch-controls.ts';
import { RelayError } from '../errors.ts';
import type { Engine } from './engine.ts';

/** Marks a control event apart from EventBridge's scheduled events. */
export const CONTROL_MARKER = 'flowtriq-relay/control';

export const controlEventSchema = z
  .object({
    relay: z.literal(CONTROL_MARKER),
    command: z.enum(['test', 'activate', 'withdraw']),
    integration: z.string().min(1).max(64),
    force: z.boolean().optional(),
  })
  .strict();
export type ControlEvent = z.output<typeof controlEventSchema>;

/** What the invocation returns (the CLI prints the lines and exits 1 unless ok). */
export interface ControlAnswer {
  ok: boolean;
  lines: string[];
}

/** True when the event claims to be a control event (it is then validated, never swept). */
export function isControlEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as { relay?: unknown }).relay === CONTROL_MARKER;
}

/**
 * Runs one control event. A usage error (unknown integration, not a switch,
 * withdraw refused) is an answer with ok: false, not a function error.
 */
export async function runControl(engine: Engine, event: unknown, now: () => number = Date.now): Promise<ControlAnswer> {
  const parsed = controlEventSchema.safeParse(event);
  if (!parsed.success) {
    return { ok: false, lines: [`not a valid control event: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')}`] };
  }
  const { command, integration, force } = parsed.data;
  try {
    let result: SwitchControlResult;
    if (command === 'test') result = await testIntegration(engine, integration);
    else if (command === 'activate') result = await activateSwitch(engine, integration, now());
    else result = await withdrawSwitch(engine, integration, now(), { force: force === true });
    return { ok: result.ok, lines: result.lines };
  } catch (error) {
    if (error instanceof RelayError) return { ok: false, lines: [error.message] };
    throw error;
  }
}
