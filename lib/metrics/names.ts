/**
 * Metric names, Prometheus conventions (`_total` counters, `_seconds`
 * durations, base units), shared by the Prometheus registry and the EMF
 * output so a dashboard works on either.
 */
export const METRIC = {
  webhooks: 'flowtriq_relay_webhooks_total',
  webhookDuration: 'flowtriq_relay_webhook_duration_seconds',
  queueDepth: 'flowtriq_relay_queue_depth',
  queueOldestAge: 'flowtriq_relay_queue_oldest_age_seconds',
  deviceRequests: 'flowtriq_relay_device_requests_total',
  deviceRequestDuration: 'flowtriq_relay_device_request_duration_seconds',
  activeIncidents: 'flowtriq_relay_active_incidents',
  activeBlocks: 'flowtriq_relay_active_blocks',
  overdueBlocks: 'flowtriq_relay_overdue_blocks',
  driftRepairs: 'flowtriq_relay_drift_repairs_total',
  switchActive: 'flowtriq_relay_switch_active',
} as const;

/** The CloudWatch namespace of the Lambda functions' EMF metrics. */
export const EMF_NAMESPACE = 'FlowtriqRelay';
