/**
 * The logger of one-shot commands (sweep, drain): warnings and errors as
 * readable lines on stderr, so stdout carries only the command's answer.
 * RELAY_LOG_LEVEL set: the relay's usual JSON lines instead.
 */
import { createLogger } from '../log/logger.ts';
import { redact } from '../log/redact.ts';
import type { LogAttributes, Logger } from '../log/types.ts';

function render(attributes: LogAttributes): string {
  const parts = Object.entries(redact(attributes) as LogAttributes).map(
    ([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

export function stderrLogger(write: (line: string) => void, persistent: LogAttributes = {}): Logger {
  const line = (level: string, message: string, attributes?: LogAttributes) =>
    write(`${level}: ${message}${render({ ...persistent, ...attributes })}`);
  return {
    debug() {},
    info() {},
    warn: (message, attributes) => line('warning', message, attributes),
    error: (message, attributes) => line('error', message, attributes),
    child: (attributes) => stderrLogger(write, { ...persistent, ...attributes }),
  };
}

export function commandLogger(env: NodeJS.ProcessEnv, write: (line: string) => void): Logger {
  return env.RELAY_LOG_LEVEL ? createLogger() : stderrLogger(write);
}
