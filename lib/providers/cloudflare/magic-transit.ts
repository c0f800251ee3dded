/**
 * The `cloudflare-magic-transit` integration: a switch over the BGP
 * advertisement of one or more Magic Transit (BYOIP) prefixes on demand.
 *
 * Two endpoints, chosen by `options.api`:
 * - `bgp-prefixes` (preferred): `GET|PATCH
 *   /accounts/{a}/addressing/prefixes/{p}/bgp/prefixes/{b}`, body
 *   `{"on_demand":{"advertised":true|false}}`; the BGPPrefix carries
 *   `on_demand {advertised, advertised_modified_at, on_demand_enabled,
 *   on_demand_locked}`.
 * - `bgp-status` (deprecated): `GET|PATCH …/prefixes/{p}/bgp/status`, body
 *   `{"advertised":true|false}`, with the flags read from `GET
 *   …/prefixes/{p}`.
 *
 * - snapshot: reads every prefix (advertised, advertised_modified_at,
 *   on_demand_enabled, on_demand_locked). A prefix that is not advertised and
 *   cannot be switched (not on-demand, or locked) is refused with a
 *   non-retryable error. `alreadyActive` when every prefix already is
 *   advertised. A prefix advertised before the relay came is never touched.
 * - activate: for each prefix the snapshot saw withdrawn, reads it; PATCHes
 *   `advertised: true` unless it already is, or the relay already asked
 *   (Cloudflare takes minutes: the state flips and advertised_modified_at
 *   moves once it is done). Reports `confirmed: false` + `recheckAfterMs`
 *   until every such prefix shows as advertised; a prefix still not
 *   advertised `confirmTimeout` after the relay asked is a failure.
 *   `applied` records, per prefix, whether the relay advertised it and the
 *   advertised_modified_at it showed once advertised.
 * - deactivate: withdraws only prefixes the relay advertised, and only when
 *   their advertised_modified_at still is the one recorded (someone who
 *   withdrew or re-advertised in between moved it: 'changed-by-others',
 *   nothing written). 'pending' until Cloudflare shows the prefix withdrawn
 *   (about 15 minutes), bounded by `withdrawTimeout`.
 *
 * What the relay asked and when is also kept in memory, so a re-check never
 * writes twice; after a restart one idempotent PATCH may be repeated.
 */
import { z } from 'zod';
import { clientRuntime } from '../client-runtime.ts';
import { ProviderError } from '../errors.ts';
import type {
  HealthResult,
  ProviderContext,
  SwitchActivation,
  SwitchContext,
  SwitchIntegration,
  SwitchProvider,
  SwitchRestore,
  SwitchSnapshot,
} from '../types.ts';
import { CloudflareClient, type CloudflareOp } from './client.ts';
import { CLOUDFLARE_API_BASE, type CloudflareMagicTransitOptions, type MagicTransitApi, type MagicTransitPrefix } from './config.ts';
import type { CloudflareDeps } from './under-attack.ts';
import { combinedRestore, readStored, switchActivation } from '../switch.ts';

export const CLOUDFLARE_MAGIC_TRANSIT_TYPE = 'cloudflare-magic-transit';
export const MAGIC_TRANSIT_PERMISSION = 'IP Prefixes: BGP On Demand Write (dashboard: Account → IP Prefixes: BGP On Demand → Edit; Magic Transit Write or IP Prefixes: Write also work)';

const timestamp = z.string().nullable().optional();

/** BGPPrefix (cloudflare-typescript `resources/addressing/prefixes/bgp-prefixes.ts`). */
export const bgpPrefixSchema = z.looseObject({
  id: z.string(),
  cidr: z.string().optional(),
  on_demand: z
    .looseObject({
      advertised: z.boolean().nullable().optional(),
      advertised_modified_at: timestamp,
      on_demand_enabled: z.boolean().optional(),
      on_demand_locked: z.boolean().optional(),
    })
    .nullable()
    .optional(),
});

/** Prefix (cloudflare-typescript `prefixes.ts`; the on-demand fields are deprecated there but still returned). */
export const prefixSchema = z.looseObject({
  id: z.string(),
  cidr: z.string().optional(),
  on_demand_enabled: z.boolean().optional(),
  on_demand_locked: z.boolean().optional(),
  advertised: z.boolean().nullable().optional(),
  advertised_modified_at: timestamp,
});

