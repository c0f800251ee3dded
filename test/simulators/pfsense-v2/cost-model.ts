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
 */

/** Per-request and per-entry virtual costs. */
export interface CostModel {
  perRequestMs: number;
  perEntryMs: number;
}

/** The bench default: a small appliance over a LAN. */
export const DEFAULT_COST_MODEL: CostModel = { perRequestMs: 60, perEntryMs: 0.5 };

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
  };
}

/** The serial worker: virtual clock plus counters. */
export class VirtualDevice {
  readonly cost: CostModel;
  #clockMs = 0;
  #counters: SimCounters = emptyCounters();

  constructor(cost: CostModel = DEFAULT_COST_MODEL) {
    this.cost = cost;
  }

  /** Virtual milliseconds since the simulator started. */
  get clockMs(): number {
    return this.#clockMs;
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
    this.#clockMs += costMs;
    return costMs;
  }
}
