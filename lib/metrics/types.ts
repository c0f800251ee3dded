/**
 * What the relay counts, behind one small port: the intake and the engine
 * report events to it; the one-box relay backs it with a Prometheus
 * registry (./prometheus.ts), Lambda with CloudWatch EMF (./emf.ts). The
 * same metric names everywhere (./names.ts). Labels never carry an address
 * or an incident: integration ids, actions and outcomes only.
 */
export interface RelayMetrics {
  /** One webhook answered: its outcome (accepted, duplicate, signature_invalid, ...) and how long the intake took. */
  webhook(outcome: string, seconds: number): void;
  /** One call (a batch) to a device or cloud API: add, remove, activate, deactivate, list. */
  deviceRequest(integration: string, action: string, outcome: string, seconds: number): void;
  /** Drift repair on one integration: blocks re-asserted, or relay entries removed. */
  driftRepair(integration: string, kind: 'reassert' | 'remove', count: number): void;
}
