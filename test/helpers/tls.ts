import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCert {
  /** PEM private key. */
  key: string;
  /** PEM certificate; also usable as the CA bundle that trusts it. */
  cert: string;
  /** SHA-256 of the certificate's DER bytes, lower-case hex. */
  sha256Hex: string;
  /** The same digest in base64. */
  sha256Base64: string;
}

/**
 * Generates a throwaway self-signed P-256 certificate with `openssl`, valid
 * for one day. By default it names 127.0.0.1 and localhost.
 */
export function makeSelfSignedCert(
  options: { commonName?: string; subjectAltNames?: string[] } = {},
): SelfSignedCert {
  const commonName = options.commonName ?? '127.0.0.1';
  const sans = options.subjectAltNames ?? ['IP:127.0.0.1', 'DNS:localhost'];
  const dir = mkdtempSync(join(tmpdir(), 'relay-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        `subjectAltName=${sans.join(',')}`,
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'pipe' },
    );
    const key = readFileSync(keyPath, 'utf8');
    const cert = readFileSync(certPath, 'utf8');
    const digest = createHash('sha256').update(new X509Certificate(cert).raw).digest();
    return { key, cert, sha256Hex: digest.toString('hex'), sha256Base64: digest.toString('base64') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
