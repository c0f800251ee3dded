/**
 * The `cloudflare-under-attack` integration: a switch over a zone's
 * security level (`/zones/{zone_id}/settings/security_level`), set to
 * `under_attack` ("I'm Under Attack" mode) during an attack.
 *
 * - snapshot: `GET …/settings/security_level` → `value`, `modified_on`,
 *   `editable`. `editable: false` is refused (the plan or the account does
 *   not let the setting be changed). `alreadyActive` when the value already
 *   is `under_attack`: the relay then never touches it.
 * - activate: reads the setting; sends `PATCH {"value":"under_attack"}` only
 *   when it is not under_attack yet, and records the `modified_on` the
 *   PATCH returned (or, called again, the one read). Synchronous: confirmed
 *   at once.
 * - deactivate: reads the setting; only when it still is `under_attack`
 *   with the `modified_on` the relay recorded does it PATCH the saved value
 *   back. Any other value, or another modified_on, means someone changed it
 *   during the attack: nothing is written and 'changed-by-others' is
 *   reported. Without an activation record (a crash between the PATCH and
 *   its record) the target state is the test: still under_attack → restore.
 */
import { z } from 'zod';
import { clientRuntime } from '../client-runtime.ts';
import { readStored } from '../switch.ts';
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
import { CloudflareClient, type CloudflareOp } from './client.ts';
import { CLOUDFLARE_API_BASE, type CloudflareSecrets, type CloudflareUnderAttackOptions } from './config.ts';

export const CLOUDFLARE_UNDER_ATTACK_TYPE = 'cloudflare-under-attack';
export const UNDER_ATTACK = 'under_attack';
export const ZONE_SETTINGS_PERMISSION = 'Zone Settings Write (dashboard: Zone → Zone Settings → Edit)';

/** `ZonesSecurityLevel` (cloudflare-typescript `resources/zones/settings.ts`). */
export const securityLevelSchema = z.looseObject({
  id: z.literal('security_level', { error: 'expected id "security_level"' }),
  value: z.string().min(1),
  editable: z.boolean().optional(),
  modified_on: z.string().nullable().optional(),
});
export type SecurityLevel = z.output<typeof securityLevelSchema>;

/** `SwitchSnapshot.state` of this provider. */
export interface UnderAttackSnapshotState {
  zoneId: string;
  /** The security level before the relay came (restored afterwards). */
  value: string;
  modifiedOn: string | null;
  editable: boolean;
  readAt: string;
}

/** `SwitchActivation.applied` of this provider. */
export interface UnderAttackApplied {
  zoneId: string;
  value: typeof UNDER_ATTACK;
  /** modified_on as the relay's PATCH returned it (or as read when called again): restore compares with it. */
  modifiedOn: string | null;
  /** The relay sent the PATCH in this call (false: it found it already set). */
  wrote: boolean;
}

const snapshotStateSchema = z.object({
  zoneId: z.string(),
  value: z.string().min(1),
  modifiedOn: z.string().nullable(),
  editable: z.boolean(),
  readAt: z.string(),
});
const appliedSchema = z.object({
  zoneId: z.string(),
  value: z.literal(UNDER_ATTACK),
  modifiedOn: z.string().nullable(),
  wrote: z.boolean(),
});

export type CloudflareUnderAttackIntegration = SwitchIntegration<CloudflareUnderAttackOptions>;

export interface CloudflareDeps extends CloudProviderDeps<CloudflareSecrets> {
  /** Tests only: another API base (https). */
  baseUrl?: string;
}

function describeLevel(level: { value: string; modifiedOn: string | null }): string {
  return `security_level ${level.value}${level.modifiedOn ? ` (modified ${level.modifiedOn})` : ''}`;
}

