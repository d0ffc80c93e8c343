import type { TransactionRunner, Tx } from "../stores.js";
import { fencedTransactions, type JobLease, type JobLeaseStore } from "./job-lease.js";

/**
 * Runs each singleton background job in exactly one process of the cluster (docs/cluster.md): per job,
 * every `renewMs` it tries to take the job's lease, or renews the one it holds. It starts the job when
 * it gains the lease and stops it when the lease is lost: taken by another holder, or not renewed
 * before its local deadline (the send time of the last successful renewal + TTL − a tenth of the TTL),
 * so a process that lost the database stops its jobs before anyone else can take the lease. A job's
 * writes go through the term's fenced transactions, which the database refuses once the term is over.
 *
 * Within a process a job never runs twice: a new term starts only after the previous term's stop
 * returned. A dead holder's job moves within TTL + renewMs (defaults 10 s + 2.5 s, api/config.ts).
 */

/** One lease term, handed to the job it started. */
export interface LeaseTerm {
  readonly lease: JobLease;
  /** Transactions that begin with the fence: after the term, they commit nothing (LeaseLostError). */
  readonly transactions: TransactionRunner;
  /** The fence alone, for a transaction the job opens itself. */
  fence(tx: Tx): Promise<void>;
}

/** Stops a job and waits for its work in progress. */
export type StopJob = () => Promise<void> | void;

export interface SingletonJob {
  /** The lease row's key (job_leases.job); a metrics label. */
  readonly name: string;
  /** Starts the job for one term; returns its stop function. */
  start(term: LeaseTerm): StopJob | Promise<StopJob>;
}

/** Time for the keeper: monotonic milliseconds and timers that do not keep the process alive. */
export interface KeeperTimers {
  now(): number;
  /** Calls `fn` after `ms`; returns the cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const systemTimers: KeeperTimers = {
  now: () => performance.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** pino's `(object, message)` form; given job names, epochs and error names only. */
export interface LeaseLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export type LeaseChange = "acquired" | "lost" | "released";

export interface LeaseMetrics {
  setHeld(job: string, held: boolean): void;
  countChange(job: string, change: LeaseChange): void;
}

export interface LeaseKeeperOptions {
  /** How long a lease runs from its last renewal, on the database's clock. Default 10 s. */
  readonly ttlMs: number;
  /** How often a lease is renewed, or taken when free. Default 2.5 s. */
  readonly renewMs: number;
}

export const defaultLeaseKeeperOptions: LeaseKeeperOptions = Object.freeze({ ttlMs: 10_000, renewMs: 2_500 });

export interface LeaseKeeperDeps {
  readonly store: JobLeaseStore;
  /** The database's transactions, fenced per term for the jobs. */
  readonly transactions: TransactionRunner;
  /** This process's holder name (ca/cluster/holder-id.ts). */
  readonly holder: string;
  readonly timers?: KeeperTimers;
  readonly log?: LeaseLog;
  readonly metrics?: LeaseMetrics;
}

interface Term {
  readonly lease: JobLease;
  validUntil: number;
  cancelWatchdog: () => void;
  /** The job's stop function once started; undefined when it failed to start. */
  started: Promise<StopJob | undefined>;
}

interface Slot {
  readonly job: SingletonJob;
  term: Term | undefined;
  /** The stop of the last term: a new one waits for it. */
  ending: Promise<void>;
  cancelTick: () => void;
}

const RELEASE_TIMEOUT_MS = 2000;
const silent: LeaseLog = { info: () => {}, warn: () => {}, error: () => {} };
const errorName = (e: unknown): string => (e instanceof Error ? e.name : typeof e);

export class LeaseKeeper {
  private readonly slots = new Map<string, Slot>();
  private readonly options: LeaseKeeperOptions;
  private readonly timers: KeeperTimers;
  private readonly log: LeaseLog;
  private stopped = true;

  constructor(
    private readonly deps: LeaseKeeperDeps,
    options: Partial<LeaseKeeperOptions> = {},
  ) {
    this.options = { ...defaultLeaseKeeperOptions, ...options };
    if (!(this.options.renewMs > 0 && this.options.renewMs < this.options.ttlMs)) throw new RangeError("the lease renewal period must be positive and shorter than the TTL");
    this.timers = deps.timers ?? systemTimers;
    this.log = deps.log ?? silent;
  }

  get holder(): string {
    return this.deps.holder;
  }

  /** Adds a job (before start). */
  add(job: SingletonJob): this {
    if (this.slots.has(job.name)) throw new Error(`singleton job ${job.name} added twice`);
    this.slots.set(job.name, { job, term: undefined, ending: Promise.resolve(), cancelTick: () => {} });
    this.deps.metrics?.setHeld(job.name, false);
    return this;
  }

  /** The jobs this process runs now, with their epochs. */
  held(): Array<{ job: string; epoch: number }> {
    return [...this.slots.values()].flatMap((s) => (s.term ? [{ job: s.job.name, epoch: s.term.lease.epoch }] : []));
  }

