import { describe, expect, it } from 'vitest';
import { crowdsecOptionsSchema, crowdsecSecretsSchema, crowdsecScenario } from '../../../lib/providers/crowdsec/config.ts';

const messages = (input: unknown) => {
  const parsed = crowdsecOptionsSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('crowdsec options', () => {
  it('defaults to the local LAPI on 127.0.0.1:8080 as machine flowtriq-relay', () => {
    // Prepare / Act
    const options = crowdsecOptionsSchema.parse({});
    // Assess
    expect(options).toEqual({ url: 'http://127.0.0.1:8080', machineId: 'flowtriq-relay', allowInsecureHttp: false, tls: { insecureSkipVerify: false }, timeout: 10_000, concurrency: 4 });
  });

  it('accepts plain http to this machine only', () => {
    // Prepare / Act / Assess
    expect(messages({ url: 'http://[::1]:8080' })).toEqual([]);
    expect(messages({ url: 'http://localhost:8080' })).toEqual([]);
    expect(messages({ url: 'http://10.0.0.5:8080' })).toEqual([expect.stringContaining('url: plain http is accepted only to this machine')]);
    expect(messages({ url: 'http://10.0.0.5:8080', allowInsecureHttp: true })).toEqual([]);
    expect(messages({ url: 'https://lapi.example.net:8080' })).toEqual([]);
  });

  it('refuses tls settings on an http URL, and a URL with a path', () => {
    // Prepare / Act / Assess
    expect(messages({ url: 'http://127.0.0.1:8080', tls: { pinSha256: 'a'.repeat(64) } })).toEqual([expect.stringContaining('tls: applies to https:// URLs only')]);
    expect(messages({ url: 'https://lapi.example.net', tls: { pinSha256: 'a'.repeat(64) } })).toEqual([]);
    expect(messages({ url: 'http://127.0.0.1:8080/v1' })).toEqual([expect.stringContaining('give only scheme, host and port')]);
  });

  it('checks the machine id and the bounds', () => {
    // Prepare / Act / Assess
    expect(messages({ machineId: 'bad id' })).toEqual([expect.stringContaining('cscli machines add')]);
    expect(messages({ timeout: '2m' })).toEqual([expect.stringContaining('timeout')]);
    expect(messages({ concurrency: 9 })).toHaveLength(1);
    expect(messages({ unknown: 1 })).toHaveLength(1);
  });

  it('needs the machine password as a secret reference', () => {
    // Prepare / Act / Assess
    expect(crowdsecSecretsSchema.safeParse({ password: { env: 'CROWDSEC_MACHINE_PASSWORD' } }).success).toBe(true);
    expect(crowdsecSecretsSchema.safeParse({}).success).toBe(false);
    expect(crowdsecSecretsSchema.safeParse({ password: 'inline' }).success).toBe(false);
  });

  it('marks the relay\'s decisions with a scenario per integration', () => {
    // Prepare / Act / Assess
    expect(crowdsecScenario('edge-1')).toBe('flowtriq-relay/edge-1');
  });
});
