/**
 * The `tls` option of integrations that talk to a device or service of the
 * operator's over HTTPS (pfSense, RouterOS, CrowdSec). Its own module so
 * that provider configs can use it without importing the whole config
 * schema (which imports them).
 */
import { z } from 'zod';

/** How the relay verifies a device's HTTPS certificate. Verification is on unless explicitly skipped. */
export const deviceTlsSchema = z
  .object({
    caFile: z.string().min(1).optional().describe('PEM CA bundle that signed the device certificate.'),
    pinSha256: z
      .string()
      .regex(/^(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$|^[A-Za-z0-9+/_-]{43}=?$/, 'must be the SHA-256 of the certificate: 64 hex digits (colons allowed) or base64')
      .optional()
      .describe("Trust exactly this certificate (SHA-256 of its DER bytes), e.g. a self-signed appliance certificate."),
    insecureSkipVerify: z
      .boolean()
      .default(false)
      .describe('Do not verify the certificate at all. Only for a lab; prefer caFile or pinSha256.'),
  })
  .strict();
