import { awsShieldOptionsSchema, awsWafIpSetOptionsSchema } from '../../../lib/providers/aws/config.ts';
import { createAwsShieldProvider, createAwsWafIpSetProvider } from '../../../lib/providers/aws/provider.ts';
import { WriteSpacer } from '../../../lib/providers/aws/waf-ipset.ts';
import type { AwsCredentials } from '../../../lib/providers/aws/sigv4.ts';
import type { SwitchContext } from '../../../lib/providers/types.ts';
import { ManualClock } from '../../helpers/clock.ts';
import { RecordingLogger } from '../../helpers/recording-logger.ts';
import { AwsSimulator, SIM_ACCOUNT, SIM_CREDENTIALS } from '../../simulators/aws/aws.ts';

export const ALB_ARN = `arn:aws:elasticloadbalancing:us-east-1:${SIM_ACCOUNT}:loadbalancer/app/web/0123456789abcdef`;
export const CF_ARN = `arn:aws:cloudfront::${SIM_ACCOUNT}:distribution/E1A2B3C4D5E6F7`;
export const IPSET_ID = 'a1b2c3d4-5678-90ab-cdef-000000000001';

function base() {
  const clock = new ManualClock();
  const simulator = new AwsSimulator({ now: clock.now });
  const logger = new RecordingLogger();
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.advance(ms);
  };
  const ctx: SwitchContext = { signal: new AbortController().signal, logger, incidents: ['incident-1'] };
  return { clock, simulator, logger, sleeps, sleep, ctx };
}

export function shieldSetup(protections: string[] = [ALB_ARN], secrets: AwsCredentials = SIM_CREDENTIALS) {
  const b = base();
  const provider = createAwsShieldProvider(
    { id: 'shield', options: awsShieldOptionsSchema.parse({ protections }), holdDownMs: 60_000 },
    { transport: b.simulator.transport, secrets, now: b.clock.now, sleep: b.sleep, random: () => 0, logger: b.logger },
  );
  return { ...b, provider };
}

export function wafSetup(options: Record<string, unknown> = {}, secrets: AwsCredentials = SIM_CREDENTIALS) {
  const b = base();
  const spacer = new WriteSpacer();
  const make = (id: string, extra: Record<string, unknown> = {}) =>
    createAwsWafIpSetProvider(
      { id, options: awsWafIpSetOptionsSchema.parse({ region: 'eu-west-1', name: 'relay-blocks', id: IPSET_ID, ...options, ...extra }) },
      { transport: b.simulator.transport, secrets, now: b.clock.now, sleep: b.sleep, random: () => 0, logger: b.logger, spacer },
    );
  return { ...b, provider: make('waf'), make };
}

export const entry = (ip: string) => ({ ip, expiresAt: Date.parse('2026-01-01T01:00:00Z'), incidents: ['incident-1'] });
