/**
 * `FirewallApplyDispatcher` (`Core/Dispatcher.inc`): an apply spawns a
 * background `filter_configure()` and answers at once. At most `maxQueue`
 * (10) may run; one more is refused with 503
 * `DISPATCHER_TOO_MANY_QUEUED_PROCESSES` and `Retry-After: <timeout>` (300 s).
 *
 * Runs live on the device clock: a reload started at `t` finishes at
 * `t + durationMs(entries)`, and only then does the live pf table show the
 * configuration as it was when the reload was *started* (filter_configure
 * generates the ruleset from config.xml when it starts): a write made while
 * a reload runs is not live until a reload started after it finishes. When
 * several finish, the one that finishes last wins. The dirty flag is cleared
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

/** The live pf tables a reload loads. */
export type LiveSnapshot = Map<string, string[]>;

export class ApplyDispatcher {
  readonly #options: DispatcherOptions;
  /** Running reloads by finish time, ascending, each with the config it loads. */
  #running: Array<{ doneAt: number; live: LiveSnapshot }> = [];

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /** Reloads still running at `now`. */
  runningAt(now: number): number {
    return this.#running.filter((run) => run.doneAt > now).length;
  }

  /** Whether one more reload would be refused at `now`. */
  fullAt(now: number): boolean {
    return this.runningAt(now) >= this.#options.maxQueue;
  }

  /**
   * Spawns a reload at virtual time `now`.
   * @throws SimApiError 503 when `maxQueue` are running.
   */
  spawn(now: number, entries: number, live: LiveSnapshot): void {
    if (this.fullAt(now)) {
      throw new SimApiError(
        503,
        'DISPATCHER_TOO_MANY_QUEUED_PROCESSES',
        `Dispatcher allows for a maximum of \`${this.#options.maxQueue}\` processes to be queued at once, try again after \`${this.#options.retryAfterSeconds}\` seconds.`,
        this.#options.retryAfterSeconds,
      );
    }
    this.#insert(now + this.#options.baseMs + this.#options.perEntryMs * entries, live);
  }

  /** Test hook: occupy slots with reloads that finish at `doneAt` (loading `live`). */
  occupy(count: number, doneAt: number, live: LiveSnapshot): void {
    for (let i = 0; i < count; i += 1) this.#insert(doneAt, live);
  }

  /**
   * Removes reloads finished by `now`; returns how many finished and the
   * tables the last of them loaded (undefined when none finished).
   */
  settle(now: number): { finished: number; live: LiveSnapshot | undefined } {
    const done = this.#running.filter((run) => run.doneAt <= now);
    if (done.length === 0) return { finished: 0, live: undefined };
    this.#running = this.#running.filter((run) => run.doneAt > now);
    return { finished: done.length, live: done.at(-1)?.live };
  }

  #insert(doneAt: number, live: LiveSnapshot): void {
    this.#running.push({ doneAt, live });
    this.#running.sort((a, b) => a.doneAt - b.doneAt);
  }
}
