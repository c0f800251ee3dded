/**
 * The pfSense-pkg-API v1 response catalogue the simulator uses: the subset of
 * `framework/APIResponse.inc` (legacy branch) that the alias, alias/entry,
 * apply and access_token endpoints answer with. HTTP status == `code`.
 */

export interface V1ResponseSpec {
  status: string;
  code: number;
  message: string;
}

export const V1_RESPONSES: Readonly<Record<number, V1ResponseSpec>> = {
  0: { status: 'ok', code: 200, message: 'Success' },
  1: { status: 'server error', code: 500, message: 'Process encountered unexpected error' },
  2: { status: 'method not allowed', code: 405, message: 'Invalid HTTP method' },
  3: { status: 'unauthorized', code: 401, message: 'Authentication failed' },
  4: { status: 'forbidden', code: 403, message: 'Authorization failed' },
  9: {
    status: 'forbidden',
    code: 403,
    message: 'Authentication mode must be set to JWT to enable access token authentication',
  },
  11: { status: 'unsupported media type', code: 415, message: 'Specified content type is not supported' },
  4050: { status: 'bad request', code: 400, message: 'Firewall alias name required' },
  4052: { status: 'bad request', code: 400, message: 'Firewall alias address value required' },
  4053: { status: 'bad request', code: 400, message: 'Invalid firewall alias name' },
  4055: { status: 'bad request', code: 400, message: 'Firewall alias does not exist' },
  4056: { status: 'bad request', code: 400, message: 'Firewall alias already exists' },
  4057: { status: 'bad request', code: 400, message: 'Unknown firewall alias type' },
  4058: { status: 'bad request', code: 400, message: 'Invalid firewall alias IP address or hostname' },
  4059: { status: 'bad request', code: 400, message: 'Invalid firewall alias subnet' },
  4060: { status: 'bad request', code: 400, message: 'Invalid firewall alias port or port range' },
  4061: { status: 'bad request', code: 400, message: 'Firewall alias type required' },
  4062: { status: 'bad request', code: 400, message: 'Firewall alias type must be type string' },
  4063: { status: 'bad request', code: 400, message: 'Firewall alias description must be type string' },
  4064: { status: 'bad request', code: 400, message: 'Firewall alias detail must be type array' },
  4070: { status: 'bad request', code: 400, message: 'Alias address contents must be type string' },
  4071: { status: 'bad request', code: 400, message: 'Alias detail contents must be type string' },
  4074: { status: 'bad request', code: 400, message: 'Firewall alias id required' },
  4106: {
    status: 'bad request',
    code: 400,
    message: 'Firewall alias details cannot contain more items than alias addresses',
  },
  4108: { status: 'bad request', code: 400, message: 'Firewall alias cannot be deleted while in use' },
};

/** The v1 envelope `{status, code, return, message, data}`. */
export interface V1EnvelopeBody {
  status: string;
  code: number;
  return: number;
  message: string;
  data: unknown;
}

/** Builds the envelope for a `return` id; errors carry `data: []` as the package does. */
export function v1Envelope(id: number, data: unknown = []): V1EnvelopeBody {
  const spec = V1_RESPONSES[id];
  if (spec === undefined) throw new Error(`simulator: no response ${id} in the catalogue`);
  return { status: spec.status, code: spec.code, return: id, message: spec.message, data };
}
