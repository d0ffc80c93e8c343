import assert from "node:assert/strict";
import { FixedClock, type Signer } from "../../../ca/ports.js";
import type { CaGeneration } from "../../../ca/types.js";
import { OcspService } from "../../../ocsp/ocsp-service.js";
import type { CertificateStatusSnapshot } from "../../../ca/revocation/ocsp-ports.js";
import { cacheKey, toCachedResponse } from "../../../ocsp/response-cache.js";
import { buildRequest, certIdOf, makeOcspCa, nonceValue, type OcspTestCa } from "./fixtures.js";
import { MemoryOcspStore } from "./memory-ocsp-store.js";
import { GatedSigner, MemoryOutbox } from "./service-world.js";
import { EXTENDED_REVOKE_OID, NONCE_OID, readResponse } from "./read-response.js";

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const day = 86_400_000;

describe("ocsp/ocsp-responder (with the pre-signer, in memory)", function () {
  this.timeout(30_000);
  let g1: OcspTestCa;
  let g2: OcspTestCa;
  let other: OcspTestCa;
  let signer1: GatedSigner;
  let signer2: GatedSigner;

  before(async () => {
    g1 = await makeOcspCa({ generation: 1 });
    g2 = await makeOcspCa({ generation: 2 });
    other = await makeOcspCa({ kind: "sign" });
  });

  let store: MemoryOcspStore;
  let outbox: MemoryOutbox;
  let clock: FixedClock;
  let ocsp: OcspService;
  const now0 = new Date("2026-11-22T00:00:00Z");

  async function build(generations: CaGeneration[], options: Parameters<typeof OcspService.create>[1] = {}): Promise<OcspService> {
    signer1 = new GatedSigner(g1.responderSigner);
    signer2 = new GatedSigner(g2.responderSigner);
    const bySerial = new Map<string, Signer>([
      [g1.generation.ocspResponderKeyUri!, signer1],
      [g2.generation.ocspResponderKeyUri!, signer2],
    ]);
    return OcspService.create(
      {
        clock,
        random: { bytes: (n) => new Uint8Array(n) },
        generations: { list: async () => generations, setOcspResponder: async () => undefined },
        transactions: { transaction: (w) => w(undefined) },
        audit: { append: async () => ({}) as never },
        outbox,
        responses: store,
        statuses: store,
        accessLog: store,
        signerFor: async (uri) => bySerial.get(uri)!,
        log: silent,
      },
      options,
    );
  }

  const cert = (serial: string, over: Partial<CertificateStatusSnapshot> = {}): CertificateStatusSnapshot => ({
    serial,
    caId: "auth-g1",
    status: "valid",
    revokedAt: null,
    reason: null,
    notAfter: new Date(now0.getTime() + 365 * day),
    ...over,
  });

  beforeEach(async () => {
    store = new MemoryOcspStore();
    outbox = new MemoryOutbox();
    clock = new FixedClock(now0);
    ocsp = await build([g1.generation, g2.generation, other.generation]);
  });

  it("issuance signs nothing; the first request signs and stores, later ones are served from memory", async () => {
    store.setCertificate(cert("01aa"));
    outbox.add("certificate.issued", { serial: "01aa", caId: "auth-g1", partition: 1 });
    assert.equal(await ocsp.presigner.consumeOutbox(), 1);
    assert.equal(store.rows.size, 0, "no signature for a certificate nobody asked about");
    assert.equal(signer1.signatures, 0);
    const first = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01aa")]));
    assert.equal(signer1.signatures, 1);
    const stored = store.rows.get("01aa|sha1")!;
    assert.equal(stored.certStatus, "good");
    assert.deepEqual(stored.nextUpdate, new Date(now0.getTime() + day));
    assert.deepEqual(stored.lastRequestedAt, now0, "a first request starts the demand window");
    assert.deepEqual(Buffer.from(first.der), Buffer.from(stored.der));
    const gets = store.gets;
    const a = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01aa")]));
    assert.equal(a.status, "successful");
    assert.ok(a.cacheable);
    assert.deepEqual(Buffer.from(a.der), Buffer.from(stored.der));
    assert.equal(store.gets, gets, "served from memory");
    assert.equal(signer1.signatures, 1, "no second signature");
    const r = readResponse(a.der);
    assert.equal(r.responses[0]!.status, "good");
    assert.equal(r.responses[0]!.serialHex, "01aa");
    assert.equal(r.extensions[EXTENDED_REVOKE_OID], undefined);
    assert.equal(await ocsp.presigner.consumeOutbox(), 0, "cursor moved");
  });

  it("a miss is signed live once, stored, and then served pre-signed (SHA-256 too)", async () => {
    store.setCertificate(cert("01bb"));
    const a1 = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01bb", "sha256")]));
    assert.equal(readResponse(a1.der).responses[0]!.status, "good");
    assert.equal(readResponse(a1.der).responses[0]!.hashOid, "2.16.840.1.101.3.4.2.1");
    assert.ok(store.rows.has("01bb|sha256"));
    const n = signer1.signatures;
    const [b1, b2] = await Promise.all([0, 1].map(() => ocsp.responder.answer(buildRequest([certIdOf(g1, "01bb", "sha256")]))));
    assert.equal(signer1.signatures, n);
    assert.deepEqual(Buffer.from(b1!.der), Buffer.from(a1.der));
    assert.deepEqual(Buffer.from(b2!.der), Buffer.from(a1.der));
    // A status change re-signs the stored variants only: SHA-256 was asked, SHA-1 was not.
    store.setCertificate(cert("01bb", { status: "revoked", revokedAt: now0, reason: "affiliationChanged" }));
    outbox.add("certificate.revoked", { serial: "01bb", caId: "auth-g1", partition: 1 });
    await ocsp.presigner.consumeOutbox();
    assert.equal(store.rows.get("01bb|sha256")!.certStatus, "revoked");
    assert.equal(store.rows.has("01bb|sha1"), false);
    assert.equal(signer1.signatures, n + 1);
    assert.equal(readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01bb")]))).der).responses[0]!.status, "revoked", "SHA-1 signed on its first request");
  });

  it("concurrent misses of one certificate share one live signature", async () => {
    store.setCertificate(cert("01cc"));
    signer1.hold();
    const answers = Promise.all(Array.from({ length: 5 }, () => ocsp.responder.answer(buildRequest([certIdOf(g1, "01cc")]))));
    await new Promise((r) => setTimeout(r, 20));
    signer1.open();
    const all = await answers;
    assert.equal(signer1.signatures, 1);
    assert.ok(all.every((a) => Buffer.from(a.der).equals(Buffer.from(all[0]!.der))));
  });

  it("misses in one turn share one read of stored responses and rows, one insert and one re-read", async () => {
    const serials = Array.from({ length: 20 }, (_, i) => `02${i.toString(16).padStart(2, "0")}`);
    for (const s of serials) store.setCertificate(cert(s));
    await ocsp.responder.answer(buildRequest([certIdOf(g1, serials[0]!)])); // stored before the batch
    const before = { ...store.calls };
    const answers = await Promise.all(serials.map((s) => ocsp.responder.answer(buildRequest([certIdOf(g1, s)]))));
    assert.ok(answers.every((a, i) => readResponse(a.der).responses[0]!.serialHex === serials[i] && readResponse(a.der).responses[0]!.status === "good"));
    assert.deepEqual(
      { getMany: store.calls.getMany - before.getMany, putMany: store.calls.putMany - before.putMany, statuses: store.calls.statuses - before.statuses },
      { getMany: 1, putMany: 1, statuses: 2 },
      "serials[0] from memory; the 19 others: one read of stored responses, one of rows, one insert, one re-read",
    );
    assert.equal(signer1.signatures, 20);
    for (const s of serials) assert.equal(store.rows.get(`${s}|sha1`)!.certStatus, "good");
  });

  it("a revocation committed between a batch's status read and its store is answered and stored as revoked", async () => {
    for (const s of ["03a1", "03a2"]) store.setCertificate(cert(s));
    signer1.hold();
    const answers = Promise.all(["03a1", "03a2"].map((s) => ocsp.responder.answer(buildRequest([certIdOf(g1, s)]))));
    await new Promise((r) => setTimeout(r, 20));
    // Revoked after the batch read the row, before its response is stored (the outbox consumer would find no row yet).
    store.setCertificate(cert("03a2", { status: "revoked", revokedAt: now0, reason: "keyCompromise" }));
    signer1.open();
    const [a1, a2] = await answers;
    assert.equal(readResponse(a1!.der).responses[0]!.status, "good");
    assert.equal(readResponse(a2!.der).responses[0]!.status, "revoked", "the re-read after the store caught it");
    assert.equal(store.rows.get("03a2|sha1")!.certStatus, "revoked");
  });

  it("a batch whose re-read fails removes what it stored and answers tryLater", async () => {
    for (const s of ["03b1", "03b2"]) store.setCertificate(cert(s));
    let failReRead = false;
    store.afterPutMany = () => {
      failReRead = true;
      store.afterPutMany = undefined;
    };
    const statuses = store.statuses.bind(store);
    store.statuses = async (serials) => {
      if (failReRead) {
        failReRead = false;
        throw new Error("database down");
      }
      return statuses(serials);
    };
    const answers = await Promise.all(["03b1", "03b2"].map((s) => ocsp.responder.answer(buildRequest([certIdOf(g1, s)]))));
    assert.deepEqual(answers.map((a) => a.status), ["tryLater", "tryLater"]);
    assert.equal(store.rows.has("03b1|sha1") || store.rows.has("03b2|sha1"), false, "no response stored without its re-read");
    assert.equal(readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "03b1")]))).der).responses[0]!.status, "good", "the next request signs again");
  });

  it("revoked carries time and reason; a hold is revoked/certificateHold; the cache follows the outbox", async () => {
    store.setCertificate(cert("01dd"));
    outbox.add("certificate.issued", { serial: "01dd" });
    await ocsp.presigner.consumeOutbox();
    await ocsp.responder.answer(buildRequest([certIdOf(g1, "01dd")])); // cached now
    clock.advance(5000);
    const heldAt = new Date(now0.getTime() + 5000);
    store.setCertificate(cert("01dd", { status: "hold", revokedAt: heldAt, reason: "certificateHold" }));
    outbox.add("certificate.held", { serial: "01dd" });
    await ocsp.presigner.consumeOutbox();
    let r = readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01dd")]))).der).responses[0]!;
    assert.equal(r.status, "revoked");
    assert.equal(r.reason, 6);
    assert.deepEqual(r.revocationTime, heldAt);
    clock.advance(5000);
    store.setCertificate(cert("01dd", { status: "revoked", revokedAt: clock.now(), reason: "keyCompromise" }));
    outbox.add("certificate.revoked", { serial: "01dd" });
    await ocsp.presigner.consumeOutbox();
    r = readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01dd")]))).der).responses[0]!;
    assert.equal(r.reason, 1);
    // unspecified: revoked, reason left out (RFC 5280 §5.3.1)
    store.setCertificate(cert("01de", { status: "revoked", revokedAt: now0, reason: "unspecified" }));
    r = readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01de")]))).der).responses[0]!;
    assert.equal(r.status, "revoked");
    assert.equal(r.reason, undefined);
  });

  it("never good for a serial the generation did not issue: revoked/certificateHold 1970 + extended revoke, kept in memory only", async () => {
    store.setCertificate(cert("02aa", { caId: "auth-g2" })); // issued by generation 2, same DN
    for (const serial of ["01ff", "02aa", "00", "ff01", "0001", "01".repeat(21)]) {
      const a = await ocsp.responder.answer(buildRequest([certIdOf(g1, serial)]));
      const r = readResponse(a.der);
      assert.equal(r.responses[0]!.status, "revoked", serial);
      assert.equal(r.responses[0]!.reason, 6);
      assert.deepEqual(r.responses[0]!.revocationTime, new Date(0));
      assert.equal(r.extensions[EXTENDED_REVOKE_OID], "0500");
      assert.equal(r.responses[0]!.serialHex, serial);
    }
    assert.equal(store.rows.size, 0, "nothing stored for serials that were never issued");
    // Generation 2's responder answers for its own certificate, good.
    const a2 = readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g2, "02aa")]))).der);
    assert.equal(a2.responses[0]!.status, "good");
    const key2 = ocsp.responders.get("auth-g2")!.responder.responderId.subarray(4);
    assert.equal(a2.responderKeyHash, Buffer.from(key2).toString("hex"));
  });

  it("a failed serial is not issued; a pending one is unknown for a minute", async () => {
    store.setCertificate(cert("01e1", { status: "failed" }));
    store.setCertificate(cert("01e2", { status: "pending" }));
    assert.equal(readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01e1")]))).der).responses[0]!.status, "revoked");
    const p = readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01e2")]))).der).responses[0]!;
    assert.equal(p.status, "unknown");
    assert.equal(p.nextUpdate!.getTime() - p.thisUpdate.getTime(), 60_000);
    // Once issued, the outbox replaces the provisional answer.
    store.setCertificate(cert("01e2"));
    outbox.add("certificate.issued", { serial: "01e2" });
    await ocsp.presigner.consumeOutbox();
    assert.equal(readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01e2")]))).der).responses[0]!.status, "good");
  });

  it("unknown issuer and CertIDs of two generations are unauthorized", async () => {
    const stranger = await makeOcspCa({ kind: "sign", generation: 3 });
    assert.equal((await ocsp.responder.answer(buildRequest([certIdOf(stranger, "01aa")]))).status, "unauthorized");
    assert.equal(readResponse((await ocsp.responder.answer(buildRequest([certIdOf(stranger, "01aa")]))).der).status, 6);
    assert.equal((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01aa"), certIdOf(g2, "02aa")]))).status, "unauthorized");
    assert.equal((await ocsp.responder.answer(Uint8Array.of(1, 2, 3))).status, "malformedRequest");
  });

  it("a nonce is echoed, signed live, never stored or cached; several CertIDs are answered together", async () => {
    store.setCertificate(cert("01aa"));
    store.setCertificate(cert("01ab", { status: "revoked", revokedAt: now0, reason: "superseded" }));
    const nonce = nonceValue(Uint8Array.from({ length: 32 }, (_, i) => 255 - i));
    const a = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01aa"), certIdOf(g1, "01ab", "sha256"), certIdOf(g1, "01ac")], { nonceExtnValue: nonce }));
    assert.equal(a.cacheable, undefined);
    const r = readResponse(a.der);
    assert.equal(r.extensions[NONCE_OID], Buffer.from(nonce).toString("hex"));
    assert.deepEqual(r.responses.map((x) => x.status), ["good", "revoked", "revoked"]);
    assert.equal(r.extensions[EXTENDED_REVOKE_OID], "0500");
    assert.deepEqual(a.certificates.map((c) => c.answer), ["good", "revoked", "revoked"]);
    assert.equal(store.rows.size, 0);
    const b = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01aa")], { nonceExtnValue: nonce }));
    assert.equal(readResponse(b.der).extensions[NONCE_OID], Buffer.from(nonce).toString("hex"));
    assert.equal(store.rows.size, 0);
  });

  it("sheds live signing beyond the queue with tryLater; a failing database answers tryLater", async () => {
    ocsp = await build([g1.generation], { liveConcurrency: 1, liveQueue: 1 });
    signer1.hold();
    const nonce = nonceValue(Uint8Array.of(1, 2, 3));
    const requests = Array.from({ length: 4 }, () => ocsp.responder.answer(buildRequest([certIdOf(g1, "01aa")], { nonceExtnValue: nonce })));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ocsp.gate.depth, 2);
    signer1.open();
    const statuses = (await Promise.all(requests)).map((a) => a.status).sort();
    assert.deepEqual(statuses, ["successful", "successful", "tryLater", "tryLater"]);
    assert.equal(readResponse((await requests[3]!).der).status >= 0, true);
    store.failing = true;
    assert.equal((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01aa")]))).status, "tryLater");
  });

  it("a slow signature of an old status never replaces a revocation signed meanwhile", async () => {
    store.setCertificate(cert("01f0"));
    const entry = ocsp.responders.get("auth-g1")!;
    signer1.holdNext();
    const slow = ocsp.presigned.make(entry, "sha1", "01f0", "refresh", { snapshot: cert("01f0") });
    await new Promise((r) => setTimeout(r, 10));
    // The revocation is signed and stored while the old status's signature is still in the HSM …
    store.setCertificate(cert("01f0", { status: "revoked", revokedAt: now0, reason: "keyCompromise" }));
    await ocsp.presigned.resign([{ serial: "01f0" }], "status-change");
    assert.equal(store.rows.get("01f0|sha1")!.certStatus, "revoked");
    signer1.open();
    const result = await slow;
    assert.equal(result.certStatus, "revoked", "the slow writer gets the stored revocation back");
    assert.equal(store.rows.get("01f0|sha1")!.certStatus, "revoked");
    const a = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01f0")]));
    assert.equal(readResponse(a.der).responses[0]!.status, "revoked");
  });

  it("refreshes at half-life what was asked within the window, within the rate limit; removes expired certificates' responses", async () => {
    ocsp = await build([g1.generation], { presigner: { refreshPerSecond: 2, refreshIntervalMs: 1000 } });
    for (const s of ["01a1", "01a2", "01a3"]) store.setCertificate(cert(s));
    store.setCertificate(cert("01a4", { notAfter: new Date(now0.getTime() + 6 * 3600_000) }));
    await ocsp.responder.answer(buildRequest([certIdOf(g1, "01a4")]));
    clock.advance(1000);
    for (const s of ["01a1", "01a2", "01a3"]) await ocsp.responder.answer(buildRequest([certIdOf(g1, s)]));
    clock.advance(11 * 3600_000);
    assert.equal(await ocsp.presigner.refreshDue(), 0, "not yet at half-life");
    clock.advance(2 * 3600_000);
    assert.equal(await ocsp.presigner.refreshDue(), 2, "two per tick; the expired certificate's response is removed");
    assert.equal(store.rows.has("01a4|sha1"), false);
    assert.equal(await ocsp.presigner.refreshDue(), 1);
    assert.equal(await ocsp.presigner.refreshDue(), 0);
    for (const s of ["01a1", "01a2", "01a3"]) assert.ok(store.rows.get(`${s}|sha1`)!.thisUpdate.getTime() >= clock.now().getTime() - 1000);
    await ocsp.presigner.reportAge();
  });

  it("stale entries are not served: past nextUpdate the answer is signed again", async () => {
    store.setCertificate(cert("01b1"));
    const a = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01b1")]));
    clock.advance(day + 1000);
    const b = await ocsp.responder.answer(buildRequest([certIdOf(g1, "01b1")]));
    assert.ok(readResponse(b.der).responses[0]!.thisUpdate > readResponse(a.der).responses[0]!.thisUpdate);
  });

  it("follows responses written by another process", async () => {
    store.setCertificate(cert("01c1"));
    await ocsp.presigner.follow(); // learns the starting seq
    await ocsp.responder.answer(buildRequest([certIdOf(g1, "01c1")])); // cached
    // Another process (its own cache) signs the revocation.
    const otherProcess = await build([g1.generation, g2.generation]);
    store.setCertificate(cert("01c1", { status: "revoked", revokedAt: now0, reason: "keyCompromise" }));
    clock.advance(1000);
    await otherProcess.presigned.resign([{ serial: "01c1" }], "status-change");
    assert.equal(readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01c1")]))).der).responses[0]!.status, "good", "not seen yet");
    assert.equal(await ocsp.presigner.follow(), 1);
    assert.equal(readResponse((await ocsp.responder.answer(buildRequest([certIdOf(g1, "01c1")]))).der).responses[0]!.status, "revoked");
  });

  it("a reader that loaded before a change does not cache its older result", async () => {
    const key = cacheKey("auth-g1", "sha1", "01d1");
    const old = toCachedResponse({ caId: "auth-g1", hash: "sha1", serial: "01d1", der: Uint8Array.of(1), certStatus: "good", rank: 1, revokedAt: null, reason: null, thisUpdate: now0, nextUpdate: new Date(now0.getTime() + day), producedAt: now0 });
    const v = ocsp.cache.version;
    ocsp.cache.noteChange(key);
    assert.equal(ocsp.cache.setIfUnchangedSince(old, v), false);
    assert.equal(ocsp.cache.get(key), undefined);
    // newer wins
    const revoked = { ...old, rank: 3 as const, certStatus: "revoked" as const };
    ocsp.cache.set(revoked);
    ocsp.cache.set({ ...old, thisUpdate: new Date(now0.getTime() + 1000) });
    assert.equal(ocsp.cache.get(key)!.certStatus, "revoked");
  });
});
