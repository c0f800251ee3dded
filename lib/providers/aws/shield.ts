/**
 * The `aws-shield` integration: a switch over Shield Advanced's automatic
 * application-layer (L7) DDoS mitigation of one or more protections.
 *
 * - snapshot: `GetSubscriptionState` must be ACTIVE (otherwise a
 *   non-retryable error naming the fix; the relay never subscribes). Then
 *   `DescribeProtection` for each configured protection: its
 *   `ApplicationLayerAutomaticResponseConfiguration` (Status ENABLED or
 *   DISABLED, Action Block or Count; absent when never configured). A
 *   protection already ENABLED with Block is the operator's: recorded and
 *   never changed or restored (`alreadyActive` when all are).
 * - activate: for each other protection still as the snapshot read it,
 *   `EnableApplicationLayerAutomaticResponse {Action: Block}` when disabled,
 *   `UpdateApplicationLayerAutomaticResponse {Action: Block}` when enabled
 *   with Count; then reads it back (confirmed when it reads ENABLED/Block).
 *   One already at ENABLED/Block is not written again (idempotent); one
 *   someone changed since the snapshot is left alone and reported.
 * - deactivate: only where the protection still reads ENABLED/Block (what
 *   the relay set): back to Count (`Update…`), or disabled (`Disable…`,
 *   preceded by `Update… {Count}` when the disabled configuration held Count,
 *   so the dormant action is as it was too). Anything else was changed by
 *   someone else: nothing is written and the outcome is 'changed-by-others'.
 *
 * Shield keeps no version or timestamp on this setting: a change by someone
 * else that ends exactly at ENABLED/Block cannot be told from the relay's own.
 */
import { z } from 'zod';
import type { Logger } from '../../log/types.ts';
import { ProviderError } from '../errors.ts';
import type {
  HealthResult,
  ProviderContext,
  SwitchActivation,
  SwitchContext,
  SwitchProvider,
  SwitchRestore,
  SwitchSnapshot,
} from '../types.ts';
import { AwsApiError } from './errors.ts';
import type { AwsJsonClient, AwsOp } from './json11.ts';

export const AWS_SHIELD_TYPE = 'aws-shield';
/** Shield's API is served from us-east-1 only. */
export const SHIELD_REGION = 'us-east-1';
export const SHIELD_ENDPOINT = 'https://shield.us-east-1.amazonaws.com';
export const SHIELD_TARGET_PREFIX = 'AWSShield_20160616';
/** How soon to read again when AWS does not yet report what was written. */
const RECHECK_MS = 5_000;

export type L7Action = 'Block' | 'Count';
/** The L7 automatic response setting; `action` null when the protection never had one configured. */
export interface L7Setting {
  status: 'ENABLED' | 'DISABLED';
  action: L7Action | null;
}
const TARGET: L7Setting = { status: 'ENABLED', action: 'Block' };

/** One protection as the snapshot read it. */
export interface ShieldProtectionSnapshot {
  /** As configured (ARN or protection id). */
  ref: string;
  protectionId: string;
  resourceArn: string;
  name: string | null;
  setting: L7Setting;
  /** Already ENABLED with Block: the operator's, never changed or restored. */
  alreadyActive: boolean;
  readAt: string;
}
export interface ShieldSnapshotState {
  protections: ShieldProtectionSnapshot[];
}

export interface ShieldProtectionApplied {
  ref: string;
  resourceArn: string;
  /** What the relay set (absent when it wrote nothing). */
  set?: L7Setting;
  skipped?: 'already-active' | 'changed-by-others';
  /** What the protection read when the relay left it alone because someone changed it. */
  found?: L7Setting;
  confirmedAt?: string;
}
export interface ShieldApplied {
  protections: ShieldProtectionApplied[];
}

const emptyObject = z.object({}).loose();
const actionSchema = z
  .object({ Block: z.object({}).loose().optional(), Count: z.object({}).loose().optional() })
  .loose()
  .refine((action) => (action.Block === undefined) !== (action.Count === undefined), 'Action must hold exactly one of Block or Count');
