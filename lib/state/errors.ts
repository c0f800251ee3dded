import { RelayError } from '../errors.ts';

/** The state store could not be reached or refused the write. */
export class StateUnavailableError extends RelayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('state_unavailable', message, options);
  }
}
