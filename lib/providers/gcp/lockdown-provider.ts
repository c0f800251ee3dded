/**
 * `gcp-firewall` with `mode: lockdown`: a switch over relay-owned VPC
 * firewall rules on one network, restricted to `options.targetTags`.
 *
 * Rules (./model.ts planLockdown): an INGRESS allow rule per management or
 * keep allowance and address family at `priority`, and an INGRESS deny-all
 * per family at `priority + 1`. Each name ends in a digest of the rule's
 * content, so the relay finds its rules again by name, and a rule whose
 * content no longer matches its name was changed by someone else.
 *
 * - snapshot: reads every planned rule (absent, disabled or enabled, and
 *   whether its content is still the relay's). `alreadyActive` when every
 *   rule is there, enabled and unchanged (someone enabled the lockdown by
 *   hand before the attack): the relay then never changes or restores it.
 * - activate: creates missing rules disabled, then enables the allow rules,
 *   then the deny rules, each write's Operation polled to DONE before the
 *   next, each rule read before and after each change. A rule whose content
 *   differs from the relay's stops the activation before any deny rule is
 *   enabled (GcpRuleChangedError): the management allowance can never be
 *   cut off by a rule the relay cannot vouch for. Called again it only
 *   continues what is left.
 * - deactivate: deny rules first, then allow rules; a rule the snapshot saw
 *   absent is deleted, one it saw disabled is disabled again; a rule that
 *   was already enabled at the snapshot is left. A rule someone changed is
 *   left as it is and reported (changed-by-others); while a changed deny
 *   rule stays enabled, every allow rule stays enabled too, so the operator
 *   is never locked out.
 */
import { z } from 'zod';
import { ProviderError } from '../errors.ts';
import { combinedRestore, readStored, switchActivation } from '../switch.ts';
import type {
  HealthResult,
  ProviderContext,
  SwitchActivation,
  SwitchContext,
  SwitchProvider,
  SwitchRestore,
  SwitchSnapshot,
} from '../types.ts';
import { type GcpComputeClient, type GcpOp, GcpOperationPendingError } from './client.ts';
import { GCP_FIREWALL_TYPE, type GcpLockdownOptions } from './config.ts';
import { GcpRuleChangedError } from './errors.ts';
import { type Firewall, type PlannedRule, type RuleContent, contentDiff, contentOf, describeRule, planLockdown, plannedRuleSchema, ruleContentSchema } from './model.ts';

/** One planned rule as the snapshot read it. */
export interface LockdownRuleSnapshot {
  plan: PlannedRule;
  present: boolean;
  /** As read (present rules). */
  disabled?: boolean;
  /** Content fields that differ from the relay's (present rules; empty when unchanged). */
  changed?: string[];
}

/** `SwitchSnapshot.state` of the lockdown. */
export interface GcpLockdownSnapshotState {
  mode: 'lockdown';
  project: string;
  rules: LockdownRuleSnapshot[];
  readAt: string;
}

/** `SwitchActivation.applied` of the lockdown: the rules the relay enabled, with the content it wrote. */
export interface GcpLockdownApplied {
  rules: Array<{ name: string; role: 'allow' | 'deny'; content: RuleContent; created: boolean }>;
  /** Rules already enabled at the snapshot, left alone. */
  leftAlone: string[];
}

const snapshotStateSchema = z.object({
  mode: z.literal('lockdown'),
  project: z.string(),
  readAt: z.string(),
  rules: z.array(
    z.object({
      plan: plannedRuleSchema,
      present: z.boolean(),
      disabled: z.boolean().optional(),
      changed: z.array(z.string()).optional(),
    }),
  ),
});

const appliedSchema = z.object({
  rules: z.array(z.object({ name: z.string(), role: z.enum(['allow', 'deny']), content: ruleContentSchema, created: z.boolean() })),
  leftAlone: z.array(z.string()),
});

export interface GcpLockdownProviderOptions {
  id: string;
  holdDownMs: number;
  options: GcpLockdownOptions;
  client: GcpComputeClient;
  now: () => number;
}

type Step = 'done' | 'pending';
type RuleOutcome = { name: string; outcome: SwitchRestore['outcome']; detail: string };

