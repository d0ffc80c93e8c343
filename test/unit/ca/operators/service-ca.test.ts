import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import forge from "node-forge";
import { CaError } from "../../../../ca/errors.js";
import { buildClientCertificate, buildServerCertificate, buildServiceCaCertificate } from "../../../../ca/operators/service-ca.js";
import { pem } from "../../../../ca/x509/pem.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

describe("ca/service-ca", () => {
  let caSigner: MemorySigner;
  let caDer: Uint8Array;
  let ecKey: MemorySigner;
  let rsaKey: MemorySigner;
  before(async () => {
    caSigner = MemorySigner.generate({ type: "rsa", bits: 2048 });
    ecKey = MemorySigner.generate({ type: "ec", curve: "P-256" });
    rsaKey = MemorySigner.generate({ type: "rsa", bits: 2048 });
    caDer = await buildServiceCaCertificate({ signer: caSigner, serial: 10n, notBefore: new Date("2026-01-01T00:00:00Z") });
  });
  const leafBase = () => ({ caCertificate: caDer, caSigner, serial: 11n, notBefore: new Date("2026-02-01T00:00:00Z") });

  it("the service CA is a CA limited to leaves (pathLen 0), not a JPKI CA", () => {
    const cert = forge.pki.certificateFromPem(pem(caDer, "CERTIFICATE"));
    assert.equal(cert.verify(cert), true);
    const bc = cert.getExtension("basicConstraints") as { cA: boolean; pathLenConstraint?: number; critical: boolean };
    assert.deepEqual([bc.cA, bc.pathLenConstraint, bc.critical], [true, 0, true]);
    const ku = cert.getExtension("keyUsage") as Record<string, boolean>;
    assert.deepEqual([ku.keyCertSign, ku.cRLSign, ku.digitalSignature, ku.critical], [true, true, false, true]);
    assert.equal(cert.subject.getField("O").value, "JPKI CA Service");
    assert.equal(new X509Certificate(caDer).validTo, "Jan  1 14:59:59 2036 GMT");
  });

  it("a server certificate has serverAuth, DNS and IP SANs; RSA keys also get keyEncipherment", async () => {
    const der = await buildServerCertificate({ ...leafBase(), subjectPublicKey: rsaKey.publicKey, dnsNames: ["localhost"], ips: ["127.0.0.1", "::1"] });
    const x = new X509Certificate(der);
    assert.equal(x.checkIssued(new X509Certificate(caDer)), true);
    assert.equal(x.subjectAltName, "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    assert.equal(x.checkHost("localhost"), "localhost");
    assert.equal(x.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(x.checkIP("::1"), "::1");
    assert.equal(x.checkIP("10.0.0.1"), undefined);
    assert.deepEqual(x.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    const cert = forge.pki.certificateFromPem(pem(der, "CERTIFICATE"));
    const ku = cert.getExtension("keyUsage") as Record<string, boolean>;
    assert.deepEqual([ku.digitalSignature, ku.keyEncipherment, ku.critical], [true, true, true]);
    assert.equal(cert.subject.getField("CN").value, "localhost");
    assert.equal(new Date(x.validTo).getTime() - new Date(x.validFrom).getTime(), 397 * 86_400_000);
  });

  it("an EC server key gets digitalSignature only", async () => {
    const der = await buildServerCertificate({ ...leafBase(), subjectPublicKey: ecKey.publicKey, dnsNames: [], ips: ["127.0.0.1"] });
    const x = new X509Certificate(der);
    assert.match(x.subject, /CN=127\.0\.0\.1/);
    // keyUsage DER for digitalSignature alone: 03 02 07 80
    assert.ok(Buffer.from(der).includes(Buffer.from("0603551d0f0101ff040403020780", "hex")));
  });

  it("a client certificate has clientAuth and the role in OU", async () => {
    const der = await buildClientCertificate({ ...leafBase(), subjectPublicKey: ecKey.publicKey, role: "feed", id: "feed-1" });
    const x = new X509Certificate(der);
    assert.deepEqual(x.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
    assert.equal(x.subject, "C=JP\nO=JPKI CA Service\nOU=feed\nCN=feed-1");
    assert.equal(x.subjectAltName, undefined);
  });

  it("clamps leaves to the CA's notAfter and refuses empty SANs", async () => {
    const der = await buildClientCertificate({ ...leafBase(), notBefore: new Date("2035-12-01T00:00:00Z"), subjectPublicKey: ecKey.publicKey, role: "admin", id: "ws-1" });
    assert.equal(new X509Certificate(der).validTo, new X509Certificate(caDer).validTo);
    await assert.rejects(buildServerCertificate({ ...leafBase(), subjectPublicKey: ecKey.publicKey, dnsNames: [], ips: [] }), CaError);
    await assert.rejects(buildServerCertificate({ ...leafBase(), subjectPublicKey: ecKey.publicKey, dnsNames: ["bad_name"], ips: [] }), CaError);
  });
});
