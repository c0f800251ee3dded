import type { LogAttributes, Logger } from '../../lib/log/types.ts';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  attributes: LogAttributes;
}

/** A Logger that keeps every line in memory for assertions. */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[];
  readonly #base: LogAttributes;
  constructor(lines: LogLine[] = [], base: LogAttributes = {}) {
    this.lines = lines;
    this.#base = base;
  }
  #push(level: LogLine['level'], message: string, attributes?: LogAttributes) {
    this.lines.push({ level, message, attributes: { ...this.#base, ...attributes } });
  }
  debug(message: string, attributes?: LogAttributes) {
    this.#push('debug', message, attributes);
  }
  info(message: string, attributes?: LogAttributes) {
    this.#push('info', message, attributes);
  }
  warn(message: string, attributes?: LogAttributes) {
    this.#push('warn', message, attributes);
  }
  error(message: string, attributes?: LogAttributes) {
    this.#push('error', message, attributes);
  }
  child(attributes: LogAttributes): Logger {
    return new RecordingLogger(this.lines, { ...this.#base, ...attributes });
  }
  messages(): string[] {
    return this.lines.map((line) => line.message);
  }
}
