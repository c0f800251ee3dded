/**
 * The `ovh` integration: a switch over OVHcloud's permanent DDoS mitigation
 * of one or more IPv4 addresses (`/ip/{ipBlock}/mitigation`).
 *
 * - snapshot: checks each IP block belongs to the account (`GET /ip/{block}`)
 *   and reads each address's mitigation entry (`GET
 *   /ip/{block}/mitigation/{ip}`; 404 = none). An entry that exists (a
 *   permanent one someone set, or OVH's own automatic one, `auto: true`) is
 *   never changed or removed by the relay. `alreadyActive` when every
 *   address already is on permanent mitigation.
 * - activate: for each address that had no entry, `POST
 *   /ip/{block}/mitigation {"ipOnMitigation": ip}` unless its entry already
 *   is there; then polls until OVH reports `ok` (creationPending → ok),
 *   bounded by `options.waitFor` (meanwhile `confirmed: false` +
 *   `recheckAfterMs`). Called again it only reads and reports. An entry in
 *   removalPending is waited out before creating.
 * - deactivate: `DELETE /ip/{block}/mitigation/{ip}` only for entries the
 *   relay created that still look as it left them (`permanent: true, auto:
 *   false`); an entry someone turned automatic or non-permanent is left and
 *   reported ('changed-by-others'); 'pending' while OVH removes it
 *   (removalPending) until it is gone (404).
 *
 * Every per-address step runs inside `withRetries` and reads the entry
 * before writing, so a retried step never writes twice.
 */
import { z } from 'zod';
import { clientRuntime } from '../client-runtime.ts';
import { withRetries } from '../api-retry.ts';
import { ProviderError } from '../errors.ts';
import type {
  CloudProviderDeps,
  HealthResult,
  ProviderContext,
  SwitchActivation,
  SwitchContext,
  SwitchIntegration,
  SwitchProvider,
  SwitchRestore,
  SwitchSnapshot,
} from '../types.ts';
import { MITIGATION_STATES, type MitigationEntry, OvhClient, type OvhOp } from './client.ts';
import { OVH_ENDPOINTS, type OvhOptions, type OvhSecrets } from './config.ts';
import { combinedRestore, readStored, switchActivation } from '../switch.ts';

export const OVH_TYPE = 'ovh';

/** One address as the snapshot read it. */
export interface OvhTargetSnapshot {
  ipBlock: string;
  ip: string;
  /** An entry existed (not one being removed): the relay never changes or removes it. */
  existed: boolean;
  permanent?: boolean;
  auto?: boolean;
  state?: MitigationEntry['state'];
  readAt: string;
}

/** `SwitchSnapshot.state` of this provider. */
export interface OvhSnapshotState {
  ips: OvhTargetSnapshot[];
}

/** What the relay did for one address. */
export interface OvhTargetApplied {
  ipBlock: string;
  ip: string;
  /** The relay created this entry (POST) and may remove it on restore. */
  created: boolean;
  /** Why the relay created nothing. */
  left?: 'pre-existing' | 'appeared' | 'removal-pending';
  /** The entry as last read. */
  entry?: MitigationEntry;
  confirmedAt?: string;
}

/** `SwitchActivation.applied` of this provider. */
export interface OvhApplied {
  ips: OvhTargetApplied[];
}

export type OvhIntegration = SwitchIntegration<OvhOptions>;

export interface OvhDeps extends CloudProviderDeps<OvhSecrets> {
  /** Tests only: another API base (https, including `/1.0`). */
  baseUrl?: string;
}

const entrySchema = z.object({
  ipOnMitigation: z.string(),
  permanent: z.boolean(),
  auto: z.boolean(),
  state: z.enum(MITIGATION_STATES),
});
const snapshotStateSchema = z.object({
  ips: z.array(
    z.object({
      ipBlock: z.string(),
      ip: z.string(),
      existed: z.boolean(),
      permanent: z.boolean().optional(),
      auto: z.boolean().optional(),
      state: z.enum(MITIGATION_STATES).optional(),
      readAt: z.string(),
    }),
  ),
});
const appliedSchema = z.object({
  ips: z.array(
    z.object({
      ipBlock: z.string(),
      ip: z.string(),
      created: z.boolean(),
      left: z.enum(['pre-existing', 'appeared', 'removal-pending']).optional(),
      entry: entrySchema.optional(),
      confirmedAt: z.string().optional(),
    }),
  ),
});

type TargetRestore = { ip: string; outcome: 'restored' | 'changed-by-others' | 'pending'; detail: string };

/** The entry is what the relay's POST makes: permanent, not automatic. */
function looksLikeRelays(entry: MitigationEntry): boolean {
  return entry.permanent && !entry.auto;
}

function describeEntry(entry: MitigationEntry | undefined): string {
  if (entry === undefined) return 'no mitigation entry';
  const kind = entry.auto ? (entry.permanent ? 'automatic+permanent' : 'automatic (OVH)') : entry.permanent ? 'permanent' : 'not permanent';
  return `${kind} mitigation, ${entry.state}`;
}

