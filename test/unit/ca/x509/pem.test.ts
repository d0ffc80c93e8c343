import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { CaError } from "../../../../ca/errors.js";
import { buildServiceCaCertificate } from "../../../../ca/operators/service-ca.js";
import { fromPem, pem, pemBlocks } from "../../../../ca/x509/pem.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

describe("ca/x509/pem", () => {
  it("writes RFC 7468 PEM with 64-character lines and reads it back", () => {
    const der = Uint8Array.from({ length: 200 }, (_, i) => i);
    const text = pem(der, "CERTIFICATE");
    const lines = text.trimEnd().split("\n");
    assert.equal(lines[0], "-----BEGIN CERTIFICATE-----");
    assert.equal(lines.at(-1), "-----END CERTIFICATE-----");
    assert.ok(lines.slice(1, -1).every((l) => l.length <= 64));
    assert.equal(lines[1]!.length, 64);
    assert.deepEqual(fromPem(text, "CERTIFICATE"), der);
    assert.deepEqual(pem(der.subarray(10, 20), "X").split("\n")[1], Buffer.from(der.subarray(10, 20)).toString("base64"));
  });

  it("finds blocks by label among others and refuses a missing one", () => {
    const text = pem(Uint8Array.of(1), "PRIVATE KEY") + "junk\r\n" + pem(Uint8Array.of(2), "CERTIFICATE") + pem(Uint8Array.of(3), "CERTIFICATE");
    assert.deepEqual(pemBlocks(text.replace(/\n/g, "\r\n"), "CERTIFICATE"), [Uint8Array.of(2), Uint8Array.of(3)]);
    assert.deepEqual(fromPem(text, "PRIVATE KEY"), Uint8Array.of(1));
    assert.throws(() => fromPem(text, "X509 CRL"), CaError);
  });

  it("is what OpenSSL (node) reads as a certificate", async () => {
    const der = await buildServiceCaCertificate({ signer: MemorySigner.generate({ type: "ec", curve: "P-256" }), serial: 1n });
    assert.deepEqual(new Uint8Array(new X509Certificate(pem(der, "CERTIFICATE")).raw), der);
  });
});
