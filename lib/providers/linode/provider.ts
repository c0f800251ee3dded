/**
 * The `linode` integration: a switch that locks Linode Cloud Firewalls down
 * for the length of an attack.
 *
 * - snapshot: for each configured firewall, `GET …/firewalls/{id}` (status,
 *   attached entities) and `GET …/firewalls/{id}/rules` (the whole rule set,
 *   `version` and `fingerprint` included), plus the lockdown rule set worked
 *   out now (so a restore after a crash does not depend on a config changed
 *   since). A firewall whose inbound rules already are the lockdown (the
 *   allowances, policy DROP) is the operator's: recorded, never changed or
 *   restored. A firewall attached to nothing, or disabled, is warned about
 *   (log, summary, health check): its lockdown protects nothing.
 * - activate: one `PUT …/rules` per firewall with inbound = the management
 *   and keep allowances as ACCEPT rules, inbound_policy DROP, outbound and
 *   outbound_policy exactly as they were; sent only while the rules still
 *   carry the snapshot's fingerprint (someone else's change since is left
 *   alone and reported). The rules are then read back and their fingerprint
 *   and version recorded. Called again it only reads and reports.
 * - deactivate: `PUT …/rules` with the snapshot's inbound, outbound and both
 *   policies, only while the fingerprint still is the one read after the
 *   relay's write; with no record of the activation (a crash between the
 *   write and its record) only while the rules equal the lockdown set
 *   exactly. Otherwise nothing is written and the answer is
 *   'changed-by-others'.
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
import { LinodeClient, type LinodeOp } from './client.ts';
import { LINODE_API_BASE, LINODE_MAX_ADDRESSES_PER_RULE, LINODE_MAX_RULES, type LinodeOptions, type LinodeSecrets } from './config.ts';
import {
  type LinodeEntity,
  type LinodeFirewall,
  type LinodeRule,
  type LinodeRules,
  type LinodeRulesBody,
  addressCount,
  bodyOf,
  describeRules,
  inboundIsLockdown,
  lockdownBody,
  lockdownInbound,
  ruleSchema,
  sameRules,
} from './model.ts';

export const LINODE_TYPE = 'linode';

/** One firewall as the snapshot read it. */
export interface LinodeFirewallSnapshot {
  id: number;
  label: string;
  status: string;
  entities: LinodeEntity[];
  /** The whole `GET …/rules` answer, stamps included. */
  rules: LinodeRules;
  /** The lockdown rule set for this firewall, worked out at snapshot time. */
  target: LinodeRulesBody;
  /** The inbound rules already were the lockdown: the operator's, left alone. */
  alreadyActive: boolean;
  /** Attached to nothing, disabled: the lockdown would protect nothing. */
  warnings: string[];
  readAt: string;
}

/** `SwitchSnapshot.state` of this provider. */
export interface LinodeSnapshotState {
  firewalls: LinodeFirewallSnapshot[];
}

/** What the relay did to one firewall. */
export interface LinodeFirewallApplied {
  id: number;
  /** The rules' fingerprint and version as read back after the relay's write (null: Linode gave none). */
  fingerprint?: string | null;
  version?: number | null;
  /** Why the relay left the firewall alone. */
  skipped?: 'already-active' | 'changed-by-others';
  confirmedAt?: string;
}

/** `SwitchActivation.applied` of this provider. */
export interface LinodeApplied {
  firewalls: LinodeFirewallApplied[];
}

export type LinodeIntegration = SwitchIntegration<LinodeOptions>;

export interface LinodeDeps extends CloudProviderDeps<LinodeSecrets> {
  /** Tests only: another https origin for the API (…/v4). */
  baseUrl?: string;
}