export class OvhProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = OVH_TYPE;
  readonly id: string;
  readonly holdDownMs: number;

  readonly #options: OvhOptions;
  readonly #client: OvhClient;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #random: (() => number) | undefined;

  constructor(integration: OvhIntegration, deps: OvhDeps) {
    this.id = integration.id;
    this.holdDownMs = integration.holdDownMs;
    this.#options = integration.options;
    const runtime = clientRuntime(deps, integration.options.timeout);
    this.#now = runtime.now;
    this.#sleep = runtime.sleep;
    this.#random = deps.random;
    const baseUrl = deps.baseUrl ?? OVH_ENDPOINTS[integration.options.endpoint];
    if (!/^https:\/\/[^/]+/.test(baseUrl)) {
      throw new ProviderError(`ovh ${integration.id}: the API base must be an https URL`, { retryable: false });
    }
    this.#client = new OvhClient({
      integrationId: integration.id,
      endpoint: integration.options.endpoint,
      baseUrl: baseUrl.replace(/\/+$/, ''),
      secrets: deps.secrets,
      ...runtime,
    });
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<OvhSnapshotState>> {
    const op = this.#op(ctx);
    for (const block of new Set(this.#options.ips.map((target) => target.ipBlock))) {
      const exists = await this.#retry(op, () => this.#client.blockExists(op, block));
      if (!exists) throw this.#client.blockNotFoundError(block);
    }
    const ips: OvhTargetSnapshot[] = [];
    for (const { ipBlock, ip } of this.#options.ips) {
      const entry = await this.#retry(op, () => this.#client.getEntry(op, ipBlock, ip));
      const readAt = new Date(this.#now()).toISOString();
      // An entry being removed is going away: the address counts as having none.
      const existed = entry !== undefined && entry.state !== 'removalPending';
      ips.push({ ipBlock, ip, existed, ...(entry ? { permanent: entry.permanent, auto: entry.auto, state: entry.state } : {}), readAt });
    }
    const alreadyActive = ips.every((target) => target.existed && target.permanent === true);
    const summary = ips
      .map((target) => {
        const entry = target.state === undefined ? undefined : { ipOnMitigation: target.ip, permanent: target.permanent ?? false, auto: target.auto ?? false, state: target.state };
        return `${target.ip}: ${describeEntry(entry)}${target.existed ? ' (already there: left alone)' : ''}`;
      })
      .join('; ');
    return { state: { ips }, alreadyActive, summary };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<OvhApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const applied: OvhTargetApplied[] = [];
    const lines: string[] = [];
    let confirmed = true;
    for (const target of state.ips) {
      const { ipBlock, ip } = target;
      if (target.existed) {
        applied.push({ ipBlock, ip, created: false, left: 'pre-existing' });
        lines.push(`${ip}: had ${target.auto ? "OVH's automatic" : 'permanent'} mitigation before, left alone`);
        continue;
      }
      const result = await this.#retry(op, async () => {
        const current = await this.#client.getEntry(op, ipBlock, ip);
        if (current === undefined) {
          ctx.logger.info('ovh: putting address on permanent mitigation', { integration: this.id, ipBlock, ip });
          const created = await this.#client.createEntry(op, ipBlock, ip);
          // 409: someone's entry appeared between the read and the POST; read it again.
          const entry = created === 'conflict' ? await this.#client.getEntry(op, ipBlock, ip) : created;
          return { entry, wrote: created !== 'conflict' };
        }
        return { entry: current, wrote: false };
      });
      let entry = result.entry;
      if (entry !== undefined && entry.state === 'removalPending') {
        confirmed = false;
        applied.push({ ipBlock, ip, created: false, left: 'removal-pending', entry });
        lines.push(`${ip}: OVH is still removing an earlier entry; mitigation is switched on once it is gone`);
        continue;
      }
      if (entry === undefined || !looksLikeRelays(entry)) {
        // Only an automatic (OVH) or non-permanent entry lands here: not the relay's, never claimed.
        const createdNothing: OvhTargetApplied = { ipBlock, ip, created: false, left: 'appeared' };
        if (entry !== undefined) createdNothing.entry = entry;
        if (entry === undefined) confirmed = false;
        applied.push(createdNothing);
        lines.push(`${ip}: ${describeEntry(entry)} appeared since the snapshot (not the relay's); left alone`);
        continue;
      }
      entry = await this.#settle(op, ipBlock, ip, entry, 'creationPending');
      const record: OvhTargetApplied = { ipBlock, ip, created: true };
      if (entry !== undefined) record.entry = entry;
      if (entry?.state === 'ok' && looksLikeRelays(entry)) {
        record.confirmedAt = new Date(this.#now()).toISOString();
        lines.push(`${ip}: on permanent mitigation${result.wrote ? '' : ' (already set by the relay)'}`);
      } else {
        confirmed = false;
        lines.push(`${ip}: ${entry === undefined ? 'entry vanished; created again on the next look' : `OVH reports ${entry.state}`}`);
      }
      applied.push(record);
    }
    return switchActivation<OvhApplied>({ ips: applied }, confirmed, lines, this.#now(), this.#options.pollInterval);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    const results: TargetRestore[] = [];
    for (const target of state.ips) {
      const { ipBlock, ip } = target;
      if (target.existed) {
        results.push({ ip, outcome: 'restored', detail: 'had mitigation before the relay came, left alone' });
        continue;
      }
      const record = applied?.ips.find((item) => item.ip === ip && item.ipBlock === ipBlock);
      if (record !== undefined && !record.created && record.left === 'appeared') {
        results.push({ ip, outcome: 'restored', detail: 'the relay created nothing (an entry not the relay\'s appeared), left alone' });
        continue;
      }
      // The relay created it, or may have (no record, or it was waiting on a removal): compare with what its POST makes.
      const result = await this.#retry(op, async (): Promise<TargetRestore> => {
        const current = await this.#client.getEntry(op, ipBlock, ip);
        if (current === undefined) return { ip, outcome: 'restored', detail: 'no mitigation entry, as before' };
        if (current.state === 'removalPending') return { ip, outcome: 'pending', detail: 'OVH is removing the entry' };
        if (!looksLikeRelays(current)) {
          ctx.logger.warn('ovh: mitigation entry changed by someone else during the attack; not removing it', { integration: this.id, ipBlock, ip, now: describeEntry(current) });
          return { ip, outcome: 'changed-by-others', detail: `changed by someone else (${describeEntry(current)}); left as it is` };
        }
        if (current.state === 'creationPending') return { ip, outcome: 'pending', detail: 'OVH is still creating the entry; removed once it is ok' };
        ctx.logger.info('ovh: taking address off permanent mitigation', { integration: this.id, ipBlock, ip });
        const removed = await this.#client.deleteEntry(op, ipBlock, ip);
        if (removed === 'absent') return { ip, outcome: 'restored', detail: 'no mitigation entry, as before' };
        const after = await this.#settle(op, ipBlock, ip, removed, 'removalPending');
        if (after === undefined) return { ip, outcome: 'restored', detail: 'permanent mitigation removed' };
        return { ip, outcome: 'pending', detail: `OVH reports ${after.state}` };
      });
      results.push(result);
    }
    const summary = results.map((result) => `${result.ip}: ${result.detail}`).join('; ');
    return combinedRestore(results.map((result) => result.outcome), summary, this.#options.pollInterval);
  }

  /** Lists the account's blocks (GET /ip) and reads each address's entry: every access rule but the two writes. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op: OvhOp = { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#options.timeout * 4 };
    const details: string[] = [];
    try {
      const blocks = new Set(await this.#client.listBlocks(op));
      for (const { ipBlock, ip } of this.#options.ips) {
        if (!blocks.has(ipBlock)) {
          return { ok: false, detail: `IP block ${ipBlock} is not in this OVH account (GET /ip); check options.ips[].ipBlock and options.endpoint` };
        }
        details.push(`${ip}: ${describeEntry(await this.#client.getEntry(op, ipBlock, ip))}`);
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    return { ok: true, detail: details.join('; ') };
  }

  #op(ctx: ProviderContext): OvhOp {
    const perTarget = this.#options.waitFor + 4 * this.#options.timeout;
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + perTarget * (this.#options.ips.length + 1) };
  }

  #retry<T>(op: OvhOp, step: () => Promise<T>): Promise<T> {
    return withRetries(step, {
      deadline: op.deadline,
      signal: op.signal,
      now: this.#now,
      sleep: this.#sleep,
      label: `ovh ${this.id}`,
      ...(this.#random ? { random: this.#random } : {}),
    });
  }

  /** Reads the entry again every pollInterval while it is in `pending`, until options.waitFor has passed. Undefined once gone. */
  async #settle(op: OvhOp, ipBlock: string, ip: string, first: MitigationEntry, pending: MitigationEntry['state']): Promise<MitigationEntry | undefined> {
    const until = this.#now() + this.#options.waitFor;
    let current: MitigationEntry | undefined = first;
    while (current !== undefined && current.state === pending && this.#now() + this.#options.pollInterval <= until) {
      await this.#sleep(this.#options.pollInterval, op.signal);
      current = await this.#retry(op, () => this.#client.getEntry(op, ipBlock, ip));
    }
    return current;
  }

  #readState(snapshot: SwitchSnapshot): OvhSnapshotState {
    return readStored(snapshotStateSchema, snapshot.state, (where) => new ProviderError(`ovh ${this.id}: the stored snapshot is not an ovh snapshot (${where}); check the addresses' mitigation by hand (GET /ip/{block}/mitigation)`, { retryable: false })) as OvhSnapshotState;
  }

  #readApplied(activation: SwitchActivation): OvhApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`ovh ${this.id}: the stored activation is not an ovh activation (${where})`, { retryable: false })) as OvhApplied;
  }
}

/** The factory the registry calls. */
export function createOvhProvider(integration: OvhIntegration, deps: OvhDeps): OvhProvider {
  return new OvhProvider(integration, deps);
}