const protectionSchema = z.object({
  Protection: z
    .object({
      Id: z.string().min(1),
      Name: z.string().optional(),
      ResourceArn: z.string().min(1),
      ApplicationLayerAutomaticResponseConfiguration: z
        .object({ Status: z.enum(['ENABLED', 'DISABLED']), Action: actionSchema })
        .loose()
        .optional(),
    })
    .loose(),
});
const subscriptionSchema = z.object({ SubscriptionState: z.enum(['ACTIVE', 'INACTIVE']) }).loose();

const storedSetting = z.object({ status: z.enum(['ENABLED', 'DISABLED']), action: z.enum(['Block', 'Count']).nullable() });
const storedSnapshot = z.object({
  protections: z.array(
    z.object({
      ref: z.string(),
      protectionId: z.string(),
      resourceArn: z.string(),
      name: z.string().nullable(),
      setting: storedSetting,
      alreadyActive: z.boolean(),
      readAt: z.string(),
    }),
  ),
});
const storedApplied = z.object({
  protections: z.array(
    z.object({
      ref: z.string(),
      resourceArn: z.string(),
      set: storedSetting.optional(),
      skipped: z.enum(['already-active', 'changed-by-others']).optional(),
      found: storedSetting.optional(),
      confirmedAt: z.string().optional(),
    }),
  ),
});

export function describeSetting(setting: L7Setting): string {
  if (setting.status === 'DISABLED') return setting.action === null ? 'disabled (never configured)' : `disabled (action ${setting.action})`;
  return `enabled, ${setting.action ?? '?'}`;
}

/** The same in effect: both disabled, or both enabled with the same action. */
function sameEffect(a: L7Setting, b: L7Setting): boolean {
  if (a.status !== b.status) return false;
  return a.status === 'DISABLED' || a.action === b.action;
}

/** As the snapshot had it, dormant action included (a never-configured one cannot be removed again: any action matches). */
function sameAsSnapshot(current: L7Setting, snapshot: L7Setting): boolean {
  if (!sameEffect(current, snapshot)) return false;
  return snapshot.status === 'ENABLED' || snapshot.action === null || current.action === snapshot.action;
}

export interface ShieldProviderOptions {
  id: string;
  holdDownMs: number;
  protections: string[];
  client: AwsJsonClient;
  now: () => number;
  /** Budget of one provider call (ms). */
  budgetMs: number;
  logger?: Logger;
}

