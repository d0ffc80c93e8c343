import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { createNextCaGeneration } from "../../api/wiring/ca-generations.js";
import { buildHandlers, type Handlers } from "../../api/main.js";
import { generateSerial, partitionOf } from "../../ca/issuance/serial.js";
import { startTestService, type TestService } from "../support/service-harness.js";
import { buildRequest, certIdUnder } from "../unit/ocsp/fixtures.js";
import { readResponse } from "../unit/ocsp/read-response.js";

/**
 * A CA generation made while the service runs (an approved request in another process, or the CLI) is
 * taken into use without a restart: issuance goes to it, its CRL partitions are published, its OCSP
 * responder answers — and its key is checked against its certificate first.
 */
describe("CA generations taken into use while running (api/wiring/live-ca-generations.ts)", function () {
  this.timeout(180_000);
  let ts: TestService;
  let handlers: Handlers;

  before(async () => {
    ts = await startTestService({ name: "live-gens", engine: "pglite" });
    ({ handlers } = await buildHandlers(ts.service));
  });
  after(async () => {
    await handlers?.ocsp.stop();
    await ts?.close();
  });

  it("issues with the new generation after a refresh, publishes its CRLs and answers OCSP for it", async () => {
    const live = handlers.generations;
    assert.equal(live.authorities.active("auth").ca.id, "auth-g1");
    const serial = generateSerial(2, { bytes: (n) => new Uint8Array(n).fill(7) });
    const ocspFor = async (caDer: Uint8Array) => readResponse((await handlers.ocsp.responder.answer(buildRequest([certIdUnder(caDer, serial)]))).der);

    // Made elsewhere (another worker executed the approval): not in use here until the next refresh.
    const made = await createNextCaGeneration(ts.service, "auth", "test", () => undefined);
    assert.equal(made.id, "auth-g2");
    assert.equal(live.authorities.active("auth").ca.id, "auth-g1");
    assert.equal((await ocspFor(made.certificate)).status, 6, "an issuer not loaded yet is unauthorized");

    assert.deepEqual((await live.refresh()).map((g) => g.id), ["auth-g2"]);
    assert.deepEqual(await live.refresh(), [], "nothing new the second time");
    assert.ok(live.signers.has("auth-g2"));

    // Issuance: the newest active generation of the kind, its key in the HSM.
    const authority = live.authorities.active("auth");
    assert.equal(authority.ca.id, "auth-g2");
    assert.equal(live.authorities.byCaId("auth-g1")?.ca.id, "auth-g1", "the old generation stays known");
    const spki = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "der" });
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
    const der = await authority.sign(
      authority.prepare({
        serial,
        notBefore,
        notAfter: new Date(notBefore.getTime() + 86_400_000),
        partition: partitionOf(serial, made.partitionCount),
        subjectId: "LIVEGEN1",
        subjectPublicKey: new Uint8Array(spki),
        municipalityCode: "131041",
        personal: null,
      }),
    );
    const cert = new X509Certificate(Buffer.from(der));
    assert.ok(cert.verify(new X509Certificate(Buffer.from(made.certificate)).publicKey), "signed by the new generation's key");

    // CRLs: the new generation's partitions are issued.
    assert.ok(handlers.crl.authorities.some((a) => a.caId === "auth-g2"));
    const report = await handlers.crl.scheduler.runNow("auth-g2");
    assert.equal(report.partitions.length, made.partitionCount);
    assert.ok(report.partitions.every((p) => p.outcome !== "failed" && (p.fullNumber ?? 0) >= 1), JSON.stringify(report.partitions.slice(0, 2)));

    // OCSP: the new generation's responder answers (a serial it never issued: revoked, not unauthorized).
    const answer = await ocspFor(made.certificate);
    assert.equal(answer.status, 0);
    assert.equal(answer.responses[0]?.status, "revoked");
  });

  it("a generation whose CRLs or OCSP cannot be set up yet is not issued with; the next refresh takes it", async () => {
    const live = handlers.generations;
    let failures = 1;
    live.onAdded(async () => {
      if (failures-- > 0) throw new Error("CRL store unreachable");
    });
    const g3 = await createNextCaGeneration(ts.service, "auth", "test", () => undefined);
    assert.equal(g3.id, "auth-g3");
    assert.deepEqual(await live.refresh(), []);
    assert.equal(live.authorities.active("auth").ca.id, "auth-g2", "not issued with before it can be answered for");
    assert.deepEqual((await live.refresh()).map((g) => g.id), ["auth-g3"]);
    assert.equal(live.authorities.active("auth").ca.id, "auth-g3");
  });

  it("a generation whose key does not match its certificate is left out; the others go on", async () => {
    const live = handlers.generations;
    const g2 = await createNextCaGeneration(ts.service, "sign", "test", () => undefined);
    const g1 = (await ts.service.stores.caGenerations.get("sign-g1"))!;
    // Point the new generation's record at another key (a tampered database, a restored wrong backup).
    await ts.service.db.executor()("ca_generations").where({ id: g2.id }).update({ key_uri: g1.keyUri });
    assert.deepEqual(await live.refresh(), []);
    assert.equal(live.authorities.active("sign").ca.id, "sign-g1");
    assert.equal(live.signers.has(g2.id), false);
  });
});
