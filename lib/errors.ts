/**
 * Base class for every error the relay raises on purpose. Each failure mode
 * gets its own subclass (in the `errors.ts` of its module) so callers can
 * branch on `instanceof` and logs carry a stable `code`.
 */
export class RelayError extends Error {
  /** Stable, machine-readable identifier, e.g. `config_invalid`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Returns a one-line description of any thrown value, safe to log. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
