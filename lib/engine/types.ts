import type { Logger } from '../log/types.ts';
import type { RelayMetrics } from '../metrics/types.ts';
import type { Provider } from '../providers/types.ts';
import type { StateStore } from '../state/types.ts';

/**
 * Named points between the steps of a job. Tests use them to simulate a
 * crash at every boundary; production passes nothing.
 */
export type Checkpoint = 'before-intent' | 'after-intent' | 'after-provider' | 'before-ack';

export interface EngineDeps {
  store: StateStore;
  providers: ReadonlyMap<string, Provider>;
  logger: Logger;
  now: () => number;
  checkpoint?: (point: Checkpoint) => void | Promise<void>;
  /** Device requests and drift repairs are counted here (Prometheus one-box, EMF on Lambda). */
  metrics?: RelayMetrics;
}
