/**
 * The `hetzner-robot` integration: a switch over the Robot stateless
 * firewall of one or more dedicated servers.
 *
 * - snapshot: `GET /firewall/{server}` for each configured server, waiting
 *   out an "in process" state (someone else's change being applied). The
 *   whole configuration is kept: status, filter_ipv6, whitelist_hos, port,
 *   input and output rules in order. A server whose firewall is already
 *   active is the operator's: the relay records it and never changes or
 *   restores it (`alreadyActive` is true when every server is).
 * - activate: for each server the relay may change, posts the target
 *   configuration (status active, `options.inputRules` or the server's own
 *   input rules, `options.filterIpv6` or its own, everything else as it
 *   was) only if the firewall still is as the snapshot saw it; then polls
 *   until Robot no longer reports "in process" (bounded by
 *   `options.waitFor`; meanwhile `confirmed: false` with `recheckAfterMs`).
 *   Called again it only reads and reports. A firewall someone else changed
 *   since the snapshot is left alone and recorded as such.
 * - deactivate: posts the snapshot's configuration back verbatim, only if
 *   the firewall is still exactly what the relay set; otherwise it writes
 *   nothing and reports 'changed-by-others'.
 */
import { z } from 'zod';
import { clientRuntime } from '../client-runtime.ts';
import { AUTH_COOLDOWN_MS } from '../auth-cooldown.ts';
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
import { HETZNER_ROBOT_URL, type HetznerRobotOptions, type HetznerRobotSecrets } from './config.ts';
import { HetznerRobotClient, type RobotOp } from './client.ts';
import {
  type RobotFirewall,
  type RobotFirewallConfig,
  configOf,
  describeFirewall,
  encodeFirewallForm,
  sameConfig,
  sameSettings,
  targetConfig,
} from './model.ts';
import { combinedRestore, readStored, switchActivation } from '../switch.ts';

export const HETZNER_ROBOT_TYPE = 'hetzner-robot';

/** One server as the snapshot read it. */
export interface HetznerServerSnapshot {
  server: number;
  /** The firewall was already active: the operator's, never changed or restored. */
  alreadyActive: boolean;
  /** As read, settled (status active or disabled). */
  firewall: RobotFirewall;
  readAt: string;
}

/** `SwitchSnapshot.state` of this provider. */
export interface HetznerSnapshotState {
  servers: HetznerServerSnapshot[];
}

/** What the relay did to one server. */
export interface HetznerServerApplied {
  server: number;
  /** The configuration the relay posted (absent when it posted nothing). */
  config?: RobotFirewallConfig;
  /** Why the relay left the server alone. */
  skipped?: 'already-active' | 'changed-by-others';
  confirmedAt?: string;
}

/** `SwitchActivation.applied` of this provider. */
export interface HetznerApplied {
  servers: HetznerServerApplied[];
}

export type HetznerRobotIntegration = SwitchIntegration<HetznerRobotOptions>;

export interface HetznerRobotDeps extends CloudProviderDeps<HetznerRobotSecrets> {
  /** Tests only: another origin for the webservice. */
  baseUrl?: string;
  /** How long to send nothing after a 401 (default 15 min). */
  authCooldownMs?: number;
}

const nullableText = z.string().nullable();
const storedRule = z.object({
  name: nullableText,
  ip_version: nullableText,
  dst_ip: nullableText,
  src_ip: nullableText,
  dst_port: nullableText,
  src_port: nullableText,
  protocol: nullableText,
  tcp_flags: nullableText,
  action: z.enum(['accept', 'discard']),
});
const storedRules = z.object({ input: z.array(storedRule), output: z.array(storedRule) });
const storedConfig = z.object({
  status: z.enum(['active', 'disabled']),
  filter_ipv6: z.boolean(),
  whitelist_hos: z.boolean(),
  rules: storedRules,
});
const snapshotStateSchema = z.object({
  servers: z.array(
    z.object({
      server: z.number().int(),
      alreadyActive: z.boolean(),
      readAt: z.string(),
      firewall: z.object({
        server_number: z.number().int(),
        server_ip: z.string().nullable(),
        status: z.enum(['active', 'disabled']),
        filter_ipv6: z.boolean(),
        whitelist_hos: z.boolean(),
        port: z.string().nullable(),
        rules: storedRules,
      }),
    }),
  ),
});
const appliedSchema = z.object({
  servers: z.array(
    z.object({
      server: z.number().int(),
      config: storedConfig.optional(),
      skipped: z.enum(['already-active', 'changed-by-others']).optional(),
      confirmedAt: z.string().optional(),
    }),
  ),
});

