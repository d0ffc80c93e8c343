import { LeaseLostError, type JobLease, type JobLeaseStore } from "../../../ca/cluster/job-lease.js";
import type { KeeperTimers } from "../../../ca/cluster/lease-keeper.js";
import type { TransactionRunner, Tx } from "../../../ca/stores.js";

/** Manual time for the lease keeper: `advance` runs due timers in order, letting promises settle between. */
export class FakeTimers implements KeeperTimers {
  private t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): () => void {
    const id = this.seq++;
    this.due.set(id, { at: this.t + ms, fn });
    return () => this.due.delete(id);
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = [...this.due.entries()].filter(([, d]) => d.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (next === undefined) break;
      this.due.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets every pending promise chain run (a few macrotask turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/**
 * The lease table in memory on the fake clock (the "database's" clock): the semantics of
 * db/job-lease-store.ts. `down` makes every call fail; `hang` makes them never answer.
 */
export class FakeLeaseStore implements JobLeaseStore {
  readonly rows = new Map<string, { holder: string; epoch: number; expiresAt: number }>();
  down = false;
  hang = false;
  acquisitions = 0;

  constructor(private readonly timers: FakeTimers) {}

  private check(): Promise<void> {
    if (this.hang) return new Promise(() => {});
    return this.down ? Promise.reject(new Error("database unreachable")) : Promise.resolve();
  }

  async acquire(job: string, holder: string, ttlMs: number, held?: JobLease): Promise<JobLease | undefined> {
    await this.check();
    const now = this.timers.now();
    const row = this.rows.get(job);
    if (row && row.holder !== holder && row.expiresAt > now) return undefined;
    const renewal = row !== undefined && held !== undefined && row.holder === holder && row.epoch === held.epoch && row.expiresAt > now;
    const epoch = renewal ? row.epoch : (row?.epoch ?? 0) + 1;
    if (!renewal) this.acquisitions++;
    this.rows.set(job, { holder, epoch, expiresAt: now + ttlMs });
    return { job, holder, epoch };
  }

  async release(lease: JobLease): Promise<void> {
    await this.check();
    const row = this.rows.get(lease.job);
    if (row && row.holder === lease.holder && row.epoch === lease.epoch) row.expiresAt = this.timers.now();
  }

  async fence(lease: JobLease): Promise<void> {
    await this.check();
    const row = this.rows.get(lease.job);
    if (!row || row.holder !== lease.holder || row.epoch !== lease.epoch || row.expiresAt <= this.timers.now()) throw new LeaseLostError(lease.job);
  }
}

/** Transactions that only run the work (the fence is the keeper's). */
export const plainTransactions: TransactionRunner = { transaction: <T>(work: (tx: Tx) => Promise<T>) => work({}) };