/** AdvertisementStatus (`advertisement-status.ts`): GET/PATCH …/bgp/status. */
export const advertisementStatusSchema = z.looseObject({
  advertised: z.boolean(),
  advertised_modified_at: timestamp,
});

/** One prefix as read. */
export interface Advertisement {
  advertised: boolean;
  modifiedAt: string | null;
  onDemandEnabled: boolean;
  onDemandLocked: boolean;
  cidr?: string;
}

/** One prefix as the snapshot read it. */
export interface MagicTransitPrefixSnapshot extends Advertisement {
  prefixId: string;
  bgpPrefixId?: string;
  readAt: string;
}

/** `SwitchSnapshot.state` of this provider. */
export interface MagicTransitSnapshotState {
  accountId: string;
  api: MagicTransitApi;
  prefixes: MagicTransitPrefixSnapshot[];
}

/** What the relay did for one prefix. */
export interface MagicTransitPrefixApplied {
  prefixId: string;
  bgpPrefixId?: string;
  /** The relay advertised it (asked Cloudflare to) and withdraws it on restore. */
  advertisedByRelay: boolean;
  /** Why the relay left it alone: it was advertised before the relay came. */
  left?: 'pre-advertised';
  /** ISO time the relay asked Cloudflare to advertise it. */
  requestedAt?: string;
  /** advertised_modified_at once Cloudflare showed it advertised: restore compares with it. */
  advertisedModifiedAt?: string | null;
  confirmedAt?: string;
}

/** `SwitchActivation.applied` of this provider. */
export interface MagicTransitApplied {
  prefixes: MagicTransitPrefixApplied[];
}

export type CloudflareMagicTransitIntegration = SwitchIntegration<CloudflareMagicTransitOptions>;

const advertisementFields = {
  advertised: z.boolean(),
  modifiedAt: z.string().nullable(),
  onDemandEnabled: z.boolean(),
  onDemandLocked: z.boolean(),
  cidr: z.string().optional(),
};
const snapshotStateSchema = z.object({
  accountId: z.string(),
  api: z.enum(['bgp-prefixes', 'bgp-status']),
  prefixes: z.array(z.object({ prefixId: z.string(), bgpPrefixId: z.string().optional(), readAt: z.string(), ...advertisementFields })),
});
const appliedSchema = z.object({
  prefixes: z.array(
    z.object({
      prefixId: z.string(),
      bgpPrefixId: z.string().optional(),
      advertisedByRelay: z.boolean(),
      left: z.literal('pre-advertised').optional(),
      requestedAt: z.string().optional(),
      advertisedModifiedAt: z.string().nullable().optional(),
      confirmedAt: z.string().optional(),
    }),
  ),
});

type PrefixRestore = { name: string; outcome: 'restored' | 'changed-by-others' | 'pending'; detail: string };

interface Request {
  /** Epoch ms the relay sent the PATCH. */
  at: number;
  /** advertised_modified_at before it (a withdrawal is done once it moves). */
  modifiedAtBefore: string | null;
}

