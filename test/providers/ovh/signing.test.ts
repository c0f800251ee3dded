import { describe, expect, it } from 'vitest';
import { encodePathParam, ovhSignature, ovhSignedHeaders } from '../../../lib/providers/ovh/signing.ts';

// Published vector: go-ovh ovh/ovh_test.go (cloud.md §3).
const AS = '9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk';
const CK = '5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY';
const TS = 1457018875;
const sign = (method: string, url: string, body = '') =>
  ovhSignature({ applicationSecret: AS, consumerKey: CK, method, url, body, timestamp: TS });

describe('OVH request signing', () => {
  it('matches the published go-ovh vectors for GET, DELETE, POST and PUT', () => {
    // Prepare
    const url = 'https://eu.api.ovh.com/1.0/auth';

    // Act / Assess
    expect(sign('GET', url)).toBe('$1$e9556054b6309771395efa467c22e627407461ad');
    expect(sign('DELETE', url)).toBe('$1$a1eecd00b3b02b6cf5708b84b9ff42059a950d85');
    expect(sign('POST', url, '{"a":"b","c":"d"}')).toBe('$1$ec2fb5c7a81f64723c77d2e5b609ae6f58a84fc1');
    expect(sign('PUT', url, '{"a":"b","c":"d"}')).toBe('$1$8a75a9e7c8e7296c9dbeda6a2a735eb6bd58ec4b');
    expect(sign('GET', 'https://eu.api.ovh.com/1.0/call')).toBe('$1$7f2db49253edfc41891023fcd1a54cf61db05fbb');
    expect(sign('GET', 'https://eu.api.ovh.com/v1/call')).toBe('$1$e6e7906d385eb28adcbfbe6b66c1528a42d741ad');
  });

  it('builds exactly the four X-Ovh headers, the timestamp as sent and signed', () => {
    // Prepare / Act
    const headers = ovhSignedHeaders({ applicationKey: 'AK', applicationSecret: AS, consumerKey: CK, method: 'get', url: 'https://eu.api.ovh.com/1.0/auth', body: '', timestamp: TS });

    // Assess
    expect(headers).toEqual({
      'X-Ovh-Application': 'AK',
      'X-Ovh-Consumer': CK,
      'X-Ovh-Timestamp': '1457018875',
      'X-Ovh-Signature': '$1$e9556054b6309771395efa467c22e627407461ad',
    });
  });

  it("percent-encodes the block's slash as %2F (upper case) and keeps IPv6 colons literal", () => {
    // Prepare / Act / Assess
    expect(encodePathParam('203.0.113.0/24')).toBe('203.0.113.0%2F24');
    expect(encodePathParam('198.51.100.7')).toBe('198.51.100.7');
    expect(encodePathParam('2001:db8::/64')).toBe('2001:db8::%2F64');
  });
});
