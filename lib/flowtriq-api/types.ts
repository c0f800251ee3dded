/**
 * Types of the Flowtriq REST API client (`client.ts`).
 */
import type { SourceCandidate } from '../ip/extract.ts';
import type { TlsOptions, Transport } from '../transport/types.ts';

/** How to reach the Flowtriq REST API. */
export interface FlowtriqApiClientOptions {
  /** `flowtriq.baseUrl`, e.g. `https://flowtriq.com/api/v1`; a trailing `/` is ignored. */
  baseUrl: string;
  /** The deploy token (64 hex characters); sent as `Authorization: Bearer …`, never logged. */
  token: string;
  transport: Transport;
  /** `flowtriq.timeout` in milliseconds: deadline of each request. */
  timeoutMs: number;
  /** How long an incident's sources are reused. Default 30 000 ms; 0 disables the cache. */
  cacheTtlMs?: number;
  /** Most incidents kept in the cache. Default 1 000. */
  cacheMaxEntries?: number;
  /** Client-side limit. Default 1 000 (Flowtriq's documented per-token limit). */
  requestsPerMinute?: number;
  /** Pause after a 429 that carries no usable Retry-After. Default 5 000 ms. */
  defaultRetryAfterMs?: number;
  /** Largest response body accepted. Default 4 MiB. */
  maxResponseBytes?: number;
  tls?: TlsOptions;
  /** Clock for the cache and the limiter (tests). Default `Date.now`. */
  now?: () => number;
}

/** What the API said about one incident's sources. */
export interface IncidentSources {
  uuid: string;
  /** Merged by exact ip string; addresses are not validated yet (see lib/ip/select.ts). */
  candidates: SourceCandidate[];
  /** `spoofing_detected` was true. */
  spoofed: boolean;
  /**
   * The response carried `top_src_ips` or `attacker_ips`. Flowtriq does not
   * document either field on this endpoint; when absent, `candidates` is empty.
   */
  present: boolean;
  /** Source entries dropped because they were malformed. */
  malformed: number;
  /** When the response arrived (the client's clock, ms since the epoch). */
  fetchedAt: number;
}

/** Per-call options of `getIncidentSources`. */
export interface GetIncidentSourcesOptions {
  /** Skip the cache (an in-flight request for the same uuid is still shared). */
  bypassCache?: boolean;
}
