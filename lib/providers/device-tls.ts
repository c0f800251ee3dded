/**
 * A device integration's `options.tls` as transport TLS options: the CA
 * bundle is read once, at start-up, so a missing file fails then (naming the
 * config path), not in the middle of an attack.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { RelayError } from '../errors.ts';
import type { deviceTlsSchema } from '../config/schema.ts';
import type { TlsOptions } from '../transport/types.ts';

export type DeviceTlsConfig = z.infer<typeof deviceTlsSchema>;

export class DeviceCaFileError extends RelayError {
  constructor(where: string, path: string, cause: unknown) {
    super('device_ca_file', `${where}.tls.caFile: cannot read ${path}; give the path of a PEM CA bundle`, { cause });
  }
}

export function deviceTls(
  tls: DeviceTlsConfig,
  options: { where: string; baseDir?: string; readFile?: (path: string) => string } = { where: 'integration' },
): TlsOptions {
  const out: TlsOptions = {};
  if (tls.caFile) {
    const path = resolve(options.baseDir ?? process.cwd(), tls.caFile);
    try {
      out.ca = (options.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
    } catch (error) {
      throw new DeviceCaFileError(options.where, path, error);
    }
  }
  if (tls.pinSha256) out.pinSha256 = tls.pinSha256;
  if (tls.insecureSkipVerify) out.insecureSkipVerify = true;
  return out;
}
