/**
 * How adapters reach HTTP APIs. One-box mode calls the network directly; in
 * AWS the device adapters go through the in-VPC device relay. Adapter code
 * only ever sees this interface.
 */
export interface TlsOptions {
  /** PEM CA bundle to trust instead of the system store. */
  ca?: string;
  /** Pin the server certificate: hex or base64 SHA-256 of its DER bytes. */
  pinSha256?: string;
  /** Skip verification entirely. Must be asked for explicitly in config. */
  insecureSkipVerify?: boolean;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Whole-request deadline in milliseconds. */
  timeoutMs: number;
  /** Responses larger than this fail with ResponseTooLargeError. */
  maxResponseBytes?: number;
  tls?: TlsOptions;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface Transport {
  request(request: HttpRequest): Promise<HttpResponse>;
}
