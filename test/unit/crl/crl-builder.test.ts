import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { algorithmIdentifier } from "../../../ca/profiles/algorithms.js";
import { CaError } from "../../../ca/errors.js";
import { EndEntityIssuer } from "../../../ca/issuance/end-entity-issuer.js";
import { generateSubjectId } from "../../../ca/profiles/subject-id.js";
import { readChildren, readWhole, elementBytes } from "../../../ca/x509/der-reader.js";
import { parseIssuerCertificate } from "../../../ca/x509/issuer-certificate.js";
import { splitSigned, verifySignature } from "../../../ca/x509/signed-certificate.js";
import { x509Time } from "../../../ca/x509/time.js";
import { crlAuthority } from "../../../crl/crl-authority.js";
import { buildCrl, type CrlFrame } from "../../../crl/crl-builder.js";
import { distributionPointNameDer } from "../../../crl/crl-extensions.js";
import { crlEntrySerials, readCrl } from "../../../crl/crl-reader.js";
import type { PrehashSigner } from "../../../crl/prehash-signer.js";
import type { RevokedEntry } from "../../../crl/revoked-entry-der.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { makeTestCa, samplePersonal, SeededRandom, templateContext, type TestCa } from "../../support/end-entity-fixtures.js";
import { pkijsEntryDer, randomEntries } from "../../support/crl-fixtures.js";

const hex = (b: Uint8Array | ArrayBuffer): string => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");
const base = "http://127.0.0.1:8080";

