/**
 * Failures of the `nftables` integration, one class per mode. Those that
 * need the operator (a set missing or unusable) are not retryable: the
 * reconciler backs off to its longest delay.
 */
import { ProviderError } from '../errors.ts';

/** The table or one of the sets does not exist. */
export class NftablesSetMissingError extends ProviderError {
  constructor(family: string, table: string, set: string, type: 'ipv4_addr' | 'ipv6_addr', timeouts: boolean) {
    super(
      `nftables set ${family} ${table} ${set} does not exist (or its table does not): the relay never creates it. ` +
        `Create it: nft add table ${family} ${table} && nft add set ${family} ${table} ${set} '{ type ${type};${timeouts ? ' flags timeout;' : ''} }' ` +
        '(and keep it in /etc/nftables.conf); then add your drop rule (see the host firewall docs)',
      { retryable: false },
    );
  }
}

/** The set exists but the relay cannot use it as configured (wrong type, no timeout flag, interval, constant). */
export class NftablesSetUnusableError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** nft answered something the relay does not understand (e.g. built without JSON support). */
export class NftablesOutputError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** nft failed for another reason; its message is included. */
export class NftablesCommandError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: true });
  }
}
