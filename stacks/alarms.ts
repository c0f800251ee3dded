/**
 * CloudWatch alarms on what needs a human: events in the dead-letter queue,
 * webhook throttles and errors, an event waiting too long in the queue,
 * overdue blocks, worker errors, and a sweeper that fails or stops running.
 * They notify the `Alarms` SNS topic (an output of the stage); with
 * `aws.alarmEmail` the address is subscribed to it (AWS e-mails a
 * confirmation link first). DEPLOY.md, "Alarms", says what to do for each.
 */
import type { DeploymentSettings } from './config.ts';
import { EMF_NAMESPACE, METRIC } from '../lib/metrics/names.ts';
import { metricsServiceName, type Functions } from './functions.ts';
import type { Storage } from './storage.ts';

/** What differs between the alarms; the rest is "above 0 in one minute, no data is fine". */
interface AlarmSpec {
  /** `<app>-<stage>-<suffix>`. */
  suffix: string;
  description: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, $util.Input<string>>;
  statistic?: 'Sum' | 'Maximum';
  period?: number;
  evaluationPeriods?: number;
  datapointsToAlarm?: number;
  threshold?: number;
  comparisonOperator?: 'GreaterThanThreshold' | 'LessThanThreshold';
  treatMissingData?: 'notBreaching' | 'breaching';
}

export function createAlarms(settings: DeploymentSettings, storage: Storage, functions: Functions) {
  const topic = new sst.aws.SnsTopic('Alarms');
  if (settings.alarmEmail !== undefined) {
    new aws.sns.TopicSubscription('AlarmsEmail', { topic: topic.arn, protocol: 'email', endpoint: settings.alarmEmail });
  }

  const prefix = `${$app.name}-${$app.stage}`;
  const alarm = (logicalName: string, spec: AlarmSpec) =>
    new aws.cloudwatch.MetricAlarm(logicalName, {
      name: `${prefix}-${spec.suffix}`,
      alarmDescription: spec.description,
      namespace: spec.namespace,
      metricName: spec.metricName,
      dimensions: spec.dimensions,
      statistic: spec.statistic ?? 'Sum',
      period: spec.period ?? 60,
      evaluationPeriods: spec.evaluationPeriods ?? 1,
      ...(spec.datapointsToAlarm !== undefined ? { datapointsToAlarm: spec.datapointsToAlarm } : {}),
      threshold: spec.threshold ?? 0,
      comparisonOperator: spec.comparisonOperator ?? 'GreaterThanThreshold',
      treatMissingData: spec.treatMissingData ?? 'notBreaching',
      alarmActions: [topic.arn],
      okActions: [topic.arn],
    });

  // Any dead letter is an event the relay gave up on after aws.maxReceives
  // deliveries: its blocks were not applied or not removed. Stays in alarm
  // until the DLQ is redriven or emptied.
  alarm('JobsDlqNotEmptyAlarm', {
    suffix: 'dlq-not-empty',
    description: 'Flowtriq Relay: events reached the dead-letter queue (see DEPLOY.md, "Alarms")',
    namespace: 'AWS/SQS',
    metricName: 'ApproximateNumberOfMessagesVisible',
    dimensions: { QueueName: storage.dlq.nodes.queue.name },
    statistic: 'Maximum',
  });

  // Failed records are reported as partial batch failures, not errors, so an
  // error here is the worker itself failing (config, secrets, permissions).
  alarm('WorkerErrorsAlarm', {
    suffix: 'worker-errors',
    description: 'Flowtriq Relay: the worker Lambda failed',
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: { FunctionName: functions.worker.name },
    period: 300,
  });

  // The sweeper runs every minute; failing in 3 of 5 minutes is not a blip.
  alarm('SweeperErrorsAlarm', {
    suffix: 'sweeper-errors',
    description: 'Flowtriq Relay: the sweeper keeps failing; expired blocks are not being removed',
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: { FunctionName: functions.sweeper.name },
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });

  // No invocation for 10 minutes: the schedule is disabled or the sweeper is
  // throttled. No data at all counts as not running.
  alarm('SweeperNotRunningAlarm', {
    suffix: 'sweeper-not-running',
    description: 'Flowtriq Relay: the sweeper has not run for 10 minutes; expired blocks are not being removed',
    namespace: 'AWS/Lambda',
    metricName: 'Invocations',
    dimensions: { FunctionName: functions.sweeper.name },
    period: 300,
    evaluationPeriods: 2,
    threshold: 1,
    comparisonOperator: 'LessThanThreshold',
    treatMissingData: 'breaching',
  });

  // Throttled webhooks are Flowtriq deliveries refused with 429: reserved
  // concurrency is exhausted (a flood of requests, or the cap set too low).
  alarm('WebhookThrottlesAlarm', {
    suffix: 'webhook-throttles',
    description: 'Flowtriq Relay: webhook deliveries were throttled (reserved concurrency exhausted; see DEPLOY.md, "Alarms")',
    namespace: 'AWS/Lambda',
    metricName: 'Throttles',
    dimensions: { FunctionName: functions.webhook.name },
  });

  // Refused requests (401, 413, ...) are answers, not errors: an error is the
  // webhook function itself failing, so events may not have been queued.
  alarm('WebhookErrorsAlarm', {
    suffix: 'webhook-errors',
    description: 'Flowtriq Relay: the webhook Lambda failed; events may not have been queued',
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: { FunctionName: functions.webhook.name },
  });

  // A worker that is stuck without raising an error (event source mapping
  // disabled, concurrency starved) leaves events waiting: the oldest one
  // ages. Two visibility timeouts is more than a retried event ever waits
  // between deliveries.
  alarm('JobsQueueAgeAlarm', {
    suffix: 'queue-age',
    description: `Flowtriq Relay: an event has waited more than ${settings.queue.oldestAgeAlarmSeconds} s in the queue; the worker is not taking events`,
    namespace: 'AWS/SQS',
    metricName: 'ApproximateAgeOfOldestMessage',
    dimensions: { QueueName: storage.queue.nodes.queue.name },
    statistic: 'Maximum',
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    threshold: settings.queue.oldestAgeAlarmSeconds,
  });

  // The sweeper publishes how many blocks are overdue (due for 5 minutes, or
  // failing 3 times in a row) after every run: the relay is not converging.
  alarm('OverdueBlocksAlarm', {
    suffix: 'overdue-blocks',
    description: 'Flowtriq Relay: blocks are overdue (not applied or not removed in time); see relay status --aws and DEPLOY.md, "Alarms"',
    namespace: EMF_NAMESPACE,
    metricName: METRIC.overdueBlocks,
    dimensions: { service: metricsServiceName() },
    statistic: 'Maximum',
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });

  return { topic };
}