const storedRules = z.array(ruleSchema).transform((rules) => rules as LinodeRule[]);
const policy = z.enum(['ACCEPT', 'DROP']);
const storedBody = z.object({ inbound: storedRules, inbound_policy: policy, outbound: storedRules, outbound_policy: policy });
const snapshotStateSchema = z.object({
  firewalls: z.array(
    z.object({
      id: z.number().int(),
      label: z.string(),
      status: z.string(),
      entities: z.array(z.object({ id: z.number().int(), type: z.string(), label: z.string().nullable() })),
      rules: storedBody.extend({ version: z.number().int().nullable(), fingerprint: z.string().nullable() }),
      target: storedBody,
      alreadyActive: z.boolean(),
      warnings: z.array(z.string()),
      readAt: z.string(),
    }),
  ),
});
const appliedSchema = z.object({
  firewalls: z.array(
    z.object({
      id: z.number().int(),
      fingerprint: z.string().nullable().optional(),
      version: z.number().int().nullable().optional(),
      skipped: z.enum(['already-active', 'changed-by-others']).optional(),
      confirmedAt: z.string().optional(),
    }),
  ),
});

type FirewallRestore = { id: number; outcome: 'restored' | 'changed-by-others'; detail: string };

export class LinodeProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = LINODE_TYPE;
  readonly id: string;
  readonly holdDownMs: number;

  readonly #options: LinodeOptions;
  readonly #client: LinodeClient;
  readonly #now: () => number;
  readonly #inbound: LinodeRule[];

  constructor(integration: LinodeIntegration, deps: LinodeDeps) {
    this.id = integration.id;
    this.holdDownMs = integration.holdDownMs;
    this.#options = integration.options;
    const runtime = clientRuntime(deps, integration.options.timeout);
    this.#now = runtime.now;
    this.#inbound = lockdownInbound(integration.options);
    this.#client = new LinodeClient({ integrationId: integration.id, baseUrl: deps.baseUrl ?? LINODE_API_BASE, token: deps.secrets.token, ...runtime });
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<LinodeSnapshotState>> {
    const op = this.#op(ctx);
    const firewalls: LinodeFirewallSnapshot[] = [];
    for (const id of this.#options.firewalls) {
      const { firewall, entities } = await this.#readFirewall(op, id);
      const rules = await this.#client.getRules(op, id);
      const warnings = warningsFor(firewall.status, entities);
      for (const warning of warnings) ctx.logger.warn(`linode: firewall ${id} ${warning}`, { integration: this.id, firewall: id });
      firewalls.push({
        id,
        label: firewall.label,
        status: firewall.status,
        entities,
        rules,
        target: lockdownBody(rules, this.#inbound),
        alreadyActive: inboundIsLockdown(rules, this.#inbound),
        warnings,
        readAt: new Date(this.#now()).toISOString(),
      });
    }
    const summary = firewalls
      .map((entry) =>
        [
          `firewall ${entry.id} "${entry.label}": ${entry.status}, ${describeEntities(entry.entities)}, ${describeRules(entry.rules)}, fingerprint ${entry.rules.fingerprint ?? 'none'}`,
          entry.alreadyActive ? ' (already locked down: left alone)' : '',
          ...entry.warnings.map((warning) => `; WARNING: ${warning}`),
        ].join(''),
      )
      .join('; ');
    return { state: { firewalls }, alreadyActive: firewalls.every((entry) => entry.alreadyActive), summary };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<LinodeApplied>> {
    const state = this.#readState(snapshot);
    // Refuse before writing anything: a lockdown that cannot fit one firewall is a configuration problem.
    for (const entry of state.firewalls) if (!entry.alreadyActive) this.#checkLimits(entry);
    const op = this.#op(ctx);
    const applied: LinodeFirewallApplied[] = [];
    const lines: string[] = [];
    for (const entry of state.firewalls) {
      const { id } = entry;
      if (entry.alreadyActive) {
        applied.push({ id, skipped: 'already-active' });
        lines.push(`firewall ${id}: already locked down, left alone`);
        continue;
      }
      const unchangedSinceSnapshot = (current: LinodeRules) => sameRules(current, entry.rules) && current.fingerprint === entry.rules.fingerprint;
      const put = await this.#client.putRulesIf(op, id, unchangedSinceSnapshot, entry.target);
      if (put.outcome === 'changed') {
        ctx.logger.warn('linode: firewall rules changed since the snapshot; not overwriting them', {
          integration: this.id,
          firewall: id,
          now: describeRules(put.rules),
          fingerprint: put.rules.fingerprint,
        });
        applied.push({ id, skipped: 'changed-by-others' });
        lines.push(`firewall ${id}: changed by someone else since the snapshot (${describeRules(put.rules)}); left alone`);
        continue;
      }
      if (put.outcome === 'written') ctx.logger.info('linode: firewall locked down', { integration: this.id, firewall: id, rules: describeRules(entry.target) });
      // Read back: the fingerprint Linode stamps on the relay's rules is what restore checks against.
      const readBack = await this.#client.getRules(op, id);
      const mine = sameRules(readBack, entry.target) ? readBack : put.rules;
      if (mine === put.rules && put.outcome === 'written') {
        ctx.logger.warn('linode: firewall rules changed right after the relay wrote them; restore will leave them alone', { integration: this.id, firewall: id });
      }
      applied.push({ id, fingerprint: mine.fingerprint, version: mine.version, confirmedAt: new Date(this.#now()).toISOString() });
      lines.push(`firewall ${id}: locked down, ${describeRules(mine)}${entry.warnings.length > 0 ? ` (WARNING: ${entry.warnings.join('; ')})` : ''}`);
    }
    return switchActivation<LinodeApplied>({ firewalls: applied }, true, lines, this.#now(), 0);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    const results: FirewallRestore[] = [];
    for (const entry of state.firewalls) {
      const { id } = entry;
      if (entry.alreadyActive) {
        results.push({ id, outcome: 'restored', detail: 'was already locked down, left alone' });
        continue;
      }
      const record = applied?.firewalls.find((item) => item.id === id);
      const original = bodyOf(entry.rules);
      const current = await this.#client.getRules(op, id);
      if (sameRules(current, original)) {
        results.push({ id, outcome: 'restored', detail: `as before: ${describeRules(original)}` });
        continue;
      }
      const unchanged = this.#unchangedSinceRelay(entry, record);
      const put = unchanged(current)
        ? await this.#client.putRulesIf(op, id, unchanged, original, current)
        : ({ outcome: 'changed', rules: current } as const);
      if (put.outcome === 'changed') {
        ctx.logger.warn('linode: firewall rules changed by someone else during the attack; not restoring them', {
          integration: this.id,
          firewall: id,
          now: describeRules(put.rules),
          fingerprint: put.rules.fingerprint,
          expected: record?.fingerprint ?? 'the lockdown rule set',
        });
        results.push({ id, outcome: 'changed-by-others', detail: `changed by someone else (${describeRules(put.rules)}); left as it is` });
        continue;
      }
      ctx.logger.info('linode: firewall restored', { integration: this.id, firewall: id, rules: describeRules(original) });
      results.push({ id, outcome: 'restored', detail: `restored: ${describeRules(original)}` });
    }
    const summary = results.map((result) => `firewall ${result.id}: ${result.detail}`).join('; ');
    return combinedRestore(results.map((result) => result.outcome), summary, 0);
  }

  /** Reads each firewall and its rules: status, entities, rule counts, mode. */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op = this.#op(ctx);
    const details: string[] = [];
    try {
      for (const id of this.#options.firewalls) {
        const { firewall, entities } = await this.#readFirewall(op, id);
        const rules = await this.#client.getRules(op, id);
        const mode = inboundIsLockdown(rules, this.#inbound) ? 'locked down' : 'normal (not locked down)';
        const warnings = warningsFor(firewall.status, entities).map((warning) => `; WARNING: ${warning}`).join('');
        details.push(`firewall ${id} "${firewall.label}": ${firewall.status}, ${describeEntities(entities)}, ${describeRules(rules)}, mode ${mode}${warnings}`);
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    return { ok: true, detail: details.join('; ') };
  }

  /**
   * Whether the rules are still what the relay left: the fingerprint read
   * back after its write, or (no record: a crash came between the write and
   * its record) exactly the lockdown rule set.
   */
  #unchangedSinceRelay(entry: LinodeFirewallSnapshot, record: LinodeFirewallApplied | undefined): (current: LinodeRules) => boolean {
    if (record?.skipped !== undefined) return () => false;
    const fingerprint = record?.fingerprint;
    if (typeof fingerprint === 'string') return (current) => current.fingerprint === fingerprint;
    return (current) => sameRules(current, entry.target);
  }

  #checkLimits(entry: LinodeFirewallSnapshot): void {
    const total = entry.target.inbound.length + entry.target.outbound.length;
    if (total > LINODE_MAX_RULES) {
      throw new ProviderError(
        `${this.#client.label}: the lockdown of firewall ${entry.id} needs ${entry.target.inbound.length} inbound rules next to its ${entry.target.outbound.length} outbound rules, ` +
          `but Linode allows ${LINODE_MAX_RULES} rules per firewall; merge sources or ports in options.management/options.keep, or merge the firewall's outbound rules. Nothing was changed.`,
        { retryable: false },
      );
    }
    entry.target.inbound.forEach((rule, index) => {
      if (addressCount(rule) > LINODE_MAX_ADDRESSES_PER_RULE) {
        throw new ProviderError(
          `${this.#client.label}: lockdown rule ${index + 1} lists ${addressCount(rule)} addresses; Linode allows ${LINODE_MAX_ADDRESSES_PER_RULE} per rule: split it. Nothing was changed.`,
          { retryable: false },
        );
      }
    });
  }

  async #readFirewall(op: LinodeOp, id: number): Promise<{ firewall: LinodeFirewall; entities: LinodeEntity[] }> {
    const firewall = await this.#client.getFirewall(op, id);
    const entities = firewall.entities ?? (await this.#client.listDevices(op, id));
    return { firewall, entities };
  }

  #op(ctx: ProviderContext): LinodeOp {
    // Two or three reads and a write per firewall, each with room for one wait Linode asks for.
    const budget = this.#options.timeout * (2 + 3 * this.#options.firewalls.length) + 60_000;
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + budget };
  }

  #readState(snapshot: SwitchSnapshot): LinodeSnapshotState {
    const parsed = snapshotStateSchema.safeParse(snapshot.state);
    if (!parsed.success) {
      throw new ProviderError(
        `${this.#client.label}: the stored snapshot is not a linode snapshot (${parsed.error.issues[0]?.path.join('.')}); restore the firewall rules by hand in Cloud Manager (Firewalls → Rules)`,
        { retryable: false },
      );
    }
    // Every firewall the snapshot holds is restored, even one taken out of options.firewalls since.
    return parsed.data;
  }

  #readApplied(activation: SwitchActivation): LinodeApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`${this.#client.label}: the stored activation is not a linode activation (${where})`, { retryable: false })) as LinodeApplied;
  }
}

function warningsFor(status: string, entities: LinodeEntity[]): string[] {
  const warnings: string[] = [];
  if (entities.length === 0) {
    warnings.push('is attached to no Linode or NodeBalancer: its lockdown protects nothing (attach it in Cloud Manager → Firewalls → Linodes/NodeBalancers)');
  }
  if (status !== 'enabled') {
    warnings.push(`is ${status}: Linode does not enforce its rules, so the lockdown protects nothing (enable it in Cloud Manager → Firewalls)`);
  }
  return warnings;
}

function describeEntities(entities: LinodeEntity[]): string {
  if (entities.length === 0) return 'attached to nothing';
  const shown = entities.slice(0, 5).map((entity) => `${entity.type} ${entity.id}`).join(', ');
  return `attached to ${entities.length} (${shown}${entities.length > 5 ? ', …' : ''})`;
}

/** The factory the registry calls. */
export function createLinodeProvider(integration: LinodeIntegration, deps: LinodeDeps): LinodeProvider {
  return new LinodeProvider(integration, deps);
}
