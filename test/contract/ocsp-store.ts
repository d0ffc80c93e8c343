import assert from "node:assert/strict";
import type { CaId } from "../../ca/types.js";
import type { CertificateStatusSnapshot, CertificateStatusSource, OcspAccessLog, OcspAccessRecord, OcspResponseStore, StoredOcspResponse } from "../../ca/revocation/ocsp-ports.js";

/**
 * The shared contract of the OCSP store ports (ca/revocation/ocsp-ports.ts), run against the in-memory double
 * (test/unit/ocsp/memory-ocsp-store.test.ts) and db/ocsp-store.ts on PGlite and PostgreSQL
 * (test/integration/ocsp/ocsp-store.test.ts).
 */
export interface OcspStoreHarness {
  readonly store: OcspResponseStore & CertificateStatusSource & OcspAccessLog;
  /** The CA generation certificates belong to (exists before the suite runs). */
  readonly caId: CaId;
  addCertificate(s: CertificateStatusSnapshot): Promise<void>;
  accessLogOf(party: string): Promise<OcspAccessRecord[]>;
  close(): Promise<void>;
}

const day = 86_400_000;
const t0 = new Date("2026-11-01T00:00:00Z");

export function ocspStoreContract(name: string, open: () => Promise<OcspStoreHarness>): void {
  describe(`OCSP store contract: ${name}`, function () {
    this.timeout(30_000);
    let h: OcspStoreHarness;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(async () => {
      await h.close();
    });

    const cert = (serial: string, overrides: Partial<CertificateStatusSnapshot> = {}): CertificateStatusSnapshot => ({
      serial,
      caId: h.caId,
      status: "valid",
      revokedAt: null,
      reason: null,
      notAfter: new Date(t0.getTime() + 365 * day),
      ...overrides,
    });
    const response = (serial: string, overrides: Partial<StoredOcspResponse> = {}): StoredOcspResponse => ({
      serial,
      hash: "sha1",
      caId: h.caId,
      der: Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x00),
      certStatus: "good",
      rank: 1,
      revokedAt: null,
      reason: null,
      thisUpdate: t0,
      nextUpdate: new Date(t0.getTime() + day),
      producedAt: t0,
      ...overrides,
    });

    it("statuses: snapshots of the serials that exist", async () => {
      await h.addCertificate(cert("01aa"));
      await h.addCertificate(cert("01bb", { status: "revoked", revokedAt: new Date("2026-10-01T12:00:00Z"), reason: "keyCompromise" }));
      const m = await h.store.statuses(["01aa", "01bb", "01cc"]);
      assert.equal(m.size, 2);
      assert.equal(m.get("01aa")?.status, "valid");
      assert.equal(m.get("01aa")?.caId, h.caId);
      assert.deepEqual(m.get("01bb")?.revokedAt, new Date("2026-10-01T12:00:00Z"));
      assert.equal(m.get("01bb")?.reason, "keyCompromise");
      assert.deepEqual(m.get("01aa")?.notAfter, new Date(t0.getTime() + 365 * day));
    });

    it("put and get round-trip; get of another hash is absent", async () => {
      await h.addCertificate(cert("01aa"));
      assert.equal(await h.store.put(response("01aa", { der: Uint8Array.of(1, 2, 3) })), true);
      const r = await h.store.get("01aa", "sha1");
      assert.deepEqual(Buffer.from(r!.der), Buffer.from([1, 2, 3]));
      assert.equal(r!.rank, 1);
      assert.equal(r!.certStatus, "good");
      assert.deepEqual(r!.thisUpdate, t0);
      assert.deepEqual(r!.nextUpdate, new Date(t0.getTime() + day));
      assert.equal(await h.store.get("01aa", "sha256"), undefined);
      assert.deepEqual(await h.store.hashesOf(["01aa", "01bb"]), new Map([["01aa", ["sha1"]]]));
    });

    it("put never lowers the status rank and never goes back in time at equal rank", async () => {
      await h.addCertificate(cert("01aa"));
      const revokedAt = new Date("2026-10-30T01:02:03Z");
      assert.equal(await h.store.put(response("01aa", { rank: 3, certStatus: "revoked", revokedAt, reason: "keyCompromise", der: Uint8Array.of(3) })), true);
      assert.equal(await h.store.put(response("01aa", { rank: 1, thisUpdate: new Date(t0.getTime() + 1000), der: Uint8Array.of(1) })), false);
      const stored = (await h.store.get("01aa", "sha1"))!;
      assert.equal(stored.certStatus, "revoked");
      assert.deepEqual(stored.revokedAt, revokedAt);
      assert.equal(stored.reason, "keyCompromise");
      assert.equal(await h.store.put(response("01aa", { rank: 3, certStatus: "revoked", thisUpdate: new Date(t0.getTime() - 1000), der: Uint8Array.of(4) })), false);
      assert.equal(await h.store.put(response("01aa", { rank: 3, certStatus: "revoked", thisUpdate: new Date(t0.getTime() + 1000), der: Uint8Array.of(5) })), true);
      assert.deepEqual(Buffer.from((await h.store.get("01aa", "sha1"))!.der), Buffer.from([5]));
    });

    it("a lifted hold (a later status version) wins; an older good never beats the hold; a revocation after the lift wins (migration 0028)", async () => {
      await h.addCertificate(cert("01aa", { status: "valid", statusVersion: 1 }));
      assert.equal((await h.store.statuses(["01aa"])).get("01aa")?.statusVersion ?? 0, 1, "statuses carry the version");
      const at = (ms: number): Date => new Date(t0.getTime() + ms);
      const heldAt = new Date("2026-10-30T01:02:03Z");
      const hold = { rank: 2 as const, certStatus: "revoked" as const, revokedAt: heldAt, reason: "certificateHold" as const };
      assert.equal(await h.store.put(response("01aa", { ...hold, der: Uint8Array.of(2) })), true);
      assert.equal(await h.store.put(response("01aa", { thisUpdate: at(1000), der: Uint8Array.of(1) })), false, "a slow 'good' signed before the hold");
      assert.equal(await h.store.put(response("01aa", { statusVersion: 1, thisUpdate: at(2000), der: Uint8Array.of(11) })), true, "the lift");
      const lifted = (await h.store.get("01aa", "sha1"))!;
      assert.equal(lifted.certStatus, "good");
      assert.equal(lifted.statusVersion, 1);
      assert.equal(await h.store.put(response("01aa", { ...hold, thisUpdate: at(3000), der: Uint8Array.of(3) })), false, "a slow signature of the lifted hold");
      assert.equal((await h.store.putMany([response("01aa", { ...hold, thisUpdate: at(3000), der: Uint8Array.of(3) })])).size, 0, "putMany: the same rule");
      const revoked = { rank: 3 as const, certStatus: "revoked" as const, revokedAt: at(4000), reason: "keyCompromise" as const, statusVersion: 1 };
      assert.equal(await h.store.put(response("01aa", { ...revoked, thisUpdate: at(4000), der: Uint8Array.of(4) })), true, "a revocation after the lift");
      assert.equal(await h.store.put(response("01aa", { statusVersion: 1, thisUpdate: at(5000), der: Uint8Array.of(12) })), false);
      const last = (await h.store.get("01aa", "sha1"))!;
      assert.equal(last.certStatus, "revoked");
      assert.equal(last.reason, "keyCompromise");
      assert.deepEqual(Buffer.from(last.der), Buffer.from([4]));
    });

    it("putMany writes a batch in one call under put's rule per key; getMany reads a batch", async () => {
      for (const s of ["01aa", "01bb", "01cc"]) await h.addCertificate(cert(s));
      const revokedAt = new Date("2026-10-30T01:02:03Z");
      assert.equal(await h.store.put(response("01aa", { rank: 3, certStatus: "revoked", revokedAt, reason: "keyCompromise", der: Uint8Array.of(3) })), true);
      const written = await h.store.putMany([
        response("01aa", { thisUpdate: new Date(t0.getTime() + 1000), der: Uint8Array.of(1) }), // lower rank: refused
        response("01bb", { der: Uint8Array.of(2) }),
        response("01bb", { hash: "sha256", der: Uint8Array.of(4) }),
        response("01cc", { der: Uint8Array.of(5) }),
      ]);
      assert.deepEqual([...written].sort(), ["01bb|sha1", "01bb|sha256", "01cc|sha1"]);
      const got = await h.store.getMany([
        { serial: "01aa", hash: "sha1" },
        { serial: "01bb", hash: "sha256" },
        { serial: "01cc", hash: "sha256" }, // never stored
      ]);
      assert.deepEqual([...got.keys()].sort(), ["01aa|sha1", "01bb|sha256"]);
      assert.equal(got.get("01aa|sha1")!.certStatus, "revoked");
      assert.deepEqual(Buffer.from(got.get("01bb|sha256")!.der), Buffer.from([4]));
      assert.deepEqual(await h.store.putMany([]), new Set());
      assert.deepEqual(await h.store.getMany([]), new Map());
    });

    it("listDue: due at half-life, soonest first, limited, expired flagged, last request given; remove deletes", async () => {
      await h.addCertificate(cert("01aa"));
      await h.addCertificate(cert("01bb", { notAfter: new Date(t0.getTime() - day) }));
      await h.addCertificate(cert("01cc"));
      const asked = new Date(t0.getTime() - 2 * 3600_000);
      // Half-life of a 24 h response: due 12 h after thisUpdate.
      await h.store.put(response("01aa", { thisUpdate: new Date(t0.getTime() - 15 * 3600_000), nextUpdate: new Date(t0.getTime() + 9 * 3600_000), lastRequestedAt: asked }));
      await h.store.put(response("01bb", { thisUpdate: new Date(t0.getTime() - 17 * 3600_000), nextUpdate: new Date(t0.getTime() + 7 * 3600_000) }));
      await h.store.put(response("01cc", { thisUpdate: t0 }));
      await h.store.put(response("01aa", { hash: "sha256", thisUpdate: new Date(t0.getTime() - 16 * 3600_000), nextUpdate: new Date(t0.getTime() + 8 * 3600_000) }));
      const due = await h.store.listDue(t0, 10);
      assert.deepEqual(due, [
        { serial: "01bb", hash: "sha1", expired: true, lastRequestedAt: null },
        { serial: "01aa", hash: "sha256", expired: false, lastRequestedAt: null },
        { serial: "01aa", hash: "sha1", expired: false, lastRequestedAt: asked },
      ]);
      assert.equal((await h.store.listDue(t0, 1)).length, 1);
      await h.store.remove([{ serial: "01bb", hash: "sha1" }, { serial: "01aa", hash: "sha256" }]);
      assert.deepEqual(await h.store.listDue(t0, 10), [{ serial: "01aa", hash: "sha1", expired: false, lastRequestedAt: asked }]);
      assert.deepEqual(await h.store.oldestThisUpdate(), new Date(t0.getTime() - 15 * 3600_000));
      assert.deepEqual((await h.store.get("01aa", "sha1"))!.lastRequestedAt, asked);
    });

    it("demand: a re-signature keeps the last request; unschedule leaves the refresh; touch revives it; hashesOf(freshAt)", async () => {
      await h.addCertificate(cert("01aa"));
      const asked = new Date(t0.getTime() - 3600_000);
      await h.store.put(response("01aa", { thisUpdate: new Date(t0.getTime() - 13 * 3600_000), nextUpdate: new Date(t0.getTime() + 11 * 3600_000), lastRequestedAt: asked }));
      await h.store.put(response("01aa", { thisUpdate: new Date(t0.getTime() - 12.5 * 3600_000), nextUpdate: new Date(t0.getTime() + 11.5 * 3600_000), lastRequestedAt: null }));
      assert.deepEqual((await h.store.get("01aa", "sha1"))!.lastRequestedAt, asked, "a refresh does not forget the demand");
      assert.equal((await h.store.listDue(t0, 10)).length, 1);
      await h.store.unschedule([{ serial: "01aa", hash: "sha1" }]);
      assert.deepEqual(await h.store.listDue(t0, 10), [], "out of the refresh");
      assert.equal(await h.store.oldestThisUpdate(), undefined, "the age metric counts refreshed responses only");
      const later = new Date(t0.getTime() + 60_000);
      await h.store.touch([{ serial: "01aa", hash: "sha1" }, { serial: "01zz", hash: "sha1" }], later);
      assert.deepEqual(await h.store.listDue(later, 10), [{ serial: "01aa", hash: "sha1", expired: false, lastRequestedAt: later }], "asked again: due again");
      await h.store.touch([{ serial: "01aa", hash: "sha1" }], t0);
      assert.deepEqual((await h.store.get("01aa", "sha1"))!.lastRequestedAt, later, "never goes back");
      assert.deepEqual(await h.store.hashesOf(["01aa"], t0), new Map([["01aa", ["sha1"]]]));
      assert.deepEqual(await h.store.hashesOf(["01aa"], new Date(t0.getTime() + 12 * 3600_000)), new Map(), "expired by then");
      assert.equal(await h.store.countStored(), 1);
    });

    it("dropUnrequested deletes expired responses out of the refresh and not asked since, in batches", async () => {
      for (const s of ["01a1", "01a2", "01a3", "01a4", "01a5"]) await h.addCertificate(cert(s));
      const expired = { thisUpdate: new Date(t0.getTime() - 2 * day), nextUpdate: new Date(t0.getTime() - day) };
      await h.store.put(response("01a1", expired));
      await h.store.put(response("01a2", expired));
      await h.store.put(response("01a3", { ...expired, lastRequestedAt: new Date(t0.getTime() - 3600_000) })); // asked recently
      await h.store.put(response("01a4", expired)); // stays in the refresh
      await h.store.put(response("01a5", { thisUpdate: t0, nextUpdate: new Date(t0.getTime() + day) })); // fresh
      await h.store.unschedule(["01a1", "01a2", "01a3", "01a5"].map((serial) => ({ serial, hash: "sha1" as const })));
      const before = new Date(t0.getTime() - 3 * day + 2 * day); // "not asked within the last day"
      assert.equal(await h.store.dropUnrequested(t0, before, 1), 1);
      assert.equal(await h.store.dropUnrequested(t0, before, 10), 1);
      assert.equal(await h.store.dropUnrequested(t0, before, 10), 0);
      for (const s of ["01a1", "01a2"]) assert.equal(await h.store.get(s, "sha1"), undefined);
      for (const s of ["01a3", "01a4", "01a5"]) assert.ok(await h.store.get(s, "sha1"), s);
      assert.equal(await h.store.countStored(), 3);
    });

    it("every write takes a new seq; changedSince pages through them", async () => {
      assert.equal(await h.store.lastSeq(), 0);
      assert.equal(await h.store.oldestThisUpdate(), undefined);
      await h.addCertificate(cert("01aa"));
      await h.addCertificate(cert("01bb"));
      await h.store.put(response("01aa"));
      const s1 = await h.store.lastSeq();
      await h.store.put(response("01bb"));
      await h.store.put(response("01aa", { thisUpdate: new Date(t0.getTime() + 1000), der: Uint8Array.of(9) }));
      const all = await h.store.changedSince(s1, 10);
      assert.deepEqual(all.rows.map((r) => r.serial), ["01bb", "01aa"]);
      assert.deepEqual(Buffer.from(all.rows[1]!.der), Buffer.from([9]));
      assert.equal(all.lastSeq, await h.store.lastSeq());
      const first = await h.store.changedSince(s1, 1);
      assert.deepEqual(first.rows.map((r) => r.serial), ["01bb"]);
      const rest = await h.store.changedSince(first.lastSeq, 10);
      assert.deepEqual(rest.rows.map((r) => r.serial), ["01aa"]);
      assert.deepEqual(await h.store.changedSince(all.lastSeq, 10), { rows: [], lastSeq: all.lastSeq });
    });

    it("append writes access records in one call", async () => {
      const at = new Date("2026-11-02T03:04:05Z");
      await h.store.append([
        { at, party: "rp-1", serial: "01aa", caId: h.caId, answer: "good" },
        { at, party: "rp-1", serial: null, caId: null, answer: "malformedRequest" },
        { at, party: "rp-2", serial: "01bb", caId: h.caId, answer: "revoked" },
      ]);
      await h.store.append([]);
      const log = await h.accessLogOf("rp-1");
      assert.deepEqual(log, [
        { at, party: "rp-1", serial: "01aa", caId: h.caId, answer: "good" },
        { at, party: "rp-1", serial: null, caId: null, answer: "malformedRequest" },
      ]);
    });
  });
}