/** The same CRL TBS built from pkijs objects and pkijs's own extension value classes. */
function pkijsTbs(frame: CrlFrame, ca: TestCa, entries: readonly RevokedEntry[]): string {
  const uri = (u: string): pkijs.GeneralName => new pkijs.GeneralName({ type: 6, value: u });
  const ext = (extnID: string, critical: boolean, value: asn1js.BaseBlock | { toSchema(): asn1js.BaseBlock }): pkijs.Extension =>
    new pkijs.Extension({ extnID, critical, extnValue: ("toSchema" in value ? value.toSchema() : value).toBER(false) });
  const extensions = [
    ext("2.5.29.35", false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: frame.authorityKeyId.slice().buffer }) })),
    ext("2.5.29.20", false, asn1js.Integer.fromBigInt(BigInt(frame.crlNumber))),
  ];
  if (frame.deltaBaseNumber !== undefined) extensions.push(ext("2.5.29.27", true, asn1js.Integer.fromBigInt(BigInt(frame.deltaBaseNumber))));
  extensions.push(ext("2.5.29.28", true, new pkijs.IssuingDistributionPoint({ distributionPoint: [uri(frame.distributionPoint)], onlyContainsUserCerts: true })));
  if (frame.freshestCrl !== undefined) {
    extensions.push(ext("2.5.29.46", false, new pkijs.CRLDistributionPoints({ distributionPoints: [new pkijs.DistributionPoint({ distributionPoint: [uri(frame.freshestCrl)] })] })));
  }
  const crl = new pkijs.CertificateRevocationList({
    version: 1,
    signature: algorithmIdentifier(ca.signer.algorithm),
    issuer: pkijs.RelativeDistinguishedNames.fromBER(parseIssuerCertificate(ca.certificate).subject.slice().buffer),
    thisUpdate: x509Time(frame.thisUpdate),
    nextUpdate: x509Time(frame.nextUpdate),
    ...(entries.length > 0 ? { revokedCertificates: entries.map((e) => pkijs.RevokedCertificate.fromBER(pkijsEntryDer(e).slice().buffer)) } : {}),
    crlExtensions: new pkijs.Extensions({ extensions }),
  });
  // encodeTBS is protected in pkijs's typings but public at run time (as for Certificate).
  return hex((crl as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
}

function frameOf(ca: TestCa, over: Partial<CrlFrame> = {}): CrlFrame {
  const issuer = parseIssuerCertificate(ca.certificate);
  return {
    issuer: issuer.subject,
    authorityKeyId: issuer.keyIdentifier,
    thisUpdate: new Date("2026-11-22T01:02:03.456Z"),
    nextUpdate: new Date("2026-11-23T01:02:03.456Z"),
    crlNumber: 17,
    distributionPoint: `${base}/crl/sign-g1/5.crl`,
    freshestCrl: `${base}/crl/sign-g1/5-delta.crl`,
    ...over,
  };
}

describe("crl/crl-builder", () => {
  let rsa: TestCa;
  let ec: TestCa;
  before(async () => {
    rsa = await makeTestCa("sign");
    ec = await makeTestCa("auth", { type: "ec", curve: "P-384" });
  });

  it("writes the TBS pkijs writes for the same full CRL, in pages, and signs it verifiably", async () => {
    const rng = new SeededRandom(99);
    for (const n of [0, 1, 3, 120, 500]) {
      const entries = randomEntries(rng, n);
      const frame = frameOf(rsa, { crlNumber: 1000 + n });
      const pages = [entries.slice(0, n >> 1), [], entries.slice(n >> 1)];
      const built = await buildCrl(frame, rsa.signer, pages);
      const { tbs, signature } = splitSigned(built.der);
      assert.equal(hex(tbs), pkijsTbs(frame, rsa, entries), `n=${n}`);
      assert.equal(built.entries, n);
      assert.ok(verifySignature(rsa.signer.algorithm, tbs, signature, rsa.signer.publicKey));
      assert.deepEqual([...crlEntrySerials(built.der)], entries.map((e) => e.serial));
    }
  });

  it("writes the TBS pkijs writes for a delta CRL (deltaCRLIndicator, no freshestCRL), with an ECDSA P-384 CA", async () => {
    const entries = randomEntries(new SeededRandom(3), 40);
    const frame = frameOf(ec, { crlNumber: 2n ** 64n, deltaBaseNumber: 2n ** 64n - 5n, freshestCrl: undefined });
    const built = await buildCrl(frame, ec.signer, (async function* () { yield entries; })());
    const { tbs, signature } = splitSigned(built.der);
    assert.equal(hex(tbs), pkijsTbs(frame, ec, entries));
    assert.ok(verifySignature("ecdsa-with-SHA384", tbs, signature, ec.signer.publicKey));
  });

  it("leaves revokedCertificates out of an empty CRL (RFC 5280 §5.1.2.6)", async () => {
    const built = await buildCrl(frameOf(rsa), rsa.signer, []);
    assert.equal(readCrl(built.der).revoked, null);
    assert.equal(built.entries, 0);
  });

  it("signs a digest when the signer offers one, with the same signature", async () => {
    let digests = 0;
    const plain = rsa.signer;
    const prehash: PrehashSigner = {
      algorithm: plain.algorithm,
      publicKey: plain.publicKey,
      sign: () => Promise.reject(new Error("the whole TBS must not be sent")),
      signDigest: async (digest) => {
        digests++;
        assert.equal(digest.length, 32);
        const { privateEncrypt, constants } = await import("node:crypto");
        const info = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), digest]);
        return new Uint8Array(privateEncrypt({ key: plain.keyObject, padding: constants.RSA_PKCS1_PADDING }, info));
      },
    };
    const entries = randomEntries(new SeededRandom(5), 10);
    const a = await buildCrl(frameOf(rsa), prehash, [entries]);
    const b = await buildCrl(frameOf(rsa), plain, [entries]);
    assert.equal(digests, 1);
    assert.equal(hex(a.der), hex(b.der)); // PKCS#1 v1.5 is deterministic
  });

  it("refuses a CRL that does not verify against the CA key, and frames RFC 5280 forbids", async () => {
    const other = MemorySigner.generate({ type: "rsa", bits: 2048 });
    await assert.rejects(buildCrl(frameOf(rsa), other, [], { issuerPublicKey: rsa.signer.publicKey }), (e: unknown) => e instanceof CaError && e.kind === "internal");
    await assert.rejects(buildCrl(frameOf(rsa, { deltaBaseNumber: 3 }), rsa.signer, []), CaError); // delta with freshestCRL
    await assert.rejects(buildCrl(frameOf(rsa, { freshestCrl: undefined, deltaBaseNumber: 17 }), rsa.signer, []), CaError); // base ≥ number
    await assert.rejects(buildCrl(frameOf(rsa, { nextUpdate: new Date("2026-11-22T01:02:03Z") }), rsa.signer, []), CaError);
  });

  it("names in the IDP exactly the distribution point its certificates carry in their CDP", async () => {
    const authority = crlAuthority(
      { id: "sign-g1", kind: "sign", generation: 1, keyAlgorithm: "RSA-2048", signatureAlgorithm: rsa.signer.algorithm, keyUri: "pkcs11:x", certificate: rsa.certificate, serialPrefix: 1, partitionCount: 64, status: "active", ocspResponderCertificate: null, ocspResponderKeyUri: null, createdAt: new Date() },
      rsa.signer,
      base,
    );
    const issuer = EndEntityIssuer.create(templateContext(rsa, { partitionCount: 64 }));
    const rng = new SeededRandom(11);
    for (let i = 0; i < 8; i++) {
      const serialHex = `01${Buffer.from(rng.bytes(15)).toString("hex")}`;
      const partition = issuer.partitionOf(serialHex);
      const tbs = issuer.prepare({
        serialHex,
        partition,
        notBefore: new Date("2026-11-22T00:00:00Z"),
        notAfter: new Date("2031-02-17T14:59:59Z"),
        subjectId: generateSubjectId(rng),
        subjectPublicKey: MemorySigner.generate({ type: "ec", curve: "P-256" }).publicKey,
        locality: { prefecture: "Tokyo", municipality: "Shinjuku-ku" },
        personal: samplePersonal,
      });
      const cdp = pkijs.Certificate.fromBER(issuer.finish(tbs, await rsa.signer.sign(tbs)).slice().buffer).extensions!.find((e) => e.extnID === "2.5.29.31")!;
      // CRLDistributionPoints = SEQUENCE { DistributionPoint SEQUENCE { [0] DistributionPointName } }
      const value = cdp.extnValue.valueBlock.valueHexView;
      const [dp] = readChildren(value, readWhole(value));
      const [dpName] = readChildren(value, dp!);
      assert.equal(hex(elementBytes(value, dpName!)), hex(distributionPointNameDer(authority.fullUrl(partition))));
      const built = await buildCrl({ ...frameOf(rsa), distributionPoint: authority.fullUrl(partition) }, rsa.signer, []);
      const crl = pkijs.CertificateRevocationList.fromBER(built.der.slice().buffer);
      const idp = crl.crlExtensions!.extensions.find((e) => e.extnID === "2.5.29.28")!;
      assert.equal(idp.critical, true);
      const idpValue = idp.extnValue.valueBlock.valueHexView;
      const [idpName] = readChildren(idpValue, readWhole(idpValue));
      assert.equal(hex(elementBytes(idpValue, idpName!)), hex(elementBytes(value, dpName!)), `partition ${partition}`);
    }
  });

  it("refuses a signer whose key is not the CA certificate's", () => {
    const gen = { id: "sign-g1", kind: "sign", generation: 1, keyAlgorithm: "RSA-2048", signatureAlgorithm: rsa.signer.algorithm, keyUri: "pkcs11:x", certificate: rsa.certificate, serialPrefix: 1, partitionCount: 4, status: "active", ocspResponderCertificate: null, ocspResponderKeyUri: null, createdAt: new Date() } as const;
    assert.throws(() => crlAuthority(gen, MemorySigner.generate({ type: "rsa", bits: 2048 }), base), CaError);
    assert.throws(() => crlAuthority(gen, ec.signer, base), CaError);
  });
});
