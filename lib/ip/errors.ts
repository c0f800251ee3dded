import { RelayError } from '../errors.ts';

/**
 * An entry of the never-block list (an operator CIDR or a node address) is
 * not a valid address or prefix. Raised at startup by config validation, so
 * the message names the entry and how to fix it.
 */
export class InvalidNeverBlockEntryError extends RelayError {
  /** The offending entry, as written. */
  readonly entry: string;
  constructor(entry: string, message: string) {
    super('never_block_invalid', message);
    this.entry = entry;
  }
}
