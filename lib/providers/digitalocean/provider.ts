/**
 * The `digitalocean` integration: a switch that locks down DigitalOcean
 * Cloud Firewalls during an attack and undoes exactly that afterwards.
 *
 * Cloud Firewalls are allow-lists: what no inbound rule allows is dropped.
 * The lockdown of a firewall is therefore: add the operator's management
 * allowance and keep rules that are not there yet, then remove every
 * inbound allow rule that is not exactly one of them. Outbound rules, deny
 * rules, attached droplets and tags are never touched, and the relay never
 * replaces the whole firewall (no PUT).
 *
 * - snapshot: `GET` each firewall and keep it whole, as read. A firewall
 *   whose inbound allow rules already are exactly the lockdown set is the
 *   operator's: recorded, never changed or restored (`alreadyActive` when
 *   every firewall is).
 * - activate: from the snapshot (S) the plan is fixed: the rules to remove
 *   (R) and to add (A), leaving T = S − R + A. The firewall as read now must
 *   be S, S + A (the add went through, the remove did not), S − R (the other
 *   way round) or T (done) — any other state is someone else's change and is
 *   left alone. The missing writes are made one at a time, each only once
 *   DigitalOcean has finished applying the previous change (status
 *   `succeeded`, `pending_changes` empty; polled every pollInterval up to
 *   waitFor, else "not confirmed yet" with recheckAfterMs). The add goes
 *   first so the management allowance never drops out, unless that would
 *   break the 50-rule limit.
 * - deactivate: the inverse, only from T, S + A or S − R: POST R back, DELETE
 *   A (the relay's own rules, found by value; never one that pre-existed).
 *   The firewall already at S is restored; anything else is
 *   `changed-by-others`, with nothing written.
 */
import { z } from 'zod';
import { clientRuntime } from '../client-runtime.ts';
import { lockdownAllowances } from '../lockdown.ts';
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
import { DigitalOceanClient, type DoOp } from './client.ts';
import { DIGITALOCEAN_API_BASE, DIGITALOCEAN_MAX_RULES, DIGITALOCEAN_TYPE, type DigitalOceanOptions, type DigitalOceanSecrets } from './config.ts';
import { DigitalOceanLimitError, DigitalOceanStoredStateError } from './errors.ts';
import {
  type DoFirewall,
  type DoRule,
  allowanceRule,
  describeFirewall,
  describeRule,
  doRuleSchema,
  cleanRule,
  findRule,
  isBusy,
  isSettled,
  planLockdown,
  sameRules,
  withoutRules,
} from './model.ts';

export { DIGITALOCEAN_TYPE };

/** One firewall as the snapshot read it. */
export interface DoFirewallSnapshot {
  firewallId: string;
  /** Its inbound allow rules already were exactly the lockdown set: the operator's, left alone. */
  alreadyActive: boolean;
  /** The whole firewall, as read. */
  firewall: DoFirewall;
  readAt: string;
}

/** `SwitchSnapshot.state` of this provider. */
export interface DoSnapshotState {
  firewalls: DoFirewallSnapshot[];
}

/** What the relay did to one firewall. */
export interface DoFirewallApplied {
  firewallId: string;
  /** The inbound rules the relay removed (or is removing), as read before. */
  removed: DoRule[];
  /** The inbound rules the relay added (or is adding); none of them was there before. */
  added: DoRule[];
  /** The inbound rules as read back after the change. */
  inbound?: DoRule[];
  /** Why the relay left the firewall alone. */
  skipped?: 'already-active' | 'changed-by-others';
  confirmedAt?: string;
}

/** `SwitchActivation.applied` of this provider. */
export interface DoApplied {
  firewalls: DoFirewallApplied[];
}

export type DigitalOceanIntegration = SwitchIntegration<DigitalOceanOptions>;

export interface DigitalOceanDeps extends CloudProviderDeps<DigitalOceanSecrets> {
  /** Tests only: another https origin for the API. */
  baseUrl?: string;
}

