import assert from "node:assert/strict";
import { OcspHttp, type OcspRouteDeps } from "../../../api/routes/ocsp.js";
import { FixedClock, type Signer } from "../../../ca/ports.js";
import type { CertificateStatusSnapshot } from "../../../ca/revocation/ocsp-ports.js";
import type { OcspService } from "../../../ocsp/ocsp-service.js";
import { buildRequest, certIdOf, makeOcspCa, type OcspTestCa } from "./fixtures.js";
import { MemoryOcspStore } from "./memory-ocsp-store.js";
import { readResponse } from "./read-response.js";
import { GatedSigner, MemoryOutbox, SignatureCounts, memoryOcspService } from "./service-world.js";

/**
 * OCSP freshness whose cost follows demand (docs/ocsp.md "Demand-driven responses"). Each test here
 * fails on the design it replaced (every certificate pre-signed at issuance and refreshed at half-life).
 */
const day = 86_400_000;
const hour = 3_600_000;
const now0 = new Date("2026-11-22T00:00:00Z");

describe("ocsp: signing follows demand, not the population", function () {
  this.timeout(30_000);
  let g1: OcspTestCa;
  let store: MemoryOcspStore;
  let outbox: MemoryOutbox;
  let clock: FixedClock;
  let signer: GatedSigner;
  let metrics: SignatureCounts;
  let ocsp: OcspService;

  before(async () => {
    g1 = await makeOcspCa({ generation: 1 });
  });

  const cert = (serial: string, over: Partial<CertificateStatusSnapshot> = {}): CertificateStatusSnapshot => ({
    serial,
    caId: "auth-g1",
    status: "valid",
    revokedAt: null,
    reason: null,
    notAfter: new Date(now0.getTime() + 365 * day),
    ...over,
  });
  const revoke = (serial: string): void => {
    store.setCertificate(cert(serial, { status: "revoked", revokedAt: clock.now(), reason: "keyCompromise" }));
    outbox.add("certificate.revoked", { serial, caId: "auth-g1", partition: 1 });
  };
  /** Another responder process: its own cache and metrics, the same database. */
  const responderProcess = (options: Parameters<typeof memoryOcspService>[1] = {}, counts = new SignatureCounts()): Promise<OcspService> =>
    memoryOcspService({ generations: [g1.generation], signers: new Map<string, Signer>([[g1.generation.ocspResponderKeyUri!, signer]]), store, outbox, clock, metrics: counts }, options);
  const ask = async (o: OcspService, serial: string): Promise<string> => readResponse((await o.responder.answer(buildRequest([certIdOf(g1, serial)]))).der).responses[0]!.status;

  beforeEach(async () => {
    store = new MemoryOcspStore();
    outbox = new MemoryOutbox();
    clock = new FixedClock(now0);
    signer = new GatedSigner(g1.responderSigner);
    metrics = new SignatureCounts();
    ocsp = await responderProcess({}, metrics);
  });

  it("a certificate never asked about gets no signature at issuance or on revocation; its first request signs the revocation", async () => {
    for (const s of ["01a1", "01a2", "01a3"]) {
      store.setCertificate(cert(s));
      outbox.add("certificate.issued", { serial: s, caId: "auth-g1", partition: 1 });
    }
    await ocsp.presigner.consumeOutbox();
    revoke("01a1");
    outbox.add("certificate.held", { serial: "01a2", caId: "auth-g1", partition: 1 });
    await ocsp.presigner.consumeOutbox();
    assert.equal(signer.signatures, 0, "nobody asked: nothing signed");
    assert.equal(store.rows.size, 0);
    assert.equal(await ask(ocsp, "01a1"), "revoked");
    assert.equal(metrics.of("first-request"), 1);
    assert.equal(metrics.of("status-change"), 0);
  });

  it("a first request signs once; the second is served from the store, also by another process", async () => {
    store.setCertificate(cert("01b1"));
    assert.equal(await ask(ocsp, "01b1"), "good");
    assert.equal(signer.signatures, 1);
    assert.equal(await ask(ocsp, "01b1"), "good");
    const other = await responderProcess();
    const gets = store.gets;
    assert.equal(await ask(other, "01b1"), "good");
    assert.equal(store.gets, gets + 1, "read from the store");
    assert.equal(signer.signatures, 1, "never signed twice");
    await ocsp.presigner.reportAge();
    assert.equal(metrics.stored, 1);
  });

  it("a revocation of a certificate asked on another process is re-signed by the leader and followed", async () => {
    store.setCertificate(cert("01c1"));
    const follower = await responderProcess();
    await follower.presigner.follow(); // learns the starting seq
    assert.equal(await ask(follower, "01c1"), "good");
    clock.advance(1000);
    revoke("01c1");
    await ocsp.presigner.consumeOutbox();
    assert.equal(metrics.of("status-change"), 1, "the stored response is re-signed");
    assert.equal(await ask(follower, "01c1"), "good", "not followed yet");
    await follower.presigner.follow();
    assert.equal(await ask(follower, "01c1"), "revoked");
  });

  it("a re-signed revocation that commits after a later write (a lower seq, seen late) is still followed", async () => {
    store.setCertificate(cert("01e1"));
    store.setCertificate(cert("01e2"));
    const follower = await responderProcess();
    await follower.presigner.follow(); // learns the starting seq
    assert.equal(await ask(follower, "01e1"), "good");
    clock.advance(1000);
    revoke("01e1");
    await ocsp.presigner.consumeOutbox();
    // The re-signed row took its seq but has not committed yet; another process stores a later one.
    const key = [...store.rows.keys()].find((k) => k.startsWith("01e1|"))!;
    const uncommitted = store.rows.get(key)!;
    store.rows.delete(key);
    assert.equal(await ask(ocsp, "01e2"), "good");
    await follower.presigner.follow();
    store.rows.set(key, uncommitted); // commits now, below the follower's position
    await follower.presigner.follow();
    assert.equal(await ask(follower, "01e1"), "good", "stepped over by the forward read");
    clock.advance(5000);
    await follower.presigner.follow();
    assert.equal(await ask(follower, "01e1"), "revoked", "the re-read within followRecheckMs finds it");
  });

  it("a revocation committed while a first request signs is not lost: the request re-reads and re-signs", async () => {
    store.setCertificate(cert("01d1"));
    const read = store.statuses.bind(store);
    let reads = 0;
    store.statuses = async (serials) => {
      const m = await read(serials);
      // The revocation commits right after the first request read "valid" (and before the consumer looks).
      if (++reads === 1) {
        revoke("01d1");
        await ocsp.presigner.consumeOutbox();
      }
      return m;
    };
    assert.equal(await ask(ocsp, "01d1"), "revoked");
    assert.equal(store.rows.get("01d1|sha1")!.certStatus, "revoked");
    assert.equal(metrics.of("first-request"), 1);
    assert.equal(metrics.of("status-change"), 1);
  });

  it("refreshes only what was asked within the window; the rest leaves the refresh, expires and is dropped", async () => {
    ocsp = await responderProcess({ presigner: { demandWindowMs: 2 * day }, demand: { granularityMs: hour } }, metrics);
    for (const s of ["01e1", "01e2"]) {
      store.setCertificate(cert(s));
      await ask(ocsp, s);
    }
    // Day 1: both asked at half-life, both refreshed.
    clock.advance(13 * hour);
    assert.equal(await ocsp.presigner.refreshDue(), 2);
    // 01e1 keeps being asked; 01e2 never again.
    for (let d = 0; d < 4; d++) {
      clock.advance(12 * hour);
      await ask(ocsp, "01e1");
      await ocsp.demand.flush();
      await ocsp.presigner.refreshDue();
      await ocsp.presigner.dropUnrequested();
    }
    assert.equal(store.rows.get("01e2|sha1"), undefined, "not asked within the window: dropped");
    assert.ok(store.rows.get("01e1|sha1")!.nextUpdate.getTime() > clock.now().getTime(), "asked: kept fresh");
    const refreshes = metrics.of("refresh");
    assert.ok(refreshes <= 2 + 4 + 2, `${refreshes} refreshes: 01e2 stopped being refreshed`);
    assert.equal(metrics.of("first-request"), 2);
    // Asked again after the drop: one first-request signature, then stored again.
    assert.equal(await ask(ocsp, "01e2"), "good");
    assert.equal(metrics.of("first-request"), 3);
  });

  it("a response out of the refresh is revived by a request before it expires", async () => {
    ocsp = await responderProcess({ presigner: { demandWindowMs: 13 * hour }, demand: { granularityMs: 1000 } }, metrics);
    store.setCertificate(cert("01f1"));
    await ask(ocsp, "01f1");
    clock.advance(14 * hour);
    assert.equal(await ocsp.presigner.refreshDue(), 0, "asked 14 h ago, window 13 h: not refreshed");
    assert.deepEqual(await store.listDue(clock.now(), 10), []);
    await ask(ocsp, "01f1"); // served from memory (still fresh), noted
    await ocsp.demand.flush();
    assert.equal(await ocsp.presigner.refreshDue(), 1, "asked again: refreshed");
  });

  it("demand is written in batches, at most once per granularity per response", async () => {
    store.setCertificate(cert("0a01"));
    store.setCertificate(cert("0a02"));
    await ask(ocsp, "0a01");
    await ask(ocsp, "0a02");
    clock.advance(2 * hour);
    for (let i = 0; i < 50; i++) for (const s of ["0a01", "0a02"]) await ask(ocsp, s);
    assert.equal(store.touches, 0, "no write per request");
    await ocsp.demand.flush();
    assert.equal(store.touches, 1, "one statement");
    assert.equal(store.touched, 2);
    assert.deepEqual(store.rows.get("0a01|sha1")!.lastRequestedAt, clock.now());
    for (let i = 0; i < 10; i++) await ask(ocsp, "0a01");
    await ocsp.demand.flush();
    assert.equal(store.touches, 1, "within the granularity: nothing new to write");
  });

  it("HTTP max-age and Expires never exceed ocsp.maxCacheSeconds, whatever the nextUpdate", async () => {
    store.setCertificate(cert("0b01"));
    const deps = (maxCacheSeconds?: number): OcspRouteDeps => ({
      responder: ocsp.responder,
      recorder: ocsp.accessRecorder,
      access: { mode: "public", parties: { byApiKey: async () => undefined, byCertificateId: async () => undefined } },
      clock,
      ...(maxCacheSeconds === undefined ? {} : { maxCacheSeconds }),
    });
    const path = `/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdOf(g1, "0b01")])).toString("base64"))}`;
    const get = (http: OcspHttp) => http.repeat({ method: "GET", path, authorization: undefined, ifNoneMatch: undefined, client: undefined }) ?? http.handle({ method: "GET", path, authorization: undefined, ifNoneMatch: undefined, client: undefined });
    for (const [bound, expected] of [[undefined, 3600], [600, 600], [0, 0]] as const) {
      const http = new OcspHttp(deps(bound), true);
      for (let i = 0; i < 2; i++) {
        const a = await get(http);
        assert.equal(a.status, 200);
        assert.match(a.headers["Cache-Control"]!, new RegExp(`^max-age=${expected}, public, no-transform, must-revalidate$`));
        assert.equal(new Date(a.headers.Expires!).getTime(), clock.now().getTime() + expected * 1000);
      }
    }
    // Near nextUpdate the time left is smaller than the bound: it wins.
    clock.advance(day - 120_000);
    const a = await get(new OcspHttp(deps(), true));
    assert.match(a.headers["Cache-Control"]!, /^max-age=120,/);
    assert.equal(a.headers.Expires, readResponse(a.body!).responses[0]!.nextUpdate!.toUTCString());
  });
});
