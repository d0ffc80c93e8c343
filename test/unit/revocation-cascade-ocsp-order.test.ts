import assert from "node:assert/strict";
import { isNotOlderThan, type StatusRank } from "../../ca/revocation/ocsp-ports.js";
import { cacheKey, ResponseCache, type CachedResponse } from "../../ocsp/response-cache.js";

/**
 * Newer wins with a lifted phone hold (migration 0028, ca/revocation/ocsp-ports.ts `isNotOlderThan`):
 * responses are ordered by (status version, rank, thisUpdate), in the store and in each process's cache.
 */
const T0 = new Date("2026-11-22T00:00:00Z");
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

function entry(label: string, rank: StatusRank, statusVersion: number | undefined, thisUpdate: Date): CachedResponse {
  return {
    key: cacheKey("auth-g1", "sha1", "1b07"),
    caId: "auth-g1",
    hash: "sha1",
    serial: "1b07",
    der: Buffer.from(label),
    certStatus: rank === 1 ? "good" : "revoked",
    rank,
    ...(statusVersion === undefined ? {} : { statusVersion }),
    status: rank === 1 ? { kind: "good" } : { kind: "revoked", revokedAt: T0, reason: rank === 2 ? "certificateHold" : "keyCompromise" },
    provisional: false,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + 86_400_000),
    producedAt: thisUpdate,
    etag: `"${label}"`,
    lastModified: thisUpdate.toUTCString(),
    expires: thisUpdate.toUTCString(),
  };
}

describe("revocation cascade: OCSP order after a lifted hold", function () {
  const goodBefore = entry("good-v0", 1, undefined, at(0)); // made before migration 0028: version absent = 0
  const hold = entry("hold-v0", 2, 0, at(10));
  const lateGood = entry("good-v0-late", 1, 0, at(20)); // a slow signature of the status before the hold
  const lift = entry("good-v1", 1, 1, at(30));
  const lateHold = entry("hold-v0-late", 2, 0, at(40)); // a slow signature of the hold that was lifted
  const revokedAfterLift = entry("revoked-v1", 3, 1, at(50));
  const secondHold = entry("hold-v1", 2, 1, at(45));

  it("isNotOlderThan: version first, then rank, then thisUpdate", function () {
    assert.equal(isNotOlderThan(hold, goodBefore), true);
    assert.equal(isNotOlderThan(lateGood, hold), false, "an older good never beats the hold");
    assert.equal(isNotOlderThan(lift, hold), true, "the lift wins over the hold it lifted");
    assert.equal(isNotOlderThan(lateHold, lift), false);
    assert.equal(isNotOlderThan(secondHold, lift), true, "a new hold after the lift wins");
    assert.equal(isNotOlderThan(revokedAfterLift, secondHold), true, "a revocation after the lift wins");
    assert.equal(isNotOlderThan(lift, revokedAfterLift), false);
  });

  it("the cache keeps the newest whatever order the responses arrive in", function () {
    const arrivals = [goodBefore, hold, lift, lateGood, lateHold];
    for (const order of [arrivals, [...arrivals].reverse(), [lift, hold, lateHold, goodBefore, lateGood]]) {
      const cache = new ResponseCache(10);
      for (const e of order) cache.set(e);
      assert.equal(cache.get(lift.key)!.der.toString(), "good-v1");
      cache.replaceIfPresent(revokedAfterLift);
      assert.equal(cache.get(lift.key)!.der.toString(), "revoked-v1");
      cache.set(lift);
      assert.equal(cache.get(lift.key)!.der.toString(), "revoked-v1");
    }
  });
});
