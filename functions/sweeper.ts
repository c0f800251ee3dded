/** Sweeper Lambda (EventBridge schedule, every minute; and `relay test|activate|withdraw --aws`). All logic is in lib/. */
import { createAwsEngine } from '../lib/runtime/aws-engine.ts';
import { createSweeperHandler } from '../lib/runtime/aws-sweeper.ts';

const { engine, logger, metrics } = createAwsEngine();
export const handler = createSweeperHandler(engine, logger, metrics);
