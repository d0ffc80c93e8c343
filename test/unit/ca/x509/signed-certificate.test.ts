import assert from "node:assert/strict";
import { createPublicKey, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { algorithmIdentifierDer } from "../../../../ca/profiles/algorithms.js";
import { CaError } from "../../../../ca/errors.js";
import type { Signer } from "../../../../ca/ports.js";
import { derBitString, derSequence } from "../../../../ca/x509/der.js";
import { basicConstraintsExtension, keyUsageExtension } from "../../../../ca/x509/extensions.js";
import { encodeName } from "../../../../ca/x509/name.js";
import {
  encodeTbsCertificate,
  signCertificate,
  signTbsCertificate,
  splitSigned,
  verifyCertificateSignature,
} from "../../../../ca/x509/signed-certificate.js";
import { buildTbsCertificate } from "../../../../ca/x509/tbs-certificate.js";
import type { KeySpec } from "../../../../ca/types.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function tbsFor(signer: Signer, serial = 0x1234567890abcdefn): pkijs.Certificate {
  const name = encodeName([{ type: "C", value: "JP" }, { type: "CN", value: "Test CA" }]);
  return buildTbsCertificate({
    serial,
    issuer: name,
    subject: name,
    notBefore: new Date("2026-11-22T05:00:00.456Z"),
    notAfter: new Date("2036-11-22T14:59:59Z"),
    subjectPublicKey: signer.publicKey,
    extensions: [basicConstraintsExtension({ ca: true }), keyUsageExtension(["keyCertSign", "cRLSign"])],
  });
}

const specs: [string, KeySpec][] = [
  ["RSA-2048", { type: "rsa", bits: 2048 }],
  ["P-256", { type: "ec", curve: "P-256" }],
  ["P-384", { type: "ec", curve: "P-384" }],
];

