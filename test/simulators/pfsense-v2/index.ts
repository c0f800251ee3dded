/**
 * pfrest v2 simulator: see simulator.ts for the API surface, alias-store.ts
 * for alias semantics, dispatcher.ts for apply, auth.ts for authentication
 * and login protection, cost-model.ts for the virtual clock.
 */
export type { DetailPadding, StoredAlias } from './alias-store.ts';
export type { AuthMethod } from './auth.ts';
export { type CostModel, DEFAULT_COST_MODEL, REALTIME_BENCH_COST, type SimCounters } from './cost-model.ts';
export { type RunningPfSenseV2Simulator, simulatorTransport, startPfSenseV2Simulator } from './server.ts';
export { PfSenseV2Simulator, type PfSenseV2SimulatorOptions, type SimLogEntry, type SimRequest } from './simulator.ts';
