/**
 * CloudWatch alarms on what needs a human: events in the dead-letter queue,
 * webhook throttles and errors, an event waiting too long in the queue,
 * worker errors, and a sweeper that fails or stops running. They notify the
 * `Alarms` SNS topic (an output of the stage); with `aws.alarmEmail` the
 * address is subscribed to it (AWS e-mails a confirmation link first).
 */
import type { DeploymentSettings } from './config.ts';
import { EMF_NAMESPACE, METRIC } from '../lib/metrics/names.ts';
import { metricsServiceName, type Functions } from './functions.ts';
import type { Storage } from './storage.ts';

export function createAlarms(settings: DeploymentSettings, storage: Storage, functions: Functions) {
  const topic = new sst.aws.SnsTopic('Alarms');
  if (settings.alarmEmail !== undefined) {
    new aws.sns.TopicSubscription('AlarmsEmail', { topic: topic.arn, protocol: 'email', endpoint: settings.alarmEmail });
  }

  const prefix = `${$app.name}-${$app.stage}`;
  const notify = { alarmActions: [topic.arn], okActions: [topic.arn] };

  // Any dead letter is an event the relay gave up on after aws.maxReceives
  // deliveries: its blocks were not applied or not removed. Stays in alarm
  // until the DLQ is redriven or emptied.
  new aws.cloudwatch.MetricAlarm('JobsDlqNotEmptyAlarm', {
    name: `${prefix}-dlq-not-empty`,
    alarmDescription: 'Flowtriq Relay: events reached the dead-letter queue (see DEPLOY.md, "Alarms")',
    namespace: 'AWS/SQS',
    metricName: 'ApproximateNumberOfMessagesVisible',
    dimensions: { QueueName: storage.dlq.nodes.queue.name },
    statistic: 'Maximum',
    period: 60,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    ...notify,
  });

  // Failed records are reported as partial batch failures, not errors, so an
  // error here is the worker itself failing (config, secrets, permissions).
  new aws.cloudwatch.MetricAlarm('WorkerErrorsAlarm', {
    name: `${prefix}-worker-errors`,
    alarmDescription: 'Flowtriq Relay: the worker Lambda failed',
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: { FunctionName: functions.worker.name },
    statistic: 'Sum',
    period: 300,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    ...notify,
  });

  // The sweeper runs every minute; failing in 3 of 5 minutes is not a blip.
  new aws.cloudwatch.MetricAlarm('SweeperErrorsAlarm', {
    name: `${prefix}-sweeper-errors`,
    alarmDescription: 'Flowtriq Relay: the sweeper keeps failing; expired blocks are not being removed',
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: { FunctionName: functions.sweeper.name },
    statistic: 'Sum',
    period: 60,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    ...notify,
  });

  // No invocation for 10 minutes: the schedule is disabled or the sweeper is
  // throttled. No data at all counts as not running.
  new aws.cloudwatch.MetricAlarm('SweeperNotRunningAlarm', {
    name: `${prefix}-sweeper-not-running`,
    alarmDescription: 'Flowtriq Relay: the sweeper has not run for 10 minutes; expired blocks are not being removed',
    namespace: 'AWS/Lambda',
    metricName: 'Invocations',
    dimensions: { FunctionName: functions.sweeper.name },
    statistic: 'Sum',
    period: 300,
    evaluationPeriods: 2,
    threshold: 1,
    comparisonOperator: 'LessThanThreshold',
    treatMissingData: 'breaching',
    ...notify,
  });

  // Throttled webhooks are Flowtriq deliveries refused with 429: reserved
  // concurrency is exhausted (a flood of requests, or the cap set too low).
  new aws.cloudwatch.MetricAlarm('WebhookThrottlesAlarm', {
    name: `${prefix}-webhook-throttles`,
    alarmDescription: 'Flowtriq Relay: webhook deliveries were throttled (reserved concurrency exhausted; see DEPLOY.md, "Alarms")',
    namespace: 'AWS/Lambda',
    metricName: 'Throttles',
    dimensions: { FunctionName: functions.webhook.name },
    statistic: 'Sum',
    period: 60,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    ...notify,
  });

  // Refused requests (401, 413, ...) are answers, not errors: an error is the
  // webhook function itself failing, so events may not have been queued.
  new aws.cloudwatch.MetricAlarm('WebhookErrorsAlarm', {
    name: `${prefix}-webhook-errors`,
    alarmDescription: 'Flowtriq Relay: the webhook Lambda failed; events may not have been queued',
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: { FunctionName: functions.webhook.name },
    statistic: 'Sum',
    period: 60,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    ...notify,
  });

  // A worker that is stuck without raising an error (event source mapping
  // disabled, concurrency starved) leaves events waiting: the oldest one
  // ages. Two visibility timeouts is more than a retried event ever waits
  // between deliveries.
  new aws.cloudwatch.MetricAlarm('JobsQueueAgeAlarm', {
    name: `${prefix}-queue-age`,
    alarmDescription: `Flowtriq Relay: an event has waited more than ${settings.queue.oldestAgeAlarmSeconds} s in the queue; the worker is not taking events`,
    namespace: 'AWS/SQS',
    metricName: 'ApproximateAgeOfOldestMessage',
    dimensions: { QueueName: storage.queue.nodes.queue.name },
    statistic: 'Maximum',
    period: 60,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    threshold: settings.queue.oldestAgeAlarmSeconds,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    ...notify,
  });

  // The sweeper publishes how many blocks are overdue (due for 5 minutes, or
  // failing 3 times in a row) after every run: the relay is not converging.
  new aws.cloudwatch.MetricAlarm('OverdueBlocksAlarm', {
    name: `${prefix}-overdue-blocks`,
    alarmDescription: 'Flowtriq Relay: blocks are overdue (not applied or not removed in time); see relay status --aws and DEPLOY.md, "Alarms"',
    namespace: EMF_NAMESPACE,
    metricName: METRIC.overdueBlocks,
    dimensions: { service: metricsServiceName() },
    statistic: 'Maximum',
    period: 60,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    ...notify,
  });

  return { topic };
}
