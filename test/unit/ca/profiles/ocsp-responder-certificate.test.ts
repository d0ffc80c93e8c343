import assert from "node:assert/strict";
import { createPublicKey, X509Certificate } from "node:crypto";
import forge from "node-forge";
import * as pkijs from "pkijs";
import { buildCaCertificate } from "../../../../ca/profiles/ca-certificate.js";
import { defaultCaProfiles } from "../../../../ca/profiles/ca-profile.js";
import { CaError } from "../../../../ca/errors.js";
import { buildOcspResponderCertificate } from "../../../../ca/profiles/ocsp-responder-certificate.js";
import { keyIdentifier } from "../../../../ca/x509/extensions.js";
import { formatName, readName } from "../../../../ca/x509/name.js";
import { pem } from "../../../../ca/x509/pem.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("ca/ocsp-responder-certificate", () => {
  let caSigner: MemorySigner;
  let responder: MemorySigner;
  let caDer: Uint8Array;
  before(async () => {
    caSigner = MemorySigner.generate({ type: "rsa", bits: 2048 });
    responder = MemorySigner.generate({ type: "rsa", bits: 2048 });
    caDer = await buildCaCertificate({
      kind: "sign",
      generation: 1,
      profile: defaultCaProfiles.sign,
      signer: caSigner,
      serial: 0x0123456789abcdefn,
      notBefore: new Date("2026-11-22T00:00:00Z"),
    });
  });

  const build = (over: Partial<Parameters<typeof buildOcspResponderCertificate>[0]> = {}): Promise<Uint8Array> =>
    buildOcspResponderCertificate({
      caId: "sign-g1",
      caCertificate: caDer,
      caSigner,
      responderPublicKey: responder.publicKey,
      serial: 0x77n << 64n,
      notBefore: new Date("2026-12-01T01:02:03.400Z"),
      ...over,
    });

  it("is issued by the CA, named after it, valid 90 days by default", async () => {
    const der = await build();
    const x = new X509Certificate(der);
    const ca = new X509Certificate(caDer);
    assert.equal(x.checkIssued(ca), true);
    assert.equal(x.verify(ca.publicKey), true);
    assert.equal(x.ca, false);
    const cert = pkijs.Certificate.fromBER(der.slice().buffer);
    assert.equal(formatName(cert.subject), "C=JP, O=JPKI, OU=JPKI for digital signature, CN=OCSP Responder sign-g1");
    assert.equal(hex(new Uint8Array(cert.issuer.toSchema().toBER(false))), hex(new Uint8Array(pkijs.Certificate.fromBER(caDer.slice().buffer).subject.toSchema().toBER(false))));
    assert.equal(new Date(x.validFrom).toISOString(), "2026-12-01T01:02:03.000Z");
    assert.equal(new Date(x.validTo).toISOString(), "2027-03-01T01:02:03.000Z");
    assert.ok(readName(cert.subject).every((a) => a.stringType === "PrintableString"));
  });

  it("has keyUsage critical digitalSignature, EKU OCSPSigning, ocsp-nocheck, AKI = CA SKI, SKI", async () => {
    const cert = forge.pki.certificateFromPem(pem(await build(), "CERTIFICATE"));
    const exts = cert.extensions as Array<Record<string, unknown>>;
    assert.deepEqual(
      exts.map((e) => [e.id, e.critical]),
      [
        ["2.5.29.15", true],
        ["2.5.29.37", false],
        ["1.3.6.1.5.5.7.48.1.5", false],
        ["2.5.29.35", false],
        ["2.5.29.14", false],
      ],
    );
    const ku = cert.getExtension("keyUsage") as Record<string, boolean>;
    assert.equal(ku.digitalSignature, true);
    assert.equal(ku.keyCertSign, false);
    assert.equal(ku.nonRepudiation, false);
    const eku = cert.getExtension("extKeyUsage") as Record<string, boolean>;
    assert.equal(eku["1.3.6.1.5.5.7.3.9"], true, "id-kp-OCSPSigning (forge has no name for it)");
    assert.equal(eku.serverAuth, undefined);
    const noCheck = exts.find((e) => e.id === "1.3.6.1.5.5.7.48.1.5")!;
    assert.equal(forge.util.bytesToHex(noCheck.value as string), "0500");
    const aki = forge.asn1.fromDer((cert.getExtension("authorityKeyIdentifier") as { value: string }).value);
    assert.equal(forge.util.bytesToHex((aki.value as forge.asn1.Asn1[])[0]!.value as string), hex(keyIdentifier(caSigner.publicKey)));
    assert.equal((cert.getExtension("subjectKeyIdentifier") as { subjectKeyIdentifier: string }).subjectKeyIdentifier, hex(keyIdentifier(responder.publicKey)));
    assert.equal(forge.pki.certificateFromPem(pem(caDer, "CERTIFICATE")).verify(cert), true, "forge: the CA issued it");
  });

  it("never outlives the CA certificate", async () => {
    const der = await build({ notBefore: new Date("2036-11-01T00:00:00Z") });
    assert.equal(new X509Certificate(der).validTo, new X509Certificate(caDer).validTo);
    await assert.rejects(build({ notBefore: new Date("2037-01-01T00:00:00Z") }), CaError);
  });

  it("takes another validity and an EC responder key", async () => {
    const ec = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const der = await build({ validityDays: 7, responderPublicKey: ec.publicKey, caId: "sign-g2" });
    const x = new X509Certificate(der);
    assert.equal(new Date(x.validTo).getTime() - new Date(x.validFrom).getTime(), 7 * 86_400_000);
    assert.equal(x.publicKey.asymmetricKeyType, "ec");
    assert.match(x.subject, /CN=OCSP Responder sign-g2/);
  });

  it("refuses a CA signer that does not hold the CA certificate's key", async () => {
    const other = MemorySigner.generate({ type: "rsa", bits: 2048 });
    await assert.rejects(build({ caSigner: other }), (e: unknown) => e instanceof CaError && e.kind === "internal");
    await assert.rejects(build({ validityDays: 0 }), CaError);
    await assert.rejects(build({ caCertificate: Uint8Array.of(1, 2, 3) }), CaError);
    assert.ok(createPublicKey({ key: Buffer.from(responder.publicKey), format: "der", type: "spki" }));
  });
});
