/**
 * Simulates a process killed at an exact point. After `kill()`, every call
 * through a wrapped object throws SimulatedCrash without touching the real
 * object: no `finally` block of the dead "process" can release a lease, ack
 * a message or reach the device. A new "process" gets fresh wrappers.
 */
export class SimulatedCrash extends Error {
  constructor(where: string) {
    super(`simulated crash at ${where}`);
    this.name = 'SimulatedCrash';
  }
}

export class KillSwitch {
  #dead: string | undefined;

  get dead(): boolean {
    return this.#dead !== undefined;
  }

  kill(where: string): never {
    this.#dead = where;
    throw new SimulatedCrash(where);
  }

  /** Wraps an object so that, once killed, its methods throw instead of running. */
  wrap<T extends object>(target: T): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (this.#dead !== undefined) throw new SimulatedCrash(`${this.#dead} (process already dead)`);
          return (value as (...a: unknown[]) => unknown).apply(object, args);
        };
      },
    });
  }
}
