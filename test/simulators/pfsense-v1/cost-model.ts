/**
 * The simulator's cost model: what a request would cost a real firewall, on
 * a virtual clock (nothing actually waits).
 *
 *     cost(request) = perRequestMs + perEntryMs × entries
 *
 * where `entries` counts the alias entries the request makes the firewall
 * handle:
 *
 * - addresses in the request body (alias create/update, entry add/delete),
 * - addresses in the aliases a GET returns,
 * - for a filter reload (`POST /api/v1/firewall/apply`, or a write with
 *   `apply` not false): every address in every alias, since pf reloads all
 *   tables.
 *
 * Defaults: 60 ms per request (PHP-FPM start-up, authentication, a
 * config.xml rewrite for writes, on a small appliance) and 0.5 ms per entry.
 * These are round numbers of the right order, not measurements; the bench
 * compares approaches under the same model.
 *
 * Requests are charged one after another, as pfSense serialises config
 * writes behind its config lock.
 */

export interface CostModel {
  perRequestMs: number;
  perEntryMs: number;
}

export const DEFAULT_COST_MODEL: CostModel = { perRequestMs: 60, perEntryMs: 0.5 };

/** Simulated device time in milliseconds; only the cost model moves it. */
export class VirtualClock {
  #ms = 0;
  get nowMs(): number {
    return this.#ms;
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}

export function requestCost(model: CostModel, entries: number): number {
  return model.perRequestMs + model.perEntryMs * entries;
}
