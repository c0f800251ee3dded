/**
 * Last line of defence against secrets in logs: any attribute whose name looks
 * like a credential is replaced before the line is written. Code must still
 * never pass secrets to a logger; this catches mistakes.
 */
const SECRET_KEY = /secret|token|password|passwd|authorization|api[-_]?key|credential|cookie|signature/i;

export const REDACTED = '[redacted]';
/** What stands in for anything nested deeper than the limit (never the raw value). */
export const TRUNCATED = '[truncated]';

export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6) return TRUNCATED;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : redact(item, depth + 1);
  }
  return out;
}
