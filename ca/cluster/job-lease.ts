import { CaError } from "../errors.js";
import type { TransactionRunner, Tx } from "../stores.js";

/**
 * Leadership per background job through the database (docs/cluster.md): a lease row per job, held by
 * one process at a time, with an epoch that grows on every new acquisition. The epoch fences: work of
 * a process whose lease has moved on is refused inside its own transaction.
 */

/** One term of one holder: what the fence checks. */
export interface JobLease {
  readonly job: string;
  readonly holder: string;
  readonly epoch: number;
}

/**
 * The lease rows (db/job-lease-store.ts). Every expiry is on the database's clock, never a node's.
 */
export interface JobLeaseStore {
  /**
   * One atomic statement: renews `held` (same holder and epoch, not expired: epoch kept), or takes the
   * row when it is free, expired or already this holder's (epoch + 1). The lease then runs `ttlMs` from
   * the database's now. Returns the lease held afterwards; undefined when another holder has it.
   */
  acquire(job: string, holder: string, ttlMs: number, held?: JobLease): Promise<JobLease | undefined>;
  /** Gives the lease up (it expires now) if it is still this term; does nothing otherwise. */
  release(lease: JobLease): Promise<void>;
  /**
   * Inside `tx`: locks the lease row (shared: a takeover waits for this transaction to end) and throws
   * LeaseLostError unless it is still this holder and epoch and has not expired.
   */
  fence(lease: JobLease, tx: Tx): Promise<void>;
}

/** A fenced transaction of a term that is over: rolled back, nothing committed. */
export class LeaseLostError extends CaError {
  constructor(readonly job: string) {
    super("unavailable", `the lease of background job ${job} is no longer held by this process`);
    this.name = "LeaseLostError";
  }
}

/** A TransactionRunner whose every transaction begins with `fence(tx)`: a lost lease commits nothing. */
export function fencedTransactions(runner: TransactionRunner, fence: (tx: Tx) => Promise<void>): TransactionRunner {
  return {
    transaction: <T>(work: (tx: Tx) => Promise<T>): Promise<T> =>
      runner.transaction(async (tx) => {
        await fence(tx);
        return work(tx);
      }),
  };
}
