/**
 * SigV4 against AWS's published examples.
 *
 * 1. The IAM ListUsers example of the AWS General Reference, "Create a
 *    canonical request / string to sign / calculate the signature"
 *    (docs.aws.amazon.com/general/latest/gr/sigv4-create-canonical-request.html,
 *    sigv4-create-string-to-sign.html, sigv4-calculate-signature.html):
 *    secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830, us-east-1, iam.
 * 2. The AWS SigV4 test suite case `get-vanilla-query-order-key-case`
 *    (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html;
 *    aws-sig-v4-test-suite/get-vanilla-query-order-key-case.sreq).
 */
import { createHash } from 'node:crypto';
import { AwsV4Signer } from 'aws4fetch';
import { describe, expect, it } from 'vitest';
import { amzDate, signRequest } from '../../../lib/providers/aws/sigv4.ts';

const EXAMPLE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const AT = Date.UTC(2015, 7, 30, 12, 36, 0);

describe('SigV4 (aws4fetch signer, as the relay calls it)', () => {
  it('reproduces the IAM ListUsers example: signing key, canonical request hash and signature', async () => {
    // Prepare
    const cache = new Map<string, ArrayBuffer>();
    const request = {
      method: 'GET',
      url: 'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: '',
      service: 'iam',
      region: 'us-east-1',
      now: AT,
    };

    // Act
    const headers = await signRequest(request, EXAMPLE, cache);
    const signer = new AwsV4Signer({ ...request, ...EXAMPLE, datetime: amzDate(AT), allHeaders: true });
    const canonical = await signer.canonicalString();

    // Assess
    expect(amzDate(AT)).toBe('20150830T123600Z');
    expect(Buffer.from([...cache.values()][0]!).toString('hex')).toBe('c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9');
    expect(createHash('sha256').update(canonical).digest('hex')).toBe('f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59');
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, ' +
        'Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
  });

  it('reproduces the test-suite case get-vanilla-query-order-key-case', async () => {
    // Prepare / Act
    const headers = await signRequest(
      { method: 'GET', url: 'https://example.amazonaws.com/?Param2=value2&Param1=value1', headers: {}, body: '', service: 'service', region: 'us-east-1', now: AT },
      EXAMPLE,
    );

    // Assess
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, ' +
        'Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    );
  });

  it('signs content-type, x-amz-target and the session token of a JSON 1.1 call', async () => {
    // Prepare / Act
    const headers = await signRequest(
      {
        method: 'POST',
        url: 'https://shield.us-east-1.amazonaws.com/',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSShield_20160616.GetSubscriptionState' },
        body: '{}',
        service: 'shield',
        region: 'us-east-1',
        now: AT,
      },
      { ...EXAMPLE, sessionToken: 'token-value' },
    );

    // Assess
    expect(headers.authorization).toContain('SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,');
    expect(headers['x-amz-security-token']).toBe('token-value');
  });
});
