/**
 * Where a secret comes from. Secrets never appear in the config file itself.
 * Its own module so provider config schemas (lib/providers/<name>/config.ts)
 * can use it without importing the whole config schema, which imports them.
 */
import { z } from 'zod';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const secretRefSchema = z.union([
  z
    .object({
      env: z.string().regex(ENV_NAME, 'must be an environment variable name such as FLOWTRIQ_WEBHOOK_SECRET'),
      optional: z.boolean().default(false).describe('Skip silently when the variable is unset.'),
    })
    .strict()
    .describe('Read the secret from an environment variable.'),
  z
    .object({
      sst: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'must be an SST secret name (starting with a capital letter) such as FlowtriqWebhookSecret'),
      optional: z.boolean().default(false).describe('Skip silently when the secret is not set.'),
    })
    .strict()
    .describe('Read the secret from a linked SST secret (AWS deployments).'),
], {
  error: (issue) =>
    issue.code === 'invalid_union'
      ? 'write { env: VARIABLE_NAME } or { sst: SecretName }, optionally with optional: true'
      : undefined,
});
export type SecretRef = z.infer<typeof secretRefSchema>;