export class AwsShieldProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = AWS_SHIELD_TYPE;
  readonly id: string;
  readonly holdDownMs: number;
  readonly #o: ShieldProviderOptions;
  /** Protections whose restore wrote Update {Count} and still has to Disable (this process). */
  readonly #restoring = new Set<string>();

  constructor(options: ShieldProviderOptions) {
    this.#o = options;
    this.id = options.id;
    this.holdDownMs = options.holdDownMs;
  }

  get #label(): string {
    return `${AWS_SHIELD_TYPE} ${this.id}`;
  }

  #op(ctx: ProviderContext): AwsOp {
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#o.now() + this.#o.budgetMs };
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<ShieldSnapshotState>> {
    const op = this.#op(ctx);
    await this.#requireSubscription(op);
    const protections: ShieldProtectionSnapshot[] = [];
    for (const ref of this.#o.protections) {
      const read = await this.#describe(op, ref);
      protections.push({ ...read, alreadyActive: sameEffect(read.setting, TARGET), readAt: new Date(this.#o.now()).toISOString() });
    }
    const alreadyActive = protections.every((p) => p.alreadyActive);
    return {
      state: { protections },
      alreadyActive,
      summary: protections.map((p) => `${p.name ?? p.protectionId}: L7 ${describeSetting(p.setting)}`).join('; '),
    };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<ShieldApplied>> {
    const state = this.#parseSnapshot(snapshot);
    const op = this.#op(ctx);
    await this.#requireSubscription(op);
    const applied: ShieldProtectionApplied[] = [];
    let confirmed = true;
    for (const snap of state.protections) {
      if (snap.alreadyActive) {
        applied.push({ ref: snap.ref, resourceArn: snap.resourceArn, skipped: 'already-active' });
        continue;
      }
      let current = (await this.#describe(op, snap.ref)).setting;
      if (!sameEffect(current, TARGET)) {
        if (!sameEffect(current, snap.setting)) {
          ctx.logger.warn('aws-shield: protection changed by someone else since the snapshot; left alone', {
            protection: snap.protectionId,
            snapshot: describeSetting(snap.setting),
            now: describeSetting(current),
          });
          applied.push({ ref: snap.ref, resourceArn: snap.resourceArn, skipped: 'changed-by-others', found: current });
          continue;
        }
        await this.#write(op, current.status === 'DISABLED' ? 'EnableApplicationLayerAutomaticResponse' : 'UpdateApplicationLayerAutomaticResponse', snap, 'Block');
        current = (await this.#describe(op, snap.ref)).setting;
      }
      const ok = sameEffect(current, TARGET);
      if (!ok) confirmed = false;
      applied.push({
        ref: snap.ref,
        resourceArn: snap.resourceArn,
        set: TARGET,
        ...(ok ? { confirmedAt: new Date(this.#o.now()).toISOString() } : {}),
      });
    }
    const changed = applied.filter((a) => a.set !== undefined).length;
    const others = applied.filter((a) => a.skipped === 'changed-by-others').length;
    return {
      applied: { protections: applied },
      confirmed,
      ...(confirmed ? { confirmedAt: new Date(this.#o.now()).toISOString() } : { recheckAfterMs: RECHECK_MS }),
      summary:
        `L7 automatic mitigation Block on ${changed} of ${applied.length} protection(s)` +
        (others > 0 ? `; ${others} changed by someone else since the snapshot, left alone` : '') +
        (confirmed ? '' : '; not reading Block yet'),
    };
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#parseSnapshot(snapshot);
    const applied = activation === undefined ? undefined : this.#parseApplied(activation);
    const op = this.#op(ctx);
    const restored: string[] = [];
    const others: string[] = [];
    const pending: string[] = [];
    for (const snap of state.protections) {
      if (snap.alreadyActive) continue;
      const label = snap.name ?? snap.protectionId;
      const record = applied?.protections.find((a) => a.ref === snap.ref);
      if (record?.skipped === 'changed-by-others') {
        others.push(`${label} (changed during activation; relay wrote nothing)`);
        continue;
      }
      let current = (await this.#describe(op, snap.ref)).setting;
      if (sameAsSnapshot(current, snap.setting) && !this.#restoring.has(snap.ref)) {
        restored.push(`${label}: ${describeSetting(current)}`);
        continue;
      }
      const midRestore = this.#restoring.has(snap.ref) && current.status === 'ENABLED' && current.action === snap.setting.action;
      if (!sameEffect(current, TARGET) && !midRestore) {
        ctx.logger.warn('aws-shield: protection changed by someone else while mitigating; not restored', {
          protection: snap.protectionId,
          relaySet: describeSetting(TARGET),
          now: describeSetting(current),
        });
        others.push(`${label} now ${describeSetting(current)}`);
        continue;
      }
      if (snap.setting.status === 'ENABLED') {
        await this.#write(op, 'UpdateApplicationLayerAutomaticResponse', snap, snap.setting.action ?? 'Count');
      } else {
        if (snap.setting.action === 'Count' && current.action !== 'Count') {
          this.#restoring.add(snap.ref);
          await this.#write(op, 'UpdateApplicationLayerAutomaticResponse', snap, 'Count');
        }
        await this.#write(op, 'DisableApplicationLayerAutomaticResponse', snap, null);
      }
      current = (await this.#describe(op, snap.ref)).setting;
      if (sameAsSnapshot(current, snap.setting)) {
        this.#restoring.delete(snap.ref);
        restored.push(`${label}: ${describeSetting(current)}`);
      } else {
        pending.push(label);
      }
    }
    if (pending.length > 0) {
      return { outcome: 'pending', recheckAfterMs: RECHECK_MS, summary: `restore written, not reading back yet: ${pending.join(', ')}` };
    }
    if (others.length > 0) {
      return {
        outcome: 'changed-by-others',
        summary: `left as someone else set it: ${others.join('; ')}` + (restored.length > 0 ? `; restored: ${restored.join('; ')}` : ''),
      };
    }
    return { outcome: 'restored', summary: restored.length > 0 ? `restored: ${restored.join('; ')}` : 'nothing to restore' };
  }

  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    try {
      const op = this.#op(ctx);
      await this.#requireSubscription(op);
      const parts: string[] = [];
      for (const ref of this.#o.protections) {
        const read = await this.#describe(op, ref);
        parts.push(`${read.name ?? read.protectionId}: L7 ${describeSetting(read.setting)}`);
      }
      return { ok: true, detail: `Shield Advanced ACTIVE; ${parts.join('; ')}` };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  async #requireSubscription(op: AwsOp): Promise<void> {
    const { SubscriptionState } = await this.#o.client.call(op, 'GetSubscriptionState', {}, subscriptionSchema);
    if (SubscriptionState !== 'ACTIVE') {
      throw new ProviderError(
        `${this.#label}: GetSubscriptionState answered ${SubscriptionState}: this account has no Shield Advanced subscription. ` +
          'Subscribe in the AWS console (WAF & Shield → Shield Advanced; a 1-year commitment) or use the aws-waf-ipset integration instead; the relay never subscribes',
        { retryable: false },
      );
    }
  }

  async #describe(op: AwsOp, ref: string): Promise<Omit<ShieldProtectionSnapshot, 'alreadyActive' | 'readAt'>> {
    let answer: z.output<typeof protectionSchema>;
    try {
      answer = await this.#o.client.call(op, 'DescribeProtection', ref.startsWith('arn:') ? { ResourceArn: ref } : { ProtectionId: ref }, protectionSchema);
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'ResourceNotFoundException') {
        throw new ProviderError(
          `${this.#label}: DescribeProtection: no Shield Advanced protection for ${ref}: add the resource to Shield Advanced (Shield → Protected resources → Add resources) or fix options.protections`,
          { retryable: false, ...(error.status !== undefined ? { status: error.status } : {}), cause: error },
        );
      }
      throw error;
    }
    const p = answer.Protection;
    const config = p.ApplicationLayerAutomaticResponseConfiguration;
    const setting: L7Setting =
      config === undefined ? { status: 'DISABLED', action: null } : { status: config.Status, action: config.Action.Block !== undefined ? 'Block' : 'Count' };
    return { ref, protectionId: p.Id, resourceArn: p.ResourceArn, name: p.Name ?? null, setting };
  }

  async #write(
    op: AwsOp,
    operation: 'EnableApplicationLayerAutomaticResponse' | 'UpdateApplicationLayerAutomaticResponse' | 'DisableApplicationLayerAutomaticResponse',
    snap: ShieldProtectionSnapshot,
    action: L7Action | null,
  ): Promise<void> {
    const input = action === null ? { ResourceArn: snap.resourceArn } : { ResourceArn: snap.resourceArn, Action: { [action]: {} } };
    try {
      await this.#o.client.call(op, operation, input, emptyObject);
      op.logger.info('aws-shield: L7 automatic response changed', { protection: snap.protectionId, operation, action });
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'InvalidOperationException' && operation === 'EnableApplicationLayerAutomaticResponse') {
        throw new ProviderError(
          `${this.#label}: ${operation} for ${snap.resourceArn} was refused (${error.message}). Automatic L7 mitigation needs a WAFv2 web ACL associated with the resource ` +
            '(and works only for CloudFront distributions and Application Load Balancers): associate one, then try again',
          { retryable: false, ...(error.status !== undefined ? { status: error.status } : {}), cause: error },
        );
      }
      throw error;
    }
  }

  #parseSnapshot(snapshot: SwitchSnapshot): ShieldSnapshotState {
    const parsed = storedSnapshot.safeParse(snapshot.state);
    if (!parsed.success) {
      throw new ProviderError(`${this.#label}: the stored snapshot is not an aws-shield snapshot (${parsed.error.issues[0]?.message ?? 'invalid'})`, { retryable: false });
    }
    return parsed.data;
  }

  #parseApplied(activation: SwitchActivation): ShieldApplied {
    const parsed = storedApplied.safeParse(activation.applied);
    if (!parsed.success) {
      throw new ProviderError(`${this.#label}: the stored activation is not an aws-shield activation (${parsed.error.issues[0]?.message ?? 'invalid'})`, { retryable: false });
    }
    return parsed.data as ShieldApplied;
  }
}