describe("ca/x509/signed-certificate", () => {
  const signers = new Map<string, MemorySigner>();
  before(() => {
    for (const [label, spec] of specs) signers.set(label, MemorySigner.generate(spec));
  });
  const get = (label: string): MemorySigner => signers.get(label)!;

  for (const [label] of specs) {
    it(`signs, assembles and verifies (${label})`, async () => {
      const signer = get(label);
      const der = await signCertificate(tbsFor(signer), signer);
      assert.equal(verifyCertificateSignature(der, signer.publicKey), true);
      // Independent verifier: node's X509Certificate (OpenSSL).
      const x = new X509Certificate(der);
      assert.equal(x.verify(createPublicKey({ key: Buffer.from(signer.publicKey), format: "der", type: "spki" })), true);
      assert.equal(x.serialNumber.toLowerCase(), "1234567890abcdef");
      // The SPKI goes into the certificate unchanged.
      assert.equal(hex(new Uint8Array(x.publicKey.export({ type: "spki", format: "der" }))), hex(signer.publicKey));
      // Outer and inner algorithm are the signer's.
      const { algId, tbs } = splitSigned(der);
      assert.equal(hex(algId), hex(algorithmIdentifierDer(signer.algorithm)));
      assert.ok(hex(tbs).includes(hex(algorithmIdentifierDer(signer.algorithm))));
    });
  }

  it("assembles SEQUENCE { tbs, alg, BIT STRING } byte-identical to asn1js, TBS untouched", async () => {
    const signer = get("P-256");
    const cert = tbsFor(signer);
    const tbs = encodeTbsCertificate(cert, signer.algorithm);
    const der = await signTbsCertificate(tbs, signer);
    const parts = splitSigned(der);
    assert.equal(hex(parts.tbs), hex(tbs));
    const expected = new asn1js.Sequence({
      value: [
        asn1js.fromBER(tbs.slice().buffer).result,
        asn1js.fromBER(algorithmIdentifierDer(signer.algorithm).slice().buffer).result,
        new asn1js.BitString({ valueHex: parts.signature.slice().buffer }),
      ],
    });
    assert.equal(hex(der), hex(new Uint8Array(expected.toBER(false))));
    // pkijs reads it back with the same TBS bytes.
    const back = pkijs.Certificate.fromBER(der.slice().buffer);
    assert.equal(hex(new Uint8Array(back.tbsView)), hex(tbs));
  });

  it("truncates milliseconds from times", async () => {
    const signer = get("P-256");
    const x = new X509Certificate(await signCertificate(tbsFor(signer), signer));
    assert.equal(new Date(x.validFrom).toISOString(), "2026-11-22T05:00:00.000Z");
  });

  it("verifyCertificateSignature rejects another key, a changed byte, a mismatched algorithm, garbage", async () => {
    const rsa = get("RSA-2048");
    const der = await signCertificate(tbsFor(rsa), rsa);
    assert.equal(verifyCertificateSignature(der, get("P-384").publicKey), false, "wrong key type");
    assert.equal(verifyCertificateSignature(der, MemorySigner.generate({ type: "rsa", bits: 2048 }).publicKey), false, "other RSA key");
    const tampered = der.slice();
    const cnAt = Buffer.from(tampered).indexOf("Test CA");
    tampered[cnAt] = "X".charCodeAt(0);
    assert.equal(verifyCertificateSignature(tampered, rsa.publicKey), false, "tampered TBS");
    // Outer algorithm swapped for another known one: refused before any crypto.
    const ecAlg = algorithmIdentifierDer("ecdsa-with-SHA256");
    const { tbs, signature } = splitSigned(der);
    assert.equal(verifyCertificateSignature(derSequence(tbs, ecAlg, derBitString(signature)), rsa.publicKey), false);
    assert.equal(verifyCertificateSignature(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), rsa.publicKey), false);
    assert.equal(verifyCertificateSignature(new Uint8Array(0), rsa.publicKey), false);
  });

  it("refuses to return a certificate whose signature does not verify against the issuer key", async () => {
    const a = get("P-256");
    const b = MemorySigner.generate({ type: "ec", curve: "P-256" });
    // A Signer whose advertised key is not the one it signs with (e.g. a mis-mapped HSM key).
    const liar: Signer = { algorithm: a.algorithm, publicKey: a.publicKey, sign: (d) => b.sign(d) };
    await assert.rejects(signCertificate(tbsFor(liar), liar), (e: unknown) => e instanceof CaError && e.kind === "internal");
    // The right signer but the wrong issuer certificate key.
    await assert.rejects(signCertificate(tbsFor(a), a, { issuerPublicKey: b.publicKey }), CaError);
    // A signer returning garbage.
    const broken: Signer = { algorithm: a.algorithm, publicKey: a.publicKey, sign: async () => Uint8Array.of(1, 2, 3) };
    await assert.rejects(signCertificate(tbsFor(broken), broken), CaError);
  });

  it("refuses a TBS encoded for another algorithm than the signer's", async () => {
    const p256 = get("P-256");
    const tbs = encodeTbsCertificate(tbsFor(p256), "ecdsa-with-SHA384");
    await assert.rejects(signTbsCertificate(tbs, p256), CaError);
  });

  it("encodeTbsCertificate refuses non-positive or over-long serials and inverted validity", () => {
    const s = get("P-256");
    const neg = tbsFor(s);
    neg.serialNumber = new asn1js.Integer({ valueHex: Uint8Array.of(0x80, 1).buffer });
    assert.throws(() => encodeTbsCertificate(neg, s.algorithm), CaError);
    const zero = tbsFor(s);
    zero.serialNumber = new asn1js.Integer({ value: 0 });
    assert.throws(() => encodeTbsCertificate(zero, s.algorithm), CaError);
    assert.throws(() => tbsFor(s, 0n), CaError);
    assert.throws(() => tbsFor(s, 2n ** 160n), CaError, "21 octets with the sign byte");
    assert.doesNotThrow(() => tbsFor(s, 2n ** 159n - 1n));
    const inverted = tbsFor(s);
    inverted.notAfter = new pkijs.Time({ type: 0, value: new Date("2020-01-01T00:00:00Z") });
    assert.throws(() => encodeTbsCertificate(inverted, s.algorithm), CaError);
  });
});
