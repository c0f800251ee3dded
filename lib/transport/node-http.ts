/**
 * The direct Transport: `node:http` / `node:https`, one fresh connection per
 * request (no pooling, so a connection verified under one request's TLS
 * options is never reused under another's).
 *
 * Not `fetch`: the relay needs a per-request CA bundle and certificate
 * pinning, which fetch does not offer.
 *
 * ## TLS verification rule
 *
 * | `tls` given                | chain check          | host name check | pin check |
 * | -------------------------- | -------------------- | --------------- | --------- |
 * | nothing                    | system trust store   | yes             | -         |
 * | `ca`                       | `ca` only            | yes             | -         |
 * | `ca` + `pinSha256`         | `ca` only            | yes             | yes       |
 * | `pinSha256` only           | no                   | no              | yes       |
 * | `insecureSkipVerify`       | no                   | no              | if given  |
 *
 * A pin is the SHA-256 of the leaf certificate's DER bytes, written as hex
 * (colons allowed, as `openssl x509 -fingerprint -sha256` prints it) or
 * base64. A pin alone trusts exactly that certificate whatever its issuer or
 * names, which is what self-signed appliance certificates need. With `ca`,
 * the pin is checked in `checkServerIdentity` after normal verification
 * passed. Without chain verification, it is checked when the handshake
 * completes, before any request byte is sent (the same point where Node
 * itself rejects an unverified peer). `insecureSkipVerify` must be set
 * explicitly and still honours a pin if one is given.
 *
 * Other guarantees: one deadline (`timeoutMs`) covers connect, headers and
 * body; bodies past `maxResponseBytes` abort the request; redirects are
 * returned, never followed; response header names are lower case; the
 * caller's `signal` aborts at any point and the promise rejects with
 * `signal.reason`, as `fetch` does.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { checkServerIdentity as defaultCheckServerIdentity } from 'node:tls';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { RelayError } from '../errors.ts';
import {
  InvalidRequestError,
  ResponseTooLargeError,
  TlsVerificationError,
  TransportConnectionError,
  TransportTimeoutError,
} from './errors.ts';
import type { HttpRequest, HttpResponse, TlsOptions, Transport } from './types.ts';

/** Response size limit when the request does not set `maxResponseBytes`. */
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** OpenSSL certificate verification codes, as Node reports them in `error.code`. */
const CERTIFICATE_ERROR_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const CONNECTION_ERROR_DESCRIPTIONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
  EPROTO: 'TLS handshake failed',
};

/**
 * Parses a certificate pin: 64 hex digits (colons allowed) or base64 /
 * base64url of 32 bytes. Returns the 32 raw bytes.
 * @throws InvalidRequestError when the pin is neither.
 */
export function parsePinSha256(pin: string): Buffer {
  const trimmed = pin.trim();
  const hex = trimmed.replaceAll(':', '');
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replace(/=$/, ''), 'base64url');
    if (bytes.length === 32) return bytes;
  }
  throw new InvalidRequestError(
    'tls.pinSha256 must be the SHA-256 of the certificate as 64 hex digits (colons allowed) or base64',
  );
}

/** SHA-256 of a certificate's DER bytes as lower-case hex (the form `pinSha256` accepts). */
export function certificateSha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** A Transport that calls the network directly from this process. */
export function createDirectTransport(): Transport {
  return { request: sendRequest };
}

interface TlsPlan {
  options: https.RequestOptions;
  /** Pin to check when the handshake completes (no chain verification). */
  pinAtHandshake?: Buffer;
}

