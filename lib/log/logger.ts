/**
 * Structured JSON logging through Powertools Logger (the same library, the
 * same line format locally and in Lambda). Attributes pass through `redact`.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { redact } from './redact.ts';
import type { LogAttributes, Logger } from './types.ts';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

class PowertoolsAdapter implements Logger {
  readonly #inner: PowertoolsLogger;
  constructor(inner: PowertoolsLogger) {
    this.#inner = inner;
  }
  debug(message: string, attributes?: LogAttributes) {
    this.#inner.debug(message, clean(attributes));
  }
  info(message: string, attributes?: LogAttributes) {
    this.#inner.info(message, clean(attributes));
  }
  warn(message: string, attributes?: LogAttributes) {
    this.#inner.warn(message, clean(attributes));
  }
  error(message: string, attributes?: LogAttributes) {
    this.#inner.error(message, clean(attributes));
  }
  child(attributes: LogAttributes): Logger {
    return new PowertoolsAdapter(
      this.#inner.createChild({ persistentKeys: clean(attributes) }) as PowertoolsLogger,
    );
  }
}

function clean(attributes: LogAttributes | undefined): LogAttributes {
  return (attributes ? redact(attributes) : {}) as LogAttributes;
}

export function createLogger(options: { level?: LogLevel; attributes?: LogAttributes } = {}): Logger {
  const level = options.level ?? ((process.env.RELAY_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? 'INFO');
  const inner = new PowertoolsLogger({
    serviceName: 'flowtriq-relay',
    logLevel: level,
    persistentKeys: clean(options.attributes),
  });
  return new PowertoolsAdapter(inner);
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
