import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import { basicConstraintsExtension, keyIdentifier } from "../../../../ca/x509/extensions.js";
import { parseIssuerCertificate } from "../../../../ca/x509/issuer-certificate.js";
import { encodeName } from "../../../../ca/x509/name.js";
import { signCertificate } from "../../../../ca/x509/signed-certificate.js";
import { buildTbsCertificate } from "../../../../ca/x509/tbs-certificate.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";
import { buildServiceCaCertificate } from "../../../../ca/operators/service-ca.js";

describe("ca/x509/issuer-certificate", () => {
  it("slices subject and SPKI byte-exactly and reads the SKI", async () => {
    const signer = MemorySigner.generate({ type: "ec", curve: "P-384" });
    const der = await buildServiceCaCertificate({ signer, serial: 5n, notBefore: new Date("2026-01-01T00:00:00Z") });
    const issuer = parseIssuerCertificate(der);
    assert.deepEqual(issuer.subjectPublicKey, signer.publicKey);
    assert.deepEqual(issuer.keyIdentifier, keyIdentifier(signer.publicKey));
    assert.deepEqual(issuer.subject, encodeName([{ type: "C", value: "JP" }, { type: "O", value: "JPKI CA Service" }, { type: "CN", value: "JPKI CA Service TLS CA" }]));
    assert.equal(issuer.notBefore.toISOString(), "2026-01-01T00:00:00.000Z");
    assert.ok(Buffer.from(der).includes(Buffer.from(issuer.subject)));
  });

  it("computes the key identifier when the issuer has no SKI extension", async () => {
    const signer = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const name = encodeName([{ type: "CN", value: "legacy" }]);
    const der = await signCertificate(
      buildTbsCertificate({ serial: 9n, issuer: name, subject: name, notBefore: new Date(), notAfter: new Date(Date.now() + 1e9), subjectPublicKey: signer.publicKey, extensions: [basicConstraintsExtension({ ca: true })] }),
      signer,
    );
    assert.deepEqual(parseIssuerCertificate(der).keyIdentifier, keyIdentifier(signer.publicKey));
    assert.throws(() => parseIssuerCertificate(der.subarray(0, der.length - 1)), CaError);
  });

});
