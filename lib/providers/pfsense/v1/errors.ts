/**
 * Failure modes of the pfSense v1 adapter (pfSense-pkg-API). The provider
 * errors extend ProviderError, so the reconciler treats them like any other
 * provider failure; the subclasses let callers and tests branch on the cause.
 */
import { RelayError } from '../../../errors.ts';
import { ProviderError } from '../../errors.ts';

/**
 * The integration cannot be built as given: wrong apiVersion or auth mode, a
 * secret missing or unusable in an HTTP header, an alias name pfSense would
 * rewrite. Raised by the constructor, before any request is made.
 */
export class PfSenseV1ConfigError extends RelayError {
  constructor(message: string) {
    super('pfsense_v1_config', message);
  }
}

/**
 * The firewall refused the relay's credentials (401) or its privileges (403),
 * or login protection locked the relay out. Never retryable: pfSense's login
 * protection counts every failed authentication, so the provider stops at the
 * first one and the message names the fix.
 */
export class PfSenseV1AuthError extends ProviderError {
  /** The envelope's `return` id when the answer was an API envelope. */
  readonly returnCode?: number;
  constructor(message: string, options: { status: number; returnCode?: number }) {
    super(message, { retryable: false, status: options.status });
    if (options.returnCode !== undefined) this.returnCode = options.returnCode;
  }
}

/** The API answered with an envelope whose non-zero `return` id the provider does not handle itself. */
export class PfSenseV1ApiError extends ProviderError {
  /** The envelope's `return` id, e.g. 4058 (invalid host alias address). */
  readonly returnCode: number;
  constructor(message: string, options: { retryable: boolean; status: number; returnCode: number; retryAfterMs?: number }) {
    super(message, {
      retryable: options.retryable,
      status: options.status,
      ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}),
    });
    this.returnCode = options.returnCode;
  }
}

/**
 * The answer was not a pfSense-pkg-API envelope: the URL points at something
 * else, the package is not installed, or a proxy answered.
 */
export class PfSenseV1ResponseError extends ProviderError {
  constructor(message: string, options: { retryable: boolean; status: number; retryAfterMs?: number }) {
    super(message, options);
  }
}

/**
 * The alias's descriptions are not one per address (fewer, more, or an
 * empty one), so the package would pair the relay's description with
 * another entry, or move an operator's description onto another address,
 * if the relay wrote now. Not retryable: the operator has to fix the alias
 * (the message says how); nothing was written.
 */
export class PfSenseV1AliasDetailError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** The configured alias exists but is not a `host` alias, so its entries are not single addresses. */
export class PfSenseV1AliasTypeError extends ProviderError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}
