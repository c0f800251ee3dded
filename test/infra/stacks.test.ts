/**
 * The SST stacks, evaluated offline with SST's real components under Pulumi's
 * unit-test mocks (harness/): what `sst deploy` would create, resource by
 * resource, for a full config and a minimal one, and how bad configs fail.
 *
 * Needs .sst/platform (`node scripts/sst-platform.mjs`; npm test runs it).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATE_TABLE } from '../../lib/state/dynamodb-table.ts';
import { createHarness, type Evaluation, type Harness } from './harness/evaluate.ts';
import {
  allowedActions,
  BASIC_EXECUTION_POLICY,
  computed,
  environment,
  functionPackage,
  inlineStatements,
  managedPolicies,
  maybeResource,
  ofType,
  resource,
  TYPES,
  VPC_ACCESS_POLICY,
} from './harness/resources.ts';
import { FULL_CA, FULL_CONFIG, FULL_SECRETS, MINIMAL_CONFIG, SCENARIOS } from './scenarios.ts';
import { MOCK_ACCOUNT } from './harness/mocks.ts';

let harness: Harness;
let results: Map<string, Evaluation>;

beforeAll(async () => {
  harness = await createHarness();
  results = await harness.evaluateAll(Object.values(SCENARIOS));
  if (harness.stubbedHandlers.size > 0) {
    console.warn(`infra tests: handler files missing, stubbed for packaging: ${[...harness.stubbedHandlers].join(', ')}`);
  }
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

function evaluation(id: string): Evaluation {
  const found = results.get(id);
  if (!found) throw new Error(`scenario ${id} was not evaluated`);
  return found;
}

/** A scenario that must evaluate cleanly. */
function deployed(id: string): Evaluation {
  const e = evaluation(id);
  expect(e.errors, `${id}: evaluation errors\n${e.stderr}`).toEqual([]);
  return e;
}

const FUNCTIONS = ['Webhook', 'Worker', 'Sweeper', 'DeviceRelay'] as const;

/** The contract, spelled out independently of stacks/: what lib/state/dynamodb.ts calls. */
const STATE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
];
/** What the SQS event source mapping needs, plus the worker's visibility changes. */
const CONSUMER_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'];

describe('AWS integrations: the worker and the sweeper act as their own role', () => {
  const id = SCENARIOS.awsIntegrations.id;
  /**
   * Spelled out independently of stacks/: what lib/providers/aws/ calls, on
   * the stage's own account. Only the calls the Service Authorization
   * Reference gives no resource type may name "*".
   */
  const expected = {
    'shield:DescribeProtection': [`arn:aws:shield::${MOCK_ACCOUNT}:protection/*`],
    'shield:GetSubscriptionState': ['*'],
    'shield:EnableApplicationLayerAutomaticResponse': ['*'],
    'shield:UpdateApplicationLayerAutomaticResponse': ['*'],
    'shield:DisableApplicationLayerAutomaticResponse': ['*'],
    'wafv2:GetIPSet': [
      `arn:aws:wafv2:eu-west-1:${MOCK_ACCOUNT}:regional/ipset/relay-blocks/a1b2c3d4-5678-90ab-cdef-000000000002`,
      `arn:aws:wafv2:us-east-1:${MOCK_ACCOUNT}:global/ipset/relay-edge/a1b2c3d4-5678-90ab-cdef-000000000003`,
    ],
    'wafv2:UpdateIPSet': [
      `arn:aws:wafv2:eu-west-1:${MOCK_ACCOUNT}:regional/ipset/relay-blocks/a1b2c3d4-5678-90ab-cdef-000000000002`,
      `arn:aws:wafv2:us-east-1:${MOCK_ACCOUNT}:global/ipset/relay-edge/a1b2c3d4-5678-90ab-cdef-000000000003`,
    ],
  };

  it('deploys: the credentials Lambda sets for the role are no { env } secret to refuse', () => {
    // Prepare / Act: the scenario was evaluated in beforeAll.
    const e = deployed(id);
    // Assess: only the other account's keys became SST secrets.
    expect(ofType(e, TYPES.secret).map((s) => s.name).sort()).toEqual(['FlowtriqWebhookSecret', 'PartnerAccessKeyId', 'PartnerSecretAccessKey']);
  });

  it('the worker and the sweeper may call exactly the AWS actions of the integrations, on exactly their resources', () => {
    const e = deployed(id);
    const table = computed(e, TYPES.table, 'StateTableTable', 'arn');
    const queue = computed(e, TYPES.queue, 'JobsQueueQueue', 'arn');
    const state = Object.fromEntries(STATE_ACTIONS.map((a) => [a, [table, `${table}/index/*`].sort()]));
    expect(Object.fromEntries(allowedActions(resource(e, TYPES.role, 'WorkerRole')))).toEqual({
      ...state,
      ...Object.fromEntries(CONSUMER_ACTIONS.map((a) => [a, [queue]])),
      ...expected,
    });
    expect(Object.fromEntries(allowedActions(resource(e, TYPES.role, 'SweeperRole')))).toEqual({ ...state, ...expected });
    // The webhook never calls a provider.
    expect(Object.fromEntries(allowedActions(resource(e, TYPES.role, 'WebhookRole')))).toEqual({ 'sqs:SendMessage': [queue] });
  });

  it('"*" appears only with the actions AWS authorises on no narrower resource', () => {
    const e = deployed(id);
    const resourceless = new Set(['shield:GetSubscriptionState', 'shield:EnableApplicationLayerAutomaticResponse', 'shield:UpdateApplicationLayerAutomaticResponse', 'shield:DisableApplicationLayerAutomaticResponse']);
    for (const role of ofType(e, TYPES.role)) {
      for (const statement of inlineStatements(role)) {
        if (![statement.Resource].flat().includes('*')) continue;
        for (const action of [statement.Action].flat()) expect(resourceless.has(action), `${role.name}: ${action} on *`).toBe(true);
      }
    }
  });
});

