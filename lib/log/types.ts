/**
 * The logging surface the relay's code depends on: structured JSON lines,
 * one per action. Implemented with Powertools Logger (lib/log/logger.ts); tests
 * use a recording logger (test/helpers/recording-logger.ts).
 */
export type LogAttributes = Record<string, unknown>;

export interface Logger {
  debug(message: string, attributes?: LogAttributes): void;
  info(message: string, attributes?: LogAttributes): void;
  warn(message: string, attributes?: LogAttributes): void;
  error(message: string, attributes?: LogAttributes): void;
  /** A logger that adds these attributes to every line. */
  child(attributes: LogAttributes): Logger;
}