export class CloudflareUnderAttackProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = CLOUDFLARE_UNDER_ATTACK_TYPE;
  readonly id: string;
  readonly holdDownMs: number;

  readonly #options: CloudflareUnderAttackOptions;
  readonly #client: CloudflareClient;
  readonly #now: () => number;
  /** modified_on of the relay's own restore PATCH, so a repeated deactivate reports 'restored'. */
  #restoredModifiedOn: string | null | undefined;

  constructor(integration: CloudflareUnderAttackIntegration, deps: CloudflareDeps) {
    this.id = integration.id;
    this.holdDownMs = integration.holdDownMs;
    this.#options = integration.options;
    const runtime = clientRuntime(deps, integration.options.timeout);
    this.#now = runtime.now;
    const zone = integration.options.zoneId;
    this.#client = new CloudflareClient({
      label: `${CLOUDFLARE_UNDER_ATTACK_TYPE} ${integration.id}`,
      baseUrl: deps.baseUrl ?? CLOUDFLARE_API_BASE,
      apiToken: deps.secrets.apiToken,
      ...runtime,
      context: { permission: ZONE_SETTINGS_PERMISSION, resource: `zone ${zone}`, ids: 'options.zoneId (dashboard → the domain → Overview → API → Zone ID)' },
    });
  }

  get #path(): string {
    return `/zones/${this.#options.zoneId}/settings/security_level`;
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<UnderAttackSnapshotState>> {
    const op = this.#op(ctx);
    const level = await this.#read(op);
    const editable = level.editable ?? true;
    if (!editable) throw this.#notEditable(level.value);
    const state: UnderAttackSnapshotState = {
      zoneId: this.#options.zoneId,
      value: level.value,
      modifiedOn: level.modified_on ?? null,
      editable,
      readAt: new Date(this.#now()).toISOString(),
    };
    const alreadyActive = level.value === UNDER_ATTACK;
    return { state, alreadyActive, summary: `${describeLevel(state)}${alreadyActive ? ': already under attack mode, left alone' : ''}` };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<UnderAttackApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const current = await this.#read(op);
    const confirmedAt = new Date(this.#now()).toISOString();
    if (current.value === UNDER_ATTACK) {
      // Called again (a re-check, or after a crash): it already is as it should be; only report.
      const applied: UnderAttackApplied = { zoneId: state.zoneId, value: UNDER_ATTACK, modifiedOn: current.modified_on ?? null, wrote: false };
      return { applied, confirmed: true, confirmedAt, summary: `${describeLevel({ value: UNDER_ATTACK, modifiedOn: applied.modifiedOn })}, already set` };
    }
    if (current.editable === false) throw this.#notEditable(current.value);
    ctx.logger.info('cloudflare: setting security_level to under_attack', { integration: this.id, zoneId: state.zoneId, was: current.value });
    const written = await this.#client.call(op, { method: 'PATCH', path: this.#path, body: { value: UNDER_ATTACK }, result: securityLevelSchema, what: 'the security_level setting' });
    if (written.value !== UNDER_ATTACK) {
      throw new ProviderError(`${this.#client.label}: PATCH ${this.#path} {"value":"under_attack"} answered success but the value is ${written.value}; check the zone's security level in the dashboard`, {
        retryable: true,
      });
    }
    this.#restoredModifiedOn = undefined;
    const applied: UnderAttackApplied = { zoneId: state.zoneId, value: UNDER_ATTACK, modifiedOn: written.modified_on ?? null, wrote: true };
    return { applied, confirmed: true, confirmedAt, summary: `${describeLevel({ value: UNDER_ATTACK, modifiedOn: applied.modifiedOn })} (was ${current.value})` };
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    if (state.value === UNDER_ATTACK) return { outcome: 'restored', summary: 'was under attack mode before the relay came; left alone' };
    const current = await this.#read(op);
    const now = { value: current.value, modifiedOn: current.modified_on ?? null };
    if (current.value !== UNDER_ATTACK) {
      if (this.#restoredModifiedOn !== undefined && this.#restoredModifiedOn === now.modifiedOn && current.value === state.value) {
        return { outcome: 'restored', summary: `${describeLevel(now)}, as before the attack` };
      }
      ctx.logger.warn('cloudflare: security_level changed by someone else during the attack; not restoring it', { integration: this.id, zoneId: state.zoneId, now: now.value, before: state.value });
      return {
        outcome: 'changed-by-others',
        summary: `${describeLevel(now)}: changed by someone else since the relay set under_attack${current.value === state.value ? ' (already back to the value before the attack)' : ` (was ${state.value} before the attack)`}; left as it is`,
      };
    }
    if (applied !== undefined && applied.modifiedOn !== now.modifiedOn) {
      ctx.logger.warn('cloudflare: security_level set again by someone else during the attack; not restoring it', { integration: this.id, zoneId: state.zoneId, recorded: applied.modifiedOn, now: now.modifiedOn });
      return {
        outcome: 'changed-by-others',
        summary: `${describeLevel(now)}: set again by someone else after the relay (the relay's change was modified ${applied.modifiedOn ?? 'never'}); left under attack mode — set it back to ${state.value} by hand if wanted`,
      };
    }
    if (current.editable === false) throw this.#notEditable(current.value);
    ctx.logger.info('cloudflare: restoring security_level', { integration: this.id, zoneId: state.zoneId, value: state.value });
    const written = await this.#client.call(op, { method: 'PATCH', path: this.#path, body: { value: state.value }, result: securityLevelSchema, what: 'the security_level setting' });
    if (written.value !== state.value) {
      throw new ProviderError(`${this.#client.label}: PATCH ${this.#path} {"value":"${state.value}"} answered success but the value is ${written.value}; check the zone's security level in the dashboard`, {
        retryable: true,
      });
    }
    this.#restoredModifiedOn = written.modified_on ?? null;
    return { outcome: 'restored', summary: `${describeLevel({ value: written.value, modifiedOn: written.modified_on ?? null })}, as before the attack` };
  }

  /** Reads the setting: needs Zone Settings Read (Edit includes it) and tells whether it may be changed. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    try {
      const level = await this.#read(this.#op(ctx));
      if (level.editable === false) return { ok: false, detail: this.#notEditable(level.value).message };
      return { ok: true, detail: `${describeLevel({ value: level.value, modifiedOn: level.modified_on ?? null })}, editable` };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  #read(op: CloudflareOp): Promise<SecurityLevel> {
    return this.#client.call(op, { method: 'GET', path: this.#path, result: securityLevelSchema, what: 'the security_level setting ({id, value, editable, modified_on})' });
  }

  #notEditable(value: string): ProviderError {
    return new ProviderError(
      `${this.#client.label}: zone ${this.#options.zoneId} reports security_level (${value}) as not editable: the zone's plan or settings do not let it be changed through the API; ` +
        'check the zone in the dashboard (Security → Settings) and the plan, or remove this integration',
      { retryable: false },
    );
  }

  #op(ctx: ProviderContext): CloudflareOp {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#options.timeout * 4 };
  }

  #readState(snapshot: SwitchSnapshot): UnderAttackSnapshotState {
    const parsed = snapshotStateSchema.safeParse(snapshot.state);
    if (!parsed.success) {
      throw new ProviderError(
        `${this.#client.label}: the stored snapshot is not a ${CLOUDFLARE_UNDER_ATTACK_TYPE} snapshot (${parsed.error.issues[0]?.path.join('.')}); check the zone's security level by hand`,
        { retryable: false },
      );
    }
    if (parsed.data.zoneId !== this.#options.zoneId) {
      throw new ProviderError(`${this.#client.label}: the stored snapshot is for zone ${parsed.data.zoneId}, not ${this.#options.zoneId}; restore that zone's security level by hand`, { retryable: false });
    }
    return parsed.data;
  }

  #readApplied(activation: SwitchActivation): UnderAttackApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`${this.#client.label}: the stored activation is not a ${CLOUDFLARE_UNDER_ATTACK_TYPE} activation (${where})`, { retryable: false }));
  }
}
