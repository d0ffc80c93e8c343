/**
 * Hands work that arrives in one turn of the event loop over as one batch: `add` queues an item, and
 * the batch runs once the current turn's I/O callbacks are done (setImmediate) or when `maxBatch` items
 * are waiting. Under load many requests are read in one turn, so they share one round trip to the
 * database instead of one each; alone, an item waits for nothing but the end of its own turn.
 */
export class BatchCollector<I, R> {
  private pending: Array<{ item: I; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;

  constructor(
    /** Settles each item of a batch, in order; a rejection rejects every item of the batch. */
    private readonly handle: (items: readonly I[]) => Promise<ReadonlyArray<PromiseSettledResult<R>>>,
    private readonly maxBatch: number,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError("maxBatch must be a positive integer");
  }

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.run();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.run();
        });
      }
    });
  }

  private run(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.handle(batch.map((b) => b.item)).then(
      (results) =>
        batch.forEach((b, i) => {
          const r = results[i];
          if (r?.status === "fulfilled") b.resolve(r.value);
          else b.reject(r === undefined ? new Error("batch gave no result for an item") : r.reason);
        }),
      (e: unknown) => batch.forEach((b) => b.reject(e)),
    );
  }
}
