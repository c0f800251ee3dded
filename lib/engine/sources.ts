/**
 * Where an event's attacker IPs come from, and which of them may be blocked.
 * Flowtriq's documented webhook carries no IP list, so: the payload when it
 * has one, else the Flowtriq API when a token is configured, else none.
 */
import type { RelayConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import type { FlowtriqEvent } from '../event/types.ts';
import { normalizeAddress, parseAddress } from '../ip/address.ts';
import { extractSources, type SourceCandidate } from '../ip/extract.ts';
import { createNeverBlockList } from '../ip/never-block.ts';
import { selectIps } from '../ip/select.ts';
import type { Logger } from '../log/types.ts';
import { RetryableJobError } from './errors.ts';
import type { SourceSelector } from './worker.ts';

/** Reads an incident's sources from the Flowtriq REST API. */
export interface IncidentSourceFetcher {
  fetchSources(uuid: string): Promise<{ candidates: SourceCandidate[]; spoofed?: boolean }>;
}

export interface SourceSelectorOptions {
  blocking: RelayConfig['blocking'];
  api?: IncidentSourceFetcher;
  logger: Logger;
  /** Decides whether an API failure is worth retrying the whole job for. */
  isRetryable?: (error: unknown) => { retry: boolean; delayMs: number };
}

export function createSourceSelector(options: SourceSelectorOptions): SourceSelector {
  const { blocking } = options;
  return {
    async select(event: FlowtriqEvent, held: ReadonlySet<string>) {
      let origin: 'payload' | 'api' | 'none' = 'none';
      const fromPayload = extractSources(event);
      let candidates = fromPayload.candidates;
      if (fromPayload.present) {
        origin = 'payload';
      } else if (options.api && event.incident?.uuid) {
        try {
          const fetched = await options.api.fetchSources(event.incident.uuid);
          candidates = fetched.candidates;
          origin = 'api';
        } catch (error) {
          const verdict = options.isRetryable?.(error) ?? { retry: false, delayMs: 0 };
          if (verdict.retry) {
            throw new RetryableJobError(`Flowtriq API: ${describeError(error)}`, verdict.delayMs, { cause: error });
          }
          options.logger.warn('could not read incident sources from the Flowtriq API; continuing without IPs', {
            incident: event.incident.uuid,
            error: describeError(error),
          });
        }
      }
      const nodeIp = event.node?.ip_address;
      const neverBlock = createNeverBlockList({
        extra: blocking.neverBlock,
        nodeIps: nodeIp && parseAddress(nodeIp).ok ? [nodeIp] : [],
        protectNodeSubnet: blocking.protectNodeSubnet,
      });
      // Addresses the incident already holds are neither re-held nor counted twice
      // (compared in canonical form: ::ffff:1.2.3.4 is 1.2.3.4).
      const fresh = candidates.filter((candidate) => {
        const normalized = normalizeAddress(candidate.ip);
        return !(normalized.ok && held.has(normalized.canonical));
      });
      const selection = selectIps({
        candidates: fresh,
        policy: {
          minConfidence: blocking.minConfidence,
          acceptUnscored: blocking.acceptUnscored,
          maxIps: blocking.maxIpsPerIncident,
        },
        neverBlock,
        alreadyHeld: held.size,
      });
      return { selected: selection.selected, skipped: selection.skipped, origin };
    },
  };
}