const storedRule = doRuleSchema.transform(cleanRule);
const storedFirewall = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(['waiting', 'succeeded', 'failed']),
  created_at: z.string().nullable(),
  pending_changes: z.array(z.object({ droplet_id: z.number().nullable(), removing: z.boolean().nullable(), status: z.string().nullable() })),
  droplet_ids: z.array(z.number()),
  tags: z.array(z.string()),
  inbound_rules: z.array(storedRule),
  outbound_rules: z.array(z.record(z.string(), z.unknown())),
});
const snapshotStateSchema = z.object({
  firewalls: z.array(z.object({ firewallId: z.string(), alreadyActive: z.boolean(), firewall: storedFirewall, readAt: z.string() })),
});
const appliedSchema = z.object({
  firewalls: z.array(
    z.object({
      firewallId: z.string(),
      removed: z.array(storedRule),
      added: z.array(storedRule),
      inbound: z.array(storedRule).optional(),
      skipped: z.enum(['already-active', 'changed-by-others']).optional(),
      confirmedAt: z.string().optional(),
    }),
  ),
});

type Step = 'add' | 'remove';
type FirewallRestore = { firewallId: string; outcome: SwitchRestore['outcome']; detail: string };

export class DigitalOceanProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = DIGITALOCEAN_TYPE;
  readonly id: string;
  readonly holdDownMs: number;

  readonly #options: DigitalOceanOptions;
  readonly #allowances: DoRule[];
  readonly #client: DigitalOceanClient;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(integration: DigitalOceanIntegration, deps: DigitalOceanDeps) {
    this.id = integration.id;
    this.holdDownMs = integration.holdDownMs;
    this.#options = integration.options;
    this.#allowances = lockdownAllowances(integration.options).map(allowanceRule);
    const runtime = clientRuntime(deps, integration.options.timeout);
    this.#now = runtime.now;
    this.#sleep = runtime.sleep;
    this.#client = new DigitalOceanClient({ integrationId: integration.id, baseUrl: deps.baseUrl ?? DIGITALOCEAN_API_BASE, apiToken: deps.secrets.apiToken, ...runtime });
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<DoSnapshotState>> {
    const op = this.#op(ctx);
    const firewalls: DoFirewallSnapshot[] = [];
    for (const firewallId of this.#options.firewalls) {
      const firewall = await this.#client.getFirewall(op, firewallId);
      const plan = planLockdown(firewall.inbound_rules, this.#allowances);
      const alreadyActive = plan.remove.length === 0 && plan.add.length === 0;
      firewalls.push({ firewallId, alreadyActive, firewall, readAt: new Date(this.#now()).toISOString() });
    }
    const summary = firewalls
      .map((entry) => `firewall ${entry.firewallId} (${describeFirewall(entry.firewall)})${entry.alreadyActive ? ': already locked down, left alone' : ''}`)
      .join('; ');
    return { state: { firewalls }, alreadyActive: firewalls.every((entry) => entry.alreadyActive), summary };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<DoApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const applied: DoFirewallApplied[] = [];
    const lines: string[] = [];
    let confirmed = true;
    for (const entry of state.firewalls) {
      const { firewallId } = entry;
      if (entry.alreadyActive) {
        applied.push({ firewallId, removed: [], added: [], skipped: 'already-active' });
        lines.push(`firewall ${firewallId}: already locked down, left alone`);
        continue;
      }
      const original = entry.firewall.inbound_rules;
      const { remove, add, target } = planLockdown(original, this.#allowances);
      let current = await this.#settle(op, firewallId);
      let steps: Step[] | undefined;
      if (sameRules(current.inbound_rules, target)) steps = [];
      else if (sameRules(current.inbound_rules, original)) steps = this.#order(current, add, remove);
      else if (sameRules(current.inbound_rules, [...original, ...add])) steps = ['remove'];
      else if (sameRules(current.inbound_rules, withoutRules(original, remove))) steps = ['add'];
      if (steps === undefined) {
        ctx.logger.warn('digitalocean: firewall changed since the snapshot; not locking it down', {
          integration: this.id,
          firewall: firewallId,
          now: describeFirewall(current),
        });
        applied.push({ firewallId, removed: [], added: [], skipped: 'changed-by-others' });
        lines.push(`firewall ${firewallId}: changed by someone else since the snapshot (${describeFirewall(current)}); left alone`);
        continue;
      }
      if (target.length + current.outbound_rules.length > DIGITALOCEAN_MAX_RULES) {
        throw new DigitalOceanLimitError(
          `${this.#client.label}: the lockdown of firewall ${firewallId} would leave ${target.length} inbound and ${current.outbound_rules.length} outbound rules, more than DigitalOcean's ${DIGITALOCEAN_MAX_RULES} per firewall; merge sources into fewer rules in options.management/options.keep`,
        );
      }
      const record: DoFirewallApplied = { firewallId, removed: remove, added: add };
      for (const step of steps) {
        if (isBusy(current)) break;
        if (step === 'add') {
          ctx.logger.info('digitalocean: adding the lockdown rules', { integration: this.id, firewall: firewallId, rules: add.map(describeRule) });
          await this.#client.addInboundRules(op, firewallId, add);
        } else {
          ctx.logger.info('digitalocean: removing inbound rules for the lockdown', { integration: this.id, firewall: firewallId, rules: remove.map(describeRule) });
          await this.#client.removeInboundRules(op, firewallId, remove.map((rule) => findRule(current.inbound_rules, rule) ?? rule));
        }
        current = await this.#settle(op, firewallId);
      }
      record.inbound = current.inbound_rules;
      if (!isBusy(current) && isSettled(current) && sameRules(current.inbound_rules, target)) {
        record.confirmedAt = new Date(this.#now()).toISOString();
        lines.push(`firewall ${firewallId}: locked down (${remove.length} inbound rules removed, ${add.length} added; ${target.length} inbound rules)`);
      } else {
        confirmed = false;
        lines.push(`firewall ${firewallId}: ${this.#notYet(current)}`);
      }
      applied.push(record);
    }
    return switchActivation<DoApplied>({ firewalls: applied }, confirmed, lines, this.#now(), this.#options.pollInterval);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    const results: FirewallRestore[] = [];
    for (const entry of state.firewalls) {
      const { firewallId } = entry;
      if (entry.alreadyActive) {
        results.push({ firewallId, outcome: 'restored', detail: 'was already locked down, left alone' });
        continue;
      }
      const record = applied?.firewalls.find((item) => item.firewallId === firewallId);
      const original = entry.firewall.inbound_rules;
      const plan = planLockdown(original, this.#allowances);
      const removed = record && record.skipped === undefined ? record.removed : plan.remove;
      const added = record && record.skipped === undefined ? record.added : plan.add;
      const target = [...withoutRules(original, removed), ...added];
      let current = await this.#settle(op, firewallId);
      if (isBusy(current)) {
        results.push({ firewallId, outcome: 'pending', detail: 'DigitalOcean is still applying a change' });
        continue;
      }
      if (sameRules(current.inbound_rules, original)) {
        results.push({ firewallId, outcome: 'restored', detail: `as before: ${original.length} inbound rules` });
        continue;
      }
      let steps: Step[] | undefined;
      if (record?.skipped === 'changed-by-others') steps = undefined;
      else if (sameRules(current.inbound_rules, target)) steps = this.#order(current, removed, added);
      else if (sameRules(current.inbound_rules, [...original, ...added])) steps = ['remove'];
      else if (sameRules(current.inbound_rules, withoutRules(original, removed))) steps = ['add'];
      if (steps === undefined) {
        ctx.logger.warn('digitalocean: firewall changed by someone else during the attack; not restoring it', {
          integration: this.id,
          firewall: firewallId,
          now: describeFirewall(current),
        });
        results.push({ firewallId, outcome: 'changed-by-others', detail: `changed by someone else (${describeFirewall(current)}); left as it is` });
        continue;
      }
      for (const step of steps) {
        if (isBusy(current)) break;
        if (step === 'add') {
          ctx.logger.info('digitalocean: putting back the inbound rules the lockdown removed', { integration: this.id, firewall: firewallId, rules: removed.map(describeRule) });
          await this.#client.addInboundRules(op, firewallId, removed);
        } else {
          ctx.logger.info('digitalocean: removing the lockdown rules the relay added', { integration: this.id, firewall: firewallId, rules: added.map(describeRule) });
          await this.#client.removeInboundRules(op, firewallId, added.map((rule) => findRule(current.inbound_rules, rule) ?? rule));
        }
        current = await this.#settle(op, firewallId);
      }
      if (isBusy(current)) results.push({ firewallId, outcome: 'pending', detail: 'DigitalOcean is applying the restore' });
      else if (sameRules(current.inbound_rules, original)) results.push({ firewallId, outcome: 'restored', detail: `restored: ${removed.length} inbound rules put back, ${added.length} removed` });
      else results.push({ firewallId, outcome: 'changed-by-others', detail: `changed by someone else while restoring (${describeFirewall(current)})` });
    }
    const summary = results.map((result) => `firewall ${result.firewallId}: ${result.detail}`).join('; ');
    return combinedRestore(results.map((result) => result.outcome), summary, this.#options.pollInterval);
  }

  /** Reads every firewall once: rule counts, attachments, status, and whether it is locked down. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op: DoOp = { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#options.timeout * 2 };
    const details: string[] = [];
    try {
      for (const firewallId of this.#options.firewalls) {
        const firewall = await this.#client.getFirewall(op, firewallId);
        const plan = planLockdown(firewall.inbound_rules, this.#allowances);
        const mode = plan.remove.length === 0 && plan.add.length === 0 ? 'locked down' : 'open';
        const attached =
          firewall.droplet_ids.length === 0 && firewall.tags.length === 0
            ? 'WARNING: no droplet or tag attached (or the token may not see them: droplet:read, tag:read), so a lockdown protects nothing'
            : `${firewall.droplet_ids.length} droplets, tags [${firewall.tags.join(', ')}]`;
        details.push(`firewall ${firewallId} (${describeFirewall(firewall)}, ${attached}): ${mode}`);
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    return { ok: true, detail: details.join('; ') };
  }

  /**
   * The add before the remove (what must stay reachable never drops out),
   * unless adding first would break the 50-rule limit for a moment: then the
   * remove goes first.
   */
  #order(current: DoFirewall, toAdd: DoRule[], toRemove: DoRule[]): Step[] {
    const steps: Step[] = [];
    const addFirst = current.inbound_rules.length + current.outbound_rules.length + toAdd.length <= DIGITALOCEAN_MAX_RULES;
    if (addFirst) {
      if (toAdd.length > 0) steps.push('add');
      if (toRemove.length > 0) steps.push('remove');
    } else {
      if (toRemove.length > 0) steps.push('remove');
      if (toAdd.length > 0) steps.push('add');
    }
    return steps;
  }

  #notYet(current: DoFirewall): string {
    if (current.status === 'failed' && current.pending_changes.length === 0) {
      return 'DigitalOcean reports status "failed" for the firewall (a droplet could not be updated); the rules are as the relay set them, check the firewall in the control panel';
    }
    if (isBusy(current)) return `DigitalOcean is still applying the change (status ${current.status}, ${current.pending_changes.length} pending)`;
    return `not confirmed (${describeFirewall(current)})`;
  }

  #op(ctx: ProviderContext): DoOp {
    // Up to three waits (before, between and after the two writes) and a few requests per firewall.
    const perFirewall = 3 * this.#options.waitFor + 6 * this.#options.timeout;
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + perFirewall * Math.max(1, this.#options.firewalls.length) };
  }

  /**
   * Reads the firewall and, while DigitalOcean is still applying a change,
   * reads it again every pollInterval until waitFor has passed. Returns the
   * last reading, which may still be busy.
   */
  async #settle(op: DoOp, firewallId: string): Promise<DoFirewall> {
    const until = this.#now() + this.#options.waitFor;
    let current = await this.#client.getFirewall(op, firewallId);
    while (isBusy(current) && this.#now() + this.#options.pollInterval <= until) {
      await this.#sleep(this.#options.pollInterval, op.signal);
      current = await this.#client.getFirewall(op, firewallId);
    }
    return current;
  }

  #readState(snapshot: SwitchSnapshot): DoSnapshotState {
    return readStored(snapshotStateSchema, snapshot.state, (where) => new DigitalOceanStoredStateError(`${this.#client.label}: the stored snapshot is not a digitalocean snapshot (${where}); restore the firewall rules by hand in the control panel`));
  }

  #readApplied(activation: SwitchActivation): DoApplied {
    return readStored(appliedSchema, activation.applied, (where) => new DigitalOceanStoredStateError(`${this.#client.label}: the stored activation is not a digitalocean activation (${where})`)) as DoApplied;
  }
}

/** The factory the registry calls. */
export function createDigitalOceanProvider(integration: DigitalOceanIntegration, deps: DigitalOceanDeps): DigitalOceanProvider {
  return new DigitalOceanProvider(integration, deps);
}
