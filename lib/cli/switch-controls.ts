/**
 * Manual controls of switch integrations: `relay activate <id>`,
 * `relay withdraw <id> [--force]`, and `relay test <id>` for any
 * integration. They write intents and then run the usual reconcile path in
 * this process (under the integration's lease, so a running relay and the
 * CLI never write to one provider at once).
 *
 * - activate: a hold of its own (holder `manual:<id>`), released only by a
 *   manual withdraw or its TTL (the integration's `ttl`, from now).
 * - withdraw: refused while an incident still holds the switch, naming the
 *   incidents, unless `--force`; restores at once (no hold-down: the
 *   operator asked for it now).
 * - test: the integration's health check; for a switch, also what it would
 *   save (a read-only snapshot), changing nothing.
 *
 * Against a deployed stage (`--aws`) activate and withdraw only record the
 * intent in the stage's table, as `relay drain --aws` does: the stage's
 * sweeper (every minute) does the provider work with the stage's own
 * credentials, so the operator's machine never needs them. `test --aws` is
 * not offered (it would need the provider's secrets here).
 */
import { RelayError } from '../errors.ts';
import { SWITCH_KEY } from '../model/types.ts';
import { switchRecord } from '../planner/plan-switch.ts';
import type { ReconcileSummary } from '../engine/reconciler.ts';
import type { Engine } from '../runtime/engine.ts';
import type { SwitchProvider } from '../providers/types.ts';
import { integrationKind, type RelayConfig } from '../config/schema.ts';
import type { StateStore } from '../state/types.ts';

/** The holder of a manual activation of `integration`. */
export function manualHolder(integration: string): string {
  return `manual:${integration}`;
}

export interface SwitchControlResult {
  /** One or more lines for the operator. */
  lines: string[];
  /** false: the command did not do what was asked (exit status 1). */
  ok: boolean;
}

function switchOf(engine: Engine, integration: string): SwitchProvider {
  const provider = engine.providers.get(integration);
  const known = [...engine.providers.values()].filter((p) => p.kind === 'switch').map((p) => p.id);
  if (!provider) {
    throw new RelayError('usage', `no enabled integration "${integration}" in the configuration${known.length > 0 ? `; switch integrations: ${known.join(', ')}` : ''}`);
  }
  if (provider.kind !== 'switch') {
    throw new RelayError('usage', `integration "${integration}" is a blocklist (${provider.type}); activate and withdraw apply to switch integrations${known.length > 0 ? ` (${known.join(', ')})` : ''}`);
  }
  return provider;
}

async function describeSwitch(engine: Engine, integration: string, summary: ReconcileSummary): Promise<string[]> {
  const [block] = await engine.worker.store.getBlocks([{ integration, key: SWITCH_KEY }]);
  const record = switchRecord(block?.snapshot);
  const lines: string[] = [];
  if (summary.busy) lines.push('another relay process holds this integration right now; it will do the work (watch: relay status)');
  if (record.snapshot) lines.push(`found: ${record.snapshot.summary}${record.snapshot.alreadyActive ? ' (already active before the relay: it never turns it off)' : ''}`);
  if (record.activation) lines.push(`set: ${record.activation.summary}${record.activation.confirmed ? '' : ' (not confirmed yet)'}`);
  if (block?.lastError) lines.push(`${block.actual === 'absent' ? 'note' : 'last error'}: ${block.lastError}`);
  return lines;
}

/**
 * The switch integration `integration` as the config describes it (for a
 * deployed stage, where no provider is built here).
 * @throws RelayError naming the switch integrations when it is unknown or a blocklist.
 */
export function switchFromConfig(config: RelayConfig, integration: string): { id: string; ttlMs: number } {
  const isSwitch = (candidate: RelayConfig['integrations'][number]) => integrationKind(candidate) === 'switch';
  const switches = config.integrations.filter((candidate) => candidate.enabled && isSwitch(candidate)).map((candidate) => candidate.id);
  const found = config.integrations.find((candidate) => candidate.enabled && candidate.id === integration);
  if (!found) {
    throw new RelayError('usage', `no enabled integration "${integration}" in the configuration${switches.length > 0 ? `; switch integrations: ${switches.join(', ')}` : ''}`);
  }
  if (!isSwitch(found)) {
    throw new RelayError('usage', `integration "${integration}" is a blocklist (${found.type}); activate and withdraw apply to switch integrations${switches.length > 0 ? ` (${switches.join(', ')})` : ''}`);
  }
  return { id: found.id, ttlMs: found.ttl };
}

/** Records a manual hold of the switch until `now + ttlMs`. */
async function recordActivation(store: StateStore, target: { id: string; ttlMs: number }, now: number): Promise<void> {
  await store.hold([{ incident: manualHolder(target.id), integration: target.id, key: SWITCH_KEY, kind: 'switch', expiresAt: now + target.ttlMs }], now);
  await store.appendAudit([
    { at: now, action: 'manual.activate', integration: target.id, count: 1, outcome: 'ok', detail: `manual hold until ${new Date(now + target.ttlMs).toISOString()}` },
  ]);
}

/**
 * Records a withdraw: the switch expires now (no hold-down) and the manual
 * hold is let go. Refused, naming them, while incidents hold it unless forced.
 */