export class CloudflareMagicTransitProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = CLOUDFLARE_MAGIC_TRANSIT_TYPE;
  readonly id: string;
  readonly holdDownMs: number;

  readonly #options: CloudflareMagicTransitOptions;
  readonly #client: CloudflareClient;
  readonly #now: () => number;
  /** Advertisements the relay asked for and Cloudflare has not shown yet, by prefix key. */
  readonly #advertising = new Map<string, Request>();
  /** Withdrawals the relay asked for and Cloudflare has not shown yet, by prefix key. */
  readonly #withdrawing = new Map<string, Request>();

  constructor(integration: CloudflareMagicTransitIntegration, deps: CloudflareDeps) {
    this.id = integration.id;
    this.holdDownMs = integration.holdDownMs;
    this.#options = integration.options;
    const runtime = clientRuntime(deps, integration.options.timeout);
    this.#now = runtime.now;
    this.#client = new CloudflareClient({
      label: `${CLOUDFLARE_MAGIC_TRANSIT_TYPE} ${integration.id}`,
      baseUrl: deps.baseUrl ?? CLOUDFLARE_API_BASE,
      apiToken: deps.secrets.apiToken,
      ...runtime,
      context: {
        permission: MAGIC_TRANSIT_PERMISSION,
        resource: `account ${integration.options.accountId}`,
        ids: 'options.accountId and options.prefixes[].prefixId/bgpPrefixId (GET /accounts/{account_id}/addressing/prefixes and …/{prefix_id}/bgp/prefixes list them)',
      },
    });
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<MagicTransitSnapshotState>> {
    const op = this.#op(ctx);
    const prefixes: MagicTransitPrefixSnapshot[] = [];
    for (const prefix of this.#options.prefixes) {
      const read = await this.#read(op, prefix);
      // A prefix the relay would have to change must be switchable; one already advertised is left alone anyway.
      if (!read.advertised) this.#assertSwitchable(prefix, read);
      prefixes.push({ prefixId: prefix.prefixId, ...(prefix.bgpPrefixId ? { bgpPrefixId: prefix.bgpPrefixId } : {}), ...read, readAt: new Date(this.#now()).toISOString() });
    }
    const alreadyActive = prefixes.every((prefix) => prefix.advertised);
    const summary = prefixes
      .map((prefix) => `${this.#name(prefix)}: ${prefix.advertised ? 'advertised' : 'withdrawn'}${prefix.modifiedAt ? ` (since ${prefix.modifiedAt})` : ''}${prefix.advertised ? ', left alone' : ''}`)
      .join('; ');
    return { state: { accountId: this.#options.accountId, api: this.#options.api, prefixes }, alreadyActive, summary };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<MagicTransitApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const applied: MagicTransitPrefixApplied[] = [];
    const lines: string[] = [];
    let confirmed = true;
    for (const before of state.prefixes) {
      const ids = { prefixId: before.prefixId, ...(before.bgpPrefixId ? { bgpPrefixId: before.bgpPrefixId } : {}) };
      const name = this.#name(before);
      if (before.advertised) {
        applied.push({ ...ids, advertisedByRelay: false, left: 'pre-advertised' });
        lines.push(`${name}: advertised before the relay came, left alone`);
        continue;
      }
      const key = this.#key(before);
      this.#withdrawing.delete(key);
      let current = await this.#read(op, before);
      let request = this.#advertising.get(key);
      if (!current.advertised) {
        this.#assertSwitchable(before, current);
        if (request === undefined) {
          ctx.logger.info('cloudflare: advertising prefix', { integration: this.id, prefixId: before.prefixId, bgpPrefixId: before.bgpPrefixId, cidr: current.cidr });
          request = { at: this.#now(), modifiedAtBefore: current.modifiedAt };
          current = { ...current, ...(await this.#write(op, before, true)) };
          this.#advertising.set(key, request);
        } else if (this.#now() - request.at > this.#options.confirmTimeout) {
          throw new ProviderError(
            `${this.#client.label}: ${name} is still not advertised ${Math.round((this.#now() - request.at) / 60_000)} min after the relay asked (options.confirmTimeout ${Math.round(this.#options.confirmTimeout / 60_000)} min); ` +
              "check the prefix in the dashboard (Magic Transit / IP Prefixes) and Cloudflare's status page; the relay will look again",
            { retryable: false },
          );
        }
      }
      const record: MagicTransitPrefixApplied = { ...ids, advertisedByRelay: true };
      if (request !== undefined) record.requestedAt = new Date(request.at).toISOString();
      if (current.advertised) {
        // Advertised since the snapshot: by the relay (asked now or before a restart; the snapshot was taken when it came).
        this.#advertising.delete(key);
        record.advertisedModifiedAt = current.modifiedAt;
        record.confirmedAt = new Date(this.#now()).toISOString();
        lines.push(`${name}: advertised${current.modifiedAt ? ` (since ${current.modifiedAt})` : ''}`);
      } else {
        confirmed = false;
        lines.push(`${name}: advertisement requested, Cloudflare has not applied it yet (takes 2–7 minutes)`);
      }
      applied.push(record);
    }
    return switchActivation<MagicTransitApplied>({ prefixes: applied }, confirmed, lines, this.#now(), this.#options.recheckInterval);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    const results: PrefixRestore[] = [];
    for (const before of state.prefixes) {
      const name = this.#name(before);
      const key = this.#key(before);
      if (before.advertised) {
        results.push({ name, outcome: 'restored', detail: 'advertised before the relay came, left advertised' });
        continue;
      }
      const record = applied?.prefixes.find((item) => item.prefixId === before.prefixId && item.bgpPrefixId === before.bgpPrefixId);
      if (applied !== undefined && (record === undefined || !record.advertisedByRelay)) {
        results.push({ name, outcome: 'restored', detail: 'the relay did not advertise it, left alone' });
        continue;
      }
      this.#advertising.delete(key);
      results.push(await this.#restoreOne(op, ctx, before, record, name, key));
    }
    const summary = results.map((result) => `${result.name}: ${result.detail}`).join('; ');
    return combinedRestore(results.map((result) => result.outcome), summary, this.#options.recheckInterval);
  }

  async #restoreOne(
    op: CloudflareOp,
    ctx: SwitchContext,
    before: MagicTransitPrefixSnapshot,
    record: MagicTransitPrefixApplied | undefined,
    name: string,
    key: string,
  ): Promise<PrefixRestore> {
    const current = await this.#read(op, before);
    const withdrawal = this.#withdrawing.get(key);
    /** The advertised_modified_at the relay's advertisement showed; undefined when never confirmed (or no record). */
    const recorded = record?.advertisedModifiedAt;
    if (!current.advertised) {
      if (withdrawal !== undefined) {
        this.#withdrawing.delete(key);
        return { name, outcome: 'restored', detail: 'withdrawn, as before the attack' };
      }
      if (recorded !== undefined) {
        // The relay's advertisement was seen, and someone withdrew it since.
        ctx.logger.warn('cloudflare: prefix withdrawn by someone else during the attack', { integration: this.id, prefixId: before.prefixId, bgpPrefixId: before.bgpPrefixId });
        return { name, outcome: 'changed-by-others', detail: `withdrawn by someone else during the attack (advertised_modified_at ${current.modifiedAt ?? 'null'}); nothing written` };
      }
      if (current.modifiedAt === before.modifiedAt) {
        // Never seen advertised, and no flip since the snapshot: the relay's request may still be pending at Cloudflare. Cancel it.
        ctx.logger.info('cloudflare: cancelling a pending advertisement', { integration: this.id, prefixId: before.prefixId, bgpPrefixId: before.bgpPrefixId });
        this.#assertSwitchable(before, current);
        await this.#write(op, before, false);
        return { name, outcome: 'restored', detail: 'withdrawn (the advertisement request was cancelled before Cloudflare applied it)' };
      }
      return { name, outcome: 'changed-by-others', detail: `advertised and withdrawn again by someone else during the attack (advertised_modified_at ${current.modifiedAt ?? 'null'}); nothing written` };
    }
    if (withdrawal !== undefined && current.modifiedAt === withdrawal.modifiedAtBefore) {
      const waited = this.#now() - withdrawal.at;
      if (waited > this.#options.withdrawTimeout) {
        throw new ProviderError(
          `${this.#client.label}: ${name} is still advertised ${Math.round(waited / 60_000)} min after the relay asked to withdraw it (options.withdrawTimeout ${Math.round(this.#options.withdrawTimeout / 60_000)} min); ` +
            'check the prefix in the dashboard (Magic Transit / IP Prefixes) and withdraw it by hand if needed; the relay will look again',
          { retryable: false },
        );
      }
      return { name, outcome: 'pending', detail: 'withdrawal requested, Cloudflare has not applied it yet (takes about 15 minutes)' };
    }
    if (recorded !== undefined && current.modifiedAt !== recorded) {
      ctx.logger.warn('cloudflare: prefix re-advertised by someone else during the attack; not withdrawing it', { integration: this.id, prefixId: before.prefixId, bgpPrefixId: before.bgpPrefixId });
      return {
        name,
        outcome: 'changed-by-others',
        detail: `changed by someone else since the relay advertised it (advertised_modified_at ${current.modifiedAt ?? 'null'}, the relay's was ${recorded ?? 'null'}); left advertised — withdraw it by hand if wanted`,
      };
    }
    if (!current.onDemandEnabled || current.onDemandLocked) {
      ctx.logger.warn('cloudflare: prefix can no longer be withdrawn by the API', { integration: this.id, prefixId: before.prefixId, locked: current.onDemandLocked, onDemand: current.onDemandEnabled });
      return {
        name,
        outcome: 'changed-by-others',
        detail: `now ${current.onDemandLocked ? 'locked (on_demand_locked)' : 'not on-demand (on_demand_enabled false)'}: changed since the relay advertised it; left advertised — contact Cloudflare or withdraw it in the dashboard`,
      };
    }
    ctx.logger.info('cloudflare: withdrawing prefix', { integration: this.id, prefixId: before.prefixId, bgpPrefixId: before.bgpPrefixId, cidr: current.cidr });
    const after = await this.#write(op, before, false);
    if (after.advertised === false) return { name, outcome: 'restored', detail: 'withdrawn, as before the attack' };
    this.#withdrawing.set(key, { at: this.#now(), modifiedAtBefore: current.modifiedAt });
    return { name, outcome: 'pending', detail: 'withdrawal requested, Cloudflare has not applied it yet (takes about 15 minutes)' };
  }

  /** Reads every prefix: the same permission as the writes (or a read one), and whether each can be switched. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    const details: string[] = [];
    try {
      for (const prefix of this.#options.prefixes) {
        const read = await this.#read(op, prefix);
        if (!read.advertised) this.#assertSwitchable(prefix, read);
        details.push(`${this.#name({ ...prefix, ...read })}: ${read.advertised ? 'advertised' : 'withdrawn'}${read.onDemandLocked ? ', locked' : ''}${read.onDemandEnabled ? '' : ', not on-demand'}`);
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    return { ok: true, detail: details.join('; ') };
  }

  #base(prefix: { prefixId: string }): string {
    return `/accounts/${this.#options.accountId}/addressing/prefixes/${prefix.prefixId}`;
  }

  async #read(op: CloudflareOp, prefix: MagicTransitPrefix): Promise<Advertisement> {
    if (this.#options.api === 'bgp-prefixes') {
      const path = `${this.#base(prefix)}/bgp/prefixes/${prefix.bgpPrefixId ?? ''}`;
      const bgp = await this.#client.call(op, { method: 'GET', path, result: bgpPrefixSchema, what: 'a BGP prefix object ({id, cidr, on_demand:{advertised, …}})' });
      this.#checkId(bgp.id, prefix.bgpPrefixId, path);
      return fromBgpPrefix(bgp);
    }
    const path = this.#base(prefix);
    const details = await this.#client.call(op, { method: 'GET', path, result: prefixSchema, what: 'an IP prefix object ({id, cidr, on_demand_enabled, …})' });
    this.#checkId(details.id, prefix.prefixId, path);
    const status = await this.#client.call(op, {
      method: 'GET',
      path: `${path}/bgp/status`,
      result: advertisementStatusSchema,
      what: 'an advertisement status ({advertised, advertised_modified_at})',
    });
    return {
      advertised: status.advertised,
      modifiedAt: status.advertised_modified_at ?? null,
      onDemandEnabled: details.on_demand_enabled ?? false,
      onDemandLocked: details.on_demand_locked ?? false,
      ...(details.cidr ? { cidr: details.cidr } : {}),
    };
  }

  /** PATCHes the advertisement; what the answer shows (Cloudflare applies it later). */
  async #write(op: CloudflareOp, prefix: MagicTransitPrefix, advertised: boolean): Promise<Pick<Advertisement, 'advertised' | 'modifiedAt'>> {
    if (this.#options.api === 'bgp-prefixes') {
      const path = `${this.#base(prefix)}/bgp/prefixes/${prefix.bgpPrefixId ?? ''}`;
      const bgp = await this.#client.call(op, { method: 'PATCH', path, body: { on_demand: { advertised } }, result: bgpPrefixSchema, what: 'a BGP prefix object' });
      this.#checkId(bgp.id, prefix.bgpPrefixId, path);
      const read = fromBgpPrefix(bgp);
      return { advertised: read.advertised, modifiedAt: read.modifiedAt };
    }
    const status = await this.#client.call(op, {
      method: 'PATCH',
      path: `${this.#base(prefix)}/bgp/status`,
      body: { advertised },
      result: advertisementStatusSchema,
      what: 'an advertisement status ({advertised, advertised_modified_at})',
    });
    return { advertised: status.advertised, modifiedAt: status.advertised_modified_at ?? null };
  }

  #checkId(got: string, expected: string | undefined, path: string): void {
    if (expected !== undefined && got !== expected) {
      throw new ProviderError(`${this.#client.label}: GET ${path} answered for ${got}, not ${expected}`, { retryable: false });
    }
  }

  #assertSwitchable(prefix: MagicTransitPrefix, read: Advertisement): void {
    const name = this.#name({ ...prefix, ...read });
    if (!read.onDemandEnabled) {
      throw new ProviderError(
        `${this.#client.label}: ${name} is not enabled for on-demand advertisement (on_demand_enabled: false): Cloudflare advertises it always or under BGP control, and the API cannot switch it; ` +
          'ask Cloudflare to onboard it for on-demand advertisement, or remove it from options.prefixes',
        { retryable: false },
      );
    }
    if (read.onDemandLocked) {
      throw new ProviderError(
        `${this.#client.label}: ${name} has its advertisement locked (on_demand_locked: true): Cloudflare does not let the API change it; ` +
          'contact Cloudflare support to unlock it, or remove it from options.prefixes',
        { retryable: false },
      );
    }
  }

  #name(prefix: { prefixId: string; bgpPrefixId?: string | undefined; cidr?: string | undefined }): string {
    const id = prefix.bgpPrefixId ? `bgp prefix ${prefix.bgpPrefixId}` : `prefix ${prefix.prefixId}`;
    return prefix.cidr ? `${prefix.cidr} (${id})` : id;
  }

  #key(prefix: { prefixId: string; bgpPrefixId?: string | undefined }): string {
    return `${prefix.prefixId}/${prefix.bgpPrefixId ?? 'status'}`;
  }

  #op(ctx: ProviderContext): CloudflareOp {
    // A few requests per prefix, each retried within this budget.
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#options.timeout * (2 * this.#options.prefixes.length + 2) };
  }

  #readState(snapshot: SwitchSnapshot): MagicTransitSnapshotState {
    const parsed = snapshotStateSchema.safeParse(snapshot.state);
    if (!parsed.success) {
      throw new ProviderError(
        `${this.#client.label}: the stored snapshot is not a ${CLOUDFLARE_MAGIC_TRANSIT_TYPE} snapshot (${parsed.error.issues[0]?.path.join('.')}); check the prefixes' advertisement by hand`,
        { retryable: false },
      );
    }
    const state = parsed.data as MagicTransitSnapshotState;
    if (state.accountId !== this.#options.accountId || state.api !== this.#options.api) {
      throw new ProviderError(
        `${this.#client.label}: the stored snapshot was taken for account ${state.accountId} with api ${state.api}, not the current configuration; restore those prefixes by hand`,
        { retryable: false },
      );
    }
    return state;
  }

  #readApplied(activation: SwitchActivation): MagicTransitApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`${this.#client.label}: the stored activation is not a ${CLOUDFLARE_MAGIC_TRANSIT_TYPE} activation (${where})`, { retryable: false })) as MagicTransitApplied;
  }
}

function fromBgpPrefix(bgp: z.output<typeof bgpPrefixSchema>): Advertisement {
  const onDemand = bgp.on_demand ?? undefined;
  return {
    // null: never advertised on demand.
    advertised: onDemand?.advertised === true,
    modifiedAt: onDemand?.advertised_modified_at ?? null,
    onDemandEnabled: onDemand?.on_demand_enabled ?? false,
    onDemandLocked: onDemand?.on_demand_locked ?? false,
    ...(bgp.cidr ? { cidr: bgp.cidr } : {}),
  };
}
