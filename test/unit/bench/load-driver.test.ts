import assert from "node:assert/strict";
import { closedLoop, openLoop } from "../../../bench/load-driver.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


describe("bench load driver", function () {
  this.timeout(10_000);

  it("closed loop keeps exactly `concurrency` requests in flight and numbers them from `first`", async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const stats = await closedLoop(
      async (i) => {
        seen.push(i);
        peak = Math.max(peak, ++inFlight);
        await sleep(5);
        inFlight--;
        return true;
      },
      { concurrency: 3, seconds: 0.2, limit: 1000, first: 10 },
    );
    assert.equal(peak, 3);
    assert.equal(Math.min(...seen), 10);
    assert.equal(new Set(seen).size, seen.length, "every request gets its own index");
    assert.equal(stats.ok, seen.length);
    assert.ok(stats.p50 >= 4, `p50 ${stats.p50}`);
    assert.equal(stats.exhausted, false);
  });

  it("closed loop stops when the inputs run out, and counts failures apart", async () => {
    const stats = await closedLoop(async (i) => i % 2 === 0, { concurrency: 2, seconds: 5, limit: 10 });
    assert.equal(stats.ok, 5);
    assert.equal(stats.failed, 5);
    assert.equal(stats.exhausted, true);
  });

  it("open loop counts latency from the scheduled start, so a stalled driver cannot hide queueing", async () => {
    // Request 0 blocks the event loop for 200 ms; requests 1..19 fall due meanwhile (one every 10 ms) and can
    // only start afterwards. Timed from when they started they would all look instant; timed from their
    // schedule, they waited 10–190 ms, which is what a caller sending at that rate would see.
    const stats = await openLoop(
      async (i) => {
        if (i === 0) {
          const until = performance.now() + 200;
          while (performance.now() < until) {
            // busy
          }
        }
        return true;
      },
      { rate: 100, seconds: 0.3, limit: 1000 },
    );
    assert.equal(stats.ok, 30);
    assert.ok(stats.p50 > 30, `p50 ${stats.p50} ms: the requests held up by the stall must count their wait`);
  });
});
