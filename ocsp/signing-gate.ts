/**
 * Live signing behind a concurrency limit and a bounded queue (Boulder's live source had
 * `maxInflight`/`maxWaiters`): at most `concurrency` signatures run at once, at most `maxQueue` wait,
 * and anything beyond is refused at once with GateFullError, which the responder answers with
 * `tryLater` (RFC 6960 §4.2.1) instead of letting latency grow without bound.
 */
export class GateFullError extends Error {
  override readonly name = "GateFullError";
}

export class SigningGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly options: {
      readonly concurrency: number;
      readonly maxQueue: number;
      /** Told the queue depth (waiting + running) whenever it changes. */
      readonly onDepth?: (depth: number) => void;
    },
  ) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError("concurrency must be a positive integer");
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) throw new RangeError("maxQueue must be a non-negative integer");
  }

  /** Signatures running or waiting. */
  get depth(): number {
    return this.running + this.waiting.length;
  }

  /** Runs `work` when a slot is free. @throws GateFullError when the queue is full */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency) {
      if (this.waiting.length >= this.options.maxQueue) throw new GateFullError("signing queue full");
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.report();
      });
    } else {
      this.running++;
      this.report();
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes to the next waiter: `running` stays the same
      else this.running--;
      this.report();
    }
  }

  private report(): void {
    this.options.onDepth?.(this.depth);
  }
}
