import type { OcspAccessRecord } from "../ca/revocation/ocsp-ports.js";

/**
 * Every answered request of a registered relying party is recorded (docs/api.md §3, docs/domain.md §4: who asked
 * about which certificate, when — for disclosure requests and billing; which CRL a party read), in batches: records are
 * buffered and written every `flushIntervalMs` or as soon as `maxBatch` are waiting, never one write
 * per request.
 *
 * The buffer is bounded. When it is full (the database has been failing for a while) `record`
 * returns false and the HTTP layer answers `tryLater`: a request that cannot be recorded is not
 * answered. A failed write keeps its records and is retried.
 */
export interface AccessRecorderOptions {
  readonly flushIntervalMs: number;
  readonly maxBatch: number;
  readonly maxBuffered: number;
  /** What is recorded, for the warning when a write fails (default "OCSP access log"). */
  readonly name: string;
}

export const defaultAccessRecorderOptions: AccessRecorderOptions = Object.freeze({ flushIntervalMs: 1000, maxBatch: 2000, maxBuffered: 200_000, name: "OCSP access log" });

export interface AccessRecorderLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Where a recorder writes: OCSP answers (ca/revocation/ocsp-ports.ts OcspAccessLog), CRL reads (ca/revocation/crl-ports.ts CrlAccessLog). */
export interface AccessSink<R> {
  append(records: readonly R[]): Promise<void>;
}

export class AccessRecorder<R = OcspAccessRecord> {
  private buffer: R[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly options: AccessRecorderOptions;

  constructor(
    private readonly sink: AccessSink<R>,
    private readonly log: AccessRecorderLog,
    options: Partial<AccessRecorderOptions> = {},
  ) {
    this.options = { ...defaultAccessRecorderOptions, ...options };
  }

  /** Records waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Whether `n` more records fit (check before answering). */
  hasRoom(n = 1): boolean {
    return this.buffer.length + n <= this.options.maxBuffered;
  }

  /** Buffers records; false (nothing buffered) when the buffer is full. */
  record(records: readonly R[]): boolean {
    if (!this.hasRoom(records.length)) return false;
    for (const r of records) this.buffer.push(r);
    if (this.buffer.length >= this.options.maxBatch && this.flushing === undefined) void this.flush();
    return true;
  }

  /** Writes everything buffered so far, batch by batch (never throws; failures stay buffered). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    // `finally` runs as a promise reaction, so always after the assignment below.
    const p = this.drain().finally(() => {
      if (this.flushing === p) this.flushing = undefined;
    });
    this.flushing = p;
    return p;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.options.maxBatch);
      try {
        await this.sink.append(batch);
      } catch (e) {
        this.log.warn({ err: (e as Error)?.name, records: this.buffer.length }, `${this.options.name} write failed; kept for retry`);
        return;
      }
      this.buffer = this.buffer.slice(batch.length);
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is buffered. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