  /** Starts trying for every job's lease (first attempt at once). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const slot of this.slots.values()) this.schedule(slot, 0);
  }

  /** Stops every job this process runs, waits for them, and releases their leases for the others. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const slot of this.slots.values()) slot.cancelTick();
    await Promise.all([...this.slots.values()].map((slot) => this.lose(slot, "stopping", true)));
  }

  private schedule(slot: Slot, delayMs: number): void {
    slot.cancelTick = this.timers.after(delayMs, () => {
      void this.tick(slot)
        .catch((e: unknown) => this.log.error({ job: slot.job.name, err: errorName(e) }, "job lease keeper failed; trying again"))
        .finally(() => {
          if (!this.stopped) this.schedule(slot, this.options.renewMs);
        });
    });
  }

  /** One attempt: renew the term held, or take a free lease. */
  private async tick(slot: Slot): Promise<void> {
    if (this.stopped) return;
    const name = slot.job.name;
    const sentAt = this.timers.now();
    let lease: JobLease | undefined;
    try {
      lease = await this.deps.store.acquire(name, this.deps.holder, this.options.ttlMs, slot.term?.lease);
    } catch (e) {
      // The watchdog stops the job if no renewal succeeds in time.
      if (slot.term) this.log.warn({ job: name, epoch: slot.term.lease.epoch, err: errorName(e) }, "job lease renewal failed");
      return;
    }
    if (this.stopped) {
      if (lease && !slot.term) await this.release(lease);
      return;
    }
    const held = slot.term;
    if (held && (lease === undefined || lease.epoch !== held.lease.epoch)) await this.lose(slot, lease ? "taken again under a new epoch" : "held by another process");
    if (lease === undefined) return;
    const validUntil = sentAt + this.options.ttlMs - this.options.ttlMs / 10;
    // Answered too late to be relied on: the next attempt takes it again (same holder).
    if (this.timers.now() >= validUntil) return;
    if (slot.term !== undefined) {
      slot.term.validUntil = validUntil;
      this.arm(slot, slot.term);
      return;
    }
    await this.begin(slot, lease, validUntil);
  }

  private async begin(slot: Slot, lease: JobLease, validUntil: number): Promise<void> {
    await slot.ending; // never two terms of one job running at once in this process
    if (this.stopped || slot.term !== undefined) {
      if (slot.term === undefined) await this.release(lease);
      return;
    }
    const fence = (tx: Tx): Promise<void> => this.deps.store.fence(lease, tx);
    const term: Term = { lease, validUntil, cancelWatchdog: () => {}, started: Promise.resolve(undefined) };
    slot.term = term;
    this.arm(slot, term);
    this.deps.metrics?.setHeld(slot.job.name, true);
    this.deps.metrics?.countChange(slot.job.name, "acquired");
    this.log.info({ job: slot.job.name, epoch: lease.epoch }, "job lease acquired: starting the job");
    term.started = Promise.resolve()
      .then(() => slot.job.start({ lease, fence, transactions: fencedTransactions(this.deps.transactions, fence) }))
      .catch((e: unknown) => {
        this.log.error({ job: slot.job.name, err: errorName(e) }, "job failed to start");
        return undefined;
      });
    if ((await term.started) === undefined && slot.term === term) await this.lose(slot, "the job failed to start", true);
  }

  /** Stops the job at the term's local deadline unless a renewal moves it. */
  private arm(slot: Slot, term: Term): void {
    term.cancelWatchdog();
    term.cancelWatchdog = this.timers.after(Math.max(0, term.validUntil - this.timers.now()), () => {
      if (slot.term === term) void this.lose(slot, "not renewed in time");
    });
  }

  /** Ends the term held (if any): the job is stopped, and with `release` the lease given up. */
  private async lose(slot: Slot, why: string, release = false): Promise<void> {
    const term = slot.term;
    if (term === undefined) return slot.ending;
    slot.term = undefined;
    term.cancelWatchdog();
    const name = slot.job.name;
    this.deps.metrics?.setHeld(name, false);
    this.deps.metrics?.countChange(name, release ? "released" : "lost");
    if (release) this.log.info({ job: name, epoch: term.lease.epoch, why }, "job lease released: job stopped");
    else this.log.warn({ job: name, epoch: term.lease.epoch, why }, "job lease lost: stopping the job");
    slot.ending = slot.ending
      .then(() => term.started)
      .then((stop) => stop?.())
      .catch((e: unknown) => this.log.error({ job: name, err: errorName(e) }, "job failed to stop"));
    await slot.ending;
    if (release) await this.release(term.lease);
  }

  private async release(lease: JobLease): Promise<void> {
    let cancel = (): void => {};
    const timeout = new Promise<void>((resolve) => (cancel = this.timers.after(RELEASE_TIMEOUT_MS, resolve)));
    await Promise.race([this.deps.store.release(lease), timeout])
      .catch((e: unknown) => this.log.warn({ job: lease.job, err: errorName(e) }, "job lease release failed (it expires)"))
      .finally(cancel);
  }
}
