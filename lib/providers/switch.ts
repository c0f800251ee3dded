/**
 * What every switch provider over several resources (prefixes, servers,
 * addresses) shares: an activation built from the per-resource results, and
 * one restore outcome from the per-resource ones.
 */
import type { z } from 'zod';
import type { SwitchActivation, SwitchRestore } from './types.ts';

/**
 * The activation of several resources: confirmed when every one is; when not,
 * the reconciler looks again after `recheckAfterMs`.
 */
export function switchActivation<A>(applied: A, confirmed: boolean, lines: readonly string[], now: number, recheckAfterMs: number): SwitchActivation<A> {
  const activation: SwitchActivation<A> = { applied, confirmed, summary: lines.join('; ') };
  if (confirmed) activation.confirmedAt = new Date(now).toISOString();
  else activation.recheckAfterMs = recheckAfterMs;
  return activation;
}

/**
 * One outcome for several restores: pending while any is pending, else
 * changed-by-others when any was changed behind the relay's back (the others
 * are restored all the same), else restored.
 */
export function combinedRestore(outcomes: readonly SwitchRestore['outcome'][], summary: string, recheckAfterMs: number): SwitchRestore {
  if (outcomes.includes('pending')) return { outcome: 'pending', recheckAfterMs, summary };
  if (outcomes.includes('changed-by-others')) return { outcome: 'changed-by-others', summary };
  return { outcome: 'restored', summary };
}

/**
 * A snapshot state or activation record the relay stored, read back through
 * `schema`. When it does not fit, `fail` builds the error from where the
 * first misfit is (a path such as `servers.0.firewall`).
 */
export function readStored<S extends z.ZodType>(schema: S, value: unknown, fail: (where: string | undefined) => Error): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw fail(parsed.error.issues[0]?.path.join('.'));
  return parsed.data;
}
