/**
 * The `vultr` integration: a switch that moves Vultr instances onto a
 * lockdown firewall group for the length of an attack and back afterwards.
 *
 * Vultr firewall rules only accept, and an instance is in at most one
 * group, so a lockdown is a group swap: the customer's groups and rules are
 * never edited (Flowtriq's hosted lockdown deletes them), only each
 * instance's `firewall_group_id` changes, and it changes back.
 *
 * - snapshot: `GET /instances/{id}` for every configured instance, keeping
 *   its `firewall_group_id` (`""` for none), and where the lockdown group
 *   is (options.lockdownGroup, or the relay's own group found by its
 *   description). An instance already on the lockdown group is the
 *   operator's doing: recorded and never moved (`alreadyActive` when every
 *   instance is).
 * - activate: makes sure the lockdown group is fit — a prepared group must
 *   admit every management rule (else nothing is moved: it would lock the
 *   operator out); the relay's own group is created once (found again by
 *   its description after a crash) and its rules are brought to exactly the
 *   management + keep rules (only that group's rules are ever written) —
 *   then `PATCH /instances/{id} {"firewall_group_id": lockdown}` for each
 *   instance still on the group the snapshot saw, and reads it back. An
 *   instance someone moved meanwhile is left alone. Called again it only
 *   reads and reports.
 * - deactivate: for each instance still on the lockdown group, PATCHes the
 *   saved group back and reads it back; an instance someone moved to another
 *   group during the attack is left there and reported `changed-by-others`.
 *   The relay's own group is kept for the next attack.
 */
import { z } from 'zod';
import { clientRuntime } from '../client-runtime.ts';
import { ProviderError } from '../errors.ts';
import { combinedRestore, readStored, switchActivation } from '../switch.ts';
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
import { VULTR_API_BASE, type VultrOptions, type VultrSecrets } from './config.ts';
import { VultrClient, type VultrOp } from './client.ts';
import { VultrFailure } from './errors.ts';
import {
  type VultrGroup,
  type VultrRule,
  describeGroup,
  describeGroupId,
  lockdownRuleSpecs,
  missingAllowances,
  relayGroupDescription,
  ruleKey,
} from './model.ts';

export const VULTR_TYPE = 'vultr';
/** How soon the reconciler looks again at an instance Vultr has not shown on the new group yet. */
export const VULTR_RECHECK_MS = 10_000;

/** One instance as the snapshot read it. */
export interface VultrInstanceSnapshot {
  instance: string;
  label: string;
  /** Its firewall group before the attack; `""` for none. What restore puts back. */
  groupId: string;
  /** It was already on the lockdown group: the operator's, never moved or restored. */
  alreadyLocked: boolean;
  readAt: string;
}

/** `SwitchSnapshot.state` of this provider. */
export interface VultrSnapshotState {
  /** `prepared`: options.lockdownGroup; `relay`: the relay's own group. */
  lockdownMode: 'prepared' | 'relay';
  /** The lockdown group when the snapshot was taken (the relay's own may not exist yet). */
  lockdownGroupId: string | null;
  instances: VultrInstanceSnapshot[];
}

/** What the relay did to one instance. */
export interface VultrInstanceApplied {
  instance: string;
  /** The group it was moved from (the snapshot's). */
  previous: string;
  /** Why the relay left the instance alone. */
  skipped?: 'already-locked' | 'changed-by-others';
  /** Vultr showed it on the lockdown group at this time. */
  confirmedAt?: string;
}

/** `SwitchActivation.applied` of this provider. */
export interface VultrApplied {
  lockdownGroupId: string;
  relayOwned: boolean;
  instances: VultrInstanceApplied[];
}

export type VultrIntegration = SwitchIntegration<VultrOptions>;

export interface VultrDeps extends CloudProviderDeps<VultrSecrets> {
  /** Tests only: another https origin for the API. */
  baseUrl?: string;
}

const snapshotStateSchema = z.object({
  lockdownMode: z.enum(['prepared', 'relay']),
  lockdownGroupId: z.string().nullable(),
  instances: z.array(
    z.object({
      instance: z.string(),
      label: z.string(),
      groupId: z.string(),
      alreadyLocked: z.boolean(),
      readAt: z.string(),
    }),
  ),
});

const appliedSchema = z.object({
  lockdownGroupId: z.string().min(1),
  relayOwned: z.boolean(),
  instances: z.array(
    z.object({
      instance: z.string(),
      previous: z.string(),
      skipped: z.enum(['already-locked', 'changed-by-others']).optional(),
      confirmedAt: z.string().optional(),
    }),
  ),
});

