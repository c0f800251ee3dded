/**
 * The LAPI's objects as the relay reads and writes them (swagger
 * `pkg/models/localapi_swagger.yaml`, v1.4.6 and current), and Go
 * durations (`time.ParseDuration`: "1h2m3s"; "1d" is not one).
 */
import { z } from 'zod';

/** `POST /v1/watchers/login` → 200. */
export const loginResponseSchema = z.looseObject({
  code: z.number().int().optional(),
  expire: z.string().optional(),
  token: z.string().min(1, 'token is empty'),
});
export type LoginResponse = z.output<typeof loginResponseSchema>;

/** `POST /v1/alerts` → 201: the ids of the alerts created. */
export const addAlertsResponseSchema = z.array(z.union([z.string(), z.number()]));

/** `DELETE /v1/decisions…` → 200 `{"nbDeleted":"1"}` (a string in 1.4.x). */
export const deleteDecisionsResponseSchema = z.looseObject({
  nbDeleted: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]),
});

/** A decision inside an alert of `GET /v1/alerts`. `duration` is the time left (negative once expired). */
export const alertDecisionSchema = z.looseObject({
  id: z.number().int(),
  origin: z.string(),
  type: z.string(),
  scope: z.string(),
  value: z.string(),
  duration: z.string(),
  scenario: z.string(),
  simulated: z.boolean().optional(),
});
export type AlertDecision = z.output<typeof alertDecisionSchema>;

/** `GET /v1/alerts` → 200: an array, or `null` when nothing matches (1.4.x). */
export const getAlertsResponseSchema = z
  .array(
    z.looseObject({
      id: z.number().int().optional(),
      scenario: z.string().optional(),
      decisions: z.array(alertDecisionSchema).nullish(),
    }),
  )
  .nullable();

/** The error bodies: `{"message": "…", "errors"?: …}` and gin-jwt's `{"code": 401, "message": "…"}`. */
export const errorBodySchema = z.looseObject({
  message: z.string().optional().catch(undefined),
  code: z.number().optional().catch(undefined),
});

/** One decision the relay asks for. */
export interface DecisionRequest {
  ip: string;
  /** Milliseconds left; sent rounded up to whole seconds. */
  remainingMs: number;
}

/**
 * The alert carrying one batch of decisions: every key the swagger marks
 * required (1.4.x answers 500 "validation failure list" without them), the
 * relay's scenario on the alert and on each decision.
 */
export function buildAlert(options: {
  scenario: string;
  origin: string;
  integrationId: string;
  decisions: DecisionRequest[];
  incidents: string[];
  nowIso: string;
}): Record<string, unknown> {
  const shown = options.incidents.slice(0, 5);
  const more = options.incidents.length > shown.length ? ` and ${options.incidents.length - shown.length} more` : '';
  const count = options.decisions.length;
  return {
    scenario: options.scenario,
    scenario_hash: '',
    scenario_version: '',
    message: `flowtriq-relay ${options.integrationId}: DDoS mitigation, ${count} address${count === 1 ? '' : 'es'}${shown.length > 0 ? ` (incident ${shown.join(', ')}${more})` : ''}`,
    events_count: count,
    events: [],
    start_at: options.nowIso,
    stop_at: options.nowIso,
    capacity: 0,
    leakspeed: '0',
    simulated: false,
    source: { scope: options.origin, value: options.integrationId },
    decisions: options.decisions.map((decision) => ({
      origin: options.origin,
      type: 'ban',
      scope: 'Ip',
      value: decision.ip,
      duration: formatGoDuration(decision.remainingMs),
      scenario: options.scenario,
    })),
  };
}

/** Milliseconds as a Go duration in whole seconds, rounded up, at least 1s: 5400000 → "1h30m". */
export function formatGoDuration(ms: number): string {
  let seconds = Math.max(1, Math.ceil(ms / 1000));
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const parts = [hours > 0 ? `${hours}h` : '', minutes > 0 ? `${minutes}m` : '', seconds > 0 ? `${seconds}s` : ''];
  return parts.join('');
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const GO_DURATION = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const GO_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** A Go duration string ("59m50.05s", "-23.4ms", "0s") in milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (!GO_DURATION.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(GO_PART)) total += Number(match[1]) * GO_UNITS[match[2]!]!;
  return text.startsWith('-') ? -total : total;
}
