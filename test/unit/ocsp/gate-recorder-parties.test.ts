import assert from "node:assert/strict";
import { FixedClock } from "../../../ca/ports.js";
import type { RelyingParty } from "../../../ca/relying-parties/relying-party.js";
import { AccessRecorder } from "../../../ocsp/access-recorder.js";
import type { OcspAccessRecord } from "../../../ca/revocation/ocsp-ports.js";
import { CachedRelyingPartyAuthenticator } from "../../../ocsp/relying-party-cache.js";
import { GateFullError, SigningGate } from "../../../ocsp/signing-gate.js";

const record = (i: number): OcspAccessRecord => ({ at: new Date(0), party: "rp", serial: i.toString(16).padStart(2, "0"), caId: "auth-g1", answer: "good" });
const silent = { warn: () => undefined };

describe("ocsp signing gate, access recorder, relying-party cache", function () {
  it("SigningGate: runs at most `concurrency`, queues at most `maxQueue`, refuses the rest at once", async () => {
    const depths: number[] = [];
    const gate = new SigningGate({ concurrency: 2, maxQueue: 1, onDepth: (d) => depths.push(d) });
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    let running = 0;
    let peak = 0;
    const work = async (): Promise<number> => {
      running++;
      peak = Math.max(peak, running);
      await blocked;
      running--;
      return 1;
    };
    const a = gate.run(work);
    const b = gate.run(work);
    const c = gate.run(work);
    await assert.rejects(gate.run(work), GateFullError);
    assert.equal(gate.depth, 3);
    release();
    assert.deepEqual(await Promise.all([a, b, c]), [1, 1, 1]);
    assert.equal(peak, 2);
    assert.equal(gate.depth, 0);
    assert.equal(depths.at(-1), 0);
    // a failing job frees its slot
    await assert.rejects(gate.run(async () => Promise.reject(new Error("hsm"))), /hsm/);
    assert.equal(gate.depth, 0);
  });

  it("AccessRecorder: batches, flushes on size and on stop, keeps records when the write fails, refuses when full", async () => {
    const writes: number[] = [];
    let failing = false;
    const sink = {
      append: async (r: readonly OcspAccessRecord[]) => {
        if (failing) throw new Error("db down");
        writes.push(r.length);
      },
    };
    const rec = new AccessRecorder(sink, silent, { flushIntervalMs: 60_000, maxBatch: 3, maxBuffered: 5 });
    await rec.flush(); // an empty flush must not leave a settled "flushing" behind (regression)
    rec.record([record(0)]);
    await rec.flush();
    assert.deepEqual(writes.splice(0), [1]);
    assert.equal(rec.record([record(1), record(2)]), true);
    assert.deepEqual(writes, []);
    assert.equal(rec.record([record(3)]), true); // reaches maxBatch: flushes
    await rec.flush();
    assert.deepEqual(writes, [3]);
    failing = true;
    assert.equal(rec.record([record(4), record(5), record(6)]), true);
    await rec.flush();
    assert.equal(rec.pending, 3);
    assert.equal(rec.hasRoom(3), false);
    assert.equal(rec.record([record(7), record(8), record(9)]), false, "full: refused, nothing buffered");
    assert.equal(rec.pending, 3);
    failing = false;
    await rec.stop();
    assert.deepEqual(writes, [3, 3]);
    assert.equal(rec.pending, 0);
  });

  it("CachedRelyingPartyAuthenticator: caches hits and misses for the TTL, drops inactive parties", async () => {
    const clock = new FixedClock(new Date("2026-11-22T00:00:00Z"));
    let calls = 0;
    let active = true;
    const inner = {
      byApiKey: async (k: string): Promise<RelyingParty | undefined> => {
        calls++;
        return k === "good" ? { id: "rp-1", name: "RP", active } : undefined;
      },
      byCertificateId: async (id: string): Promise<RelyingParty | undefined> => {
        calls++;
        return id === "rp-2" ? { id, name: "RP2", active: true } : undefined;
      },
    };
    const cache = new CachedRelyingPartyAuthenticator(inner, clock, { ttlMs: 30_000, maxEntries: 2 });
    assert.equal((await cache.byApiKey("good"))?.id, "rp-1");
    assert.equal((await cache.byApiKey("good"))?.id, "rp-1");
    assert.equal(await cache.byApiKey("bad"), undefined);
    assert.equal(await cache.byApiKey("bad"), undefined);
    assert.equal(calls, 2);
    assert.equal((await cache.byCertificateId("rp-2"))?.id, "rp-2"); // evicts the oldest ("good")
    active = false;
    clock.advance(30_001);
    assert.equal(await cache.byApiKey("good"), undefined, "deactivated party refused after the TTL");
  });

  it("CachedRelyingPartyAuthenticator.peek…: what is cached and fresh, without a lookup", async () => {
    const clock = new FixedClock(new Date("2026-11-22T00:00:00Z"));
    let calls = 0;
    const inner = {
      byApiKey: async (k: string): Promise<RelyingParty | undefined> => {
        calls++;
        return k === "good" ? { id: "rp-1", name: "RP", active: true } : k === "off" ? { id: "rp-3", name: "RP3", active: false } : undefined;
      },
      byCertificateId: async (id: string): Promise<RelyingParty | undefined> => {
        calls++;
        return id === "rp-2" ? { id, name: "RP2", active: true } : undefined;
      },
    };
    const cache = new CachedRelyingPartyAuthenticator(inner, clock, { ttlMs: 30_000, maxEntries: 10 });
    assert.equal(cache.peekApiKey("good"), undefined, "never asked: unknown");
    assert.equal(cache.peekCertificateId("rp-2"), undefined);
    await cache.byApiKey("good");
    await cache.byApiKey("bad");
    await cache.byApiKey("off");
    await cache.byCertificateId("rp-2");
    assert.equal(calls, 4);
    assert.equal(cache.peekApiKey("good")?.id, "rp-1");
    assert.equal(cache.peekApiKey("bad"), null, "known not to be a party");
    assert.equal(cache.peekApiKey("off"), null, "an inactive party is no party");
    assert.equal(cache.peekCertificateId("rp-2")?.id, "rp-2");
    assert.equal(calls, 4, "peeking never reaches the store");
    clock.advance(30_001);
    assert.equal(cache.peekApiKey("good"), undefined, "expired: ask again");
    assert.equal(cache.peekApiKey("bad"), undefined);
  });
});
