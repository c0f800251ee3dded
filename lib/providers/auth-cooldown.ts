/**
 * After a device rejects the relay's credentials (HTTP 401), nothing more is
 * sent to it for a while: firewalls count failed logins (pfSense login
 * protection, RouterOS) and lock the source out, and every sweep, drift check
 * or new event would otherwise try again. Calls during the cooldown fail at
 * once with the original reason; the blocks stay due and are retried after it.
 */
import { ProviderError } from './errors.ts';
import type { BlockEntry, BlocklistProvider, EntryResult, HealthResult, ProviderContext } from './types.ts';

export const AUTH_COOLDOWN_MS = 15 * 60_000;

export function withAuthCooldown(
  inner: BlocklistProvider,
  options: { cooldownMs?: number; now?: () => number } = {},
): BlocklistProvider {
  const cooldownMs = options.cooldownMs ?? AUTH_COOLDOWN_MS;
  const now = options.now ?? Date.now;
  let blocked: { until: number; reason: string } | undefined;

  const refusal = (): ProviderError | undefined => {
    if (!blocked || now() >= blocked.until) {
      blocked = undefined;
      return undefined;
    }
    const minutes = Math.ceil((blocked.until - now()) / 60_000);
    return new ProviderError(
      `not contacting the device for ${minutes} more minute(s) after it rejected the credentials (login protection): ${blocked.reason}. Fix the credentials, then restart the relay or wait`,
      { retryable: false, status: 401 },
    );
  };
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    const refused = refusal();
    if (refused) throw refused;
    try {
      return await call();
    } catch (error) {
      if (error instanceof ProviderError && error.status === 401) blocked = { until: now() + cooldownMs, reason: error.message };
      throw error;
    }
  };

  const provider: BlocklistProvider = {
    kind: 'blocklist',
    id: inner.id,
    type: inner.type,
    get maxBatch() {
      return inner.maxBatch;
    },
    ...(inner.maxIpsPerEvent !== undefined ? { maxIpsPerEvent: inner.maxIpsPerEvent } : {}),
    ...(inner.refreshOnHold !== undefined ? { refreshOnHold: inner.refreshOnHold } : {}),
    add: (entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> => guarded(() => inner.add(entries, ctx)),
    remove: (entries: BlockEntry[], ctx: ProviderContext): Promise<EntryResult[]> => guarded(() => inner.remove(entries, ctx)),
    async healthCheck(ctx: ProviderContext): Promise<HealthResult> {
      const refused = refusal();
      if (refused) return { ok: false, detail: refused.message };
      const result = await inner.healthCheck(ctx);
      return result;
    },
  };
  if (inner.list) provider.list = (ctx) => guarded(() => inner.list!(ctx));
  return provider;
}
