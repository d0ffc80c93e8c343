import assert from "node:assert/strict";
import { cacheKey, ResponseCache, type CachedResponse } from "../../../ocsp/response-cache.js";
import type { StatusRank } from "../../../ca/revocation/ocsp-ports.js";

const T0 = new Date("2026-11-22T00:00:00Z");

function entry(serial: string, opts: { rank?: number; thisUpdate?: Date } = {}): CachedResponse {
  const thisUpdate = opts.thisUpdate ?? T0;
  return {
    key: cacheKey("auth-g1", "sha1", serial),
    caId: "auth-g1",
    hash: "sha1",
    serial,
    der: Buffer.from(serial),
    certStatus: "good",
    rank: (opts.rank ?? 1) as StatusRank,
    status: { kind: "good" },
    provisional: false,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + 86_400_000),
    producedAt: thisUpdate,
    etag: `"${serial}"`,
    lastModified: thisUpdate.toUTCString(),
    expires: thisUpdate.toUTCString(),
  };
}
const key = (serial: string): string => cacheKey("auth-g1", "sha1", serial);
const held = (c: ResponseCache, serials: readonly string[]): string[] => serials.filter((s) => c.get(key(s)) !== undefined);

describe("ResponseCache", () => {
  it("evicts the oldest insertion when nothing was read", () => {
    const c = new ResponseCache(4);
    for (const s of ["a", "b", "c", "d", "e"]) c.set(entry(s));
    assert.equal(c.size, 4);
    assert.equal(c.get(key("a")), undefined);
  });

  it("keeps an entry read within the last half of the capacity, however often others are inserted", () => {
    const c = new ResponseCache(10);
    for (let i = 0; i < 10; i++) c.set(entry(`k${i}`));
    // k0 is the oldest; reading it now and then every 4 insertions (< 10 / 2) keeps it through 40 insertions.
    assert.ok(c.get(key("k0")));
    for (let i = 10; i < 50; i++) {
      if (i % 4 === 0) assert.ok(c.get(key("k0")), `k0 still held at insertion ${i}`);
      c.set(entry(`k${i}`));
    }
    assert.ok(c.get(key("k0")));
    assert.equal(c.size, 10);
    // Everything else inserted before the last 9 is gone.
    assert.equal(c.get(key("k40")), undefined);
    assert.deepEqual(held(c, ["k41", "k49"]), ["k41", "k49"]);
  });

  it("an entry not read again ages out like any other", () => {
    const c = new ResponseCache(10);
    for (let i = 0; i < 10; i++) c.set(entry(`k${i}`));
    assert.ok(c.get(key("k0"))); // moved to the young end: 10 - 1 > 5
    for (let i = 10; i < 19; i++) c.set(entry(`k${i}`));
    assert.ok(c.get(key("k0")), "9 insertions after its move: still held");
    for (let i = 19; i < 30; i++) c.set(entry(`k${i}`));
    assert.equal(c.get(key("k0")), undefined);
  });

  it("newer wins: a lower rank or an older thisUpdate never replaces an entry", () => {
    const c = new ResponseCache(4);
    const revoked = entry("a", { rank: 2 });
    c.set(revoked);
    c.set(entry("a", { rank: 1, thisUpdate: new Date(T0.getTime() + 60_000) }));
    assert.equal(c.get(key("a")), revoked);
    const later = entry("a", { rank: 2, thisUpdate: new Date(T0.getTime() + 60_000) });
    c.set(later);
    assert.equal(c.get(key("a")), later);
    c.set(entry("a", { rank: 2 }));
    assert.equal(c.get(key("a")), later);
  });

  it("replaceIfPresent replaces in place and never fills the cache", () => {
    const c = new ResponseCache(2);
    c.replaceIfPresent(entry("a"));
    assert.equal(c.size, 0);
    c.set(entry("a"));
    c.set(entry("b"));
    const newer = entry("a", { thisUpdate: new Date(T0.getTime() + 1000) });
    c.replaceIfPresent(newer);
    assert.equal(c.get(key("a")), newer);
    assert.equal(c.size, 2);
  });

  it("setIfUnchangedSince refuses a result read before a noted change", () => {
    const c = new ResponseCache(4);
    const v = c.version;
    c.noteChange(key("a"));
    assert.equal(c.setIfUnchangedSince(entry("a"), v), false);
    assert.equal(c.get(key("a")), undefined);
    assert.equal(c.setIfUnchangedSince(entry("a"), c.version), true);
    assert.ok(c.get(key("a")));
    c.delete(key("a"));
    assert.equal(c.get(key("a")), undefined);
  });
});
