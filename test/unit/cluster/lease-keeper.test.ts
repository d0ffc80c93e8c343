import assert from "node:assert/strict";
import { LeaseLostError, type JobLease, type JobLeaseStore } from "../../../ca/cluster/job-lease.js";
import { LeaseKeeper, type LeaseChange, type LeaseTerm, type SingletonJob } from "../../../ca/cluster/lease-keeper.js";
import { FakeLeaseStore, FakeTimers, plainTransactions, settle } from "./fake-leases.js";

/**
 * The lease keeper (ca/cluster/lease-keeper.ts) on a fake lease table and a fake clock: a singleton job
 * runs in one process at a time, keeps running while renewed, stops when its lease is lost (taken, or
 * not renewed in time), and moves to another holder within TTL + renewal period.
 */
const TTL = 10_000;
const RENEW = 2_500;

/** Counts a job's running instances across keepers; `maxRunning` must never exceed 1. */
class JobRecorder {
  running = new Set<string>();
  maxRunning = 0;
  starts: Array<{ holder: string; epoch: number }> = [];
  stops = 0;
  terms: LeaseTerm[] = [];
  stopDelay: Promise<void> | undefined;
  failStart = false;

  job(name = "anomaly-monitor"): SingletonJob {
    return {
      name,
      start: (term) => {
        if (this.failStart) throw new Error("cannot start");
        this.terms.push(term);
        this.starts.push({ holder: term.lease.holder, epoch: term.lease.epoch });
        this.running.add(term.lease.holder);
        this.maxRunning = Math.max(this.maxRunning, this.running.size);
        return async () => {
          await this.stopDelay;
          this.running.delete(term.lease.holder);
          this.stops++;
        };
      },
    };
  }
}

class MetricsRecorder {
  held = new Map<string, boolean>();
  changes: Array<[string, LeaseChange]> = [];
  setHeld(job: string, held: boolean): void {
    this.held.set(job, held);
  }
  countChange(job: string, change: LeaseChange): void {
    this.changes.push([job, change]);
  }
}

/** A store seen through one process: `cut` makes its calls fail (that process lost the database). */
class ProcessView implements JobLeaseStore {
  cut = false;
  hang = false;
  constructor(private readonly store: FakeLeaseStore) {}
  private gate(): Promise<void> {
    if (this.hang) return new Promise(() => {});
    return this.cut ? Promise.reject(new Error("connection refused")) : Promise.resolve();
  }
  async acquire(job: string, holder: string, ttlMs: number, held?: JobLease): Promise<JobLease | undefined> {
    await this.gate();
    return this.store.acquire(job, holder, ttlMs, held);
  }
  async release(lease: JobLease): Promise<void> {
    await this.gate();
    return this.store.release(lease);
  }
  async fence(lease: JobLease): Promise<void> {
    await this.gate();
    return this.store.fence(lease);
  }
}

