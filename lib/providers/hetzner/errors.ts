/**
 * Robot's error answers and what each means for the relay.
 *
 * Body: `{"error":{"status":404,"code":"SERVER_NOT_FOUND","message":"…"}}`;
 * invalid input adds `missing`/`invalid` (lists of field names); the rate
 * limit is **HTTP 403** `RATE_LIMIT_EXCEEDED` with `max_request` and
 * `interval` (seconds): not an authorization failure, a pause.
 */
import { z } from 'zod';

const names = z.array(z.string()).nullish().catch(undefined);

const errorSchema = z.looseObject({
  error: z.looseObject({
    status: z.number().int().optional().catch(undefined),
    code: z.string(),
    message: z.string().optional().catch(undefined),
    missing: names,
    invalid: names,
    max_request: z.number().optional().catch(undefined),
    interval: z.number().optional().catch(undefined),
  }),
});

export interface RobotErrorBody {
  code: string;
  message: string;
  missing: string[];
  invalid: string[];
  maxRequest?: number;
  intervalSeconds?: number;
}

/** Robot's error object, or undefined when the body is not one. */
export function parseRobotError(json: unknown): RobotErrorBody | undefined {
  const parsed = errorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const e = parsed.data.error;
  const out: RobotErrorBody = {
    code: e.code,
    message: sanitize(e.message ?? ''),
    missing: (e.missing ?? []).map(sanitize),
    invalid: (e.invalid ?? []).map(sanitize),
  };
  if (e.max_request !== undefined) out.maxRequest = e.max_request;
  if (e.interval !== undefined) out.intervalSeconds = e.interval;
  return out;
}

/** What a Robot error means: the fix, and whether trying again can help. */
export function explainRobotError(
  status: number,
  error: RobotErrorBody | undefined,
  server: number,
): { retryable: boolean; explanation: string } {
  const code = error?.code ?? '';
  switch (code) {
    case 'SERVER_NOT_FOUND':
      return {
        retryable: false,
        explanation: `server ${server} is not in this Robot account: check options.servers (the server number shown in Robot, not its IP) and that the webservice user belongs to the account that owns the server`,
      };
    case 'FIREWALL_NOT_AVAILABLE':
      return {
        retryable: false,
        explanation: `the Robot firewall is not available for server ${server} (not every product supports it); remove the server from options.servers`,
      };
    case 'FIREWALL_PORT_NOT_FOUND':
      return {
        retryable: false,
        explanation: `Robot knows no firewall port for server ${server}; open Robot → Server → Firewall once to check the port (main/kvm), or ask Hetzner support`,
      };
    case 'FIREWALL_IN_PROCESS':
      return {
        retryable: true,
        explanation: `Robot is still applying an earlier change to server ${server}'s firewall; the relay reads it again and decides then`,
      };
    case 'FIREWALL_RULE_LIMIT_EXCEEDED':
      return {
        retryable: false,
        explanation: `Robot refused the rules for server ${server}: more than 10 input rules; shorten options.inputRules`,
      };
    case 'FIREWALL_CANNOT_BE_DISABLED':
      return {
        retryable: false,
        explanation: `Robot refused to disable server ${server}'s firewall (internal Hetzner rules); restore it by hand in Robot → Server → Firewall`,
      };
    case 'INVALID_INPUT': {
      const details = [
        error!.invalid.length > 0 ? `invalid: ${error!.invalid.join(', ')}` : '',
        error!.missing.length > 0 ? `missing: ${error!.missing.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ');
      return {
        retryable: false,
        explanation: `Robot rejected the firewall form for server ${server}${details ? ` (${details})` : ''}; check options.inputRules against Robot's rule syntax`,
      };
    }
    default:
      break;
  }
  if (status === 503 || code === 'MAINTENANCE' || code === 'MAINTENANCE_MODE') {
    return { retryable: true, explanation: 'Robot is in maintenance; the relay tries again' };
  }
  if (status >= 500) return { retryable: true, explanation: 'Robot failed; the relay tries again' };
  if (status === 403) {
    return {
      retryable: false,
      explanation: `Robot refused access to server ${server}'s firewall; check that the webservice user may manage this server`,
    };
  }
  return { retryable: false, explanation: 'unexpected answer from Robot' };
}

/** Device text for our messages: one line, bounded. */
export function sanitize(value: string): string {
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
