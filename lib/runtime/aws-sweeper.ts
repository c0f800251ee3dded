/**
 * The scheduled sweep: one run per EventBridge event. A run with errors
 * throws after sweeping everything it could, so the sweeper-failure alarm
 * (Lambda Errors) fires; the next minute's run retries.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { sweep, type SweepDeps, type SweepSummary } from '../engine/sweeper.ts';
import { describeError, RelayError } from '../errors.ts';
import type { Logger } from '../log/types.ts';
import { isControlEvent, runControl, type ControlAnswer, type ControlEvent } from './aws-control.ts';
import type { Engine } from './engine.ts';
import type { EmfMetrics } from '../metrics/emf.ts';
import { collectStateGauges } from '../metrics/gauges.ts';

export class SweepFailedError extends RelayError {
  readonly summary: SweepSummary;
  constructor(summary: SweepSummary) {
    super('sweep_failed', `sweep failed for ${summary.errors.map((e) => e.integration).join(', ')}`);
    this.summary = summary;
  }
}

/**
 * The sweeper's handler: a scheduled sweep, or (invoked by `relay … --aws`)
 * a manual switch control (./aws-control.ts).
 */
export function createSweeperHandler(engine: Engine, logger: Logger, metrics?: Pick<EmfMetrics, 'gauges'>) {
  const scheduled = createScheduledSweep(engine.sweeper, logger);
  const integrations = [...engine.providers.keys()];
  // After each run: the state gauges the stage's overdue-blocks alarm watches.
  const publishGauges = async () => {
    if (!metrics) return;
    try {
      metrics.gauges(await collectStateGauges(engine.sweeper.store, integrations, engine.sweeper.now()));
    } catch (error) {
      logger.warn('metrics: state gauges not published', { error: describeError(error) });
    }
  };
  return async (event: EventBridgeEvent<'Scheduled Event', unknown> | ControlEvent): Promise<SweepSummary | ControlAnswer> => {
    if (!isControlEvent(event)) {
      try {
        return await scheduled(event as EventBridgeEvent<'Scheduled Event', unknown>);
      } finally {
        await publishGauges();
      }
    }
    const answer = await runControl(engine, event);
    logger.info('manual control', { event: event as ControlEvent, ok: answer.ok, lines: answer.lines });
    return answer;
  };
}

export function createScheduledSweep(deps: SweepDeps, logger: Logger) {
  return async (event: EventBridgeEvent<'Scheduled Event', unknown>): Promise<SweepSummary> => {
    const summary = await sweep(deps, { waitMs: 5_000 });
    const orphaned = summary.integrations.filter((s) => s.orphaned).map((s) => s.integration);
    if (summary.errors.length > 0) {
      logger.error('scheduled sweep failed', { scheduledAt: event.time, errors: summary.errors });
      throw new SweepFailedError(summary);
    }
    if (orphaned.length > 0) logger.error('blocks left on integrations no longer configured', { orphaned });
    return summary;
  };
}