describe('full config: every feature on', () => {
  const id = SCENARIOS.full.id;

  it('evaluates with no unmocked provider call and no unknown SST RPC', () => {
    const e = deployed(id);
    expect(e.unmockedCalls).toEqual([]);
    expect(e.unknownMethods).toEqual([]);
    expect(e.timedOut).toBe(false);
  });

  it('jobs queue: FIFO, visibility 6 × the worker timeout, redrives to the FIFO DLQ after aws.maxReceives', () => {
    const e = deployed(id);
    const queue = resource(e, TYPES.queue, 'JobsQueueQueue');
    const dlq = resource(e, TYPES.queue, 'JobsDlqQueue');
    expect(queue.inputs.fifoQueue).toBe(true);
    expect(String(queue.inputs.name)).toMatch(/\.fifo$/);
    expect(queue.inputs.contentBasedDeduplication).toBe(false);
    expect(queue.inputs.visibilityTimeoutSeconds).toBe(6 * 90);
    expect(JSON.parse(String(queue.inputs.redrivePolicy))).toEqual({
      deadLetterTargetArn: computed(e, TYPES.queue, 'JobsDlqQueue', 'arn'),
      maxReceiveCount: 4,
    });
    expect(dlq.inputs.fifoQueue).toBe(true);
    expect(String(dlq.inputs.name)).toMatch(/\.fifo$/);
    expect(dlq.inputs.redrivePolicy).toBeUndefined();
    expect(dlq.inputs.messageRetentionSeconds).toBe(14 * 24 * 3600);
    expect(ofType(e, TYPES.queue)).toHaveLength(2);
  });

  it('worker subscription: one event source mapping, batch size from config, partial batch responses, no window', () => {
    const e = deployed(id);
    const mappings = ofType(e, TYPES.eventSourceMapping);
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]!;
    expect(mapping.inputs.eventSourceArn).toBe(computed(e, TYPES.queue, 'JobsQueueQueue', 'arn'));
    expect(mapping.inputs.functionName).toBe(computed(e, TYPES.function, 'WorkerFunction', 'arn'));
    expect(mapping.inputs.functionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.inputs.batchSize).toBe(5);
    expect(mapping.inputs.maximumBatchingWindowInSeconds).toBe(0);
  });

  it('state table: the keys, GSI1 and TTL attribute of lib/state/dynamodb-table.ts, on demand, point-in-time recovery', () => {
    const e = deployed(id);
    const tables = ofType(e, TYPES.table);
    expect(tables).toHaveLength(1);
    const table = resource(e, TYPES.table, 'StateTableTable');
    expect(table.inputs.hashKey).toBe(STATE_TABLE.partitionKey);
    expect(table.inputs.rangeKey).toBe(STATE_TABLE.sortKey);
    expect(table.inputs.attributes).toEqual(
      Object.entries(STATE_TABLE.attributeTypes).map(([name, type]) => ({ name, type })),
    );
    expect(table.inputs.globalSecondaryIndexes).toEqual([
      {
        name: STATE_TABLE.index.name,
        hashKey: STATE_TABLE.index.partitionKey,
        rangeKey: STATE_TABLE.index.sortKey,
        projectionType: 'KEYS_ONLY',
      },
    ]);
    expect(table.inputs.ttl).toEqual({ attributeName: STATE_TABLE.ttlAttribute, enabled: true });
    expect(table.inputs.billingMode).toBe('PAY_PER_REQUEST');
    expect(table.inputs.pointInTimeRecovery).toEqual({ enabled: true });
    expect(table.inputs.streamEnabled).toBe(false);
  });

  it('sweeper schedule: an EventBridge rule every minute targeting the sweeper, which EventBridge may invoke', () => {
    const e = deployed(id);
    const rule = resource(e, TYPES.eventRule, 'SweeperScheduleRule');
    expect(rule.inputs.scheduleExpression).toBe('rate(1 minute)');
    expect(rule.inputs.state).toBe('ENABLED');
    const sweeperArn = computed(e, TYPES.function, 'SweeperFunction', 'arn');
    expect(resource(e, TYPES.eventTarget, 'SweeperScheduleTarget').inputs.arn).toBe(sweeperArn);
    const permission = resource(e, TYPES.permission, 'SweeperSchedulePermission');
    expect(permission.inputs).toMatchObject({ action: 'lambda:InvokeFunction', principal: 'events.amazonaws.com', function: sweeperArn });
    // Failed sweeps are not retried by Lambda: the next minute's run is the retry.
    expect(resource(e, 'aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig', 'SweeperEventInvokeConfig').inputs.maximumRetryAttempts).toBe(0);
  });

  it('webhook: a public Function URL without IAM auth and without CORS, capped by reserved concurrency', () => {
    const e = deployed(id);
    const urls = ofType(e, TYPES.functionUrl);
    expect(urls).toHaveLength(1);
    const url = resource(e, TYPES.functionUrl, 'WebhookUrl');
    expect(url.inputs.authorizationType).toBe('NONE');
    expect(url.inputs.cors).toBeUndefined();
    expect(url.inputs.invokeMode).toBe('BUFFERED');
    expect(url.inputs.functionName).toBe(computed(e, TYPES.function, 'WebhookFunction', 'name'));
    const fn = resource(e, TYPES.function, 'WebhookFunction');
    expect(fn.inputs.reservedConcurrentExecutions).toBe(7);
    expect(fn.inputs.memorySize).toBe(192);
    expect(fn.inputs.timeout).toBe(10);
    // Only the webhook is reachable from outside.
    const publicPermissions = ofType(e, TYPES.permission).filter((p) => p.inputs.principal === '*');
    expect(publicPermissions.map((p) => p.name).sort()).toEqual(['WebhookInvokeFunction', 'WebhookPublicFunctionUrlAccess']);
  });

  it("device relay: in the customer's existing subnets and security groups, nothing created in their network", () => {
    const e = deployed(id);
    const relay = resource(e, TYPES.function, 'DeviceRelayFunction');
    expect(relay.inputs.vpcConfig).toEqual({
      subnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0a1b2c3d4e5f60719'],
      securityGroupIds: ['sg-0a1b2c3d4e5f60718'],
    });
    expect(e.resources.filter((r) => r.type.startsWith('aws:ec2/'))).toEqual([]);
    // Only the relay is in a VPC.
    expect(ofType(e, TYPES.function).filter((f) => f.inputs.vpcConfig !== undefined).map((f) => f.name)).toEqual(['DeviceRelayFunction']);
    expect(relay.inputs.timeout).toBe(90);
    expect(environment(relay)).not.toHaveProperty('RELAY_STATE_TABLE');
    expect(environment(relay)).not.toHaveProperty('RELAY_QUEUE_URL');
    expect(environment(relay).RELAY_CONFIG).toBe('relay.config.yaml');
  });

  it('roles: exactly the actions each function uses, on exactly its resources; no wildcard action; only Lambda may assume them', () => {
    const e = deployed(id);
    const table = computed(e, TYPES.table, 'StateTableTable', 'arn');
    const queue = computed(e, TYPES.queue, 'JobsQueueQueue', 'arn');
    const relay = computed(e, TYPES.function, 'DeviceRelayFunction', 'arn');
    const state = Object.fromEntries(STATE_ACTIONS.map((a) => [a, [table, `${table}/index/*`].sort()]));

    expect(Object.fromEntries(allowedActions(resource(e, TYPES.role, 'WebhookRole')))).toEqual({ 'sqs:SendMessage': [queue] });
    expect(Object.fromEntries(allowedActions(resource(e, TYPES.role, 'WorkerRole')))).toEqual({
      ...state,
      ...Object.fromEntries(CONSUMER_ACTIONS.map((a) => [a, [queue]])),
      'lambda:InvokeFunction': [relay],
    });
    expect(Object.fromEntries(allowedActions(resource(e, TYPES.role, 'SweeperRole')))).toEqual({
      ...state,
      'lambda:InvokeFunction': [relay],
    });
    // The device relay: no inline policy at all; logs and VPC networking come from AWS's managed policies.
    expect(inlineStatements(resource(e, TYPES.role, 'DeviceRelayRole'))).toEqual([]);
    expect(managedPolicies(resource(e, TYPES.role, 'DeviceRelayRole'))).toEqual([BASIC_EXECUTION_POLICY, VPC_ACCESS_POLICY].sort());
    for (const name of ['WebhookRole', 'WorkerRole', 'SweeperRole']) {
      expect(managedPolicies(resource(e, TYPES.role, name)), name).toEqual([BASIC_EXECUTION_POLICY]);
    }

    const roles = ofType(e, TYPES.role);
    expect(roles.map((r) => r.name).sort()).toEqual(['DeviceRelayRole', 'SweeperRole', 'WebhookRole', 'WorkerRole']);
    for (const role of roles) {
      for (const statement of inlineStatements(role)) {
        expect(statement.Effect, role.name).toBe('Allow');
        for (const action of [statement.Action].flat()) expect(action, `${role.name}: ${action}`).not.toContain('*');
        for (const res of [statement.Resource].flat()) expect(res, `${role.name}: resource`).not.toBe('*');
      }
      // Only Lambda may assume it (SST's default also trusts the account root; the stacks narrow it).
      const trust = JSON.parse(String(role.inputs.assumeRolePolicy)) as { Statement: { Effect: string; Action: string; Principal: unknown }[] };
      expect(trust.Statement, role.name).toEqual([{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }]);
    }
  });

  it('functions: Node.js 22 or newer on arm64, sized from config.aws', () => {
    const e = deployed(id);
    const functions = ofType(e, TYPES.function);
    expect(functions.map((f) => f.name).sort()).toEqual(FUNCTIONS.map((n) => `${n}Function`).sort());
    for (const fn of functions) {
      const major = /^nodejs(\d+)\.x$/.exec(String(fn.inputs.runtime))?.[1];
      expect(Number(major), `${fn.name} runtime ${String(fn.inputs.runtime)}`).toBeGreaterThanOrEqual(22);
      expect(fn.inputs.architectures).toEqual(['arm64']);
    }
    expect(resource(e, TYPES.function, 'WorkerFunction').inputs).toMatchObject({ timeout: 90, memorySize: 768 });
    expect(resource(e, TYPES.function, 'SweeperFunction').inputs).toMatchObject({ timeout: 90, memorySize: 768 });
  });

  it('environment: config path, table, queue, DLQ and device relay names; no secret value in plain text', () => {
    const e = deployed(id);
    const expected = {
      RELAY_CONFIG: 'relay.config.yaml',
      RELAY_STATE_TABLE: computed(e, TYPES.table, 'StateTableTable', 'name'),
      RELAY_QUEUE_URL: computed(e, TYPES.queue, 'JobsQueueQueue', 'url'),
      RELAY_DLQ_URL: computed(e, TYPES.queue, 'JobsDlqQueue', 'url'),
      RELAY_DEVICE_RELAY_FUNCTION: computed(e, TYPES.function, 'DeviceRelayFunction', 'name'),
    };
    for (const name of ['WebhookFunction', 'WorkerFunction', 'SweeperFunction']) {
      expect(environment(resource(e, TYPES.function, name)), name).toMatchObject(expected);
    }
    const everything = JSON.stringify(ofType(e, TYPES.function).map((f) => f.inputs));
    for (const value of Object.values(FULL_SECRETS)) expect(everything).not.toContain(value);
  });

  it('secrets: one sst.Secret per { sst } name of enabled parts, linked only where read', () => {
    const e = deployed(id);
    expect(ofType(e, TYPES.secret).map((s) => s.name).sort()).toEqual(
      ['FirewallSigningSecret', 'FlowtriqApiToken', 'FlowtriqWebhookSecret', 'FlowtriqWebhookSecretNext', 'SiemSigningSecret'],
    );
    // Runtime.Build receives the links SST encrypts into each package.
    const links = Object.fromEntries(e.builds.map((b) => [b.functionID, b.links]));
    expect(links).toEqual({
      Webhook: ['FlowtriqWebhookSecret', 'FlowtriqWebhookSecretNext'],
      Worker: ['FirewallSigningSecret', 'FlowtriqApiToken', 'SiemSigningSecret'],
      Sweeper: ['FirewallSigningSecret', 'FlowtriqApiToken', 'SiemSigningSecret'],
      DeviceRelay: [],
    });
    for (const build of e.builds) {
      for (const type of Object.values(build.linkTypes)) expect(type).toMatch(/sst\.sst\.Secret$/);
    }
  });

  it('packages: every function bundles the config as relay.config.yaml; the engine and the relay also get the CA bundle', () => {
    const e = deployed(id);
    for (const component of FUNCTIONS) {
      const files = functionPackage(e, component);
      const handler = component === 'DeviceRelay' ? 'device-relay' : component.toLowerCase();
      expect(files.get('relay.config.yaml')?.toString('utf8'), component).toBe(FULL_CONFIG);
      expect(files.has(`functions/${handler}.mjs`), `${component}: functions/${handler}.mjs in ${[...files.keys()].join(', ')}`).toBe(true);
      expect(files.get('certs/firewall-ca.pem')?.toString('utf8'), component).toBe(component === 'Webhook' ? undefined : FULL_CA);
    }
    for (const build of e.builds) expect(build.copyFiles[0], build.functionID).toEqual({ from: e.configFile, to: 'relay.config.yaml' });
  });

  it('alarms: DLQ depth, webhook throttles and errors, queue age, overdue blocks, worker errors, sweeper errors and sweeper silence notify the Alarms topic; e-mail subscribed', () => {
    const e = deployed(id);
    const topic = computed(e, TYPES.topic, 'AlarmsTopic', 'arn');
    const alarms = Object.fromEntries(ofType(e, TYPES.metricAlarm).map((a) => [a.name, a.inputs]));
    expect(Object.keys(alarms).sort()).toEqual([
      'JobsDlqNotEmptyAlarm',
      'JobsQueueAgeAlarm',
      'OverdueBlocksAlarm',
      'SweeperErrorsAlarm',
      'SweeperNotRunningAlarm',
      'WebhookErrorsAlarm',
      'WebhookThrottlesAlarm',
      'WorkerErrorsAlarm',
    ]);
    const webhook = computed(e, TYPES.function, 'WebhookFunction', 'name');
    expect(alarms.WebhookThrottlesAlarm).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'Throttles', dimensions: { FunctionName: webhook }, threshold: 0 });
    expect(alarms.WebhookErrorsAlarm).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'Errors', dimensions: { FunctionName: webhook }, threshold: 0 });
    // The sweeper's EMF gauge, under the stage's service name (POWERTOOLS_SERVICE_NAME of every function).
    expect(alarms.OverdueBlocksAlarm).toMatchObject({
      namespace: 'FlowtriqRelay',
      metricName: 'flowtriq_relay_overdue_blocks',
      dimensions: { service: environment(resource(e, TYPES.function, 'SweeperFunction')).POWERTOOLS_SERVICE_NAME },
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
    });
    expect(environment(resource(e, TYPES.function, 'SweeperFunction')).POWERTOOLS_SERVICE_NAME).toMatch(/^flowtriq-relay-/);
    // Worker timeout 90 s here: visibility 540 s, alarm after an event waited two of them.
    expect(alarms.JobsQueueAgeAlarm).toMatchObject({
      namespace: 'AWS/SQS',
      metricName: 'ApproximateAgeOfOldestMessage',
      dimensions: { QueueName: computed(e, TYPES.queue, 'JobsQueueQueue', 'name') },
      statistic: 'Maximum',
      threshold: 1080,
      comparisonOperator: 'GreaterThanThreshold',
    });
    expect(alarms.JobsDlqNotEmptyAlarm).toMatchObject({
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: computed(e, TYPES.queue, 'JobsDlqQueue', 'name') },
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
    });
    const worker = computed(e, TYPES.function, 'WorkerFunction', 'name');
    const sweeper = computed(e, TYPES.function, 'SweeperFunction', 'name');
    expect(alarms.WorkerErrorsAlarm).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'Errors', dimensions: { FunctionName: worker } });
    expect(alarms.SweeperErrorsAlarm).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'Errors', dimensions: { FunctionName: sweeper } });
    expect(alarms.SweeperNotRunningAlarm).toMatchObject({
      metricName: 'Invocations',
      dimensions: { FunctionName: sweeper },
      comparisonOperator: 'LessThanThreshold',
      treatMissingData: 'breaching',
    });
    for (const [name, alarm] of Object.entries(alarms)) {
      expect(alarm.alarmActions, name).toEqual([topic]);
      expect(alarm.okActions, name).toEqual([topic]);
    }
    // When each fires: statistic, period (s), evaluation periods, datapoints, threshold, comparison, missing data.
    const when = Object.fromEntries(
      Object.entries(alarms).map(([name, a]) => [
        name,
        [a.statistic, a.period, a.evaluationPeriods, a.datapointsToAlarm ?? '-', a.threshold, a.comparisonOperator, a.treatMissingData].join(' '),
      ]),
    );
    expect(when).toEqual({
      JobsDlqNotEmptyAlarm: 'Maximum 60 1 - 0 GreaterThanThreshold notBreaching',
      JobsQueueAgeAlarm: 'Maximum 60 3 2 1080 GreaterThanThreshold notBreaching',
      OverdueBlocksAlarm: 'Maximum 60 5 3 0 GreaterThanThreshold notBreaching',
      SweeperErrorsAlarm: 'Sum 60 5 3 0 GreaterThanThreshold notBreaching',
      SweeperNotRunningAlarm: 'Sum 300 2 - 1 LessThanThreshold breaching',
      WebhookErrorsAlarm: 'Sum 60 1 - 0 GreaterThanThreshold notBreaching',
      WebhookThrottlesAlarm: 'Sum 60 1 - 0 GreaterThanThreshold notBreaching',
      WorkerErrorsAlarm: 'Sum 300 1 - 0 GreaterThanThreshold notBreaching',
    });
    expect(ofType(e, TYPES.topicSubscription).map((s) => s.inputs)).toEqual([{ topic, protocol: 'email', endpoint: 'noc@example.com' }]);
  });

  it('outputs: the webhook URL (Function URL + /webhooks/flowtriq) and the alarm topic', () => {
    const e = deployed(id);
    expect(e.outputs?.webhookUrl).toBe(`${computed(e, TYPES.functionUrl, 'WebhookUrl', 'functionUrl')}webhooks/flowtriq`);
    expect(e.outputs?.alarmTopic).toBe(computed(e, TYPES.topic, 'AlarmsTopic', 'arn'));
    expect(e.outputs?.deviceRelay).toBe(computed(e, TYPES.function, 'DeviceRelayFunction', 'name'));
    expect(e.outputs?.sweeperFunction).toBe(computed(e, TYPES.function, 'SweeperFunction', 'name'));
  });
});