export class GcpLockdownProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = GCP_FIREWALL_TYPE;
  readonly id: string;
  readonly holdDownMs: number;
  readonly #o: GcpLockdownProviderOptions;
  readonly #client: GcpComputeClient;
  readonly #plan: PlannedRule[];

  constructor(options: GcpLockdownProviderOptions) {
    this.#o = options;
    this.id = options.id;
    this.holdDownMs = options.holdDownMs;
    this.#client = options.client;
    this.#plan = planLockdown(options.options, options.client.project);
  }

  /** The rules the relay manages, in activation order (allow rules, then deny rules). */
  get rules(): readonly PlannedRule[] {
    return this.#plan;
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<GcpLockdownSnapshotState>> {
    const op = this.#op(ctx);
    const rules: LockdownRuleSnapshot[] = [];
    for (const plan of this.#plan) {
      const current = await this.#client.getFirewall(op, plan.name);
      if (current === undefined) rules.push({ plan, present: false });
      else rules.push({ plan, present: true, disabled: current.disabled, changed: contentDiff(contentOf(current), plan.content) });
    }
    const on = (rule: LockdownRuleSnapshot) => rule.present && rule.disabled === false && rule.changed?.length === 0;
    const alreadyActive = rules.every(on);
    const changed = rules.filter((rule) => rule.present && (rule.changed?.length ?? 0) > 0);
    const summary =
      `lockdown on network ${this.#o.options.network} (tags ${this.#o.options.targetTags.join(', ')}): ` +
      `${rules.filter((rule) => rule.present).length} of ${rules.length} rules present, ${rules.filter(on).length} enabled` +
      (alreadyActive ? ' (already active: left alone)' : '') +
      (changed.length > 0 ? `; changed outside the relay: ${changed.map((rule) => `${rule.plan.name} (${rule.changed!.join(', ')})`).join('; ')}` : '');
    return { state: { mode: 'lockdown', project: this.#client.project, rules, readAt: new Date(this.#o.now()).toISOString() }, alreadyActive, summary };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<GcpLockdownApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const leftAlone = state.rules.filter(wasOn).map((rule) => rule.plan.name);
    const mine = state.rules.filter((rule) => !wasOn(rule));
    const applied: GcpLockdownApplied = {
      rules: mine.map((rule) => ({ name: rule.plan.name, role: rule.plan.role, content: rule.plan.content, created: !rule.present })),
      leftAlone,
    };
    const unconfirmed = (line: string) => switchActivation(applied, false, [line], this.#o.now(), this.#o.options.pollInterval);
    const foreign = mine.find((rule) => (rule.changed?.length ?? 0) > 0);
    if (foreign !== undefined) throw this.#changed(foreign.plan, `differs from what the relay wrote in ${foreign.changed!.join(', ')} (seen before the attack)`);
    try {
      // 1. Every rule exists (created disabled), so nothing takes effect before the allow rules do.
      for (const rule of mine) {
        if ((await this.#bring(op, rule.plan, 'disabled-or-enabled')) === 'pending') return unconfirmed(`creating ${rule.plan.name}: Google is still applying it`);
      }
      // 2. The allow rules, then 3. the deny rules: the management allowance is in force before anything is denied.
      for (const role of ['allow', 'deny'] as const) {
        for (const rule of mine.filter((entry) => entry.plan.role === role)) {
          if ((await this.#bring(op, rule.plan, 'enabled')) === 'pending') return unconfirmed(`enabling ${rule.plan.name}: Google is still applying it`);
        }
      }
    } catch (error) {
      if (error instanceof GcpOperationPendingError) return unconfirmed(error.message);
      throw error;
    }
    const lines = [
      `lockdown active on network ${this.#o.options.network} (tags ${this.#o.options.targetTags.join(', ')}): ${mine.filter((r) => r.plan.role === 'allow').length} allow and ${mine.filter((r) => r.plan.role === 'deny').length} deny rules enabled`,
    ];
    if (leftAlone.length > 0) lines.push(`already enabled before, left alone: ${leftAlone.join(', ')}`);
    return switchActivation(applied, true, lines, this.#o.now(), this.#o.options.pollInterval);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    const outcomes: RuleOutcome[] = [];
    const mine = state.rules.filter((rule) => !wasOn(rule));
    const expected = (rule: LockdownRuleSnapshot): RuleContent => applied?.rules.find((entry) => entry.name === rule.plan.name)?.content ?? rule.plan.content;
    let keepAllows: string | undefined;
    try {
      for (const role of ['deny', 'allow'] as const) {
        for (const rule of mine.filter((entry) => entry.plan.role === role)) {
          const { name } = rule.plan;
          if ((rule.changed?.length ?? 0) > 0) {
            outcomes.push({ name, outcome: 'restored', detail: `${name} was changed outside the relay before the attack and never activated; left as it is` });
            continue;
          }
          if (role === 'allow' && keepAllows !== undefined) {
            outcomes.push({ name, outcome: 'changed-by-others', detail: `${name} left enabled: deny rule ${keepAllows} was changed by someone else and is still enabled, and the management allowance must stay reachable` });
            continue;
          }
          const current = await this.#client.getFirewall(op, name);
          if (current === undefined) {
            outcomes.push(
              rule.present
                ? { name, outcome: 'changed-by-others', detail: `${name} was deleted by someone else; not recreated` }
                : { name, outcome: 'restored', detail: `${name} absent, as before` },
            );
            continue;
          }
          const changed = contentDiff(contentOf(current), expected(rule));
          if (changed.length > 0) {
            ctx.logger.warn('gcp-firewall: a lockdown rule was changed by someone else during the attack; not restoring it', {
              integration: this.id,
              rule: name,
              fields: changed.join(', '),
              now: describeRule(current, name),
            });
            if (role === 'deny' && !current.disabled) keepAllows = name;
            outcomes.push({ name, outcome: 'changed-by-others', detail: `${name} changed by someone else (${changed.join(', ')}); left as it is` });
            continue;
          }
          const target = rule.present ? 'disabled' : 'absent';
          const step = await this.#bring(op, rule.plan, target, expected(rule));
          if (step === 'pending') {
            outcomes.push({ name, outcome: 'pending', detail: `${name}: Google is still applying the restore` });
            return this.#restoreResult(outcomes, true);
          }
          outcomes.push({ name, outcome: 'restored', detail: `${name} ${target === 'absent' ? 'deleted (created for this attack)' : 'disabled again'}` });
        }
      }
    } catch (error) {
      if (error instanceof GcpOperationPendingError) return { outcome: 'pending', recheckAfterMs: this.#o.options.pollInterval, summary: error.message };
      if (error instanceof GcpRuleChangedError) {
        // Changed between the read and the write-back: report, never write again.
        outcomes.push({ name: error.rule, outcome: 'changed-by-others', detail: error.message });
        return this.#restoreResult(outcomes, false);
      }
      throw error;
    }
    return this.#restoreResult(outcomes, false);
  }

  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    try {
      const found: Array<{ plan: PlannedRule; rule: Firewall | undefined }> = [];
      for (const plan of this.#plan) found.push({ plan, rule: await this.#client.getFirewall(op, plan.name) });
      const changed = found.filter((entry) => entry.rule !== undefined && contentDiff(contentOf(entry.rule), entry.plan.content).length > 0);
      const enabled = found.filter((entry) => entry.rule !== undefined && !entry.rule.disabled);
      const mode = enabled.length === 0 ? 'off' : enabled.length === found.length ? 'locked down' : 'partly enabled';
      const detail =
        `project ${this.#client.project}, network ${this.#o.options.network}, tags ${this.#o.options.targetTags.join(', ')}: ` +
        `${found.filter((entry) => entry.rule !== undefined).length} of ${found.length} relay rules present, ${enabled.length} enabled (mode: ${mode})` +
        (changed.length > 0 ? `; changed outside the relay: ${changed.map((entry) => entry.plan.name).join(', ')} (delete them: the relay recreates them)` : '');
      return { ok: changed.length === 0, detail };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Brings one rule to `target`, reading it before and after every write.
   * `disabled-or-enabled`: it exists (created disabled when absent).
   */
  async #bring(op: GcpOp, plan: PlannedRule, target: 'disabled-or-enabled' | 'enabled' | 'disabled' | 'absent', expected: RuleContent = plan.content): Promise<Step> {
    let current = await this.#readOwn(op, plan, expected);
    if (target === 'absent') {
      if (current === undefined) return 'done';
      const result = await this.#client.deleteFirewall(op, plan.name);
      if (!result.done) return 'pending';
      const after = await this.#client.getFirewall(op, plan.name);
      if (after !== undefined) throw this.#changed(plan, 'was created again by someone else right after the relay deleted it');
      return 'done';
    }
    if (current === undefined) {
      op.logger.info('gcp-firewall: creating lockdown rule (disabled)', { integration: this.id, rule: plan.name });
      const result = await this.#client.insertFirewall(op, plan.insert);
      if (!result.done) return 'pending';
      current = await this.#readOwn(op, plan, expected);
      if (current === undefined) throw this.#changed(plan, 'was deleted by someone else right after the relay created it');
    }
    if (target === 'disabled-or-enabled') return 'done';
    const disabled = target === 'disabled';
    if (current.disabled === disabled) return 'done';
    op.logger.info(`gcp-firewall: ${disabled ? 'disabling' : 'enabling'} lockdown rule`, { integration: this.id, rule: plan.name });
    const result = await this.#client.patchFirewall(op, plan.name, { disabled });
    if (!result.done) return 'pending';
    const after = await this.#readOwn(op, plan, expected);
    if (after === undefined) throw this.#changed(plan, 'was deleted by someone else while the relay changed it');
    if (after.disabled !== disabled) throw this.#changed(plan, `is ${after.disabled ? 'disabled' : 'enabled'} again right after the relay changed it`);
    return 'done';
  }

  /** Reads a relay rule; one whose content is not the relay's is someone else's change. */
  async #readOwn(op: GcpOp, plan: PlannedRule, expected: RuleContent): Promise<Firewall | undefined> {
    const current = await this.#client.getFirewall(op, plan.name);
    if (current === undefined) return undefined;
    const changed = contentDiff(contentOf(current), expected);
    if (changed.length > 0) throw this.#changed(plan, `differs from what the relay wrote in ${changed.join(', ')}`);
    return current;
  }

  #changed(plan: PlannedRule, what: string): GcpRuleChangedError {
    return new GcpRuleChangedError(
      `${this.#client.label}: lockdown rule ${plan.name} ${what}; the relay does not write to it. ` +
        `If the change was not meant, delete the rule (gcloud compute firewall-rules delete ${plan.name} --project ${this.#client.project}) and the relay creates it again`,
      plan.name,
    );
  }

  #restoreResult(outcomes: RuleOutcome[], pending: boolean): SwitchRestore {
    const summary = outcomes.map((entry) => entry.detail).join('; ') || 'nothing to restore';
    if (pending) return { outcome: 'pending', recheckAfterMs: this.#o.options.pollInterval, summary };
    return combinedRestore(outcomes.map((entry) => entry.outcome), summary, this.#o.options.pollInterval);
  }

  #op(ctx: ProviderContext): GcpOp {
    // Each rule may wait out a few operations per call; the budget grows with the rules.
    const perRule = 3 * (this.#o.options.waitFor + this.#o.options.timeout);
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#o.now() + perRule * Math.max(1, this.#plan.length) };
  }

  #readState(snapshot: SwitchSnapshot): GcpLockdownSnapshotState {
    return readStored(snapshotStateSchema, snapshot.state, (where) => new ProviderError(`${this.#client.label}: the stored snapshot is not a gcp-firewall lockdown snapshot (${where}); disable the relay's rules (names starting with ${this.#o.options.ruleNamePrefix}-) by hand`, { retryable: false })) as GcpLockdownSnapshotState;
  }

  #readApplied(activation: SwitchActivation): GcpLockdownApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`${this.#client.label}: the stored activation is not a gcp-firewall lockdown activation (${where})`, { retryable: false })) as GcpLockdownApplied;
  }
}

/** Enabled and unchanged at the snapshot: the operator's doing, left alone. */
function wasOn(rule: LockdownRuleSnapshot): boolean {
  return rule.present && rule.disabled === false && (rule.changed?.length ?? 0) === 0;
}