async function recordWithdraw(
  store: StateStore,
  integration: string,
  now: number,
  force: boolean,
): Promise<{ kind: 'refused' | 'off'; lines: string[] } | { kind: 'recorded'; incidents: string[] }> {
  const [block] = await store.getBlocks([{ integration, key: SWITCH_KEY }]);
  const incidents = (block?.holders ?? []).filter((holder) => holder !== manualHolder(integration));
  if (incidents.length > 0 && !force) {
    return {
      kind: 'refused',
      lines: [
        `refused: ${incidents.length} incident(s) still hold ${integration}: ${incidents.join(', ')}`,
        'it is restored by itself after they end (and the hold-down); --force restores it now anyway',
      ],
    };
  }
  if (!block || (block.actual === 'absent' && block.holders.length === 0)) return { kind: 'off', lines: [`${integration}: not on; nothing to withdraw`] };
  await store.hold([{ incident: manualHolder(integration), integration, key: SWITCH_KEY, kind: 'switch', expiresAt: now }], now);
  await store.release(manualHolder(integration), now);
  await store.appendAudit([
    {
      at: now,
      action: 'manual.withdraw',
      integration,
      count: 1,
      outcome: 'ok',
      ...(incidents.length > 0 ? { detail: `forced while ${incidents.length} incident(s) still held it` } : {}),
    },
  ]);
  return { kind: 'recorded', incidents };
}

/** `relay activate|withdraw --aws`: records the intent in the stage's table; its sweeper does the rest. */
export async function recordSwitchControl(
  store: StateStore,
  config: RelayConfig,
  command: 'activate' | 'withdraw',
  integration: string,
  now: number,
  options: { force?: boolean } = {},
): Promise<SwitchControlResult> {
  const target = switchFromConfig(config, integration);
  const watch = 'the stage\'s sweeper (every minute) does it with the stage\'s credentials; watch: relay status --aws …';
  if (command === 'activate') {
    await recordActivation(store, target, now);
    return { ok: true, lines: [`${integration}: manual hold recorded until ${new Date(now + target.ttlMs).toISOString()}`, watch] };
  }
  const result = await recordWithdraw(store, integration, now, options.force === true);
  if (result.kind !== 'recorded') return { ok: result.kind === 'off', lines: result.lines };
  return { ok: true, lines: [`${integration}: withdraw recorded${result.incidents.length > 0 ? ` (forced while ${result.incidents.join(', ')} still held it)` : ''}`, watch] };
}

export async function activateSwitch(engine: Engine, integration: string, now: number): Promise<SwitchControlResult> {
  switchOf(engine, integration);
  const view = engine.integrations.find((candidate) => candidate.id === integration)!;
  await recordActivation(engine.worker.store, { id: integration, ttlMs: view.ttlMs }, now);
  const summary = await engine.worker.reconciler.reconcile(integration, { waitMs: 30_000, trigger: manualHolder(integration) });
  const [block] = await engine.worker.store.getBlocks([{ integration, key: SWITCH_KEY }]);
  const on = block?.actual === 'present';
  return {
    ok: on || summary.deferred > 0 || summary.busy,
    lines: [
      on ? `${integration}: on (manual hold until ${new Date(now + view.ttlMs).toISOString()}; relay withdraw ${integration} ends it)` : `${integration}: not on yet`,
      ...(await describeSwitch(engine, integration, summary)),
    ],
  };
}

export async function withdrawSwitch(engine: Engine, integration: string, now: number, options: { force?: boolean } = {}): Promise<SwitchControlResult> {
  switchOf(engine, integration);
  const { store } = engine.worker;
  const recorded = await recordWithdraw(store, integration, now, options.force === true);
  if (recorded.kind !== 'recorded') return { ok: recorded.kind === 'off', lines: recorded.lines };
  const incidents = recorded.incidents;
  const summary = await engine.worker.reconciler.reconcile(integration, { waitMs: 30_000, trigger: manualHolder(integration) });
  const [after] = await store.getBlocks([{ integration, key: SWITCH_KEY }]);
  const off = after === undefined || after.actual === 'absent';
  return {
    ok: off || summary.deferred > 0 || summary.busy,
    lines: [
      off ? `${integration}: restored${options.force === true && incidents.length > 0 ? ` (forced while ${incidents.join(', ')} still held it)` : ''}` : `${integration}: not restored yet`,
      ...(await describeSwitch(engine, integration, summary)),
    ],
  };
}

export async function testIntegration(engine: Engine, integration: string): Promise<SwitchControlResult> {
  const provider = engine.providers.get(integration);
  if (!provider) throw new RelayError('usage', `no enabled integration "${integration}" in the configuration; integrations: ${[...engine.providers.keys()].join(', ')}`);
  const ctx = { signal: AbortSignal.timeout(30_000), logger: engine.worker.logger };
  const health = await provider.healthCheck(ctx);
  const lines = [`${integration} (${provider.type}): ${health.ok ? 'healthy' : 'NOT healthy'}: ${health.detail}`];
  if (provider.kind === 'switch' && health.ok) {
    const snapshot = await provider.snapshot({ ...ctx, incidents: [] });
    lines.push(`now: ${snapshot.summary}${snapshot.alreadyActive ? ' (already active: the relay would record that and never turn it off)' : ''}`);
  }
  return { ok: health.ok, lines };
}
