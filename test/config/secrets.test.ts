import { describe, expect, it } from 'vitest';
import {
  resolveOptionalSecret,
  resolveRequiredSecret,
  resolveSecret,
  SecretMalformedError,
  SecretMissingError,
} from '../../lib/config/secrets.ts';

const WHERE = 'integrations[0].secrets.signingSecret';

describe('resolveSecret', () => {
  it('reads an environment variable reference', () => {
    // Prepare
    const env = { FLOWTRIQ_WEBHOOK_SECRET: 's3cr3t-value' };

    // Act
    const value = resolveSecret({ env: 'FLOWTRIQ_WEBHOOK_SECRET', optional: false }, env);

    // Assess
    expect(value).toBe('s3cr3t-value');
  });

  it('reads the value of a linked SST secret from SST_RESOURCE_<Name>', () => {
    // Prepare
    const env = { SST_RESOURCE_RelaySigning: JSON.stringify({ type: 'sst.sst.Secret', value: 'from-sst' }) };

    // Act
    const value = resolveSecret({ sst: 'RelaySigning', optional: false }, env);

    // Assess
    expect(value).toBe('from-sst');
  });

  it.each([
    ['unset', {}],
    ['empty', { NAME: '' }],
    ['whitespace only', { NAME: '  \n' }],
  ])('treats an %s environment variable as missing', (_case, env: Record<string, string>) => {
    // Act
    const value = resolveSecret({ env: 'NAME', optional: false }, env);

    // Assess
    expect(value).toBeUndefined();
  });

  it('returns a present value exactly, without trimming', () => {
    // Act
    const value = resolveSecret({ env: 'NAME', optional: false }, { NAME: ' padded ' });

    // Assess
    expect(value).toBe(' padded ');
  });

  it.each([
    ['unset', {}],
    ['an empty value', { SST_RESOURCE_Key: '{"value":""}' }],
    ['no value field', { SST_RESOURCE_Key: '{"type":"sst.sst.Secret"}' }],
  ])('treats an SST secret with %s as missing', (_case, env: Record<string, string>) => {
    // Act
    const value = resolveSecret({ sst: 'Key', optional: false }, env);

    // Assess
    expect(value).toBeUndefined();
  });

  it('fails on SST resource text that is not JSON, without echoing it', () => {
    // Prepare
    const env = { SST_RESOURCE_Key: 'raw-secret-not-json' };

    // Act
    const act = () => resolveSecret({ sst: 'Key', optional: false }, env);

    // Assess
    expect(act).toThrow(SecretMalformedError);
    expect(act).not.toThrow(/raw-secret-not-json/);
  });

  it('fails on an SST value that is not a string', () => {
    // Act
    const act = () => resolveSecret({ sst: 'Key', optional: false }, { SST_RESOURCE_Key: '{"value":42}' });

    // Assess
    expect(act).toThrow(SecretMalformedError);
  });
});

describe('resolveRequiredSecret', () => {
  it('returns the value when present', () => {
    // Act
    const value = resolveRequiredSecret({ env: 'NAME', optional: false }, WHERE, { NAME: 'v' });

    // Assess
    expect(value).toBe('v');
  });

  it('names the config path and the variable to set when an env secret is missing', () => {
    // Act
    const act = () => resolveRequiredSecret({ env: 'FLOWTRIQ_WEBHOOK_SECRET', optional: false }, WHERE, {});

    // Assess
    expect(act).toThrow(SecretMissingError);
    expect(act).toThrow(`${WHERE}:`);
    expect(act).toThrow('set the environment variable FLOWTRIQ_WEBHOOK_SECRET');
  });

  it('tells how to set an SST secret that is missing', () => {
    // Act
    const act = () => resolveRequiredSecret({ sst: 'RelaySigning', optional: false }, WHERE, {});

    // Assess
    expect(act).toThrow(SecretMissingError);
    expect(act).toThrow('run: npx sst secret set RelaySigning <value>');
  });

  it('requires the secret even when the reference is marked optional', () => {
    // Act
    const act = () => resolveRequiredSecret({ env: 'NAME', optional: true }, WHERE, {});

    // Assess
    expect(act).toThrow(SecretMissingError);
  });

  it('adds the config path to a malformed SST secret error', () => {
    // Act
    const act = () => resolveRequiredSecret({ sst: 'Key', optional: false }, WHERE, { SST_RESOURCE_Key: '{' });

    // Assess
    expect(act).toThrow(SecretMalformedError);
    expect(act).toThrow(`${WHERE}: SST_RESOURCE_Key`);
  });
});

describe('resolveOptionalSecret', () => {
  it('returns undefined for a missing optional secret', () => {
    // Act
    const value = resolveOptionalSecret({ env: 'NEXT', optional: true }, 'webhook.secrets[1]', {});

    // Assess
    expect(value).toBeUndefined();
  });

  it('throws for a missing secret that is not optional', () => {
    // Act
    const act = () => resolveOptionalSecret({ env: 'NEXT', optional: false }, 'webhook.secrets[1]', {});

    // Assess
    expect(act).toThrow(SecretMissingError);
    expect(act).toThrow('webhook.secrets[1]: ');
  });

  it('returns the value of a present optional secret', () => {
    // Act
    const value = resolveOptionalSecret({ env: 'NEXT', optional: true }, 'webhook.secrets[1]', { NEXT: 'n' });

    // Assess
    expect(value).toBe('n');
  });
});
