/**
 * `FirewallApplyDispatcher` (`Core/Dispatcher.inc`): an apply spawns a
 * background `filter_configure()` and answers at once. At most `maxQueue`
 * (10) may run; one more is refused with 503
 * `DISPATCHER_TOO_MANY_QUEUED_PROCESSES` and `Retry-After: <timeout>` (300 s).
 *
 * Runs live on the virtual clock: a reload started at `t` finishes at
 * `t + durationMs(entries)`, and only then does the live pf table show the
 * configuration (read when the reload finishes). The dirty flag is cleared
 * when the process is spawned, not when it finishes — as in the package,
 * `GET /firewall/apply` says `applied: true` before pf reloaded.
 */
import { SimApiError } from './envelope.ts';

export interface DispatcherOptions {
  /** 10 in the package. */
  maxQueue: number;
  /** `Retry-After` on refusal; the dispatcher timeout, 300 s in the package. */
  retryAfterSeconds: number;
  /** Virtual duration of one filter reload. */
  baseMs: number;
  /** Extra virtual time per table entry loaded. */
  perEntryMs: number;
}

export class ApplyDispatcher {
  readonly #options: DispatcherOptions;
  /** Virtual finish times of running reloads, ascending. */
  #running: number[] = [];

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /** Reloads still running at `now`. */
  runningAt(now: number): number {
    return this.#running.filter((doneAt) => doneAt > now).length;
  }

  /**
   * Spawns a reload at virtual time `now`.
   * @throws SimApiError 503 when `maxQueue` are running.
   */
  spawn(now: number, entries: number): void {
    if (this.runningAt(now) >= this.#options.maxQueue) {
      throw new SimApiError(
        503,
        'DISPATCHER_TOO_MANY_QUEUED_PROCESSES',
        `Dispatcher allows for a maximum of \`${this.#options.maxQueue}\` processes to be queued at once, try again after \`${this.#options.retryAfterSeconds}\` seconds.`,
        this.#options.retryAfterSeconds,
      );
    }
    this.#insert(now + this.#options.baseMs + this.#options.perEntryMs * entries);
  }

  /** Test hook: occupy slots with reloads that finish at `doneAt`. */
  occupy(count: number, doneAt: number): void {
    for (let i = 0; i < count; i += 1) this.#insert(doneAt);
  }

  /**
   * Removes reloads finished by `now`; returns how many finished (each one
   * loads the configuration into pf).
   */
  settle(now: number): number {
    const before = this.#running.length;
    this.#running = this.#running.filter((doneAt) => doneAt > now);
    return before - this.#running.length;
  }

  #insert(doneAt: number): void {
    this.#running.push(doneAt);
    this.#running.sort((a, b) => a - b);
  }
}
