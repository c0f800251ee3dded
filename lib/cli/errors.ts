/**
 * The CLI's error convention: every failure is one message saying what went
 * wrong and how to fix it, then a non-zero exit. Usage errors (a wrong
 * command, option or value; an invalid configuration) exit 2; failures of
 * the work itself (a busy port, no relay answering, a refused event) exit 1.
 * A Node stack is printed only for an unexpected error, and only with
 * RELAY_DEBUG=1.
 */
import { RelayError } from '../errors.ts';

/** The command line is wrong: exit 2. */
export class CliUsageError extends RelayError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** The command could not do its work: exit 1. */
export class CliFailure extends RelayError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Exit status of a thrown value (usage 2, failure 1). */
export function exitCodeOf(error: unknown): 1 | 2 {
  if (error instanceof CliFailure) return 1;
  if (error instanceof RelayError) return 2;
  return 1;
}

/**
 * The one-line message for a thrown value. An unexpected error keeps its
 * first line and points at RELAY_DEBUG=1 for the stack.
 */
export function errorMessage(error: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (error instanceof RelayError) return error.message;
  if (env.RELAY_DEBUG === '1' && error instanceof Error && error.stack) return error.stack;
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return `${text.split('\n')[0]} (unexpected; run again with RELAY_DEBUG=1 for the stack, and please report it)`;
}
