/**
 * The pfSense-pkg-API (v1) response envelope and the parts of `data` the
 * adapter reads, validated with zod. Schemas are lenient (unknown fields pass
 * through) because package versions add fields; what the adapter relies on
 * is checked strictly.
 *
 * ```json
 * {"status":"ok","code":200,"return":0,"message":"Success","data":{...}|[...]}
 * ```
 *
 * `data` of a query (`GET /api/v1/firewall/alias?name=X`) is the list of
 * matches keyed by their index in config.xml: PHP encodes it as a JSON array
 * when the keys happen to be 0..n-1 and as an object (`{"63":{...}}`)
 * otherwise, so both shapes are accepted.
 */
import { z } from 'zod';

/** `return` ids the adapter acts on (framework/APIResponse.inc). */
export const V1_RETURN = {
  ok: 0,
  serverError: 1,
  methodNotAllowed: 2,
  authenticationFailed: 3,
  authorizationFailed: 4,
  actionNotAllowed: 6,
  authModeNotJwtOrToken: 9,
  unsupportedContentType: 11,
  aliasNameRequired: 4050,
  aliasNameInvalid: 4053,
  aliasDoesNotExist: 4055,
  aliasAlreadyExists: 4056,
  aliasAddressInvalid: 4058,
} as const;

/** A `return` id, sent as a number (some proxies and old versions stringify it). */
const returnId = z.union([z.number().int(), z.string().regex(/^-?\d{1,9}$/).transform(Number)]);

export const v1EnvelopeSchema = z.looseObject({
  status: z.string().optional(),
  code: z.number().int().optional(),
  return: returnId,
  message: z.string().optional(),
  data: z.unknown().optional(),
});
export type V1Envelope = z.infer<typeof v1EnvelopeSchema>;

/** One alias as config.xml stores it: addresses space-separated, details `||`-separated. */
export const v1AliasSchema = z.looseObject({
  name: z.string(),
  type: z.string().optional(),
  address: z.union([z.string(), z.array(z.string())]).optional(),
  descr: z.string().optional(),
  /** Per-entry descriptions, `||`-separated, paired with `address` by position. */
  detail: z.union([z.string(), z.array(z.string()), z.null()]).optional(),
});
export type V1Alias = z.infer<typeof v1AliasSchema>;

/** `data` of `POST /api/v1/access_token` in JWT mode. */
export const v1AccessTokenSchema = z.looseObject({ token: z.string().min(1) });

/**
 * The alias records in a `data` value, whether a list or an object keyed by
 * config index. Items that are not alias-shaped are skipped.
 */
export function aliasRecords(data: unknown): V1Alias[] {
  let items: unknown[];
  if (Array.isArray(data)) items = data;
  else if (typeof data === 'object' && data !== null) items = Object.values(data);
  else return [];
  const out: V1Alias[] = [];
  for (const item of items) {
    const parsed = v1AliasSchema.safeParse(item);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

/** An alias's `address` field as a list: config.xml separates entries with spaces. */
export function aliasAddresses(alias: V1Alias): string[] {
  const raw = alias.address;
  if (raw === undefined) return [];
  const parts = Array.isArray(raw) ? raw : raw.split(' ');
  return parts.filter((part) => part !== '');
}
