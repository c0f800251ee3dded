/**
 * Errors of the pfSense v2 adapter that are not the reconciler-facing
 * ProviderError: a misconfigured construction, and a device answer the
 * adapter handles internally before deciding what the batch's outcome is.
 */
import { RelayError } from '../../../errors.ts';

/** The provider cannot be built from this config (wrong apiVersion, missing secret, unsafe value). Raised at startup. */
export class PfSenseV2ConfigError extends RelayError {
  constructor(message: string) {
    super('pfsense_v2_config', message);
  }
}

/**
 * pfSense answered with a status other than 2xx (and not 401/403, which stop
 * the adapter at once). Carries what the envelope said so the adapter can
 * react to specific `response_id`s (an id that moved, a size limit, a full
 * dispatcher). `message` is the device's text, which names values the relay
 * sent — never credentials.
 */
export class PfSenseV2ApiError extends RelayError {
  readonly status: number;
  /** e.g. `LENGTH_VALIDATOR_MAXIMUM_CONSTRAINT`; empty when the body was not the package's envelope. */
  readonly responseId: string;
  readonly deviceMessage: string;
  /** From `Retry-After`, in ms, when present. */
  readonly retryAfterMs?: number;
  constructor(
    target: string,
    status: number,
    responseId: string,
    deviceMessage: string,
    retryAfterMs?: number,
  ) {
    super(
      'pfsense_v2_api',
      `${target} answered ${status}${responseId ? ` ${responseId}` : ''}${deviceMessage ? `: ${deviceMessage}` : ''}`,
    );
    this.status = status;
    this.responseId = responseId;
    this.deviceMessage = deviceMessage;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}
