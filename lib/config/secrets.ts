/**
 * Resolves the secret references of the config (`{ env: NAME }` or
 * `{ sst: Name }`) to values. Values are returned to the caller and nowhere
 * else: no message or error built here ever contains one.
 *
 * - `{ env: NAME }` reads the environment variable NAME.
 * - `{ sst: Name }` reads SST's linked-resource variable `SST_RESOURCE_Name`,
 *   whose content is JSON such as `{"type":"sst.sst.Secret","value":"..."}`.
 *
 * A variable that is unset, empty or only whitespace counts as missing.
 * Values are otherwise returned exactly as stored (not trimmed).
 */
import { RelayError } from '../errors.ts';
import type { SecretRef } from './schema.ts';

/** Prefix SST uses for linked resources in a function's environment. */
export const SST_RESOURCE_PREFIX = 'SST_RESOURCE_';

/** A secret the config requires is not available. The message says where it is configured and how to set it. */
export class SecretMissingError extends RelayError {
  /** Config path of the reference, e.g. `integrations[0].secrets.signingSecret`. */
  readonly where: string;
  /** `alternative`: another way to provide it, appended as "…, or <alternative>". */
  constructor(where: string, ref: SecretRef, alternative?: string) {
    super('secret_missing', `${where}: ${describeMissing(ref)}${alternative === undefined ? '' : `, or ${alternative}`}`);
    this.where = where;
  }
}

/** The SST resource variable exists but is not the JSON SST writes. */
export class SecretMalformedError extends RelayError {
  /** The variable name; `where` is prefixed to the message when known. */
  readonly variable: string;
  constructor(variable: string, where?: string) {
    super(
      'secret_malformed',
      `${where === undefined ? '' : `${where}: `}${variable} is not SST resource JSON with a string "value"; ` +
        're-link the secret or redeploy',
    );
    this.variable = variable;
  }
}

/**
 * Looks a secret up. Returns undefined when it is unset or empty; does not
 * look at `optional` (see resolveOptionalSecret / resolveRequiredSecret).
 * @throws SecretMalformedError when an SST resource variable is not valid SST JSON.
 */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if ('env' in ref) return present(env[ref.env]);
  const variable = SST_RESOURCE_PREFIX + ref.sst;
  const raw = present(env[variable]);
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // JSON.parse messages quote the input; never pass them on.
    throw new SecretMalformedError(variable);
  }
  const value = typeof parsed === 'object' && parsed !== null ? (parsed as { value?: unknown }).value : undefined;
  if (value !== undefined && typeof value !== 'string') throw new SecretMalformedError(variable);
  return present(value);
}

/**
 * Resolves a secret the caller cannot work without, whatever `optional` says.
 * @param where config path for the error message, e.g. `integrations[0].secrets.signingSecret`.
 * @throws SecretMissingError when it is unset or empty.
 * @throws SecretMalformedError when an SST resource variable is not valid SST JSON.
 */
export function resolveRequiredSecret(ref: SecretRef, where: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = lookup(ref, where, env);
  if (value === undefined) throw new SecretMissingError(where, ref);
  return value;
}

/**
 * Resolves a secret honouring `optional`: a missing optional secret gives
 * undefined (e.g. the second, "next" webhook secret during rotation); a
 * missing required one throws.
 * @throws SecretMissingError when it is missing and not optional.
 */
export function resolveOptionalSecret(
  ref: SecretRef,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const value = lookup(ref, where, env);
  if (value === undefined && !ref.optional) throw new SecretMissingError(where, ref);
  return value;
}

function lookup(ref: SecretRef, where: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    return resolveSecret(ref, env);
  } catch (error) {
    if (error instanceof SecretMalformedError) throw new SecretMalformedError(error.variable, where);
    throw error;
  }
}

function present(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function describeMissing(ref: SecretRef): string {
  if ('env' in ref) {
    return `the environment variable ${ref.env} is not set or empty; set the environment variable ${ref.env}`;
  }
  return (
    `the SST secret ${ref.sst} is not available (${SST_RESOURCE_PREFIX}${ref.sst} is not set or empty); ` +
    `run: npx sst secret set ${ref.sst} <value>, and link it to this function`
  );
}