type ServerRestore = { server: number; outcome: 'restored' | 'changed-by-others' | 'pending'; detail: string };

export class HetznerRobotProvider implements SwitchProvider {
  readonly kind = 'switch';
  readonly type = HETZNER_ROBOT_TYPE;
  readonly id: string;
  readonly holdDownMs: number;

  readonly #options: HetznerRobotOptions;
  readonly #client: HetznerRobotClient;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(integration: HetznerRobotIntegration, deps: HetznerRobotDeps) {
    this.id = integration.id;
    this.holdDownMs = integration.holdDownMs;
    this.#options = integration.options;
    const runtime = clientRuntime(deps, integration.options.timeout);
    this.#now = runtime.now;
    this.#sleep = runtime.sleep;
    this.#client = new HetznerRobotClient({
      integrationId: integration.id,
      baseUrl: deps.baseUrl ?? HETZNER_ROBOT_URL,
      username: deps.secrets.username,
      password: deps.secrets.password,
      rateLimitPauseMs: integration.options.rateLimitPause,
      authCooldownMs: deps.authCooldownMs ?? AUTH_COOLDOWN_MS,
      ...runtime,
    });
    if (!deps.secrets.username.startsWith('#ws+')) {
      deps.logger?.warn('hetzner-robot: secrets.username does not look like a Robot webservice user (#ws+…)', { integration: integration.id });
    }
  }

  async snapshot(ctx: SwitchContext): Promise<SwitchSnapshot<HetznerSnapshotState>> {
    const op = this.#op(ctx);
    const servers: HetznerServerSnapshot[] = [];
    for (const server of this.#options.servers) {
      const firewall = await this.#settle(op, server);
      if (firewall.status === 'in process') {
        throw new ProviderError(
          `${this.#client.label}: server ${server}'s firewall is still "in process" (a change made outside the relay is being applied); the snapshot is taken once it has finished`,
          { retryable: true, retryAfterMs: this.#options.pollInterval },
        );
      }
      servers.push({ server, alreadyActive: firewall.status === 'active', firewall, readAt: new Date(this.#now()).toISOString() });
    }
    const alreadyActive = servers.every((entry) => entry.alreadyActive);
    const summary = servers
      .map((entry) => `server ${entry.server}: ${describeFirewall(entry.firewall)}${entry.alreadyActive ? ' (already active: left alone)' : ''}`)
      .join('; ');
    return { state: { servers }, alreadyActive, summary };
  }

  async activate(snapshot: SwitchSnapshot, ctx: SwitchContext): Promise<SwitchActivation<HetznerApplied>> {
    const state = this.#readState(snapshot);
    const op = this.#op(ctx);
    const applied: HetznerServerApplied[] = [];
    const lines: string[] = [];
    let confirmed = true;
    for (const entry of state.servers) {
      const { server } = entry;
      if (entry.alreadyActive) {
        applied.push({ server, skipped: 'already-active' });
        lines.push(`server ${server}: already active, left alone`);
        continue;
      }
      const target = targetConfig(entry.firewall, this.#options);
      const original = configOf(entry.firewall, entry.firewall.status as 'active' | 'disabled');
      let current = await this.#settle(op, server);
      if (current.status !== 'in process' && !(current.status === 'active' && sameSettings(current, target))) {
        if (!sameConfig(current, original)) {
          ctx.logger.warn('hetzner-robot: firewall changed since the snapshot; not overwriting it', {
            integration: this.id,
            server,
            now: describeFirewall(current),
          });
          applied.push({ server, skipped: 'changed-by-others' });
          lines.push(`server ${server}: changed by someone else since the snapshot (${describeFirewall(current)}); left alone`);
          continue;
        }
        ctx.logger.info('hetzner-robot: activating firewall', { integration: this.id, server, target: describeFirewall(target) });
        const posted = await this.#client.postFirewall(op, server, encodeFirewallForm(target));
        current = await this.#settle(op, server, posted);
      }
      if (current.status === 'active' && sameSettings(current, target)) {
        const confirmedAt = new Date(this.#now()).toISOString();
        applied.push({ server, config: target, confirmedAt });
        lines.push(`server ${server}: active with ${target.rules.input.length} input rules`);
      } else {
        confirmed = false;
        applied.push({ server, config: target });
        lines.push(`server ${server}: ${current.status === 'in process' ? 'Robot is still applying the change' : `not confirmed (${describeFirewall(current)})`}`);
      }
    }
    return switchActivation<HetznerApplied>({ servers: applied }, confirmed, lines, this.#now(), this.#options.pollInterval);
  }

  async deactivate(snapshot: SwitchSnapshot, activation: SwitchActivation | undefined, ctx: SwitchContext): Promise<SwitchRestore> {
    const state = this.#readState(snapshot);
    const applied = activation === undefined ? undefined : this.#readApplied(activation);
    const op = this.#op(ctx);
    const results: ServerRestore[] = [];
    for (const entry of state.servers) {
      const { server } = entry;
      if (entry.alreadyActive) {
        results.push({ server, outcome: 'restored', detail: 'was already active, left alone' });
        continue;
      }
      const record = applied?.servers.find((item) => item.server === server);
      const original = configOf(entry.firewall, entry.firewall.status as 'active' | 'disabled');
      const expected = record?.config ?? targetConfig(entry.firewall, this.#options);
      let current = await this.#settle(op, server);
      if (current.status === 'in process') {
        results.push({ server, outcome: 'pending', detail: 'Robot is still applying a change' });
        continue;
      }
      if (sameConfig(current, original)) {
        results.push({ server, outcome: 'restored', detail: `as before: ${describeFirewall(original)}` });
        continue;
      }
      if (record?.skipped === 'changed-by-others' || !sameConfig(current, expected)) {
        ctx.logger.warn('hetzner-robot: firewall changed by someone else during the attack; not restoring it', {
          integration: this.id,
          server,
          now: describeFirewall(current),
        });
        results.push({ server, outcome: 'changed-by-others', detail: `changed by someone else (${describeFirewall(current)}); left as it is` });
        continue;
      }
      ctx.logger.info('hetzner-robot: restoring firewall', { integration: this.id, server, original: describeFirewall(original) });
      const posted = await this.#client.postFirewall(op, server, encodeFirewallForm(original));
      current = await this.#settle(op, server, posted);
      if (current.status === 'in process') results.push({ server, outcome: 'pending', detail: 'Robot is applying the restore' });
      else if (sameConfig(current, original)) results.push({ server, outcome: 'restored', detail: `restored: ${describeFirewall(original)}` });
      else results.push({ server, outcome: 'changed-by-others', detail: `changed by someone else while restoring (${describeFirewall(current)})` });
    }
    const summary = results.map((result) => `server ${result.server}: ${result.detail}`).join('; ');
    return combinedRestore(results.map((result) => result.outcome), summary, this.#options.pollInterval);
  }

  /** Reads every server's firewall once (one request each). */
  async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
    const op: RobotOp = { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + this.#options.timeout * 2 };
    const details: string[] = [];
    try {
      for (const server of this.#options.servers) {
        const firewall = await this.#client.getFirewall(op, server);
        details.push(`server ${server}: ${describeFirewall(firewall)}`);
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    return { ok: true, detail: details.join('; ') };
  }

  #op(ctx: ProviderContext): RobotOp {
    // Each server may wait out "in process" once per call; the budget grows with the servers.
    const perServer = this.#options.waitFor + 2 * this.#options.timeout;
    return { signal: ctx.signal, logger: ctx.logger, deadline: this.#now() + perServer * this.#options.servers.length };
  }

  /**
   * Reads the firewall (or starts from `first`) and, while Robot reports
   * "in process", reads it again every pollInterval until options.waitFor
   * has passed. Returns the last reading, which may still be "in process".
   */
  async #settle(op: RobotOp, server: number, first?: RobotFirewall): Promise<RobotFirewall> {
    const until = this.#now() + this.#options.waitFor;
    let current = first ?? (await this.#client.getFirewall(op, server));
    while (current.status === 'in process' && this.#now() + this.#options.pollInterval <= until) {
      await this.#sleep(this.#options.pollInterval, op.signal);
      current = await this.#client.getFirewall(op, server);
    }
    return current;
  }

  #readState(snapshot: SwitchSnapshot): HetznerSnapshotState {
    return readStored(snapshotStateSchema, snapshot.state, (where) => new ProviderError(`${this.#client.label}: the stored snapshot is not a hetzner-robot snapshot (${where}); restore the firewall by hand in Robot`, { retryable: false }));
  }

  #readApplied(activation: SwitchActivation): HetznerApplied {
    return readStored(appliedSchema, activation.applied, (where) => new ProviderError(`${this.#client.label}: the stored activation is not a hetzner-robot activation (${where})`, { retryable: false })) as HetznerApplied;
  }
}

/** The factory the registry calls. */
export function createHetznerRobotProvider(integration: HetznerRobotIntegration, deps: HetznerRobotDeps): HetznerRobotProvider {
  return new HetznerRobotProvider(integration, deps);
}
