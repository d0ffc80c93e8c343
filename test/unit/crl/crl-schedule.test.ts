import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import type { CaGeneration } from "../../../ca/types.js";
import type { CrlPartitionState, PublishedCrlInfo } from "../../../ca/revocation/crl-ports.js";
import { dueWork } from "../../../crl/crl-scheduler.js";
import { checkPartitionCounts, defaultCrlSettings, parseCrlSettings } from "../../../crl/crl-settings.js";

const T = Date.parse("2026-11-22T00:00:00Z");
const H = 3_600_000;

function info(kind: "full" | "delta", number: number, thisUpdate: number, baseNumber: number | null = null): PublishedCrlInfo {
  return {
    caId: "sign-g1",
    partition: 0,
    kind,
    number,
    baseNumber,
    thisUpdate: new Date(thisUpdate),
    nextUpdate: new Date(thisUpdate + (kind === "full" ? 24 : 1) * H),
    asOf: new Date(thisUpdate),
    entries: 0,
    etag: `"${number}"`,
    size: 0,
    publishedAt: new Date(thisUpdate),
  };
}

function state(over: Partial<CrlPartitionState> = {}): CrlPartitionState {
  return { caId: "sign-g1", partition: 0, lastNumber: 2, changedAt: null, full: info("full", 1, T), delta: info("delta", 2, T, 1), leaseExpiresAt: null, ...over };
}

describe("crl/crl-scheduler dueWork", () => {
  const s = defaultCrlSettings; // full 24 h, delta 1 h, onChange delta, coalesce 60 s
  const at = (ms: number): Date => new Date(T + ms);

  it("issues a full CRL (and its delta) for a partition without one", () => {
    assert.deepEqual(dueWork(state({ full: null, delta: null }), at(0), s), { full: true, delta: true });
  });

  it("re-issues the full CRL once half its validity elapsed, the delta at half of its own", () => {
    assert.equal(dueWork(state(), at(29 * 60_000), s), null);
    assert.deepEqual(dueWork(state(), at(30 * 60_000), s), { full: false, delta: true });
    const freshDelta = state({ delta: info("delta", 9, T + 12 * H - 60_000, 1) });
    assert.equal(dueWork(freshDelta, at(12 * H - 1), s), null);
    assert.deepEqual(dueWork(freshDelta, at(12 * H), s), { full: true, delta: true });
  });

  it("issues a delta after a change, at most once per coalesce interval", () => {
    const changed = state({ changedAt: at(10_000), delta: info("delta", 2, T + 5_000, 1) });
    assert.equal(dueWork(changed, at(30_000), s), null);
    assert.deepEqual(dueWork(changed, at(65_000), s), { full: false, delta: true });
    assert.deepEqual(dueWork(changed, at(65_000), { ...s, onChange: "full" }), { full: true, delta: true });
  });

  it("re-issues a delta whose base is not the current full CRL", () => {
    assert.deepEqual(dueWork(state({ full: info("full", 5, T), delta: info("delta", 2, T, 1) }), at(1000), s), { full: false, delta: true });
  });
});

describe("crl/crl-settings", () => {
  it("defaults to a 24 h full CRL, 1 h delta, registered access", () => {
    const s = parseCrlSettings();
    assert.equal(s.validitySeconds, 86_400);
    assert.equal(s.deltaValiditySeconds, 3_600);
    assert.equal(s.access, "registered");
    assert.ok(Object.isFrozen(s));
  });

  it("refuses a nextUpdate over 24 h and other bad values, naming the field", () => {
    const field = (raw: unknown): string | undefined => {
      try {
        parseCrlSettings(raw);
        return undefined;
      } catch (e) {
        assert.ok(e instanceof CaError);
        return e.field;
      }
    };
    assert.equal(field({ validitySeconds: 86_401 }), "crl.validitySeconds");
    assert.equal(field({ validitySeconds: 7 * 86_400 }), "crl.validitySeconds");
    assert.equal(field({ deltaValiditySeconds: 7200, validitySeconds: 3600 }), "crl.deltaValiditySeconds");
    assert.equal(field({ onChange: "never" }), "crl.onChange");
    assert.equal(field({ access: "open" }), "crl.access");
    assert.equal(field({ pageSize: 1.5 }), "crl.pageSize");
    assert.equal(field({ nextUpdateHours: 24 }), "crl.nextUpdateHours");
    assert.equal(field({ maxCacheSeconds: -1 }), "crl.maxCacheSeconds");
    assert.equal(field({ access: "public", onChange: "full", maxCacheSeconds: 300 }), undefined);
  });
});

describe("crl/crl-settings checkPartitionCounts", () => {
  const gen = (kind: "sign" | "auth", generation: number, partitionCount: number): CaGeneration => ({
    id: `${kind}-g${generation}`,
    kind,
    generation,
    keyAlgorithm: "RSA-2048",
    signatureAlgorithm: "sha256WithRSAEncryption",
    keyUri: "pkcs11:x",
    certificate: new Uint8Array(0),
    serialPrefix: generation,
    partitionCount,
    status: "active",
    ocspResponderCertificate: null,
    ocspResponderKeyUri: null,
    createdAt: new Date(T),
  });

  it("accepts the counts the newest generations were created with, and any count before a generation exists", () => {
    checkPartitionCounts([gen("sign", 1, 64), gen("auth", 1, 16)], { sign: 64, auth: 16 });
    checkPartitionCounts([], { sign: 128, auth: 1 });
    checkPartitionCounts([gen("sign", 1, 32), gen("sign", 2, 64)], { sign: 64, auth: 7 });
  });

  it("refuses a configuration that would change the count of an existing generation", () => {
    assert.throws(
      () => checkPartitionCounts([gen("sign", 1, 64), gen("auth", 1, 16)], { sign: 128, auth: 16 }),
      (e: unknown) => e instanceof CaError && e.field === "ca.partitions.sign" && /sign-g1 was created with 64/.test(e.message),
    );
  });
});
