import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createLogger } from "../../../api/logger.js";
import { systemClock } from "../../../ca/ports.js";
import { RevocationService } from "../../../ca/revocation/revocation-service.js";
import type { StoredOcspResponse } from "../../../ca/revocation/ocsp-ports.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { KnexCaGenerationStore } from "../../../db/ca-generation-store.js";
import { KnexCertificateStore } from "../../../db/certificate-store.js";
import { KnexOcspStore } from "../../../db/ocsp-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { KnexResidentMunicipalityStore } from "../../../db/resident-municipality-store.js";
import { KnexCertificateReleaseStore } from "../../../db/revocation-release-store.js";
import { KnexRevocationWindowStore } from "../../../db/revocation-window-store.js";
import { OcspService } from "../../../ocsp/ocsp-service.js";
import { toCachedResponse, cacheKey } from "../../../ocsp/response-cache.js";
import { requirePostgresUrl } from "../../support/database.js";
import { residentCode } from "../../support/resident-event-fixtures.js";
import { buildRequest, certIdOf } from "../../unit/ocsp/fixtures.js";
import { readResponse } from "../../unit/ocsp/read-response.js";
import { CountingMetrics, startOcspEndpoint, type OcspEndpoint } from "../ocsp/ocsp-harness.js";

/**
 * A phone user-auth hold and its lift as OCSP answers them (issue #16 item 1; migration 0028,
 * ca/revocation/ocsp-ports.ts `isNotOlderThan`), on PostgreSQL with the responder key in SoftHSM and two
 * responder processes: A (the harness's service: outbox consumer and pre-signer) and B (a second
 * OcspService on the same database with its own cache, following what A stores). Hold → revoked with
 * certificateHold; lift → good on B within a second; a "good" signed before the hold, or a hold signed
 * before the lift, never replaces what came after it; a revocation after the lift wins.
 */
describe("phone hold and lift through OCSP on postgres (two responder processes)", function () {
  this.timeout(60_000);
  let e: OcspEndpoint;
  let b: OcspService;
  let service: RevocationService;
  const scope = { scope: { kind: "ca-side", clientId: "admin:ws-01", purpose: "test" } as const };

  before(async function () {
    this.timeout(120_000);
    requirePostgresUrl(this);
    e = await startOcspEndpoint({ name: "phone-hold-ocsp", engine: "postgres" });
    const db = e.db.db;
    const store = new KnexOcspStore(db);
    b = await OcspService.create(
      {
        clock: systemClock,
        random: { bytes: (n) => new Uint8Array(randomBytes(n)) },
        generations: new KnexCaGenerationStore(db),
        transactions: db,
        audit: new KnexAuditStore(db),
        outbox: new KnexOutboxStore(db),
        responses: store,
        statuses: store,
        accessLog: store,
        signerFor: (uri, alg) => e.hsm.signer(uri, alg),
        metrics: new CountingMetrics(),
        log: createLogger("silent"),
      },
      { accessLog: { flushIntervalMs: 100 } },
    );
    b.start({ singletons: false }); // follows only: the outbox is A's, as under the job lease
    service = new RevocationService({
      clock: systemClock,
      transactions: db,
      certificates: new KnexCertificateStore(db),
      audit: new KnexAuditStore(db),
      outbox: new KnexOutboxStore(db),
      residents: new KnexResidentMunicipalityStore(db),
      window: new KnexRevocationWindowStore(db),
      releases: new KnexCertificateReleaseStore(db),
    });
  });
  after(async () => {
    await b?.stop();
    await e?.close();
  });

  const ask = async (ocsp: OcspService, serial: string) => {
    const answer = await ocsp.responder.answer(buildRequest([certIdOf(e.t, serial)]));
    return readResponse(answer.der).responses[0]!;
  };
  /** Polls B until `want` holds; returns the milliseconds it took. */
  const untilOnB = async (serial: string, want: (r: Awaited<ReturnType<typeof ask>>) => boolean, since: number): Promise<number> => {
    for (;;) {
      const r = await ask(b, serial);
      if (want(r)) return Date.now() - since;
      if (Date.now() - since > 5000) assert.fail(`B still answers ${JSON.stringify(r)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it("hold → revoked/certificateHold; lift → good on B within a second; older answers never win; a revocation after the lift wins", async () => {
    const { serial } = await e.issue();
    await e.db.db.knex("certificates").where({ serial }).update({ device: "phone", resident_code: residentCode(900) });
    assert.equal((await ask(e.ocsp, serial)).status, "good");
    assert.equal((await ask(b, serial)).status, "good");
    const goodBeforeHold = (await e.store.get(serial, "sha1"))!;

    await service.hold("cli", serial, {}, scope);
    const held = Date.now();
    await untilOnB(serial, (r) => r.status === "revoked" && r.reason === 6, held);
    assert.equal((await ask(e.ocsp, serial)).reason, 6, "A: revoked, certificateHold (RFC 6960 §2.2)");
    const holdResponse = (await e.store.get(serial, "sha1"))!;
    assert.equal(holdResponse.rank, 2);
    // The "good" signed before the hold, written late (a slow signature), is refused by the store and B's cache.
    const late = (r: StoredOcspResponse): StoredOcspResponse => ({ ...r, thisUpdate: new Date(Date.now() + 1000), producedAt: new Date(Date.now() + 1000) });
    assert.equal(await e.store.put(late(goodBeforeHold)), false, "an older good never beats the hold");
    b.cache.set(toCachedResponse(late(goodBeforeHold)));
    assert.equal(b.cache.get(cacheKey(e.t.generation.id, "sha1", serial))!.rank, 2);
    assert.equal((await ask(b, serial)).reason, 6);

    const lifted = await service.liftPhoneHold("holder:test", serial);
    assert.equal(lifted.status, "valid");
    const liftedAt = Date.now();
    const took = await untilOnB(serial, (r) => r.status === "good", liftedAt);
    assert.ok(took < 1000, `B answered good ${took} ms after the lift`);
    assert.equal((await ask(e.ocsp, serial)).status, "good");
    const goodAfterLift = (await e.store.get(serial, "sha1"))!;
    assert.deepEqual([goodAfterLift.certStatus, goodAfterLift.statusVersion], ["good", 1]);
    // The hold signed before the lift, and the very first good, written late: both refused.
    assert.equal(await e.store.put(late(holdResponse)), false, "a hold signed before the lift");
    assert.equal(await e.store.put(late(goodBeforeHold)), false);
    b.cache.set(toCachedResponse(late(holdResponse)));
    assert.equal((await ask(b, serial)).status, "good", "B's cache keeps the lift");

    await service.revoke("cli", serial, { reason: "keyCompromise" }, scope);
    const revokedAt = Date.now();
    await untilOnB(serial, (r) => r.status === "revoked" && r.reason === 1, revokedAt);
    assert.equal((await ask(e.ocsp, serial)).reason, 1, "a revocation after the lift wins");
    assert.equal(await e.store.put(late(goodAfterLift)), false);
  });
});
