/**
 * What every v1 provider instance in this process shares about one firewall
 * (keyed by the URL origin): pfSense keeps its whole configuration in one
 * XML file and reloads the whole filter on each apply, so two integrations
 * (two aliases) on the same firewall, or two instances of one integration,
 * must coordinate.
 *
 * - `writes`: one read-then-write at a time per firewall.
 * - Apply: at most one `POST /api/v1/firewall/apply` in flight per firewall.
 *   A write bumps `writeSeq`; an apply records the sequence it covers when
 *   it is sent, so a write that lands while an apply is in flight is never
 *   taken as applied. A new process starts with one write assumed unapplied
 *   (an earlier process may have been killed between its write and its
 *   apply), so its first operation applies.
 * - Coalescing: an apply asked for less than `gapMs` after the previous one
 *   was sent waits for the gap when that fits the operation's budget, and
 *   every caller that asks meanwhile joins that same apply: a burst of
 *   batches reloads the filter once per gap instead of once per batch.
 * - Retry-After: when the firewall (or a proxy in front of it) asked to
 *   wait, nothing is sent to it before then; a caller whose budget cannot
 *   cover the wait gets a retryable ProviderError carrying `retryAfterMs`.
 */
import { ProviderError } from '../../errors.ts';
import { sleep } from '../../../util/sleep.ts';
import { SerialLock } from '../../../util/serial-lock.ts';

/** One operation's limits: its signal and the epoch ms by which it must be done waiting. */
export interface GateOp {
  signal: AbortSignal;
  deadline: number;
}

/** A pending apply that callers can still join: it has not been sent yet. */
interface Scheduled {
  promise: Promise<void>;
}

export class FirewallGate {
  /** One read-then-write at a time on this firewall. */
  readonly writes = new SerialLock();
  /** Sequence of the last write (1 at start: a write from an earlier process is assumed unapplied). */
  writeSeq = 1;
  /** Sequence the last successful apply covered. */
  appliedSeq = 0;
  /** Epoch ms the last apply was sent, if any. */
  lastApplySentAt: number | undefined;
  /** Epoch ms before which nothing is sent (Retry-After). */
  notBefore = 0;
  /** Applies actually sent (for tests and logs). */
  appliesSent = 0;

  readonly #applying = new SerialLock();
  #scheduled: Scheduled | undefined;

  readonly label: string;

  constructor(label: string) {
    this.label = label;
  }

  /** Whether a write may be on the firewall unapplied. */
  get applyPending(): boolean {
    return this.appliedSeq < this.writeSeq;
  }

  /** Records a write (or the possibility of one, for a resumed batch). */
  noteWrite(): void {
    this.writeSeq += 1;
  }

  /** Records a Retry-After the firewall answered. */
  noteRetryAfter(ms: number, now: number): void {
    this.notBefore = Math.max(this.notBefore, now + ms);
  }

  /**
   * Waits out a Retry-After when it fits `op`'s budget.
   * @throws ProviderError (retryable, with `retryAfterMs`) when it does not.
   */
  async waitRetryAfter(op: GateOp, now: () => number): Promise<void> {
    const waitMs = this.notBefore - now();
    if (waitMs <= 0) return;
    if (now() + waitMs >= op.deadline) {
      throw new ProviderError(
        `${this.label}: the firewall asked to wait ${Math.ceil(waitMs / 1000)} s (Retry-After); that does not fit in this operation, it will be retried`,
        { retryable: true, retryAfterMs: waitMs },
      );
    }
    await sleep(waitMs, op.signal);
  }

  /**
   * Makes sure every write recorded so far is applied: joins an apply that
   * is waiting for its slot, or schedules one (after the coalescing gap when
   * it fits the budget) and sends it with `send`. Does nothing when nothing
   * is pending.
   */
  async ensureApplied(op: GateOp, send: () => Promise<void>, options: { gapMs: number; now: () => number }): Promise<void> {
    const wanted = this.writeSeq;
    while (this.appliedSeq < wanted) {
      const scheduled = this.#scheduled ?? this.#schedule(op, send, options);
      await scheduled.promise;
    }
  }

  #schedule(op: GateOp, send: () => Promise<void>, options: { gapMs: number; now: () => number }): Scheduled {
    const { gapMs, now } = options;
    const scheduled: Scheduled = {
      promise: this.#applying
        .run(async () => {
          const gapLeft = this.lastApplySentAt === undefined ? 0 : this.lastApplySentAt + gapMs - now();
          // The gap is a courtesy: skipped when the operation cannot afford it.
          if (gapLeft > 0 && now() + gapLeft < op.deadline) await sleep(gapLeft, op.signal);
          // Sent under the write lock: never beside another request to this firewall.
          await this.writes.run(async () => {
            // From here on the apply is being sent: a caller arriving now needs the next one.
            if (this.#scheduled === scheduled) this.#scheduled = undefined;
            const covers = this.writeSeq;
            this.lastApplySentAt = now();
            this.appliesSent += 1;
            await send();
            this.appliedSeq = Math.max(this.appliedSeq, covers);
          }, op.signal);
        }, op.signal)
        .finally(() => {
          if (this.#scheduled === scheduled) this.#scheduled = undefined;
        }),
    };
    this.#scheduled = scheduled;
    return scheduled;
  }
}

const gates = new Map<string, FirewallGate>();

/** The gate of the firewall at `origin`, shared by every instance in this process. */
export function firewallGate(origin: string): FirewallGate {
  let gate = gates.get(origin);
  if (gate === undefined) {
    gate = new FirewallGate(`pfsense ${origin}`);
    gates.set(origin, gate);
  }
  return gate;
}
