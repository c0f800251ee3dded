/**
 * Failures of the `ipset` integration, one class per mode. Those that need
 * the operator (a set missing or unusable) are not retryable.
 */
import { ProviderError } from '../errors.ts';

/** The set does not exist. */
export class IpsetSetMissingError extends ProviderError {
  constructor(set: string, family: 'inet' | 'inet6', timeouts: boolean) {
    super(
      `ipset ${set} does not exist: the relay never creates it. Create it: ipset create ${set} hash:ip family ${family}${timeouts ? ' timeout 0' : ''} comment ` +
        `(and have it restored at boot, before your iptables rules); then add your drop rule (see the host firewall docs)`,
      { retryable: false },
    );
  }
}

/** The set exists but the relay cannot use it as configured (type, family, no timeout support, netmask, forceadd). */
export class IpsetSetUnusableError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** ipset printed something the relay does not understand. */
export class IpsetOutputError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** ipset failed for another reason; its message is included. */
export class IpsetCommandError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: true });
  }
}