describe('minimal config: defaults, JSON, no VPC integration', () => {
  const id = SCENARIOS.minimal.id;

  it('creates no device relay, grants no lambda:InvokeFunction, passes no relay function name', () => {
    const e = deployed(id);
    expect(maybeResource(e, TYPES.function, 'DeviceRelayFunction')).toBeUndefined();
    expect(ofType(e, TYPES.function).map((f) => f.name).sort()).toEqual(['SweeperFunction', 'WebhookFunction', 'WorkerFunction']);
    for (const role of ofType(e, TYPES.role)) {
      expect([...allowedActions(role).keys()], role.name).not.toContain('lambda:InvokeFunction');
      expect(managedPolicies(role), role.name).not.toContain(VPC_ACCESS_POLICY);
    }
    for (const fn of ofType(e, TYPES.function)) expect(environment(fn), fn.name).not.toHaveProperty('RELAY_DEVICE_RELAY_FUNCTION');
    expect(e.outputs).not.toHaveProperty('deviceRelay');
  });

  it('uses the config defaults: 2 min worker → 720 s visibility, batch 10, 5 receives, 10 reserved webhook executions', () => {
    const e = deployed(id);
    expect(resource(e, TYPES.queue, 'JobsQueueQueue').inputs.visibilityTimeoutSeconds).toBe(720);
    expect(resource(e, TYPES.function, 'WorkerFunction').inputs.timeout).toBe(120);
    expect(JSON.parse(String(resource(e, TYPES.queue, 'JobsQueueQueue').inputs.redrivePolicy)).maxReceiveCount).toBe(5);
    expect(ofType(e, TYPES.eventSourceMapping)[0]?.inputs.batchSize).toBe(10);
    expect(resource(e, TYPES.function, 'WebhookFunction').inputs.reservedConcurrentExecutions).toBe(10);
  });

  it('has the alarm topic but no e-mail subscription', () => {
    const e = deployed(id);
    expect(ofType(e, TYPES.topic)).toHaveLength(1);
    expect(ofType(e, TYPES.topicSubscription)).toEqual([]);
    expect(ofType(e, TYPES.metricAlarm)).toHaveLength(8);
  });

  it('bundles the JSON file as relay.config.yaml (JSON is YAML)', () => {
    const e = deployed(id);
    const files = functionPackage(e, 'Worker');
    expect(files.get('relay.config.yaml')?.toString('utf8')).toBe(MINIMAL_CONFIG);
    expect(readFileSync(e.configFile!, 'utf8')).toBe(MINIMAL_CONFIG);
  });
});

