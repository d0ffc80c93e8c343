import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import { SessionPool } from "../../../hsm/session-pool.js";

interface Item {
  n: number;
  good: boolean;
}

function makePool(size: number, extra: { acquireTimeoutMs?: number; failCreate?: () => boolean } = {}) {
  let next = 0;
  const destroyed: number[] = [];
  const inUseSeen: number[] = [];
  const pool = new SessionPool<Item>(
    {
      create: async () => {
        await new Promise((r) => setImmediate(r));
        if (extra.failCreate?.()) throw new Error("create failed");
        return { n: next++, good: true };
      },
      destroy: (item) => destroyed.push(item.n),
      validate: (item) => item.good,
    },
    {
      size,
      ...(extra.acquireTimeoutMs !== undefined ? { acquireTimeoutMs: extra.acquireTimeoutMs } : {}),
      onInUseChange: (n) => inUseSeen.push(n),
    },
  );
  return { pool, destroyed, inUseSeen, created: () => next };
}

describe("hsm/session-pool", function () {
  it("never opens more than `size` items, however many callers", async function () {
    const { pool, inUseSeen, created } = makePool(3);
    let concurrent = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const item = await pool.acquire();
        concurrent++;
        peak = Math.max(peak, concurrent);
        await new Promise((r) => setTimeout(r, 1));
        concurrent--;
        pool.release(item);
      }),
    );
    assert.equal(peak, 3);
    assert.equal(created(), 3);
    assert.ok(Math.max(...inUseSeen) <= 3);
    assert.equal(pool.inUse, 0);
    assert.equal(pool.open, 3);
  });

  it("hands items out one at a time: an item is never shared by two holders", async function () {
    const { pool } = makePool(2);
    const holders = new Set<number>();
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        const item = await pool.acquire();
        assert.ok(!holders.has(item.n), "item handed out twice");
        holders.add(item.n);
        await new Promise((r) => setImmediate(r));
        holders.delete(item.n);
        pool.release(item);
      }),
    );
  });

  it("serves waiters first come, first served", async function () {
    const { pool } = makePool(1);
    const first = await pool.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3, 4].map((i) =>
      pool.acquire().then((item) => {
        order.push(i);
        pool.release(item);
      }),
    );
    pool.release(first);
    await Promise.all(waits);
    assert.deepEqual(order, [1, 2, 3, 4]);
  });

  it("discard frees the place and a waiter gets a new item", async function () {
    const { pool, destroyed, created } = makePool(1);
    const a = await pool.acquire();
    const waiting = pool.acquire();
    pool.discard(a);
    const b = await waiting;
    assert.deepEqual(destroyed, [a.n]);
    assert.notEqual(b.n, a.n);
    assert.equal(created(), 2);
    pool.release(b);
  });

  it("validates idle items and replaces the bad ones", async function () {
    const { pool, destroyed } = makePool(2);
    const a = await pool.acquire();
    pool.release(a);
    a.good = false;
    const b = await pool.acquire();
    assert.notEqual(b.n, a.n);
    assert.deepEqual(destroyed, [a.n]);
    pool.release(b);
  });

  it("passes a creation failure to that waiter only", async function () {
    let fail = true;
    const { pool } = makePool(1, { failCreate: () => fail });
    await assert.rejects(pool.acquire(), /create failed/);
    fail = false;
    const item = await pool.acquire();
    assert.equal(pool.open, 1);
    pool.release(item);
  });

  it("times out a waiter with CaError unavailable and does not leak its place", async function () {
    const { pool } = makePool(1, { acquireTimeoutMs: 20 });
    const a = await pool.acquire();
    await assert.rejects(pool.acquire(), (e: unknown) => e instanceof CaError && e.kind === "unavailable");
    assert.equal(pool.waiting, 0);
    pool.release(a);
    pool.release(await pool.acquire());
  });

  it("exclusive() waits for items in use, holds new acquires, then resumes", async function () {
    const { pool } = makePool(2);
    const a = await pool.acquire();
    const events: string[] = [];
    const ex = pool.exclusive(() => {
      events.push("exclusive");
      assert.equal(pool.inUse, 0);
    });
    const later = pool.acquire().then((item) => {
      events.push("acquired");
      pool.release(item);
    });
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(events.length, 0, "nothing may happen while an item is in use");
    events.push("release");
    pool.release(a);
    await Promise.all([ex, later]);
    assert.deepEqual(events, ["release", "exclusive", "acquired"]);
  });

  it("close() rejects waiters and destroys items, including those returned later", async function () {
    const { pool, destroyed } = makePool(1);
    const a = await pool.acquire();
    const waiting = pool.acquire();
    const closing = pool.close();
    await assert.rejects(waiting, (e: unknown) => e instanceof CaError && e.kind === "unavailable");
    pool.release(a);
    await closing;
    assert.deepEqual(destroyed, [a.n]);
    await assert.rejects(pool.acquire(), /closed/);
  });
});
