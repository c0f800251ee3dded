/**
 * A first-come, first-served async lock: runs tasks one at a time, in call
 * order. The pfSense adapters run every request of one provider instance
 * under it (the firewall keeps its whole configuration in one XML file and
 * does not cope with concurrent writers; a read-then-write must not
 * interleave with another batch).
 */
export class SerialLock {
  #tail: Promise<void> = Promise.resolve();

  /**
   * Runs `task` once every earlier task has settled. A caller whose `signal`
   * aborts while it waits is rejected with the signal's reason and never
   * runs; later callers still wait for the tasks before it.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#tail = previous.then(() => mine);
    try {
      await untilSettledOrAborted(previous, signal);
      return await task();
    } finally {
      release();
    }
  }
}

function untilSettledOrAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}
