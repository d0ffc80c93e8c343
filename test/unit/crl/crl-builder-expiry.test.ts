import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { algorithmIdentifier } from "../../../ca/profiles/algorithms.js";
import { parseIssuerCertificate } from "../../../ca/x509/issuer-certificate.js";
import { splitSigned, verifySignature } from "../../../ca/x509/signed-certificate.js";
import { x509Time } from "../../../ca/x509/time.js";
import { buildCrl, type CrlFrame } from "../../../crl/crl-builder.js";
import type { RevokedEntry } from "../../../crl/revoked-entry-der.js";
import { makeTestCa, SeededRandom, type TestCa } from "../../support/end-entity-fixtures.js";
import { pkijsEntryDer, randomEntries } from "../../support/crl-fixtures.js";

/**
 * expiredCertsOnCRL (X.509 2.5.29.60, docs/crl.md "Status after expiry"): the CRL builder's direct DER
 * with the extension equals the TBS pkijs writes for the same full and delta CRL.
 */
const hex = (b: Uint8Array | ArrayBuffer): string => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");
const base = "http://127.0.0.1:8080";

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
  if (frame.expiredCertsOnCrl !== undefined) extensions.push(ext("2.5.29.60", false, new asn1js.GeneralizedTime({ valueDate: frame.expiredCertsOnCrl })));
  const crl = new pkijs.CertificateRevocationList({
    version: 1,
    signature: algorithmIdentifier(ca.signer.algorithm),
    issuer: pkijs.RelativeDistinguishedNames.fromBER(parseIssuerCertificate(ca.certificate).subject.slice().buffer),
    thisUpdate: x509Time(frame.thisUpdate),
    nextUpdate: x509Time(frame.nextUpdate),
    ...(entries.length > 0 ? { revokedCertificates: entries.map((e) => pkijs.RevokedCertificate.fromBER(pkijsEntryDer(e).slice().buffer)) } : {}),
    crlExtensions: new pkijs.Extensions({ extensions }),
  });
  return hex((crl as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
}

describe("crl/crl-builder expiredCertsOnCRL (status after expiry)", () => {
  let rsa: TestCa;
  before(async () => {
    rsa = await makeTestCa("sign");
  });

  const frameOf = (over: Partial<CrlFrame> = {}): CrlFrame => {
    const issuer = parseIssuerCertificate(rsa.certificate);
    return {
      issuer: issuer.subject,
      authorityKeyId: issuer.keyIdentifier,
      thisUpdate: new Date("2026-05-01T01:02:03.456Z"),
      nextUpdate: new Date("2026-05-02T01:02:03.456Z"),
      crlNumber: 17,
      distributionPoint: `${base}/crl/sign-g1/5.crl`,
      freshestCrl: `${base}/crl/sign-g1/5-delta.crl`,
      expiredCertsOnCrl: new Date("2026-01-31T15:00:00Z"),
      ...over,
    };
  };

  for (const [name, over] of [
    ["full CRL", {}],
    ["delta CRL", { freshestCrl: undefined, deltaBaseNumber: 16 }],
    ["a date after 2049 (still GeneralizedTime)", { expiredCertsOnCrl: new Date("2051-03-31T15:00:00.900Z") }],
  ] as Array<[string, Partial<CrlFrame>]>) {
    it(`${name}: byte-identical to pkijs, signed verifiably`, async () => {
      for (const n of [0, 1, 50]) {
        const entries = randomEntries(new SeededRandom(7 + n), n);
        const frame = frameOf(over);
        const built = await buildCrl(frame, rsa.signer, [entries]);
        const { tbs, signature } = splitSigned(built.der);
        assert.equal(hex(tbs), pkijsTbs({ ...frame, ...(frame.expiredCertsOnCrl ? { expiredCertsOnCrl: new Date(Math.floor(frame.expiredCertsOnCrl.getTime() / 1000) * 1000) } : {}) }, rsa, entries), `${name} n=${n}`);
        assert.ok(verifySignature(rsa.signer.algorithm, tbs, signature, rsa.signer.publicKey));
      }
    });
  }

  it("is non-critical and reads back as the date", async () => {
    const built = await buildCrl(frameOf(), rsa.signer, []);
    const crl = pkijs.CertificateRevocationList.fromBER(built.der.slice().buffer);
    const ext = crl.crlExtensions!.extensions.find((e) => e.extnID === "2.5.29.60")!;
    assert.equal(ext.critical, false);
    const time = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView.slice().buffer).result as asn1js.GeneralizedTime;
    assert.equal(time.toDate().toISOString(), "2026-01-31T15:00:00.000Z");
  });

  it("is absent when the frame has no date (today's CRLs unchanged)", async () => {
    const built = await buildCrl(frameOf({ expiredCertsOnCrl: undefined }), rsa.signer, []);
    const crl = pkijs.CertificateRevocationList.fromBER(built.der.slice().buffer);
    assert.equal(crl.crlExtensions!.extensions.some((e) => e.extnID === "2.5.29.60"), false);
  });
});