function sendRequest(request: HttpRequest): Promise<HttpResponse> {
  const method = request.method.toUpperCase();
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return Promise.reject(new InvalidRequestError(`${method}: the URL is not an absolute URL`));
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return Promise.reject(new InvalidRequestError(`${method}: unsupported URL scheme ${url.protocol} (use https:// or http://)`));
  }
  const target = `${method} ${url.origin}`;
  const isHttps = url.protocol === 'https:';

  let plan: TlsPlan;
  try {
    plan = isHttps ? planTls(request.tls ?? {}, target) : planPlain(request.tls, target);
  } catch (error) {
    return Promise.reject(error);
  }

  const signal = request.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);

  const limit = request.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const body = request.body === undefined ? undefined : toBuffer(request.body);
  const headers: Record<string, string> = { ...request.headers };
  if (body !== undefined && !hasHeader(headers, 'content-length')) headers['Content-Length'] = String(body.length);

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let clientRequest: http.ClientRequest | undefined;
    let response: http.IncomingMessage | undefined;
    let pinVerified = false;

    const timer = setTimeout(() => fail(new TransportTimeoutError(target, request.timeoutMs)), request.timeoutMs);
    const onAbort = () => fail(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });

    function finish() {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    function fail(error: unknown) {
      if (settled) return;
      finish();
      response?.destroy();
      clientRequest?.destroy();
      reject(error);
    }

    const options: https.RequestOptions = { ...plan.options, method, headers, agent: false };
    try {
      clientRequest = isHttps ? https.request(url, options) : http.request(url, options);
    } catch (error) {
      fail(classify(error, target));
      return;
    }

    clientRequest.on('error', (error) => fail(classify(error, target)));

    const pin = plan.pinAtHandshake;
    if (pin !== undefined) {
      clientRequest.on('socket', (socket: Socket) => {
        // Emitted synchronously when the handshake completes, before queued
        // request bytes are flushed: destroying here sends nothing.
        socket.once('secureConnect', () => {
          const mismatch = checkPin((socket as TLSSocket).getPeerCertificate(), pin, target);
          if (mismatch) socket.destroy(mismatch);
          else pinVerified = true;
        });
      });
    }

    clientRequest.on('response', (incoming) => {
      response = incoming;
      if (pin !== undefined && !pinVerified) {
        fail(new TlsVerificationError(target, 'PIN_NOT_CHECKED', 'the certificate pin could not be checked'));
        return;
      }
      const declared = Number(incoming.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        fail(new ResponseTooLargeError(target, limit));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          fail(new ResponseTooLargeError(target, limit));
          return;
        }
        chunks.push(chunk);
      });
      incoming.on('error', (error) => fail(classify(error, target)));
      incoming.on('close', () => {
        if (!incoming.complete) {
          fail(new TransportConnectionError(target, 'connection closed before the response was complete'));
        }
      });
      incoming.on('end', () => {
        if (settled) return;
        finish();
        resolve({
          status: incoming.statusCode ?? 0,
          headers: lowerCaseHeaders(incoming.headers),
          body: new Uint8Array(Buffer.concat(chunks, size)),
        });
      });
    });

    clientRequest.end(body);
  });
}

function planPlain(tls: TlsOptions | undefined, target: string): TlsPlan {
  if (tls?.ca !== undefined || tls?.pinSha256 !== undefined) {
    throw new InvalidRequestError(`${target}: a CA bundle or certificate pin was given for a plain http:// URL`);
  }
  return { options: {} };
}

function planTls(tls: TlsOptions, target: string): TlsPlan {
  const pin = tls.pinSha256 === undefined ? undefined : parsePinSha256(tls.pinSha256);
  const skipIdentity = () => undefined;

  if (tls.insecureSkipVerify === true || (pin !== undefined && tls.ca === undefined)) {
    const plan: TlsPlan = { options: { rejectUnauthorized: false, checkServerIdentity: skipIdentity } };
    if (pin !== undefined) plan.pinAtHandshake = pin;
    return plan;
  }

  const options: https.RequestOptions = { rejectUnauthorized: true };
  if (tls.ca !== undefined) options.ca = tls.ca;
  if (pin !== undefined) {
    options.checkServerIdentity = (host: string, certificate: PeerCertificate) =>
      defaultCheckServerIdentity(host, certificate) ?? checkPin(certificate, pin, target);
  }
  return { options };
}

function checkPin(certificate: PeerCertificate, pin: Buffer, target: string): TlsVerificationError | undefined {
  const raw = certificate.raw as Buffer | undefined;
  if (raw === undefined || raw.length === 0) {
    return new TlsVerificationError(target, 'PIN_MISMATCH', 'the server presented no certificate');
  }
  const actual = createHash('sha256').update(raw).digest();
  if (actual.equals(pin)) return undefined;
  return new TlsVerificationError(
    target,
    'PIN_MISMATCH',
    `certificate SHA-256 ${actual.toString('hex')} does not match the configured pin`,
  );
}

function classify(error: unknown, target: string): unknown {
  if (error instanceof RelayError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && CERTIFICATE_ERROR_CODES.has(code)) {
    return new TlsVerificationError(target, code, message, { cause: error });
  }
  if (code !== undefined && code.startsWith('ERR_SSL_')) {
    return new TransportConnectionError(target, `TLS handshake failed (${code})`, { systemCode: code, cause: error });
  }
  const known = code === undefined ? undefined : CONNECTION_ERROR_DESCRIPTIONS[code];
  if (code === 'ECONNRESET' && message === 'socket hang up') {
    return new TransportConnectionError(target, 'connection closed before a response (socket hang up)', {
      systemCode: code,
      cause: error,
    });
  }
  const description = known !== undefined ? `${known} (${code})` : `request failed: ${code ?? message}`;
  return new TransportConnectionError(target, description, code === undefined ? { cause: error } : { systemCode: code, cause: error });
}

function lowerCaseHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function toBuffer(body: string | Uint8Array): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