describe("cluster: the lease keeper runs each singleton job in one process at a time", () => {
  let timers: FakeTimers;
  let store: FakeLeaseStore;
  let job: JobRecorder;
  const keepers: LeaseKeeper[] = [];

  const keeper = (holder: string, view: JobLeaseStore = store, metrics?: MetricsRecorder): LeaseKeeper => {
    const k = new LeaseKeeper({ store: view, transactions: plainTransactions, holder, timers, ...(metrics ? { metrics } : {}) }, { ttlMs: TTL, renewMs: RENEW });
    k.add(job.job());
    keepers.push(k);
    return k;
  };

  beforeEach(() => {
    timers = new FakeTimers();
    store = new FakeLeaseStore(timers);
    job = new JobRecorder();
  });

  afterEach(async () => {
    store.hang = false;
    store.down = false;
    await Promise.all(keepers.splice(0).map((k) => Promise.race([k.stop(), timers.advance(3000)])));
  });

  it("acquires at once, starts the job once, and keeps it through renewals (same epoch)", async () => {
    const metrics = new MetricsRecorder();
    const a = keeper("node-a", store, metrics);
    a.start();
    await timers.advance(0);
    assert.deepEqual(job.starts, [{ holder: "node-a", epoch: 1 }]);
    assert.equal(metrics.held.get("anomaly-monitor"), true);
    await timers.advance(60_000);
    assert.equal(job.starts.length, 1, "renewed, not restarted");
    assert.equal(job.stops, 0);
    assert.equal(store.rows.get("anomaly-monitor")?.expiresAt, timers.now() - (60_000 % RENEW) + TTL, "renewed every period");
    assert.deepEqual(a.held(), [{ job: "anomaly-monitor", epoch: 1 }]);
    assert.deepEqual(metrics.changes, [["anomaly-monitor", "acquired"]]);
  });

  it("two holders: exactly one runs the job; the other takes over after the first stops (released)", async () => {
    const a = keeper("node-a");
    const b = keeper("node-b");
    a.start();
    b.start();
    for (let i = 0; i < 20; i++) {
      await timers.advance(1000);
      assert.equal(job.running.size, 1, `one running at ${timers.now()} ms`);
    }
    const first = [...job.running][0]!;
    const [winner, other] = first === "node-a" ? [a, b] : [b, a];
    await winner.stop();
    assert.equal(job.running.size, 0);
    await timers.advance(RENEW);
    assert.deepEqual([...job.running], [other.holder], "taken over within one period after a release");
    assert.deepEqual(job.starts.map((s) => s.epoch), [1, 2], "a new epoch for the new holder");
    assert.equal(job.maxRunning, 1);
  });

  it("a holder that dies (stops renewing, no release): the other takes over within TTL + period, never two at once", async () => {
    const viewA = new ProcessView(store);
    const a = keeper("node-a", viewA);
    a.start();
    await timers.advance(0);
    const b = keeper("node-b");
    b.start();
    await timers.advance(5000);
    assert.deepEqual([...job.running], ["node-a"]);
    const died = timers.now();
    viewA.hang = true; // node-a's calls never answer: to the others it is dead
    let movedAt: number | undefined;
    while (movedAt === undefined && timers.now() - died < 30_000) {
      await timers.advance(100);
      assert.ok(job.running.size <= 1, `at most one running at ${timers.now()} ms`);
      if (job.running.has("node-b")) movedAt = timers.now() - died;
    }
    assert.ok(movedAt !== undefined && movedAt <= TTL + RENEW, `moved after ${movedAt} ms`);
    assert.equal(job.maxRunning, 1);
    assert.deepEqual(job.starts, [
      { holder: "node-a", epoch: 1 },
      { holder: "node-b", epoch: 2 },
    ]);
  });

  it("database lost: the job stops before the lease expires in the database (before anyone else may take it)", async () => {
    const view = new ProcessView(store);
    const metrics = new MetricsRecorder();
    const a = keeper("node-a", view, metrics);
    a.start();
    await timers.advance(RENEW * 2);
    const lastRenewal = timers.now();
    view.cut = true;
    const expiresAt = store.rows.get("anomaly-monitor")!.expiresAt;
    assert.equal(expiresAt, lastRenewal + TTL);
    let stoppedAt: number | undefined;
    while (stoppedAt === undefined && timers.now() < expiresAt + 5000) {
      await timers.advance(100);
      if (job.stops === 1) stoppedAt = timers.now();
    }
    assert.ok(stoppedAt !== undefined && stoppedAt < expiresAt, `stopped at ${stoppedAt}, lease expires at ${expiresAt}`);
    assert.equal(metrics.held.get("anomaly-monitor"), false);
    assert.deepEqual(metrics.changes.at(-1), ["anomaly-monitor", "lost"]);
    // The database back: taken again under a new epoch.
    view.cut = false;
    await timers.advance(RENEW);
    assert.deepEqual(job.starts.at(-1), { holder: "node-a", epoch: 2 });
  });

  it("one failed renewal within the TTL does not stop the job", async () => {
    const view = new ProcessView(store);
    keeper("node-a", view).start();
    await timers.advance(RENEW);
    view.cut = true;
    await timers.advance(RENEW + 100); // one attempt fails
    view.cut = false;
    await timers.advance(RENEW * 4);
    assert.equal(job.starts.length, 1);
    assert.equal(job.stops, 0);
  });

  it("a lease taken by another holder (after its expiry) stops the job at the next attempt; its fenced transactions are refused", async () => {
    keeper("node-a").start();
    await timers.advance(0);
    const term = job.terms[0]!;
    assert.equal(await term.transactions.transaction(async () => "committed"), "committed");
    // Another process took it (e.g. this one was paused past the TTL).
    store.rows.set("anomaly-monitor", { holder: "node-x", epoch: 7, expiresAt: timers.now() + TTL });
    await assert.rejects(
      term.transactions.transaction(async () => "committed"),
      (e: unknown) => e instanceof LeaseLostError,
    );
    await timers.advance(RENEW);
    assert.equal(job.stops, 1);
    assert.equal(job.running.size, 0);
  });

  it("a new term starts only after the old term's stop returned (never two in one process)", async () => {
    const view = new ProcessView(store);
    keeper("node-a", view).start();
    await timers.advance(0);
    let finishStop!: () => void;
    job.stopDelay = new Promise((r) => (finishStop = r));
    view.cut = true;
    await timers.advance(TTL); // lost: the stop is under way but does not return
    view.cut = false;
    await timers.advance(RENEW * 3); // the lease is taken again meanwhile
    assert.equal(job.starts.length, 1, "not started again while the old term is stopping");
    finishStop();
    await settle();
    await timers.advance(0);
    assert.equal(job.starts.length, 2);
    assert.equal(job.maxRunning, 1);
  });

  it("a job that fails to start gives its lease up for another holder", async () => {
    job.failStart = true;
    const a = keeper("node-a");
    a.start();
    await timers.advance(0);
    assert.equal(a.held().length, 0);
    assert.ok(store.rows.get("anomaly-monitor")!.expiresAt <= timers.now(), "released");
    job.failStart = false;
    keeper("node-b").start();
    await timers.advance(0);
    assert.deepEqual([...job.running], ["node-b"]);
  });

  it("refuses a renewal period that is not shorter than the TTL", () => {
    assert.throws(() => new LeaseKeeper({ store, transactions: plainTransactions, holder: "x", timers }, { ttlMs: 1000, renewMs: 1000 }), RangeError);
  });
});
