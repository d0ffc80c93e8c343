import assert from "node:assert/strict";
import { BatchCollector } from "../../../ocsp/batch-collector.js";

describe("ocsp/batch-collector", () => {
  const settled = <R>(values: R[]): Array<PromiseSettledResult<R>> => values.map((value) => ({ status: "fulfilled", value }));

  it("items added in one turn of the event loop go to one batch, in order; a later turn starts another", async () => {
    const batches: number[][] = [];
    const c = new BatchCollector<number, string>(async (items) => {
      batches.push([...items]);
      return settled(items.map((i) => `r${i}`));
    }, 64);
    const first = await Promise.all([1, 2, 3].map((i) => c.add(i)));
    const second = await c.add(4);
    assert.deepEqual(first, ["r1", "r2", "r3"]);
    assert.equal(second, "r4");
    assert.deepEqual(batches, [[1, 2, 3], [4]]);
  });

  it("a full batch is handed over at once; the rest waits for the end of the turn", async () => {
    const batches: number[][] = [];
    const c = new BatchCollector<number, number>(async (items) => {
      batches.push([...items]);
      return settled([...items]);
    }, 2);
    assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map((i) => c.add(i))), [1, 2, 3, 4, 5]);
    assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
  });

  it("a rejected item rejects only its caller; a failing batch rejects every caller", async () => {
    const c = new BatchCollector<number, number>(async (items) => items.map((i) => (i === 2 ? { status: "rejected", reason: new Error("two") } : { status: "fulfilled", value: i })), 8);
    const results = await Promise.allSettled([1, 2, 3].map((i) => c.add(i)));
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    const failing = new BatchCollector<number, number>(async () => Promise.reject(new Error("database down")), 8);
    const all = await Promise.allSettled([1, 2].map((i) => failing.add(i)));
    assert.ok(all.every((r) => r.status === "rejected" && (r.reason as Error).message === "database down"));
    assert.throws(() => new BatchCollector(async () => [], 0), RangeError);
  });
});
