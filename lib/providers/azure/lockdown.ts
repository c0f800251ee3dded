/**
 * `azure-nsg` in `lockdown` mode: a switch over one network security group.
 *
 * The relay never writes the customer's rules. It adds its own Inbound
 * rules, named `flowtriq-relay-<integration id>-allow-<n>` (one Allow per
 * management/keep rule and address family, at the band's first priorities)
 * and `flowtriq-relay-<integration id>-deny-all` (Deny of everything, at the
 * band's last priority), and afterwards deletes exactly those.
 *
 * - snapshot: GET the NSG. Records which relay rules already exist (a rule
 *   the relay did not add is never deleted) and the customer's Inbound
 *   rules. `alreadyActive` when every relay rule is already there as the
 *   lockdown wants it (created by hand, or by an earlier relay whose record
 *   is gone): Azure cannot tell an operator's own lockdown apart otherwise.
 * - activate: GET the NSG (waiting while Azure is applying someone else's
 *   change); refuse, naming the rule, when a priority of the band is used by
 *   an Inbound rule that is not the relay's; then PUT the Allow rules, then
 *   the Deny, one at a time, each followed to Succeeded before the next
 *   write (Azure refuses a second write to the NSG meanwhile, and the Deny
 *   must never come before the management allowance). A relay rule that
 *   exists with other content is left alone and reported. Called again it
 *   writes only what is missing; while an operation is still running it
 *   only looks (confirmed: false, recheckAfterMs). Each rule is recorded as
 *   read back: content and etag.
 * - deactivate: GET the NSG; for the Deny first, then the Allow rules in
 *   reverse: a rule still as the relay set it (content compared with
 *   `activation.applied`, or with the target when activation is undefined)
 *   is DELETEd with If-Match of the etag just read (412 → read again,
 *   compare again); a rule someone changed is left alone and the outcome is
 *   changed-by-others. When the Deny itself was changed, nothing is deleted
 *   (removing the Allow rules under someone's Deny could lock the operator
 *   out). Rules that existed before the snapshot are left.
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
import type { AzureArmClient, AzureOp } from './client.ts';
import { AZURE_NSG_TYPE, type AzureNsgLockdownOptions } from './config.ts';
import { AzurePreconditionFailedError, AzurePriorityTakenError } from './errors.ts';
import {
  type NetworkSecurityGroup,
  type TargetRule,
  bandClashes,
  describeClashes,
  describeNsg,
  lockdownTargets,
  ruleContent,
  rulesByName,
  sameContent,
} from './model.ts';

/** Tries of one delete when the NSG keeps changing under it (412). */
const MAX_PRECONDITION_RETRIES = 3;

const contentSchema = z.object({
  access: z.string(),
  direction: z.string(),
  priority: z.number(),
  protocol: z.string(),
  sources: z.array(z.string()),
  sourcePorts: z.array(z.string()),
  destinations: z.array(z.string()),
  destinationPorts: z.array(z.string()),
  description: z.string(),
});

const snapshotStateSchema = z.object({
  nsgId: z.string(),
  readAt: z.string(),
  /** Relay-named rules present before the relay changed anything: never deleted. */
  preexisting: z.array(z.object({ name: z.string(), content: contentSchema })),
  /** The customer's Inbound rules, for the record. */
  inbound: z.array(z.object({ name: z.string(), priority: z.number(), access: z.string() })),
});
export type AzureLockdownSnapshotState = z.output<typeof snapshotStateSchema>;

const appliedRuleSchema = z.object({
  name: z.string(),
  role: z.enum(['allow', 'deny']),
  content: contentSchema,
  etag: z.string().optional(),
  /** Why the relay did not write this rule. */
  leftAlone: z.enum(['preexisting', 'changed-by-others']).optional(),
});
const appliedSchema = z.object({ rules: z.array(appliedRuleSchema) });
export type AzureLockdownApplied = z.output<typeof appliedSchema>;
type AppliedRule = z.output<typeof appliedRuleSchema>;

