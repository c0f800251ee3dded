import { describe, expect, it } from 'vitest';
import { AwsEnvironmentError } from '../../lib/runtime/aws-env.ts';
import { webhookSettings } from '../../lib/runtime/aws-webhook.ts';

describe('webhookSettings', () => {
  it('reads the secret references and the replay window the stack sets', () => {
    const settings = webhookSettings({
      RELAY_WEBHOOK_SECRETS: JSON.stringify([{ sst: 'Current' }, { sst: 'Next', optional: true }]),
      RELAY_REPLAY_WINDOW_MS: '120000',
    });
    expect(settings).toEqual({
      refs: [
        { sst: 'Current', optional: false },
        { sst: 'Next', optional: true },
      ],
      replayWindowMs: 120_000,
    });
  });

  it.each([
    [{ RELAY_REPLAY_WINDOW_MS: '1' }, /RELAY_WEBHOOK_SECRETS is not set/],
    [{ RELAY_WEBHOOK_SECRETS: 'not json', RELAY_REPLAY_WINDOW_MS: '1' }, /RELAY_WEBHOOK_SECRETS is not a JSON list/],
    [{ RELAY_WEBHOOK_SECRETS: '[{"vault":"x"}]', RELAY_REPLAY_WINDOW_MS: '1' }, /RELAY_WEBHOOK_SECRETS is not a JSON list/],
    [{ RELAY_WEBHOOK_SECRETS: '[]', RELAY_REPLAY_WINDOW_MS: 'soon' }, /RELAY_REPLAY_WINDOW_MS is not a positive/],
  ])('names the variable and what sets it when %o is wrong', (env, message) => {
    expect(() => webhookSettings(env)).toThrow(AwsEnvironmentError);
    expect(() => webhookSettings(env)).toThrow(message);
  });
});
