import { describe, expect, it } from 'vitest';
import { sdkErrorDetail, unavailableClassifier } from '../../lib/aws/sdk-errors.ts';

const isUnavailable = unavailableClassifier(['ProvisionedThroughputExceededException']);

function sdkError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...extra });
}

describe('unavailableClassifier', () => {
  it.each([
    ['a service-specific throttle', sdkError('ProvisionedThroughputExceededException')],
    ['a common throttle', sdkError('ThrottlingException')],
    ['a server fault', sdkError('Whatever', { $fault: 'server' })],
    ['HTTP 503', sdkError('Whatever', { $metadata: { httpStatusCode: 503 } })],
    ['HTTP 429', sdkError('Whatever', { $metadata: { httpStatusCode: 429 } })],
    ['a refused connection', sdkError('Error', { code: 'ECONNREFUSED' })],
    ['missing credentials', sdkError('CredentialsProviderError')],
  ])('treats %s as unavailable', (_name, error) => {
    expect(isUnavailable(error)).toBe(true);
  });

  it.each([
    ['a validation error', sdkError('ValidationException', { $fault: 'client', $metadata: { httpStatusCode: 400 } })],
    ['a conditional check failure', sdkError('ConditionalCheckFailedException', { $metadata: { httpStatusCode: 400 } })],
    ['a non-error', 'boom'],
  ])('passes %s through as a bad request', (_name, error) => {
    expect(isUnavailable(error)).toBe(false);
  });

  it("does not apply one service's specific names to another service's classifier", () => {
    expect(unavailableClassifier([])(sdkError('ProvisionedThroughputExceededException'))).toBe(false);
  });

  it('describes an error as name and message', () => {
    expect(sdkErrorDetail(sdkError('ThrottlingException'))).toBe('ThrottlingException: ThrottlingException happened');
    expect(sdkErrorDetail('text')).toBe('text');
  });
});
