/**
 * OVHcloud API request signing (the "application key + consumer key" scheme
 * every official SDK implements: go-ovh `NewRequest`, node-ovh `signRequest`,
 * python-ovh `raw_call`).
 *
 *   toSign    = AS + "+" + CK + "+" + METHOD + "+" + URL + "+" + BODY + "+" + TIMESTAMP
 *   signature = "$1$" + lower-case hex SHA-1 of toSign (UTF-8)
 *
 * URL is the exact URL sent (scheme, host, `/1.0`, encoded path, query),
 * BODY the exact JSON text sent ("" without a body) and TIMESTAMP the
 * server's Unix time in seconds (the local clock corrected by the offset
 * read from `GET /auth/time`), the same value as the X-Ovh-Timestamp header.
 *
 * Nothing here logs anything; the signature is as secret as the key it proves.
 */
import { createHash } from 'node:crypto';

export interface OvhSigningInput {
  applicationSecret: string;
  consumerKey: string;
  method: string;
  /** The full URL exactly as sent. */
  url: string;
  /** The body exactly as sent; empty string when there is none. */
  body: string;
  /** Server time, Unix seconds. */
  timestamp: number;
}

/** `$1$` + SHA-1 hex of the `+`-joined fields. */
export function ovhSignature(input: OvhSigningInput): string {
  const toSign = [input.applicationSecret, input.consumerKey, input.method.toUpperCase(), input.url, input.body, String(input.timestamp)].join('+');
  return `$1$${createHash('sha1').update(toSign, 'utf8').digest('hex')}`;
}

/** The authentication headers of one signed request. */
export function ovhSignedHeaders(input: OvhSigningInput & { applicationKey: string }): Record<string, string> {
  return {
    'X-Ovh-Application': input.applicationKey,
    'X-Ovh-Consumer': input.consumerKey,
    'X-Ovh-Timestamp': String(input.timestamp),
    'X-Ovh-Signature': ovhSignature(input),
  };
}

/**
 * One path parameter (an ipBlock such as `192.0.2.0/24`, an address) as OVH
 * expects it: percent-encoded like Go's `url.PathEscape` (the `/` of a block
 * becomes `%2F`, upper-case; `:` of an IPv6 block stays literal). The URL is
 * signed exactly as built from this.
 */
export function encodePathParam(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':');
}
