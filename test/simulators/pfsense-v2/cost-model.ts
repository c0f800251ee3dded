/**
 * The simulator's cost model and counters.
 *
 * The device is modelled as one serial worker on a virtual clock: every
 * request is served after the previous one finished (pfSense writes
 * config.xml under a lock, and the relay never sends two at once anyway),
 * and takes
 *
 *     perRequestMs + perEntryMs × entries
 *
 * of virtual time, where `entries` is the number of alias addresses the
 * package has to handle for that request:
 *
 * | request                           | entries                                              |
 * | --------------------------------- | ---------------------------------------------------- |
 * | `GET /firewall/aliases`, `/alias` | addresses in the returned aliases                    |
 * | `POST`/`PATCH /firewall/alias`    | addresses of the resulting alias (the package validates the whole merged array before writing) |
 * | `GET /diagnostics/table`          | entries returned                                     |
 * | everything else, and errors       | 0                                                    |
 *
 * Network latency is not modelled. The filter reload an apply starts runs in
 * the background (see dispatcher.ts) and is not on the request clock.
 *
 * The clock also advances when a test calls `advance(ms)` (time passing
 * while the client sleeps).
 *
 * **Real-time mode** (`realTime: true`): the clock is the real clock since
 * the simulator started (plus any `advance`), a request is answered only
 * after its modelled cost has passed in real time (the caller sleeps it,
 * see simulator.ts `handleAsync`), and reloads finish on the real clock —
 * so a relay can be run against it over loopback HTTP in benchmarks and
 * end-to-end tests, e.g. at {@link REALTIME_BENCH_COST}.
 *
 * ## Violation counters
 *
 * Besides load, the counters flag what a careful client must not do:
 *
 * | counter                       | counts                                                                 |
 * | ----------------------------- | ---------------------------------------------------------------------- |
 * | `duplicateWrites`             | addresses appended that the alias already held (`append` does not de-duplicate); a write received while an identical write is still in flight |
 * | `appliesWhileFull`            | apply requests and `apply: true` writes received while the dispatcher is full (each is refused with 503) |
 * | `appliesIgnoringRetryAfter`   | of those and any other apply, the ones sent before an earlier 503's Retry-After ran out |
 * | `foreignTouched`              | operator entries (seeded by the test, or added with the admin helpers) removed, or their description changed or moved to another address, by an API request |
 * | `replaces`                    | PATCHes that set `address` or `detail` without `append`/`remove` (a whole-list replace overwrites concurrent edits) |
 */

/** Per-request and per-entry virtual costs. */
export interface CostModel {
  perRequestMs: number;
  perEntryMs: number;
}

/** The bench default: a small appliance over a LAN. */
export const DEFAULT_COST_MODEL: CostModel = { perRequestMs: 60, perEntryMs: 0.5 };

/** Real-time runs (one-box relay benchmarks, e2e): 35 ms per request + 1 ms per entry. */
export const REALTIME_BENCH_COST: CostModel = { perRequestMs: 35, perEntryMs: 1 };

/** What the simulator counts. Reset with {@link VirtualDevice.resetCounters}. */
export interface SimCounters {
  /** Every request that reached the API (including rejected ones). */
  requests: number;
  /** Per route, e.g. `PATCH /api/v2/firewall/alias`. */
  byRoute: Record<string, number>;
  /** Per HTTP status answered. */
  byStatus: Record<number, number>;
  /** Requests that changed config.xml. */
  configWrites: number;
  /** Filter reloads the dispatcher started / finished. */
  appliesStarted: number;
  appliesCompleted: number;
  /** 503 DISPATCHER_TOO_MANY_QUEUED_PROCESSES answers. */
  dispatcherRejections: number;
  /** Failed authentications (what login protection counts). */
  authFailures: number;
  /** Requests refused at the connection level (device down, locked out). */
  refusedConnections: number;
  /** Sum of `entries` over all requests. */
  entries: number;
  /** Violations; see the table above. */
  duplicateWrites: number;
  appliesWhileFull: number;
  appliesIgnoringRetryAfter: number;
  foreignTouched: number;
  replaces: number;
}

function emptyCounters(): SimCounters {
  return {
    requests: 0,
    byRoute: {},
    byStatus: {},
    configWrites: 0,
    appliesStarted: 0,
    appliesCompleted: 0,
    dispatcherRejections: 0,
    authFailures: 0,
    refusedConnections: 0,
    entries: 0,
    duplicateWrites: 0,
    appliesWhileFull: 0,
    appliesIgnoringRetryAfter: 0,
    foreignTouched: 0,
    replaces: 0,
  };
}

/** The serial worker: virtual (or real) clock plus counters. */
export class VirtualDevice {
  readonly cost: CostModel;
  readonly realTime: boolean;
  readonly #origin = performance.now();
  #clockMs = 0;
  #counters: SimCounters = emptyCounters();

  constructor(cost: CostModel = DEFAULT_COST_MODEL, realTime = false) {
    this.cost = cost;
    this.realTime = realTime;
  }

  /** Milliseconds since the simulator started: virtual, or real in real-time mode (plus any `advance`). */
  get clockMs(): number {
    return this.realTime ? performance.now() - this.#origin + this.#clockMs : this.#clockMs;
  }

  get counters(): SimCounters {
    return this.#counters;
  }

  resetCounters(): void {
    this.#counters = emptyCounters();
  }

  /** Time passes without a request (the client waits). */
  advance(ms: number): void {
    if (ms > 0) this.#clockMs += ms;
  }

  /** Charges one served request; returns its cost in virtual ms. */
  charge(route: string, status: number, entries: number): number {
    const c = this.#counters;
    c.requests += 1;
    c.byRoute[route] = (c.byRoute[route] ?? 0) + 1;
    c.byStatus[status] = (c.byStatus[status] ?? 0) + 1;
    c.entries += entries;
    const costMs = this.cost.perRequestMs + this.cost.perEntryMs * entries;
    if (!this.realTime) this.#clockMs += costMs;
    return costMs;
  }
}
