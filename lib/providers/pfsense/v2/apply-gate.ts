/**
 * One gate per firewall (URL origin) for the filter reloads the relay
 * starts, shared by every v2 provider instance of the process (two
 * integrations may point at the same pfSense).
 *
 * Why: pfSense-pkg-RESTAPI starts each reload (`apply: true`, or
 * `POST /firewall/apply`) as a background `filter_configure()` and runs at
 * most 10 at once (`Core/Dispatcher.inc`: `max_queue = 10`, `timeout =
 * 300`); one more is refused with 503 `DISPATCHER_TOO_MANY_QUEUED_PROCESSES`
 * and `Retry-After: 300`. A reload reloads the whole filter, so one reload
 * started after several writes covers them all.
 *
 * What the gate holds:
 * - `lock`: every operation of every instance on this firewall runs under
 *   it, so at most one request (and so at most one apply) is in flight per
 *   firewall, and a read-then-write never interleaves with another
 *   integration's on the same config.xml.
 * - `notBefore`: after a 503 with Retry-After, no apply (and no write with
 *   `apply: true`) is sent before that time.
 * - `lastApplyAt`: when the last reload was started, for the minimum gap.
 * - `unapplied`: this process wrote config that no started reload covers
 *   yet (set before each write is sent, so a write cut off counts too).
 * - `liveLost`: aliases whose relay entries `list()` found missing from the
 *   live pf table (a flush, a reboot) since the last reload started.
 */
import { SerialLock } from '../../../util/serial-lock.ts';

export class ApplyGate {
  readonly lock = new SerialLock();
  /** Provider-clock ms before which no apply may be sent (Retry-After). */
  notBefore = 0;
  /** The Retry-After (s) that set `notBefore`, for messages. */
  retryAfterSeconds = 0;
  /** Provider-clock ms the last reload was started; undefined = none by this process. */
  lastApplyAt: number | undefined;
  unapplied = false;
  readonly liveLost = new Set<string>();

  /** A reload was started at `now`: everything written before is covered. */
  applied(now: number): void {
    this.lastApplyAt = now;
    this.unapplied = false;
    this.liveLost.clear();
  }

  /** The dispatcher is full: nothing that applies before `now + retryAfterMs`. */
  full(now: number, retryAfterMs: number): void {
    this.notBefore = Math.max(this.notBefore, now + retryAfterMs);
    this.retryAfterSeconds = Math.ceil(retryAfterMs / 1000);
  }
}

/** Gates by firewall origin. */
export class ApplyGates {
  readonly #byOrigin = new Map<string, ApplyGate>();

  get(origin: string): ApplyGate {
    let gate = this.#byOrigin.get(origin);
    if (gate === undefined) {
      gate = new ApplyGate();
      this.#byOrigin.set(origin, gate);
    }
    return gate;
  }
}

/** The process-wide gates every provider uses unless a test passes its own. */
export const SHARED_APPLY_GATES = new ApplyGates();
