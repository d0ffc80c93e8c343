import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import { FixedClock } from "../../../ca/ports.js";
import type { PartitionOutcome } from "../../../crl/crl-scheduler.js";
import { openDatabase, type Database } from "../../../db/database.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { createCrlWorld, type CrlWorld } from "../../support/crl-world.js";

/**
 * Two CRL workers (two connection pools = two nodes) on one PostgreSQL database, racing: CRL numbers
 * are never handed out twice, every publication increases the number, and a worker whose lease was
 * taken over can neither take numbers nor publish.
 */
describe("CRL workers racing on PostgreSQL", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  let other: Database;
  let world: CrlWorld;

  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
    other = await openDatabase({ url: t.url!, poolMax: 4 });
    world = await createCrlWorld(t.db, { partitionCount: 8 });
    const now = new Date();
    for (let i = 0; i < 24; i++) {
      const c = await world.issue();
      if (i % 2 === 0) await world.revoke(c.serial, "keyCompromise", now);
    }
  });
  after(async () => {
    await other?.close();
    await t?.close();
  });

  it("never gives two CRLs the same number, and publishes them in increasing order", async () => {
    const a = world.crl(t.db, { owner: "node-a", clock: new FixedClock(new Date()), settings: { parallelism: 3 } });
    const b = world.crl(other, { owner: "node-b", clock: new FixedClock(new Date()), settings: { parallelism: 3 } });
    const outcomes: PartitionOutcome[] = [];
    const published: Array<{ partition: number; number: number; node: string }> = [];
    const loop = async (w: typeof a): Promise<void> => {
      const node = w.scheduler.owner;
      for (let round = 0; round < 4; round++) {
        const report = round % 2 === 0 ? await w.scheduler.runNow() : await w.scheduler.tick();
        outcomes.push(...report.partitions);
        for (const p of report.partitions) {
          if (p.fullNumber !== undefined) published.push({ partition: p.partition, number: p.fullNumber, node });
          if (p.deltaNumber !== undefined) published.push({ partition: p.partition, number: p.deltaNumber, node });
        }
      }
    };
    await Promise.all([loop(a), loop(b), loop(a)]);
    assert.equal(outcomes.filter((o) => o.outcome === "failed").length, 0, JSON.stringify(outcomes.filter((o) => o.outcome === "failed")));
    const states = await a.store.states(world.caId);
    for (const s of states) {
      const numbers = published.filter((p) => p.partition === s.partition).map((p) => p.number).sort((x, y) => x - y);
      assert.equal(new Set(numbers).size, numbers.length, `partition ${s.partition}: a number was used twice: ${numbers.join(",")}`);
      // Every number taken from the counter was published (no run died half way).
      assert.deepEqual(numbers, Array.from({ length: s.lastNumber }, (_, i) => i + 1), `partition ${s.partition}`);
      assert.equal(s.delta!.number, s.lastNumber);
      assert.equal(s.delta!.baseNumber, s.full!.number);
      assert.equal(s.leaseExpiresAt, null, "leases released");
    }
    // Both nodes did part of the work: each runNow forces every partition (waiting out the other's lease).
    assert.deepEqual(new Set(published.map((p) => p.node)), new Set(["node-a", "node-b"]));
    assert.ok(published.length >= 3 * 2 * 8 * 2);
  });

  it("gives a partition lease to exactly one of many concurrent takers", async () => {
    const stores = [world.crl(t.db).store, world.crl(other).store];
    const ref = { caId: world.caId, partition: 5 };
    const leases = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 2]!.tryLease(ref, `taker-${i}`, 60)));
    const held = leases.filter((l) => l !== undefined);
    assert.equal(held.length, 1);
    await stores[0]!.release(held[0]!);
  });

  it("refuses numbers and publication to a worker whose expired lease another worker took", async () => {
    const slow = world.crl(t.db).store;
    const fast = world.crl(other).store;
    const ref = { caId: world.caId, partition: 6 };
    const lease = await slow.tryLease(ref, "slow", 1);
    assert.ok(lease);
    const number = await slow.nextNumber(lease);
    assert.equal(await fast.tryLease(ref, "fast", 60), undefined, "busy while the lease runs");
    await new Promise((r) => setTimeout(r, 1_200));
    const taken = await fast.tryLease(ref, "fast", 60);
    assert.ok(taken, "an expired lease can be taken over");
    const isConflict = (e: unknown): boolean => e instanceof CaError && e.kind === "conflict";
    await assert.rejects(slow.nextNumber(lease), isConflict);
    const current = (await slow.published(ref, "full"))!;
    const crl = { kind: "full" as const, number, baseNumber: null, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 3_600_000), asOf: lease.asOf, entries: 0, der: new Uint8Array([0x30, 0]) };
    await assert.rejects(slow.publish(lease, crl), isConflict);
    // The new holder cannot publish a number that does not exceed the published one either.
    await assert.rejects(fast.publish(taken, { ...crl, number: current.number }), isConflict);
    await assert.rejects(fast.publish(taken, { ...crl, kind: "delta", number: await fast.nextNumber(taken), baseNumber: current.number - 1 }), isConflict);
    await fast.release(taken);
    assert.equal((await slow.published(ref, "full"))!.number, current.number, "nothing was published");
  });
});
