/**
 * An in-process lock: runs critical sections one at a time, in call order.
 * pfSense's config.xml is not built for concurrent writers (ids shift, a
 * write can overwrite another), so a provider instance never has two
 * requests in flight. A caller whose signal aborts while it waits leaves the
 * queue without running.
 */
export class SerialLock {
  #tail: Promise<void> = Promise.resolve();

  /** Runs `section` after every earlier section finished (successfully or not). */
  run<T>(signal: AbortSignal, section: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waitTurn = new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      void previous.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    // The next section waits for this one's turn *and* its end, even if this caller gave up waiting.
    const done = waitTurn.then(section);
    void Promise.allSettled([previous, done]).then(() => release());
    return done;
  }
}
