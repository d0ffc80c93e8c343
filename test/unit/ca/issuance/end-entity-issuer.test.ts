import assert from "node:assert/strict";
import { EndEntityIssuer } from "../../../../ca/issuance/end-entity-issuer.js";
import type { EndEntityVariableFields } from "../../../../ca/profiles/end-entity-template.js";
import { CaError } from "../../../../ca/errors.js";
import { partitionOf } from "../../../../ca/issuance/serial.js";
import { derBitString, derSequence } from "../../../../ca/x509/der.js";
import { splitSigned } from "../../../../ca/x509/signed-certificate.js";
import { algorithmIdentifierDer } from "../../../../ca/profiles/algorithms.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";
import { makeTestCa, templateContext, type TestCa } from "../../../support/end-entity-fixtures.js";

describe("ca/end-entity-issuer", function () {
  this.timeout(30_000);
  let ca: TestCa;
  let otherCa: TestCa;
  let issuer: EndEntityIssuer;
  let fields: EndEntityVariableFields;

  before(async () => {
    ca = await makeTestCa("auth");
    otherCa = await makeTestCa("auth", { type: "ec", curve: "P-256" });
    issuer = EndEntityIssuer.create(templateContext(ca, { partitionCount: 16 }));
    fields = {
      serialHex: "01c0ffee",
      partition: partitionOf("01c0ffee", 16),
      notBefore: new Date("2026-01-01T00:00:00Z"),
      notAfter: new Date("2031-01-01T14:59:59Z"),
      subjectId: "0123456789ABCDEF01234567",
      subjectPublicKey: MemorySigner.generate({ type: "ec", curve: "P-256" }).publicKey,
    };
  });

  it("prepare → sign → finish gives a certificate whose TBS is exactly the prepared bytes", async () => {
    const tbs = issuer.prepare(fields);
    const der = issuer.finish(tbs, await ca.signer.sign(tbs));
    const parts = splitSigned(der);
    assert.deepEqual(parts.tbs, tbs);
    assert.deepEqual(parts.algId, algorithmIdentifierDer("sha256WithRSAEncryption"));
    assert.equal(issuer.verify(der), true);
    assert.equal(issuer.partitionOf(fields.serialHex), fields.partition);
    assert.equal(issuer.signatureAlgorithm, "sha256WithRSAEncryption");
  });

  it("finish refuses a signature by another key or over other bytes (invariant 1)", async () => {
    const tbs = issuer.prepare(fields);
    const wrongKey = await MemorySigner.generate({ type: "rsa", bits: 2048 }).sign(tbs);
    assert.throws(() => issuer.finish(tbs, wrongKey), (e: unknown) => e instanceof CaError && e.kind === "internal");
    const other = issuer.prepare({ ...fields, serialHex: "01c0fff0" });
    const sigOfTbs = await ca.signer.sign(tbs);
    assert.throws(() => issuer.finish(other, sigOfTbs), CaError);
    assert.throws(() => issuer.finish(tbs, new Uint8Array(256)), CaError);
  });

  it("verify is false for another CA's certificate, tampering, a wrong algorithm and garbage", async () => {
    const tbs = issuer.prepare(fields);
    const sig = await ca.signer.sign(tbs);
    const der = issuer.finish(tbs, sig);
    const otherIssuer = EndEntityIssuer.create(templateContext(otherCa));
    const otherTbs = otherIssuer.prepare(fields);
    assert.equal(issuer.verify(otherIssuer.finish(otherTbs, await otherCa.signer.sign(otherTbs))), false);
    const tampered = der.slice();
    tampered[40]! ^= 1;
    assert.equal(issuer.verify(tampered), false);
    // Same signature, outer algorithm swapped: RFC 5280 §4.1.1.2 mismatch.
    assert.equal(issuer.verify(derSequence(tbs, algorithmIdentifierDer("ecdsa-with-SHA256"), derBitString(sig))), false);
    assert.equal(issuer.verify(der.subarray(0, der.length - 1)), false);
    assert.equal(issuer.verify(Uint8Array.of(0x30, 0x00)), false);
  });

  it("refuses a signature algorithm that does not fit the CA key", () => {
    assert.throws(() => EndEntityIssuer.create({ ...templateContext(ca), signatureAlgorithm: "ecdsa-with-SHA256" }), CaError);
  });
});
