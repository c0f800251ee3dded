/**
 * Crash recovery for the one-box relay: the integration leases a process
 * held when it died (kill -9, power loss) are taken back at start-up instead
 * of waiting for them to expire.
 *
 * A one-box owner names its host and process: `one-box:<host>:<pid>:<random>`.
 * A lease whose owner names this host and a process that no longer exists
 * cannot be renewed by anyone, so it is released at once (conditionally on
 * that owner: a lease someone else took meanwhile is left alone). A lease of
 * another host, of a live process, or of an owner that is not a one-box is
 * left to expire (seconds: see lib/engine/reconciler.ts).
 */
import { hostname } from 'node:os';
import { describeError } from '../errors.ts';
import { leaseName } from '../engine/reconciler.ts';
import type { Logger } from '../log/types.ts';
import type { StateStore } from '../state/types.ts';

const PREFIX = 'one-box';

/** The lease owner of this one-box process. */
export function oneBoxOwner(pid: number, random: string, host: string = hostname()): string {
  return `${PREFIX}:${encodeURIComponent(host)}:${pid}:${random}`;
}

/** The host and process a one-box owner names, or undefined for any other owner. */
export function parseOneBoxOwner(owner: string): { host: string; pid: number } | undefined {
  const parts = owner.split(':');
  if (parts.length !== 4 || parts[0] !== PREFIX || !/^[1-9][0-9]{0,9}$/.test(parts[2]!)) return undefined;
  try {
    return { host: decodeURIComponent(parts[1]!), pid: Number(parts[2]) };
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ReclaimOptions {
  store: StateStore;
  integrations: Iterable<string>;
  /** This process's owner (never reclaimed). */
  self: string;
  logger: Logger;
  host?: string;
  isAlive?: (pid: number) => boolean;
}

/** Releases the leases of dead one-box processes of this host; returns the integrations freed. */
export async function reclaimDeadLeases(options: ReclaimOptions): Promise<string[]> {
  const host = options.host ?? hostname();
  const isAlive = options.isAlive ?? processExists;
  const freed: string[] = [];
  for (const integration of options.integrations) {
    const name = leaseName(integration);
    try {
      const lease = await options.store.getLease(name);
      if (lease === undefined || lease.owner === options.self) continue;
      const owner = parseOneBoxOwner(lease.owner);
      if (owner === undefined || owner.host !== host || isAlive(owner.pid)) continue;
      await options.store.releaseLease(name, lease.owner);
      freed.push(integration);
    } catch (error) {
      options.logger.warn('could not check a lease left by an earlier run; it expires by itself', { integration, error: describeError(error) });
    }
  }
  if (freed.length > 0) {
    options.logger.warn('took back device leases held by a relay process that is gone (crash); resuming its work', { integrations: freed });
  }
  return freed;
}