type InstanceRestore = { instance: string; outcome: SwitchRestore['outcome']; detail: string };

export class VultrProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = VULTR_TYPE;
  readonly id: string;
  readonly holdDownMs: number;

  readonly #options: VultrOptions;
  readonly #client: VultrClient;
  readonly #now: () => number;
  readonly #description: string;

  constructor(integration: VultrIntegration, deps: VultrDeps) {
    this.id = integration.id;
    this.holdDownMs = integration.holdDownMs;
    this.#options = integration.options;
    const runtime = clientRuntime(deps, integration.options.timeout);
    this.#now = runtime.now;
    this.#description = relayGroupDescription(integration.id);
    this.#client = new VultrClient({ label: `vultr ${integration.id}`, baseUrl: deps.baseUrl ?? VULTR_API_BASE, apiKey: deps.secrets.apiKey, ...runtime });
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<VultrSnapshotState>> {
    const op = this.#op(ctx);
    const lockdownGroupId = this.#options.lockdownGroup ?? (await this.#findRelayGroup(op, ctx))?.id ?? null;
    const instances: VultrInstanceSnapshot[] = [];
    for (const id of this.#options.instances) {
      const instance = await this.#client.getInstance(op, id);
      instances.push({
        instance: id,
        label: instance.label,
        groupId: instance.firewall_group_id,
        alreadyLocked: lockdownGroupId !== null && instance.firewall_group_id === lockdownGroupId,
        readAt: new Date(this.#now()).toISOString(),
      });
    }
    const alreadyActive = instances.every((entry) => entry.alreadyLocked);
    const summary = instances
      .map((entry) => `instance ${entry.instance}${entry.label ? ` (${entry.label})` : ''}: ${describeGroupId(entry.groupId)}${entry.alreadyLocked ? ' (already on the lockdown group: left alone)' : ''}`)
      .join('; ');
    return {
      state: { lockdownMode: this.#options.lockdownGroup ? 'prepared' : 'relay', lockdownGroupId, instances },
      alreadyActive,
      summary,
    };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<VultrApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const { group, relayOwned } = await this.#prepareLockdownGroup(op, ctx);
    const lockdown = group.id;
    const applied: VultrInstanceApplied[] = [];
    const lines: string[] = [`lockdown ${describeGroup(group)}`];
    let confirmed = true;
    for (const entry of state.instances) {
      const { instance } = entry;
      if (entry.alreadyLocked) {
        applied.push({ instance, previous: entry.groupId, skipped: 'already-locked' });
        lines.push(`instance ${instance}: already on the lockdown group, left alone`);
        continue;
      }
      if (entry.groupId === lockdown) throw new ProviderError(`${this.#client.label}: ${VultrFailure.lockdownGroupIsCurrent(instance)}`, { retryable: false });
      let current = await this.#client.getInstance(op, instance);
      if (current.firewall_group_id !== lockdown) {
        if (current.firewall_group_id !== entry.groupId) {
          ctx.logger.warn('vultr: instance moved to another firewall group since the snapshot; not moving it', {
            integration: this.id,
            instance,
            was: entry.groupId,
            now: current.firewall_group_id,
          });
          applied.push({ instance, previous: entry.groupId, skipped: 'changed-by-others' });
          lines.push(`instance ${instance}: moved by someone else since the snapshot (now ${describeGroupId(current.firewall_group_id)}); left alone`);
          continue;
        }
        ctx.logger.info('vultr: moving instance onto the lockdown group', { integration: this.id, instance, from: entry.groupId, to: lockdown });
        await this.#client.setInstanceGroup(op, instance, lockdown);
        current = await this.#client.getInstance(op, instance);
      }
      if (current.firewall_group_id === lockdown) {
        applied.push({ instance, previous: entry.groupId, confirmedAt: new Date(this.#now()).toISOString() });
        lines.push(`instance ${instance}: on the lockdown group (was ${describeGroupId(entry.groupId)})`);
      } else {
        confirmed = false;
        applied.push({ instance, previous: entry.groupId });
        lines.push(`instance ${instance}: not shown on the lockdown group yet (${describeGroupId(current.firewall_group_id)})`);
      }
    }
    return switchActivation<VultrApplied>({ lockdownGroupId: lockdown, relayOwned, instances: applied }, confirmed, lines, this.#now(), VULTR_RECHECK_MS);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    // Without a record (a crash between the change and its record) the target is where the lockdown group is now.
    const lockdown =
      applied?.lockdownGroupId ??
      state.lockdownGroupId ??
      (state.lockdownMode === 'prepared' ? (this.#options.lockdownGroup ?? null) : ((await this.#findRelayGroup(op, ctx))?.id ?? null));
    const results: InstanceRestore[] = [];
    const failures: string[] = [];
    for (const entry of state.instances) {
      const { instance } = entry;
      if (entry.alreadyLocked) {
        results.push({ instance, outcome: 'restored', detail: 'was already on the lockdown group, left alone' });
        continue;
      }
      const record = applied?.instances.find((item) => item.instance === instance);
      const current = await this.#client.getInstance(op, instance);
      if (current.firewall_group_id === entry.groupId) {
        results.push({ instance, outcome: 'restored', detail: `on ${describeGroupId(entry.groupId)} as before` });
        continue;
      }
      if (record?.skipped === 'changed-by-others' || lockdown === null || current.firewall_group_id !== lockdown) {
        ctx.logger.warn('vultr: instance moved to another firewall group during the attack; not moving it back', {
          integration: this.id,
          instance,
          saved: entry.groupId,
          now: current.firewall_group_id,
        });
        results.push({
          instance,
          outcome: 'changed-by-others',
          detail: `moved by someone else to ${describeGroupId(current.firewall_group_id)} (it was on ${describeGroupId(entry.groupId)}); left as it is`,
        });
        continue;
      }
      ctx.logger.info('vultr: moving instance back to its own firewall group', { integration: this.id, instance, to: entry.groupId });
      await this.#client.setInstanceGroup(op, instance, entry.groupId);
      const after = await this.#client.getInstance(op, instance);
      if (after.firewall_group_id === entry.groupId) {
        results.push({ instance, outcome: 'restored', detail: `back on ${describeGroupId(entry.groupId)}` });
      } else if (after.firewall_group_id === lockdown) {
        failures.push(
          `instance ${instance}: Vultr accepted the move back to ${describeGroupId(entry.groupId)} but still shows it on the lockdown group` +
            (entry.groupId === '' ? ' (it was in no group: move it out of the lockdown group by hand in the Vultr portal, Products → the instance → Settings → Firewall)' : ''),
        );
      } else {
        results.push({ instance, outcome: 'changed-by-others', detail: `moved by someone else while restoring (now ${describeGroupId(after.firewall_group_id)})` });
      }
    }
    if (failures.length > 0) {
      // Not retried on a timer: the same PATCH would only be ignored again; the message names the manual fix.
      throw new ProviderError(`${this.#client.label}: ${failures.join('; ')}`, { retryable: false });
    }
    const summary = results.map((result) => `instance ${result.instance}: ${result.detail}`).join('; ');
    return combinedRestore(
      results.map((result) => result.outcome),
      summary,
      VULTR_RECHECK_MS,
    );
  }

  /** Reads the lockdown group (and its rules) and every instance; writes nothing. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    const details: string[] = [];
    let ok = true;
    try {
      let lockdown: VultrGroup | undefined;
      if (this.#options.lockdownGroup) {
        lockdown = await this.#client.getGroup(op, this.#options.lockdownGroup, 'options.lockdownGroup');
        const missing = missingAllowances(await this.#client.listRules(op, lockdown.id), this.#options.management);
        if (missing.length > 0) {
          ok = false;
          details.push(VultrFailure.lockdownGroupIncomplete(lockdown.id, missing));
        }
        details.push(`lockdown ${describeGroup(lockdown)}`);
      } else {
        lockdown = await this.#findRelayGroup(op, ctx);
        const wanted = lockdownRuleSpecs(this.#options).length;
        if (lockdown === undefined) {
          details.push(`the relay's lockdown group ("${this.#description}") does not exist yet; it is created at the first attack with ${wanted} rules`);
        } else {
          if (wanted > lockdown.max_rule_count) {
            ok = false;
            details.push(VultrFailure.tooManyRules(lockdown.id, wanted, lockdown.max_rule_count));
          }
          details.push(`lockdown ${describeGroup(lockdown)}`);
        }
      }
      let locked = 0;
      for (const id of this.#options.instances) {
        const instance = await this.#client.getInstance(op, id);
        const onLockdown = lockdown !== undefined && instance.firewall_group_id === lockdown.id;
        if (onLockdown) locked += 1;
        details.push(`instance ${id}${instance.label ? ` (${instance.label})` : ''}: ${onLockdown ? 'on the lockdown group' : describeGroupId(instance.firewall_group_id)}`);
      }
      details.push(`locked down: ${locked}/${this.#options.instances.length} instances`);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    return { ok, detail: details.join('; ') };
  }

  /**
   * The lockdown group, fit for use: a prepared group that admits every
   * management rule, or the relay's own group (created once) holding
   * exactly the management and keep rules.
   */
  async #prepareLockdownGroup(op: VultrOp, ctx: ProviderContext): Promise<{ group: VultrGroup; relayOwned: boolean }> {
    if (this.#options.lockdownGroup) {
      const group = await this.#client.getGroup(op, this.#options.lockdownGroup, 'options.lockdownGroup');
      const missing = missingAllowances(await this.#client.listRules(op, group.id), this.#options.management);
      if (missing.length > 0) {
        throw new ProviderError(`${this.#client.label}: ${VultrFailure.lockdownGroupIncomplete(group.id, missing)}`, { retryable: false });
      }
      return { group, relayOwned: false };
    }
    let group = await this.#findRelayGroup(op, ctx);
    if (group === undefined) {
      ctx.logger.info('vultr: creating the relay\'s lockdown firewall group', { integration: this.id, description: this.#description });
      group = await this.#client.createGroup(op, this.#description);
    }
    await this.#syncRelayRules(op, ctx, group);
    return { group: await this.#client.getGroup(op, group.id), relayOwned: true };
  }

  /** Brings the relay's own group to exactly the management + keep rules: creates what is missing, deletes what is no longer configured. */
  async #syncRelayRules(op: VultrOp, ctx: ProviderContext, group: VultrGroup): Promise<void> {
    const specs = lockdownRuleSpecs(this.#options);
    if (specs.length > group.max_rule_count) {
      throw new ProviderError(`${this.#client.label}: ${VultrFailure.tooManyRules(group.id, specs.length, group.max_rule_count)}`, { retryable: false });
    }
    const rules = await this.#client.listRules(op, group.id);
    const present = new Set(rules.map((rule) => ruleKey(rule)));
    const wanted = new Set(specs.map((spec) => ruleKey(spec)));
    const missing = specs.filter((spec) => !present.has(ruleKey(spec)));
    const seen = new Set<string>();
    const stale: VultrRule[] = [];
    for (const rule of rules) {
      const key = ruleKey(rule);
      if (!wanted.has(key) || seen.has(key)) stale.push(rule);
      seen.add(key);
    }
    const removeStale = async () => {
      for (const rule of stale) {
        ctx.logger.info('vultr: removing a rule no longer configured from the relay\'s lockdown group', { integration: this.id, group: group.id, rule: rule.id });
        await this.#client.deleteRule(op, group.id, rule.id);
      }
    };
    // Adding first never narrows what the group admits on the way; only when the group would overflow are stale rules removed first.
    const overflow = rules.length + missing.length > group.max_rule_count;
    if (overflow) await removeStale();
    for (const spec of missing) {
      ctx.logger.info('vultr: adding a rule to the relay\'s lockdown group', { integration: this.id, group: group.id, rule: ruleKey(spec) });
      await this.#client.createRule(op, group.id, spec);
    }
    if (!overflow) await removeStale();
  }

  /** The relay's own lockdown group (by its exact description), or undefined. */
  async #findRelayGroup(op: VultrOp, ctx: ProviderContext): Promise<VultrGroup | undefined> {
    const matches = (await this.#client.listGroups(op))
      .filter((group) => group.description === this.#description)
      .sort((a, b) => a.date_created.localeCompare(b.date_created) || a.id.localeCompare(b.id));
    if (matches.length > 1) {
      ctx.logger.warn('vultr: several firewall groups carry the relay\'s lockdown description; using the oldest', {
        integration: this.id,
        groups: matches.map((group) => group.id).join(', '),
      });
    }
    return matches[0];
  }

  #op(ctx: ProviderContext): VultrOp {
    // Per instance up to three requests; the lockdown group a few more (lists, rule writes).
    const requests = 3 * this.#options.instances.length + 8 + 2 * lockdownRuleSpecs(this.#options).length;
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#options.timeout * Math.min(requests, 40) };
  }

  #readState(snapshot: SwitchSnapshot): VultrSnapshotState {
    return readStored(snapshotStateSchema, snapshot.state, (where) => new ProviderError(`${this.#client.label}: the stored snapshot is not a vultr snapshot (${where}); move the instances back to their firewall groups by hand in the Vultr portal`, { retryable: false }));
  }

  #readApplied(activation: SwitchActivation): VultrApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`${this.#client.label}: the stored activation is not a vultr activation (${where})`, { retryable: false })) as VultrApplied;
  }
}

/** The factory the registry calls. */
export function createVultrProvider(integration: VultrIntegration, deps: VultrDeps): VultrProvider {
  return new VultrProvider(integration, deps);
}
