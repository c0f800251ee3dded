/** Device relay Lambda (inside the customer's VPC). All logic is in lib/. */
import type { Context } from 'aws-lambda';
import { createAwsDeviceRelay } from '../lib/runtime/aws-device-relay.ts';

const relay = createAwsDeviceRelay();
export const handler = (payload: unknown, context: Context) =>
  relay(payload, { remainingMs: context.getRemainingTimeInMillis() });
