import { parseConfig } from '../../lib/config/load.ts';
import type { RelayConfigInput } from '../../lib/config/schema.ts';
import { processEvent } from '../../lib/engine/worker.ts';
import { sweep } from '../../lib/engine/sweeper.ts';
import type { Checkpoint } from '../../lib/engine/types.ts';
import type { FlowtriqEvent } from '../../lib/event/types.ts';
import type { Provider } from '../../lib/providers/types.ts';
import { buildEngine } from '../../lib/runtime/engine.ts';
import type { StateStore } from '../../lib/state/types.ts';
import type { Transport } from '../../lib/transport/types.ts';
import { ManualClock } from './clock.ts';
import { RecordingLogger } from './recording-logger.ts';

const noNetwork: Transport = {
  request() {
    throw new Error('tests using the engine harness make no HTTP requests');
  },
};

export interface HarnessOptions {
  store: StateStore;
  providers: Provider[];
  /** Per-provider config (match, ttl, and kind for switches); ids must match providers. */
  integrations?: Record<string, { match?: Record<string, unknown>; ttl?: string | number }>;
  config?: Omit<RelayConfigInput, 'integrations'>;
  clock?: ManualClock;
  checkpoint?: (point: Checkpoint) => void | Promise<void>;
  owner?: string;
  /** Wraps the store the engine sees (e.g. a kill switch). */
  wrapStore?: (store: StateStore) => StateStore;
}

/** The relay engine over a real store and in-memory devices, driven by hand. */
export function createHarness(options: HarnessOptions) {
  const clock = options.clock ?? new ManualClock();
  const logger = new RecordingLogger();
  const config = parseConfig({
    ...options.config,
    integrations: options.providers.map((provider) => ({
      id: provider.id,
      type: 'dry-run',
      options: { kind: provider.kind },
      ...options.integrations?.[provider.id],
    })),
  });
  const engine = buildEngine({
    config,
    store: options.wrapStore ? options.wrapStore(options.store) : options.store,
    transport: noNetwork,
    logger,
    now: clock.now,
    providers: new Map(options.providers.map((provider) => [provider.id, provider])),
    ...(options.owner ? { owner: options.owner } : {}),
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    reconcilerOptions: { sleep: async () => void clock.advance(25) },
  });
  return {
    clock,
    logger,
    config,
    engine,
    store: options.store,
    /** Processes one event as a worker would. */
    deliver: (event: FlowtriqEvent) => processEvent(event, { ...engine.worker, leaseWaitMs: 0 }),
    sweep: () => sweep(engine.sweeper),
  };
}