export interface AzureLockdownSettings {
  id: string;
  holdDownMs: number;
  options: AzureNsgLockdownOptions;
  client: AzureArmClient;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

export class AzureNsgLockdownProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = AZURE_NSG_TYPE;
  readonly id: string;
  readonly holdDownMs: number;
  readonly #s: AzureLockdownSettings;
  readonly #targets: TargetRule[];
  readonly #names: Set<string>;

  constructor(settings: AzureLockdownSettings) {
    this.#s = settings;
    this.id = settings.id;
    this.holdDownMs = settings.holdDownMs;
    this.#targets = lockdownTargets(settings.id, settings.options);
    this.#names = new Set(this.#targets.map((target) => target.name));
  }

  get #label(): string {
    return this.#s.client.label;
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<AzureLockdownSnapshotState>> {
    const op = this.#op(ctx);
    const nsg = await this.#s.client.getNsg(op);
    const rules = rulesByName(nsg);
    const preexisting = this.#targets.flatMap((target) => {
      const rule = rules.get(target.name);
      return rule ? [{ name: target.name, content: ruleContent(rule.properties) }] : [];
    });
    const alreadyActive = this.#targets.every((target) => {
      const rule = rules.get(target.name);
      return rule !== undefined && sameContent(ruleContent(rule.properties), ruleContent(target.body)) && (rule.properties.provisioningState ?? 'Succeeded') === 'Succeeded';
    });
    const inbound = (nsg.properties.securityRules ?? [])
      .filter((rule) => rule.properties.direction === 'Inbound' && !this.#names.has(rule.name))
      .map((rule) => ({ name: rule.name, priority: rule.properties.priority, access: rule.properties.access }));
    const relayState = alreadyActive ? 'the relay\'s lockdown rules are already in place (left alone)' : preexisting.length > 0 ? `${preexisting.length} relay rule(s) already present (kept)` : 'no relay rules';
    return {
      state: { nsgId: nsg.id, readAt: new Date(this.#s.now()).toISOString(), preexisting, inbound },
      alreadyActive,
      summary: `${describeNsg(nsg, this.#names)}; ${relayState}`,
    };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<AzureLockdownApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const until = this.#s.now() + this.#s.options.waitFor;
    let nsg = await this.#settled(op, until);
    if (nsg === undefined) return this.#notYet([], 'Azure is still applying another change to the NSG; the relay looks again');
    const clashes = bandClashes(nsg, this.#s.options.priorityBand, this.#names);
    if (clashes.length > 0) throw new AzurePriorityTakenError(`${this.#label}: ${describeClashes(clashes, this.#s.options.priorityBand)}`);

    const lines: string[] = [];
    const preexisting = new Set(state.preexisting.map((rule) => rule.name));
    let rules = rulesByName(nsg);
    for (const target of this.#targets) {
      const current = rules.get(target.name);
      const want = ruleContent(target.body);
      const failed = current?.properties.provisioningState === 'Failed';
      if (current !== undefined && !failed) {
        if (!sameContent(ruleContent(current.properties), want)) {
          ctx.logger.warn('azure-nsg: a relay rule exists with other content; leaving it as it is', { integration: this.id, rule: target.name });
          lines.push(`${target.name} exists with other content (changed by someone else): left alone`);
          continue;
        }
        if ((current.properties.provisioningState ?? 'Succeeded') !== 'Succeeded') {
          return this.#notYet(lines, `${target.name} is ${current.properties.provisioningState}: Azure is still applying it`);
        }
        continue;
      }
      if (failed && !sameContent(ruleContent(current.properties), want)) {
        lines.push(`${target.name} is in state Failed with other content: left alone`);
        continue;
      }
      // A rule whose earlier write ended Failed is written again, with If-Match of what was just read.
      ctx.logger.info('azure-nsg: adding lockdown rule', { integration: this.id, rule: target.name, priority: target.body.priority, retry: failed });
      const written = await this.#s.client.putRule(op, target.name, target.body, failed ? current.etag : undefined);
      if (written.operation && (await this.#s.client.settle(op, written.operation, until)) === 'pending') {
        return this.#notYet(lines, `${target.name} written; Azure is still applying it`);
      }
      lines.push(`${target.name} added (priority ${target.body.priority})`);
    }
    // Read back once: the content and etag of every relay rule as Azure now has it.
    nsg = await this.#s.client.getNsg(op);
    rules = rulesByName(nsg);
    const applied: AppliedRule[] = [];
    let confirmed = true;
    for (const target of this.#targets) {
      const current = rules.get(target.name);
      const want = ruleContent(target.body);
      if (current === undefined) {
        confirmed = false;
        lines.push(`${target.name} is missing after it was written (removed by someone else?)`);
        applied.push({ name: target.name, role: target.role, content: want });
        continue;
      }
      const content = ruleContent(current.properties);
      const record: AppliedRule = { name: target.name, role: target.role, content, ...(current.etag !== undefined ? { etag: current.etag } : {}) };
      if (preexisting.has(target.name)) record.leftAlone = 'preexisting';
      else if (!sameContent(content, want)) record.leftAlone = 'changed-by-others';
      if ((current.properties.provisioningState ?? 'Succeeded') !== 'Succeeded') confirmed = false;
      applied.push(record);
    }
    const allows = this.#targets.filter((target) => target.role === 'allow').length;
    lines.unshift(`lockdown of NSG ${nsg.name}: ${allows} allow rule${allows === 1 ? '' : 's'} at ${this.#s.options.priorityBand.from}+, deny-all at ${this.#s.options.priorityBand.to}`);
    return switchActivation<AzureLockdownApplied>({ rules: applied }, confirmed, lines, this.#s.now(), this.#s.options.pollInterval);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    const until = this.#s.now() + this.#s.options.waitFor;
    const recheck = this.#s.options.pollInterval;
    const preexisting = new Set(state.preexisting.map((rule) => rule.name));

    // What each rule should still be for the relay to remove it: as recorded, else the target.
    const expected = this.#targets.map((target) => {
      const record = applied?.rules.find((rule) => rule.name === target.name);
      return { target, content: record?.content ?? ruleContent(target.body), leftAlone: record?.leftAlone ?? (preexisting.has(target.name) ? ('preexisting' as const) : undefined) };
    });
    // The Deny first, then the Allow rules from the last to the first.
    const order = [...expected.filter((item) => item.target.role === 'deny'), ...expected.filter((item) => item.target.role === 'allow').reverse()];

    const lines: string[] = [];
    const outcomes: SwitchRestore['outcome'][] = [];
    let nsg = await this.#settled(op, until);
    if (nsg === undefined) return { outcome: 'pending', recheckAfterMs: recheck, summary: 'Azure is still applying another change to the NSG; the relay looks again' };
    for (const item of order) {
      const { name, role } = item.target;
      if (item.leftAlone === 'preexisting') {
        lines.push(`${name} was there before the relay: left`);
        continue;
      }
      let outcome: SwitchRestore['outcome'] | undefined;
      for (let attempt = 1; outcome === undefined; attempt += 1) {
        const current = rulesByName(nsg).get(name);
        if (current === undefined) {
          outcome = 'restored';
          lines.push(`${name} removed`);
          break;
        }
        const stateNow = current.properties.provisioningState ?? 'Succeeded';
        if (stateNow === 'Deleting' || stateNow === 'Updating') {
          outcome = 'pending';
          lines.push(`${name} is ${stateNow}: Azure is still applying a change`);
          break;
        }
        if (item.leftAlone === 'changed-by-others' || !sameContent(ruleContent(current.properties), item.content)) {
          ctx.logger.warn('azure-nsg: a lockdown rule was changed by someone else during the attack; not removing it', { integration: this.id, rule: name });
          outcome = 'changed-by-others';
          lines.push(`${name} was changed by someone else: left as it is`);
          break;
        }
        try {
          ctx.logger.info('azure-nsg: removing lockdown rule', { integration: this.id, rule: name });
          const deleted = await this.#s.client.deleteRule(op, name, current.etag);
          if (deleted.operation && (await this.#s.client.settle(op, deleted.operation, until)) === 'pending') {
            outcome = 'pending';
            lines.push(`${name} is being removed`);
            break;
          }
          outcome = 'restored';
          lines.push(`${name} removed`);
          // The delete changed the NSG's etag (shared by every rule): read it again for the next If-Match.
          nsg = await this.#s.client.getNsg(op);
        } catch (error) {
          if (!(error instanceof AzurePreconditionFailedError) || attempt >= MAX_PRECONDITION_RETRIES) throw error;
          // Someone wrote to the NSG between the read and the delete: read again, compare again.
          nsg = await this.#s.client.getNsg(op);
        }
      }
      outcomes.push(outcome);
      if (outcome === 'pending') break; // never a second write while Azure applies one
      if (role === 'deny' && outcome === 'changed-by-others') {
        lines.push('the Allow rules stay too: removing them under a Deny the relay does not control could lock you out');
        break;
      }
    }
    return combinedRestore(outcomes, lines.join('; ') || 'nothing to remove', recheck);
  }

  /** Reads the NSG: rule count, attachments, whether the lockdown is on, and whether the band is free. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    try {
      const nsg = await this.#s.client.getNsg(this.#op(ctx));
      const rules = rulesByName(nsg);
      const present = this.#targets.filter((target) => rules.has(target.name)).length;
      const mode = present === 0 ? 'lockdown off' : present === this.#targets.length ? 'lockdown on' : `lockdown partly on (${present} of ${this.#targets.length} relay rules)`;
      const clashes = bandClashes(nsg, this.#s.options.priorityBand, this.#names);
      if (clashes.length > 0) return { ok: false, detail: `${describeNsg(nsg, this.#names)}; ${mode}; ${describeClashes(clashes, this.#s.options.priorityBand)}` };
      return { ok: true, detail: `${describeNsg(nsg, this.#names)}; ${mode}` };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  #notYet(lines: string[], why: string): SwitchActivation<AzureLockdownApplied> {
    return switchActivation<AzureLockdownApplied>({ rules: [] }, false, [...lines, why], this.#s.now(), this.#s.options.pollInterval);
  }

  /** GET the NSG, looking again while someone else's change is being applied (until `until`); undefined if it never settled. */
  async #settled(op: AzureOp, until: number): Promise<NetworkSecurityGroup | undefined> {
    for (;;) {
      const nsg = await this.#s.client.getNsg(op);
      const state = nsg.properties.provisioningState ?? 'Succeeded';
      if (state === 'Succeeded' || state === 'Failed') return nsg;
      if (this.#s.now() + this.#s.options.pollInterval > until) return undefined;
      await this.#s.sleep(this.#s.options.pollInterval, op.signal);
    }
  }

  #op(ctx: ProviderContext): AzureOp {
    // Each of the relay's rules may be written and followed once per call.
    const perRule = 2 * this.#s.options.timeout;
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#s.now() + this.#s.options.waitFor + perRule * (this.#targets.length + 3) };
  }

  #readState(snapshot: SwitchSnapshot): AzureLockdownSnapshotState {
    return readStored(snapshotStateSchema, snapshot.state, (where) => new ProviderError(`${this.#label}: the stored snapshot is not an azure-nsg lockdown snapshot (${where}); remove the relay's rules (${[...this.#names].join(', ')}) by hand`, { retryable: false }));
  }

  #readApplied(activation: SwitchActivation): AzureLockdownApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`${this.#label}: the stored activation is not an azure-nsg lockdown activation (${where})`, { retryable: false }));
  }
}

