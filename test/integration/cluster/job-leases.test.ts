import assert from "node:assert/strict";
import { LeaseLostError, fencedTransactions, type JobLease, type JobLeaseStore } from "../../../ca/cluster/job-lease.js";
import { LeaseKeeper, type LeaseTerm } from "../../../ca/cluster/lease-keeper.js";
import type { Tx } from "../../../ca/stores.js";
import { openDatabase, type Database } from "../../../db/database.js";
import { KnexJobLeaseStore } from "../../../db/job-lease-store.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";

/**
 * Job leases on real PostgreSQL (table job_leases, db/job-lease-store.ts; docs/cluster.md): racing
 * holders get one lease, the database's clock decides expiry, two keepers (two pools, as two nodes)
 * run a job once and hand it over when the holder dies, and a fenced transaction of the old holder
 * commits nothing after the takeover.
 */
const JOB = "test-job";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One node's view of the store: `freeze` makes its renewals never answer (the node is dead to the others). */
class Freezable implements JobLeaseStore {
  frozen = false;
  constructor(private readonly inner: JobLeaseStore) {}
  acquire(job: string, holder: string, ttlMs: number, held?: JobLease): Promise<JobLease | undefined> {
    return this.frozen ? new Promise(() => {}) : this.inner.acquire(job, holder, ttlMs, held);
  }
  release(lease: JobLease): Promise<void> {
    return this.frozen ? new Promise(() => {}) : this.inner.release(lease);
  }
  fence(lease: JobLease, tx: Tx): Promise<void> {
    return this.inner.fence(lease, tx);
  }
}

