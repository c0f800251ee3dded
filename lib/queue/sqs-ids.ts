/** SQS limits and id rules shared by the SDK-based queue and the light sender. */
import { createHash } from 'node:crypto';

/** SQS's message size limit used by the relay (the classic 256 KiB). */
export const SQS_MAX_MESSAGE_BYTES = 262_144;

const SAFE_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

/**
 * The id as SQS will accept it for MessageGroupId / MessageDeduplicationId:
 * unchanged when it is 1–128 characters of letters, digits and ASCII
 * punctuation, else its sha256 hex digest (64 characters).
 */
export function sqsSafeId(id: string): string {
  return SAFE_ID.test(id) ? id : createHash('sha256').update(id, 'utf8').digest('hex');
}
