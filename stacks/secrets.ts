/**
 * One `sst.Secret` per `{ sst: Name }` reference in the config, created once
 * and linked only to the functions that read it. Set each with
 * `npx sst secret set <Name> <value> --stage <stage>`; a secret whose every
 * reference is `optional: true` gets an empty placeholder, which the relay
 * treats as unset, so the stage deploys without it.
 */
import type { SecretSpec, SecretUser } from './config.ts';

export function createSecrets(specs: SecretSpec[]) {
  const created = specs.map((spec) => ({
    spec,
    secret: spec.optional ? new sst.Secret(spec.name, '') : new sst.Secret(spec.name),
  }));
  const forUser = (user: SecretUser) => created.filter(({ spec }) => spec.users.includes(user)).map(({ secret }) => secret);
  return {
    /** The webhook secret(s). */
    webhook: forUser('webhook'),
    /** The Flowtriq API token and the integrations' credentials (worker and sweeper). */
    engine: forUser('engine'),
  };
}

export type Secrets = ReturnType<typeof createSecrets>;