describe('configs that must not deploy', () => {
  /** Failed with `message`, before any AWS resource or function build. */
  function refused(id: string, message: string | RegExp) {
    const e = evaluation(id);
    const text = e.errors.join('\n');
    if (typeof message === 'string') expect(text).toContain(message);
    else expect(text).toMatch(message);
    expect(e.resources.filter((r) => r.type.startsWith('aws:')).map((r) => r.name)).toEqual([]);
    expect(e.builds).toEqual([]);
  }

  it('an invalid config fails with the zod message, before anything is created', () => {
    refused(SCENARIOS.httpUrl.id, 'integrations[0].options.url: must be https://; set allowInsecureHttp: true only for loopback testing');
  });

  it("the schema's cross-field rules apply too (via: vpc without aws.vpc)", () => {
    refused(SCENARIOS.vpcWithoutNetwork.id, 'integrations[0].via: is "vpc" but aws.vpc is not configured');
  });

  it('{ env: NAME } secrets are refused with the { sst: Name } to write instead, for every reference', () => {
    refused(SCENARIOS.envSecrets.id, 'webhook.secrets[0]: { env: FLOWTRIQ_WEBHOOK_SECRET } has no source in AWS; write { sst: FlowtriqWebhookSecret }');
    refused(SCENARIOS.envSecrets.id, 'integrations[0].secrets.signingSecret: { env: RELAY_WEBHOOK_SIGNING_SECRET } has no source in AWS; write { sst: RelayWebhookSigningSecret }');
  });

  it('a RELAY_CONFIG that names no file fails', () => {
    refused(SCENARIOS.missingFile.id, '/nonexistent/relay.config.yaml is invalid:\n  - (file): does not exist');
  });

  it('a secret named like a relay component fails with a clear message (SST would only say "not unique")', () => {
    refused(SCENARIOS.nameClash.id, 'the SST secret name "Worker" is taken by the relay\'s own "Worker" component');
  });

  it('a required secret that was never set fails with SST\'s "sst secret set" message', () => {
    const e = evaluation(SCENARIOS.unsetSecret.id);
    expect(e.errors).toContain('Set a value for SiemSigningSecret with `sst secret set SiemSigningSecret <value>`');
  });
});