describe("cluster: job leases on PostgreSQL", function () {
  this.timeout(60_000);
  let test: TestDatabase;
  let second: Database;
  let store: KnexJobLeaseStore;
  const keepers: LeaseKeeper[] = [];

  before(async function () {
    requirePostgresUrl(this);
    test = await openTestDatabase("postgres");
    second = await openDatabase({ url: test.url!, poolMax: 4 });
    store = new KnexJobLeaseStore(test.db);
    await test.db.knex.raw("create table fence_probe (holder text not null)");
  });

  after(async () => {
    await Promise.all(keepers.splice(0).map((k) => k.stop()));
    await second?.close();
    await test?.close();
  });

  beforeEach(async () => {
    await test.db.knex("job_leases").delete();
    await test.db.knex("fence_probe").delete();
  });

  afterEach(async () => {
    await Promise.all(keepers.splice(0).map((k) => Promise.race([k.stop(), sleep(3000)])));
  });

  it("racing holders: exactly one gets the lease; renewal keeps the epoch, a new acquisition raises it", async () => {
    const stores = [store, new KnexJobLeaseStore(second)];
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 2]!.acquire(JOB, `holder-${i}`, 10_000)));
    const winners = results.filter((r) => r !== undefined);
    assert.equal(winners.length, 1, "one of twelve racing holders");
    const won = winners[0]!;
    assert.equal(won.epoch, 1);
    assert.deepEqual(await store.acquire(JOB, won.holder, 10_000, won), won, "renewed, same epoch");
    assert.equal(await store.acquire(JOB, "someone-else", 10_000), undefined);
    const row = (await test.db.knex("job_leases").where({ job: JOB }).first()) as { holder: string; epoch: number; expires_at: Date; acquired_at: Date; renewed_at: Date };
    assert.equal(row.holder, won.holder);
    assert.ok(row.renewed_at >= row.acquired_at);
    await store.release(won);
    const next = await store.acquire(JOB, "someone-else", 10_000);
    assert.deepEqual(next, { job: JOB, holder: "someone-else", epoch: 2 }, "taken after the release, next epoch");
  });

  it("expiry is the database's: a lease not renewed within its TTL is taken by another holder", async () => {
    const a = await store.acquire(JOB, "node-a", 300);
    assert.ok(a);
    assert.equal(await store.acquire(JOB, "node-b", 300), undefined);
    await sleep(400);
    const b = await store.acquire(JOB, "node-b", 10_000);
    assert.deepEqual(b, { job: JOB, holder: "node-b", epoch: 2 });
    // node-a renewing its old term now gets nothing.
    assert.equal(await store.acquire(JOB, "node-a", 10_000, a), undefined);
  });

  it("a fenced transaction holds off a takeover until it ends; after the takeover it commits nothing", async () => {
    const a = (await store.acquire(JOB, "node-a", 500))!;
    const fenced = fencedTransactions(test.db, (tx) => store.fence(a, tx));
    let takenAt = 0;
    let committedAt = 0;
    const work = fenced.transaction(async (tx) => {
      await test.db.executor(tx)("fence_probe").insert({ holder: "node-a" });
      await sleep(900); // the lease expires meanwhile, but the row is locked (for share) by this transaction
      committedAt = Date.now();
    });
    await sleep(600);
    const b = new KnexJobLeaseStore(second).acquire(JOB, "node-b", 10_000).then((l) => ((takenAt = Date.now()), l));
    await work;
    assert.deepEqual(await b, { job: JOB, holder: "node-b", epoch: 2 });
    assert.ok(takenAt >= committedAt, "the takeover waited for the fenced transaction");
    await assert.rejects(
      fenced.transaction(async (tx) => test.db.executor(tx)("fence_probe").insert({ holder: "node-a-late" })),
      (e: unknown) => e instanceof LeaseLostError,
    );
    assert.deepEqual((await test.db.knex("fence_probe").select("holder")).map((r: { holder: string }) => r.holder), ["node-a"]);
  });

  it("two keepers (two pools): one runs the job; the holder dies → the other takes over within TTL + period; the old term's writes are refused", async () => {
    const ttlMs = 2000;
    const renewMs = 300;
    const running = new Set<string>();
    let maxRunning = 0;
    const terms = new Map<string, LeaseTerm>();
    const node = (holder: string, db: Database): { keeper: LeaseKeeper; view: Freezable } => {
      const view = new Freezable(new KnexJobLeaseStore(db));
      const keeper = new LeaseKeeper({ store: view, transactions: db, holder }, { ttlMs, renewMs });
      keeper.add({
        name: JOB,
        start: (term) => {
          terms.set(holder, term);
          running.add(holder);
          maxRunning = Math.max(maxRunning, running.size);
          return () => void running.delete(holder);
        },
      });
      keepers.push(keeper);
      return { keeper, view };
    };
    const a = node("node-a", test.db);
    const b = node("node-b", second);
    a.keeper.start();
    await sleep(100);
    b.keeper.start();
    for (let i = 0; i < 10; i++) {
      await sleep(200);
      assert.deepEqual([...running], ["node-a"]);
    }
    const [holderA] = ((await test.db.knex("job_leases").where({ job: JOB }).select("holder")) as Array<{ holder: string }>).map((r) => r.holder);
    assert.equal(holderA, "node-a", "the table says who holds it");

    const died = Date.now();
    a.view.frozen = true; // node-a stops renewing, without releasing
    while (!running.has("node-b") && Date.now() - died < 10_000) {
      await sleep(20);
      assert.ok(running.size <= 1, "never two running");
    }
    const moved = Date.now() - died;
    assert.ok(running.has("node-b"), "node-b took over");
    assert.ok(moved <= ttlMs + renewMs + 500, `moved after ${moved} ms (TTL ${ttlMs} + period ${renewMs})`);
    console.log(`      (job moved ${moved} ms after its holder stopped renewing; TTL ${ttlMs} ms, period ${renewMs} ms)`);
    assert.equal(maxRunning, 1);
    assert.ok(!running.has("node-a"), "node-a stopped its job on its own (not renewed in time)");

    // node-a's term, had its job not stopped: its transactions commit nothing; node-b's do.
    await assert.rejects(
      terms.get("node-a")!.transactions.transaction(async (tx) => test.db.executor(tx)("fence_probe").insert({ holder: "node-a" })),
      (e: unknown) => e instanceof LeaseLostError,
    );
    await terms.get("node-b")!.transactions.transaction(async (tx) => second.executor(tx)("fence_probe").insert({ holder: "node-b" }));
    assert.deepEqual((await test.db.knex("fence_probe").select("holder")).map((r: { holder: string }) => r.holder), ["node-b"]);
    assert.equal(Number(((await test.db.knex("job_leases").where({ job: JOB }).first("epoch")) as { epoch: number }).epoch), 2);
  });
});
