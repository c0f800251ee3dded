/**
 * A progress line for long CLI work (a sweep or drain of many blocks):
 * redrawn in place on a terminal, silent otherwise (logs and pipes get the
 * summary only).
 */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** Show progress only above this many blocks. */
export const PROGRESS_THRESHOLD = 100;

export class ProgressLine {
  readonly #stream: ProgressStream;
  readonly #enabled: boolean;
  #drawn = false;

  constructor(stream: ProgressStream, total: number, threshold: number = PROGRESS_THRESHOLD) {
    this.#stream = stream;
    this.#enabled = stream.isTTY === true && total > threshold;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  update(text: string): void {
    if (!this.#enabled) return;
    // \r to the line start, \x1b[K clears what a longer previous line left.
    this.#stream.write(`\r${text}\x1b[K`);
    this.#drawn = true;
  }

  /** Clears the line (the summary follows on clean lines). */
  done(): void {
    if (!this.#enabled || !this.#drawn) return;
    this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}
