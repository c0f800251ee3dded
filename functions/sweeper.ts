/** Sweeper Lambda (EventBridge schedule, every minute). All logic is in lib/. */
import { createAwsEngine } from '../lib/runtime/aws-engine.ts';
import { createScheduledSweep } from '../lib/runtime/aws-sweeper.ts';

const { engine, logger } = createAwsEngine();
export const handler = createScheduledSweep(engine.sweeper, logger);
